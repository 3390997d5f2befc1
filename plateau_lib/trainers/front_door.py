r"""One front door for every trainer: :func:`train` (modelled on :func:`scipy.optimize.minimize`)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from numpy.typing import ArrayLike

from .._validation import check_choice, check_data
from ..network import ShallowReLU
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


def train(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    method: str = "gd",
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
        One of :data:`METHODS`:

        - ``"gd"``: :func:`~plateau_lib.trainers.first_order.train_gd` (budget: steps);
        - ``"adam"``: :func:`~plateau_lib.trainers.first_order.train_adam` (steps);
        - ``"lbfgs"``: :func:`~plateau_lib.trainers.scipy_based.train_lbfgs` (steps);
        - ``"lm"``: :func:`~plateau_lib.trainers.scipy_based.train_lm` (steps);
        - ``"varpro"``: :func:`~plateau_lib.trainers.varpro.train_varpro` (steps);
        - ``"flow"``: :func:`~plateau_lib.trainers.flow.train_flow` (end time ``t_end``);
        - ``"anls"``: :func:`~plateau_lib.trainers.anls.train_anls` (sweeps);
        - ``"oga"``: :func:`~plateau_lib.trainers.greedy.train_oga` (width).
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
        ``success`` is true), ``"budget"``, ``"stalled"``, ``"interrupted"`` or ``"failed"``.
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
    X, y = check_data(X, y)
    if X.shape[1] != net.d:
        raise ValueError(f"X must have net.d = {net.d} columns, got {X.shape[1]}")
    options.setdefault("width", net.n)
    return train_oga(X, y, **options)


__all__ = ["BUDGETS", "METHODS", "TRAINERS", "train"]
