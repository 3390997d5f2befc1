"""The one result type every trainer returns (modelled on ``scipy.optimize.OptimizeResult``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

import numpy as np
from numpy.typing import NDArray

from .network import ShallowReLU

#: The method's own stopping rule was met (a tolerance, a fit to round-off).
CONVERGED: Final = "converged"
#: The budget (steps, sweeps, end time or width) was used up first.
BUDGET: Final = "budget"
#: The method cannot make progress (a fixed point of its update, a failed line search).
STALLED: Final = "stalled"
#: Ctrl-C: the result holds what was computed until then.
INTERRUPTED: Final = "interrupted"
#: A numerical failure (non-finite loss, integrator failure, a guard against endless events).
FAILED: Final = "failed"
#: Every value of :attr:`TrainResult.status`.
STATUSES: Final = (CONVERGED, BUDGET, STALLED, INTERRUPTED, FAILED)


@dataclass(frozen=True, eq=False)
class TrainResult:
    r"""Outcome of a training run.

    Attributes
    ----------
    net : ShallowReLU
        The final network.
    method : str
        Name of the trainer (``"gd"``, ``"adam"``, ``"lbfgs"``, ...).
    steps : ndarray of int, shape (k,)
        Recorded steps; step ``s`` means the parameters after ``s`` updates.
    loss : ndarray, shape (k,)
        ``loss[i]`` is the loss at step ``steps[i]``.
    counts : ndarray of int, shape (k, n)
        Activation counts :math:`a_j` at each recorded step.
    params : ndarray, shape (k, n*(d+2))
        Parameter vectors (:meth:`~plateau_lib.network.ShallowReLU.to_vector`) at each recorded step.
    pattern_changes : ndarray of int
        Every step ``s >= 1`` whose activation pattern differs from step ``s-1``'s.
    flips : ndarray of int, shape (F, 3)
        Rows ``(step, i, j)``: entry :math:`D_{ij}` changed at ``step``. Feeds the
        flicker filter of :mod:`plateau_lib.patterns`.
    times : ndarray, shape (k,)
        Wall-clock seconds since the start at each recorded step.
    wall_time : float
        Total wall-clock seconds.
    nfev, njev : int
        Number of loss and gradient (or Jacobian) evaluations.
    nit : int
        Number of iterations (updates) performed.
    status : str
        Why the run ended, one of :data:`STATUSES`: ``"converged"`` (the method's stopping rule
        was met), ``"budget"`` (the budget ran out first), ``"stalled"`` (no further progress
        possible), ``"interrupted"`` (Ctrl-C) or ``"failed"`` (a numerical failure).
    message : str
        Why the run ended, in words.
    extra : dict
        Trainer-specific extras (e.g. the flow's continuous times).
    grad_norm : float
        :math:`\|\nabla L\|_2` over all parameters :math:`(c, W, b)` at the final network
        (:math:`\mathrm{relu}'(0) = 0`), as :func:`~plateau_lib.network.evaluate` forms it; NaN if
        the trainer did not compute it. A run can meet its stopping rule (``success``) far from a
        stationary point: a large ``grad_norm`` beside ``success`` is a stall, often at a plateau
        (:attr:`ends_on_plateau`).
    """

    net: ShallowReLU
    method: str
    steps: NDArray[np.int64]
    loss: NDArray[np.float64]
    counts: NDArray[np.int64]
    params: NDArray[np.float64]
    pattern_changes: NDArray[np.int64]
    flips: NDArray[np.int64]
    times: NDArray[np.float64]
    wall_time: float
    nfev: int
    njev: int
    nit: int
    status: str
    message: str
    extra: dict = field(default_factory=dict)
    grad_norm: float = math.nan

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {self.status!r}")

    @property
    def success(self) -> bool:
        """Whether the method's stopping rule was met (``status == "converged"``), as in scipy."""
        return self.status == CONVERGED

    @property
    def completed(self) -> bool:
        """Whether the run ended by its own rules (converged, budget or stalled), not by Ctrl-C or a failure."""
        return self.status in (CONVERGED, BUDGET, STALLED)

    @property
    def final_loss(self) -> float:
        """Loss of the final network."""
        return float(self.loss[-1])

    @cached_property
    def ends_on_plateau(self) -> bool:
        r"""Whether the run ends on a plateau of its loss history, by the library's rule.

        The rule is :func:`plateau_lib.patterns.final_plateau` (:func:`~plateau_lib.patterns.detect_plateaus`
        with its defaults) on the recorded losses over the recorded steps (the flow: over its times
        ``extra["t"]``): over the last doubling of the run the record resolves, the loss stayed
        within a factor :math:`2^{0.1}` of itself. Records with a zero or non-finite loss are left
        out; a run whose final loss is one is not on a plateau (an exact fit, a failure). A run
        that meets its stopping rule on a plateau with a ``grad_norm`` well above zero has stalled
        there rather than reached a minimum. Computed on first access (one pass over the
        history) and kept.
        """
        from .patterns import final_plateau  # the rule belongs to the analysis of loss histories

        t = np.asarray(self.extra.get("t", self.steps), dtype=np.float64)
        keep = np.isfinite(self.loss) & (self.loss > 0)
        return bool(keep[-1]) and final_plateau(t[keep], self.loss[keep]) is not None

    def net_at(self, index: int) -> ShallowReLU:
        """The network recorded at ``steps[index]``."""
        return ShallowReLU.from_vector(self.params[index], self.net.n, self.net.d)

    def __repr__(self) -> str:
        # One short line (the book prints results): what ended the run and whether it is a
        # minimum or a stall; message, counts and timings are attributes.
        return (
            f"TrainResult(method={self.method!r}, status={self.status!r}, nit={self.nit}, "
            f"final_loss={self.final_loss:.6g}, grad_norm={self.grad_norm:.3g}, "
            f"ends_on_plateau={self.ends_on_plateau})"
        )


def check_result(result: object, name: str = "result") -> TrainResult:
    """Require a :class:`TrainResult` (the error names the argument)."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"{name} must be a TrainResult, got {type(result).__name__}")
    return result
