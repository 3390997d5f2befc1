r"""Fact 2 and the rate along a gradient-flow run: each neuron's conserved balance, gradient descent's drift.

The balance of neuron :math:`j` is :math:`Q_j = c_j^2 - |v_j|^2`.

Chapter 2 (claim C3). The study: the balances along the flow and the change its integrator
allows (:func:`flow_balances`), gradient descent's drift of them against the step
(:func:`gd_balance_drift`), the flow's plateau after its escape against its :math:`L^*`
(:func:`flow_plateau_level`); its page: the glued numbers (:func:`drift_values`,
:func:`rate_values`) and the figure (:func:`draw_rate_and_balance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_positive_float
from ..fixed_pattern import (
    DriftRow,
    FloatArray,
    balance_drift,
    loglog_slope,
)
from ..network import ShallowReLU
from ..patterns import Plateau, detect_plateaus
from ..result import TrainResult
from ..theory import (
    conserved_quantities,
    lstar_of_network,
    significant_neurons,
)
from .page import DrawnFigure
from .quantification_segments import record_times


@dataclass(frozen=True)
class PlateauLevel:
    r"""A plateau of the flow against :math:`L^*(D,S)` of the pattern at its middle (:func:`flow_plateau_level`).

    Attributes
    ----------
    plateau : Plateau
        The plateau (:func:`~plateau_lib.patterns.detect_plateaus` on the flow's times).
    lstar : float
        :func:`~plateau_lib.theory.lstar_of_network` at the record nearest its middle.
    """

    plateau: Plateau
    lstar: float

    @property
    def gap(self) -> float:
        r"""Relative distance :math:`|\text{level} - L^*|/L^*` of the plateau's level from :math:`L^*`."""
        return abs(self.plateau.level - self.lstar) / self.lstar


def flow_plateau_level(flow: TrainResult, X: ArrayLike, y: ArrayLike) -> PlateauLevel:
    """The first plateau of the flow with a weight-carrying neuron at its middle, against its :math:`L^*`.

    The first plateau (the saddle at the zero network) has none; the one this returns is the
    first the network reaches after its escape.

    Raises
    ------
    ValueError
        If no plateau has a weight-carrying neuron at its middle.
    """
    t = record_times(flow)

    def record_at(time: float) -> ShallowReLU:
        return flow.net_at(int(np.argmin(np.abs(t - time))))

    for plateau in detect_plateaus(t, flow.loss):
        if significant_neurons(record_at(plateau.middle), X, y):
            return PlateauLevel(plateau, lstar_of_network(record_at(plateau.middle), X, y))
    raise ValueError("flow has no plateau with a weight-carrying neuron at its middle")


@dataclass(frozen=True, eq=False)
class FlowBalances:
    r"""Fact 2 along a gradient-flow run (:func:`flow_balances`).

    Attributes
    ----------
    change : ndarray, shape (k, n)
        :math:`Q_j(t) - Q_j(0)`, :math:`Q_j = c_j^2 - |v_j|^2`, at every record.
    allowed : float
        The largest change the integrator's error can explain,
        :math:`2\,\mathrm{rtol}\cdot K\cdot\max_t|\theta(t)|^2`.
    duration : float
        The flow time spanned.
    """

    change: FloatArray
    allowed: float
    duration: float

    @property
    def allowed_rate(self) -> float:
        """``allowed`` per unit of flow time: comparable with gradient descent's drift over another span."""
        return self.allowed / self.duration

    @property
    def drift(self) -> float:
        r"""Largest change :math:`\max_{t,j}|Q_j(t) - Q_j(0)|`."""
        return float(np.max(np.abs(self.change)))


def flow_balances(flow: TrainResult, *, rtol: float) -> FlowBalances:
    r"""The balances :math:`Q_j = c_j^2 - |v_j|^2` along a flow, and the change its error allows.

    Each of the integrator's :math:`K` accepted steps is accurate to about ``rtol`` relative,
    which changes :math:`Q_j` by at most about :math:`2\,\mathrm{rtol}\,|\theta|^2`; the
    allowance lets these errors add up coherently:

    .. math:: \text{allowed} = 2\,\mathrm{rtol}\cdot K\cdot\max_t|\theta(t)|^2 .
    """
    t = record_times(flow)
    rtol = check_positive_float(rtol, "rtol")
    Q = np.array([conserved_quantities(flow.net_at(k)) for k in range(len(t))])
    allowed = 2 * rtol * flow.nit * float(np.max(np.sum(flow.params**2, axis=1)))
    return FlowBalances(Q - Q[0], allowed, float(t[-1] - t[0]))


@dataclass(frozen=True)
class DriftFit:
    r"""Gradient descent's drift of the balances over a fixed flow time, fitted (:func:`gd_balance_drift`).

    Attributes
    ----------
    runs : tuple of DriftRow
        One per step size (:func:`~plateau_lib.fixed_pattern.balance_drift`), in the given order.
    duration : float
        The flow time :math:`T = K\eta` of every run.
    slope, intercept : float
        Least-squares line :math:`\log(\text{drift per step}) = p\log\eta + b`
        (:func:`~plateau_lib.fixed_pattern.loglog_slope`); fact 2 predicts :math:`p = 2`.
    """

    runs: tuple[DriftRow, ...]
    duration: float
    slope: float
    intercept: float

    @property
    def lr(self) -> FloatArray:
        """The step sizes."""
        return np.array([r.lr for r in self.runs])

    @property
    def per_step(self) -> FloatArray:
        r"""Largest change of :math:`Q_j` per step, at each step size."""
        return np.array([r.per_step for r in self.runs])

    @property
    def identity(self) -> float:
        """Largest error of the exact per-step identity over the runs (round-off)."""
        return max(r.identity_error for r in self.runs)

    @property
    def identity_ratio(self) -> float:
        """Largest ``identity_error / identity_tol`` over the runs: at most 1 if the identity holds to round-off."""
        return max(r.identity_error / r.identity_tol for r in self.runs)

    @property
    def smallest_drift_rate(self) -> float:
        r"""Gradient descent's drift of the balances per unit of flow time at the smallest step size."""
        return min(self.runs, key=lambda r: r.lr).drift / self.duration


#: Tolerance on the fitted power of gradient descent's drift per step: half the distance from
#: the predicted power 2 to the powers 1 and 3 of the alternatives (a drift of first or third
#: order in the step), so a fit that passes tells the prediction from both.
DRIFT_POWER_TOL = 0.5


def gd_balance_drift(
    net: ShallowReLU, X: ArrayLike, y: ArrayLike, *, lrs: Sequence[float], duration: float
) -> DriftFit:
    r"""Run :func:`~plateau_lib.fixed_pattern.balance_drift` and fit the drift per step against :math:`\eta`.

    One step changes :math:`Q_j` by exactly :math:`\eta^2((\partial_{c_j}L)^2 - |\nabla_{v_j}L|^2)`,
    so the change per step should scale like :math:`\eta^p` with :math:`p = 2`.
    """
    runs = balance_drift(net, X, y, lrs=lrs, duration=duration)
    lr = np.array([r.lr for r in runs])
    per_step = np.array([r.per_step for r in runs])
    slope, intercept = loglog_slope(lr, per_step)
    return DriftFit(tuple(runs), float(duration), slope, intercept)


def drift_values(drift: DriftFit) -> dict[str, float]:
    """The glued numbers of fact 2 for gradient descent; ``drift_total_01`` is the first step size's drift."""
    return dict(
        drift_time=drift.duration,
        drift_lr_min=min(r.lr for r in drift.runs),
        drift_lr_max=max(r.lr for r in drift.runs),
        drift_slope=drift.slope,
        drift_identity=drift.identity,
        drift_identity_tol=min(r.identity_tol for r in drift.runs),
        drift_power_tol=DRIFT_POWER_TOL,
        drift_smallest_rate=drift.smallest_drift_rate,
        drift_total_01=float(drift.runs[0].drift),
    )


def rate_values(lam: ArrayLike, level: PlateauLevel, balances: FlowBalances) -> dict[str, float]:
    r"""The glued numbers of the flow's rate :math:`\lambda(t)`, its long plateau, and fact 2 along it."""
    lam = np.asarray(lam)
    return dict(
        lam_median=float(np.median(lam[lam > 0])),
        lam_min=float(lam[lam > 0].min()),
        lam_max=float(lam.max()),
        p2_start=level.plateau.start,
        p2_end=level.plateau.end,
        p2_gap=level.gap,
        flow_balance_drift=balances.drift,
        flow_drift_allowed=balances.allowed,
        flow_drift_allowed_rate=balances.allowed_rate,
    )


def draw_rate_and_balance(flow: TrainResult, lam: ArrayLike, balances: FlowBalances, drift: DriftFit) -> DrawnFigure:
    r"""Loss and :math:`\lambda(t)` along the flow (left), the flow's balances (middle), GD's drift (right)."""
    from ..plotting import COLUMN_WIDTH_IN, figure, plot_per_neuron, plot_power_law, plot_rate_history, span_row

    t = record_times(flow)
    lam = np.asarray(lam)
    fig, axes = figure(nrows=2, ncols=2, width=COLUMN_WIDTH_IN, height=5.8)
    ax = span_row(fig, axes, 0)
    ax.plot(t[t > 0], flow.loss[t > 0], color="C0", lw=1.0, label="loss $L$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time $t$")
    ax2 = ax.twinx()
    plot_rate_history(ax2, t, lam, events=flow.extra["event_times"], label=r"$\lambda(t)$")
    ax2.set_xscale("log")
    ax.set_ylabel("loss $L$", color="C0")
    ax2.set_ylabel(r"rate $\lambda(t)$", color="C2")
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    ax = axes[1, 0]
    plot_per_neuron(ax, t, balances.change, floor=1e-20)
    ax.set_xlabel("time $t$")
    ax.set_ylabel(r"flow: $|Q_j(t) - Q_j(0)|$")
    ax.set_title(r"$Q_j = c_j^2 - |v_j|^2$ along the flow")
    ax = axes[1, 1]
    plot_power_law(ax, drift.lr, drift.per_step, drift.slope, drift.intercept,
                   label="GD: max$_j|\\Delta Q_j|$ / steps", fit_label=f"fit: slope {drift.slope:.2f}")
    ax.set_xlabel(r"step $\eta$")
    ax.set_ylabel("drift per step")
    ax.set_title("gradient descent")
    ax.legend(loc="upper left")
    return DrawnFigure(
        fig,
        data=dict(drift_lr=drift.lr, drift_per_step=drift.per_step),
        unchecked=dict(t=t, loss=flow.loss, lam=lam, balance_change=balances.change),
    )


__all__ = [
    "draw_rate_and_balance",
    "DRIFT_POWER_TOL",
    "drift_values",
    "DriftFit",
    "flow_balances",
    "flow_plateau_level",
    "FlowBalances",
    "gd_balance_drift",
    "PlateauLevel",
    "rate_values",
]
