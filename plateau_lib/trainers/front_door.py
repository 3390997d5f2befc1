r"""One front door for every trainer: :func:`train` (modelled on :func:`scipy.optimize.minimize`)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from numpy.typing import ArrayLike

from .._validation import check_choice
from ..network import ShallowReLU, check_problem
from ..result import TrainResult
from .anls import train_anls
from .first_order import train_adam, train_gd
from .flow import train_flow
from .greedy import train_oga
from .scipy_based import train_lbfgs, train_lm
from .varpro import train_varpro

#: The trainer behind each method name.
TRAINERS: MappingProxyType[str, Callable[..., TrainResult]] = MappingProxyType({
    "gd": train_gd,
    "adam": train_adam,
    "lbfgs": train_lbfgs,
    "lm": train_lm,
    "varpro": train_varpro,
    "flow": train_flow,
    "anls": train_anls,
    "oga": train_oga,
})
#: What the budget of each method counts: the name of its budget option.
BUDGETS: MappingProxyType[str, str] = MappingProxyType({
    "gd": "steps",
    "adam": "steps",
    "lbfgs": "steps",
    "lm": "steps",
    "varpro": "steps",
    "flow": "t_end",
    "anls": "sweeps",
    "oga": "width",
})
#: The method names :func:`train` accepts.
METHODS: tuple[str, ...] = tuple(TRAINERS)
#: The method of ``train(net, X, y)``: ANLS needs no step size, and its default budget (50 sweeps)
#: and preset (``"joint"``) are the strongest reading measured on the tuning problems.
DEFAULT_METHOD = "anls"


def train(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    method: str = DEFAULT_METHOD,
    *,
    budget: float | None = None,
    **options: Any,
) -> TrainResult:
    r"""Train ``net`` on ``(X, y)`` by ``method``, minimising :math:`L = \frac1{2m}\|N(X) - y\|^2`.

    Parameters
    ----------
    net : ShallowReLU
        The initial network (for ``"oga"``, which grows its own network from zero, only its
        width :math:`n` and input dimension :math:`d` are used).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    method : str
        One of :data:`METHODS`, by default :data:`DEFAULT_METHOD` (``"anls"``). Each has a
        default budget, given here after the name of its budget option:

        - ``"gd"``: :func:`~plateau_lib.trainers.first_order.train_gd` (steps, 10 000). Its
          step size ``lr`` has no default: a plateau lasts about ``1/lr`` times as many steps,
          and a stable step depends on the data's scale. Without ``lr`` the ``TypeError`` says
          what to pass (``train(net, X, y, "gd", lr=0.1)``);
        - ``"adam"``: :func:`~plateau_lib.trainers.first_order.train_adam` (steps, 10 000; step
          size ``lr=1e-3``, Kingma & Ba's);
        - ``"lbfgs"``: :func:`~plateau_lib.trainers.scipy_based.train_lbfgs` (steps, 15 000,
          scipy's);
        - ``"lm"``: :func:`~plateau_lib.trainers.scipy_based.train_lm` (steps, 1000);
        - ``"varpro"``: :func:`~plateau_lib.trainers.varpro.train_varpro` (steps);
        - ``"flow"``: :func:`~plateau_lib.trainers.flow.train_flow` (end time ``t_end``, 1000:
          where 10 000 gradient-descent steps of 0.1 arrive);
        - ``"anls"``: :func:`~plateau_lib.trainers.anls.train_anls` (sweeps, 50);
        - ``"oga"``: :func:`~plateau_lib.trainers.greedy.train_oga` (width, ``net.n``).

        The result's ``method`` is the name given here (``"lm"`` whatever its ``algorithm``).
    budget : int or float, optional
        The method's budget (in parentheses above: iterations, the flow's end time, ANLS
        sweeps, or the number of neurons OGA adds, by default ``net.n``). Giving the same
        budget under its own name among ``options`` is an error.
    **options
        The method's own keyword options (step size ``lr``, tolerances, ``record_every``,
        ``progress``, ...), passed on unchanged; an unknown option is a ``TypeError`` naming it.
        Every method takes ``time_limit``: wall-clock seconds after which the run stops at its
        next iteration (step, sweep, added neuron or integrator step) with ``status="budget"``;
        whichever of ``budget`` and ``time_limit`` comes first ends the run.

    Returns
    -------
    TrainResult
        With ``status`` ``"converged"`` (the method's stopping rule was met; then
        ``success`` is true), ``"budget"``, ``"stalled"``, ``"interrupted"`` or ``"failed"``;
        ``grad_norm`` and ``ends_on_plateau`` tell a minimum from a stall at a plateau.
    """
    method = check_choice(method, "method", METHODS)
    if not isinstance(net, ShallowReLU):
        raise TypeError(f"net must be a ShallowReLU, got {type(net).__name__}")
    name = BUDGETS[method]
    if budget is not None:
        if name in options:
            raise TypeError(f"give the budget of method {method!r} once: budget= or {name}=, not both")
        options[name] = budget
    if method != "oga":
        return TRAINERS[method](net, X, y, **options)
    _, X, y = check_problem(net, X, y)  # the data checks of every other trainer
    options.setdefault("width", net.n)
    return train_oga(X, y, **options)


__all__ = ["BUDGETS", "DEFAULT_METHOD", "METHODS", "TRAINERS", "train"]
