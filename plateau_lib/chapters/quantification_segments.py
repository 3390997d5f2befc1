r"""Fact 1 on a gradient-flow run: its constant-pattern segments against the bound, and gradient descent on one.

Chapter 2 (claim C3). Notation as in :mod:`plateau_lib.fixed_pattern`, where the fixed-pattern
machinery lives. The study: the flow's segments and their summary (:func:`flow_segments`,
:func:`summarize_segments`), the segment shown and gradient descent from its start
(:func:`showcase_segment`, :func:`gd_on_segment`); its page: the printed lines
(``describe_*``), the glued numbers (:func:`summary_values`, :func:`showcase_values`,
:func:`inexact_sentence`) and the figure (:func:`draw_fixed_pattern_bound`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_positive_float, check_positive_int
from ..fixed_pattern import (
    INTEGRATION_RTOL,
    BoundCheck,
    ConvergenceHistory,
    FixedPatternRun,
    FloatArray,
    check_bound,
    convergence_history,
    euler_bound,
    fixed_pattern_segments,
    gd_within_pattern,
    resolved_history,
)
from ..network import check_problem
from ..result import TrainResult
from ..theory import (
    kernel_lambda,
    significant_neurons,
)
from .page import DrawnFigure


@dataclass(frozen=True, eq=False)
class FlowSegment:
    r"""One constant-pattern segment of a gradient-flow run, measured for fact 1 (:func:`flow_segments`).

    Attributes
    ----------
    a, b : int
        Records of the flow run spanning the segment.
    run : FixedPatternRun
        The re-integrated segment.
    history : ConvergenceHistory
        With :math:`S` = the weight-carrying neurons at the segment's start.
    exact : bool
        Every neuron outside :math:`S` has no active data point: fact 1's hypotheses hold
        with this :math:`S`.
    contribution : float
        Largest RMS output of an active neuron outside :math:`S` (0 when ``exact``).
    exact_run : FixedPatternRun
        The re-integration on the grid of ``exact_history``.
    exact_history : ConvergenceHistory
        With :math:`S` = every neuron with an active data point, for which the hypotheses hold
        exactly (the same object as ``history`` when ``exact``).
    check : BoundCheck
        Fact 1 on ``exact_history``, with ``rtol`` = :math:`10^{-9}` (the integration) plus
        three times its :meth:`~plateau_lib.fixed_pattern.ConvergenceHistory.quadrature_error`.
    """

    a: int
    b: int
    run: FixedPatternRun
    history: ConvergenceHistory
    exact: bool
    contribution: float
    exact_run: FixedPatternRun
    exact_history: ConvergenceHistory
    check: BoundCheck

    @property
    def decay(self) -> float:
        r""":math:`\|Pr\|^2` at the end over at the start (with the weight-carrying :math:`S`)."""
        return float(self.history.projected[-1] / self.history.projected[0])


def flow_segments(result: TrainResult, X: ArrayLike, y: ArrayLike, *, min_duration: float = 1.0) -> list[FlowSegment]:
    r"""Re-integrate and measure every constant-pattern segment of a flow run (fact 1).

    Segments come from :func:`~plateau_lib.fixed_pattern.fixed_pattern_segments`; those on
    which no neuron carries weight
    (:func:`~plateau_lib.theory.significant_neurons`: the first plateau) are skipped. Each is
    re-integrated by :func:`~plateau_lib.fixed_pattern.resolved_history` with :math:`S` the
    weight-carrying neurons at its
    start; when a neuron outside :math:`S` is active, once more with :math:`S` = every active
    neuron, for which the hypotheses of fact 1 hold exactly. :func:`~plateau_lib.fixed_pattern.check_bound` compares the
    latter with the bound.
    """
    from ..theory import neuron_contributions

    _, X, y = check_problem(result.net, X, y)
    t = np.asarray(result.extra["t"])
    out = []
    for a, b in fixed_pattern_segments(result, min_duration=min_duration):
        start = result.net_at(a)
        S = significant_neurons(start, X, y)
        if not S:
            continue
        active = np.flatnonzero((start.preactivations(X) > 0).any(axis=0) & (start.c != 0))
        others = [int(j) for j in active if j not in S]
        run, history = resolved_history(start, X, y, S, t_end=t[b] - t[a])
        full_run, full = (run, history) if not others else resolved_history(
            start, X, y, sorted([*S, *others]), t_end=t[b] - t[a])
        rtol = INTEGRATION_RTOL + 3 * full.quadrature_error()
        check = check_bound(full, full.flow_bound(), rtol)
        contribution = float(neuron_contributions(start, X)[others].max()) if others else 0.0
        out.append(FlowSegment(a, b, run, history, not others, contribution, full_run, full, check))
    return out


@dataclass(frozen=True)
class SegmentSummary:
    r"""Fact 1 over the segments of a flow run (:func:`summarize_segments`); ``nan`` where a group is empty.

    Attributes
    ----------
    n, n_exact, n_inexact : int
        Segments; those where the weight-carrying :math:`S` satisfies the hypotheses; the others.
    n_hold : int
        Segments on which :func:`~plateau_lib.fixed_pattern.check_bound` holds (with the exact :math:`S`).
    max_floored_ratio, max_raw_ratio : float
        Largest floored and raw ratios of :math:`L - L^*` to the bound, over all segments.
    max_projected_ratio_exact : float
        Largest :math:`\|Pr\|^2/(2m)` over the bound on the exact segments.
    n_below_floor : int
        Segments whose raw ratio exceeds :math:`1 + \epsilon` (round-off only, when they hold).
    min_decades : float
        Fewest decades of decay any check resolves above its floor.
    max_floor : float
        Largest round-off floor.
    max_quadrature_exact : float
        Largest trapezoid error estimate on the exact segments.
    inexact_ratio : float
        Largest ratio of :math:`L - L^*` to the bound of the weight-carrying :math:`S`, on the
        inexact segments (where fact 1 with that :math:`S` is not claimed).
    inexact_projected_ratio : float
        Same for :math:`\|Pr\|^2/(2m)`.
    inexact_delta : float
        Largest relative difference of :math:`L - L^*` and :math:`\|Pr\|^2/(2m)` there.
    inexact_contribution : float
        Largest RMS output of an active neuron outside :math:`S` there.
    inexact_until : float
        Time the last inexact segment ends.
    n_inexact_beyond : int
        Inexact segments on which :math:`\|Pr\|^2/(2m)` (computed without cancellation, so
        accurate far below the floor of :math:`L - L^*`) exceeds the weight-carrying :math:`S`'s
        bound by more than its tolerance.
    """

    n: int
    n_exact: int
    n_inexact: int
    n_hold: int
    max_floored_ratio: float
    max_raw_ratio: float
    max_projected_ratio_exact: float
    n_below_floor: int
    min_decades: float
    max_floor: float
    max_quadrature_exact: float
    inexact_ratio: float
    inexact_projected_ratio: float
    inexact_delta: float
    inexact_contribution: float
    inexact_until: float
    n_inexact_beyond: int


def _max_or_nan(values: Iterable[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(max(values)) if values else math.nan


def _relative_gap(history: ConvergenceHistory) -> float:
    """Largest :math:`|L - L^* - \\|Pr\\|^2/(2m)|/(L - L^*)` where :math:`L - L^*` is above its floor (else nan)."""
    above = history.excess > history.floor
    if not above.any():
        return math.nan
    return float(np.max(np.abs(history.excess - history.projected)[above] / history.excess[above]))


def summarize_segments(segments: Sequence[FlowSegment], t: ArrayLike) -> SegmentSummary:
    """Counts and extremes of :func:`flow_segments` for the prose (``t``: the flow run's record times)."""
    t = np.asarray(t)
    exact = [s for s in segments if s.exact]
    inexact = [s for s in segments if not s.exact]
    checks = [s.check for s in segments]
    own = [check_bound(s.history, s.history.flow_bound(), s.check.rtol) for s in inexact]
    return SegmentSummary(
        n=len(segments), n_exact=len(exact), n_inexact=len(inexact), n_hold=sum(c.holds for c in checks),
        max_floored_ratio=_max_or_nan(c.floored_ratio for c in checks),
        max_raw_ratio=_max_or_nan(c.ratio for c in checks),
        max_projected_ratio_exact=_max_or_nan(s.check.projected_ratio for s in exact),
        n_below_floor=sum(c.ratio > 1 + c.rtol for c in checks),
        min_decades=_max_or_nan([-c.decades for c in checks]) * -1 if checks else math.nan,
        max_floor=_max_or_nan(c.floor for c in checks),
        max_quadrature_exact=_max_or_nan(s.history.quadrature_error() for s in exact),
        inexact_ratio=_max_or_nan(c.ratio for c in own),
        inexact_projected_ratio=_max_or_nan(c.projected_ratio for c in own),
        inexact_delta=_max_or_nan(_relative_gap(s.history) for s in inexact),
        inexact_contribution=_max_or_nan(s.contribution for s in inexact),
        inexact_until=_max_or_nan(float(t[s.b]) for s in inexact),
        n_inexact_beyond=sum(c.projected_ratio > 1 + c.rtol for c in own),
    )


def showcase_segment(segments: Sequence[FlowSegment]) -> int | None:
    r"""Index of the segment to show: the largest decay of :math:`\|Pr\|^2` among the exact segments
    that end in a pattern change; failing those, among all exact segments; failing those, among all.
    ``None`` when there is no segment."""
    groups = ([s.exact and s.run.changed_at is not None for s in segments], [s.exact for s in segments],
              [True] * len(segments))
    for group in groups:
        if any(group):
            return min((k for k, g in enumerate(group) if g), key=lambda k: segments[k].decay)
    return None



def _check_segment(segment: object) -> FlowSegment:
    if not isinstance(segment, FlowSegment):
        raise TypeError(f"segment must be a FlowSegment (flow_segments), got {type(segment).__name__}")
    return segment


def record_times(flow: TrainResult) -> FloatArray:
    """The record times of a gradient-flow run (``extra["t"]`` of :func:`~plateau_lib.trainers.train_flow`)."""
    if not isinstance(flow, TrainResult) or "t" not in flow.extra:
        raise TypeError("flow must be a TrainResult of train_flow (with extra['t'])")
    return np.asarray(flow.extra["t"])



def describe_segments(segments: Sequence[FlowSegment], t: ArrayLike) -> str:
    """One line per segment of :func:`flow_segments`: its time span, whether ``exact``, and its check."""
    t = np.asarray(t)
    return "\n".join(
        f"t {t[s.a]:.2f}-{t[s.b]:.2f}: exact {'yes' if s.exact else 'no'}, ratio to bound "
        f"{s.check.ratio:.4f}, floor {s.check.floor:.1e}, holds {'yes' if s.check.holds else 'no'}"
        for s in segments)


def describe_summary(summary: SegmentSummary) -> str:
    """Fact 1 over all segments, in one line: how many hold, the largest ratios and the largest floor."""
    return (
        f"{summary.n_hold} of {summary.n} segments within their bound; largest "
        f"(L - L* - floor)/bound {summary.max_floored_ratio:.10f}; largest raw ratio "
        f"{summary.max_raw_ratio:.4g}; largest floor {summary.max_floor:.1e}"
    )


def describe_segment(segment: FlowSegment, t: ArrayLike) -> str:
    r"""The shown segment in one line: its span, :math:`|S|`, :math:`L^*`, the range of :math:`\lambda`."""
    history, t = _check_segment(segment).exact_history, np.asarray(t)
    return (
        f"segment {t[segment.a]:.2f}-{t[segment.b]:.2f}: |S| = {len(history.S)}, "
        f"L* = {history.lstar:.6f}, lambda in [{history.lam.min():.3e}, "
        f"{history.lam.max():.3e}], lambda_max <= {history.lam_max.max():.2f}"
    )


def failed_segments(segments: Sequence[FlowSegment], t: ArrayLike) -> dict[float, BoundCheck]:
    """The segments on which fact 1's check fails, as ``{start time: check}`` (empty when all hold)."""
    t = np.asarray(t)
    return {float(t[s.a]): s.check for s in segments if not s.check.holds}


def segment_ratios(segments: Sequence[FlowSegment]) -> FloatArray:
    r"""Per segment, the largest ratio of :math:`L - L^*(D,S)` to fact 1's bound (weight-carrying :math:`S`).

    .. math::
        \max_{t > t_0}\ \frac{L(t) - L^*(D,S)}{\frac1{2m}\|Pr(t_0)\|^2\,e^{-2\int_{t_0}^t\lambda}}

    with ``FlowSegment.history`` (not the exact :math:`S` of the check); round-off included.
    """
    return np.array([np.max(s.history.excess[1:] / s.history.flow_bound()[1:]) for s in segments])


def showcase_rule(segment: FlowSegment) -> str:
    """The clause naming the group :func:`showcase_segment` chose ``segment`` from (for the prose)."""
    segment = _check_segment(segment)
    if segment.exact and segment.run.changed_at is not None:
        return "among the segments that end in a pattern change"
    if segment.exact:
        return "(no such segment ends in a pattern change here, so among all of them)"
    return (
        "(this run has none where the weight-carrying neurons alone satisfy the "
        "hypotheses, so among all, with $S$ = every neuron with an active point)"
    )


def lambda_agreement(segment: FlowSegment, X: ArrayLike, *, every: int = 100) -> float:
    r"""Largest relative gap between :math:`\lambda_V` and the smallest positive eigenvalue of :math:`H_S`.

    .. math::
        \max_k \frac{|\lambda_V(t_k) - \lambda_+(t_k)|}{\lambda_V(t_k)},\qquad k = 0, e, 2e, \dots

    along the segment's ``exact_history`` (:math:`e` = ``every``), where :math:`\lambda_V` is
    ``ConvergenceHistory.lam`` and :math:`\lambda_+` is :func:`~plateau_lib.theory.kernel_lambda`.
    They agree while every :math:`c_j \ne 0` in :math:`S`.
    """
    segment = _check_segment(segment)
    every = check_positive_int(every, "every")
    history, run = segment.exact_history, segment.exact_run
    return float(
        max(
            abs(history.lam[k] - kernel_lambda(run.net_at(k), X, history.S)) / history.lam[k]
            for k in range(0, len(history.t), every)
        )
    )


@dataclass(frozen=True, eq=False)
class GDComparison:
    r"""Gradient descent from the start of a flow segment, measured for fact 1 (:func:`gd_on_segment`).

    Attributes
    ----------
    lr : float
        Step size :math:`\eta`.
    run : FixedPatternRun
        The steps before the first pattern change (:func:`~plateau_lib.fixed_pattern.gd_within_pattern`).
    history : ConvergenceHistory
        Along ``run``, with the segment's exact :math:`S`.
    flow_bound : ndarray
        The flow's bound :math:`\frac1{2m}\|Pr_0\|^2 e^{-2\int\lambda}` at the steps' times.
    bound : ndarray
        :math:`B_k` of :func:`~plateau_lib.fixed_pattern.euler_bound`: the flow's bound plus the
        :math:`\eta^2` remainder of each step.
    """

    lr: float
    run: FixedPatternRun
    history: ConvergenceHistory
    flow_bound: FloatArray
    bound: FloatArray

    @property
    def steps(self) -> int:
        """Number of steps kept (the pattern holds on all of them)."""
        return len(self.run.t)

    @property
    def max_ratio(self) -> float:
        r""":math:`\max_k B_k / \text{flow bound}_k`."""
        return float(np.max(self.bound / self.flow_bound))

    @property
    def slack(self) -> float:
        r"""The Euler slack :math:`\max_k B_k / \text{flow bound}_k - 1` (shrinks like :math:`\eta`)."""
        return float(np.max(self.bound / self.flow_bound) - 1)

    def check(self) -> BoundCheck:
        r"""Fact 1 for gradient descent: :math:`L_k - L^* \le (1 + 10^{-9})B_k` + floor."""
        return check_bound(self.history, self.bound, INTEGRATION_RTOL)

    def describe(self) -> str:
        """Steps kept and the largest ratio of the Euler bound to the flow's, in one line."""
        return f"GD (lr {self.lr}): {self.steps} steps; B_euler / flow bound <= {self.max_ratio:.8f}"


def gd_on_segment(
    flow: TrainResult, X: ArrayLike, y: ArrayLike, segment: FlowSegment, *, lr: float, extra_steps: int
) -> GDComparison:
    r"""Gradient descent with step ``lr`` from the flow's state at the start of ``segment``.

    At most :math:`\mathrm{round}((t_b - t_a)/\eta)` + ``extra_steps`` steps, stopped before the
    first pattern change, measured with the segment's exact :math:`S`
    (:func:`~plateau_lib.fixed_pattern.convergence_history`) against the flow's bound and the
    Euler bound :math:`B_k` (:func:`~plateau_lib.fixed_pattern.euler_bound`).
    """
    t, segment = record_times(flow), _check_segment(segment)
    lr = check_positive_float(lr, "lr")
    extra_steps = check_positive_int(extra_steps, "extra_steps", allow_zero=True)
    max_steps = int(round((t[segment.b] - t[segment.a]) / lr)) + extra_steps
    run = gd_within_pattern(flow.net_at(segment.a), X, y, lr=lr, max_steps=max_steps)
    history = convergence_history(run, X, y, segment.exact_history.S)
    return GDComparison(lr, run, history, history.flow_bound(), euler_bound(history, lr))


def inexact_sentence(summary: SegmentSummary, y: ArrayLike) -> str:
    """The prose's sentence on the segments where a neuron outside :math:`S` is active (or that none is)."""
    if not summary.n_inexact:
        return "On every segment of this run the neurons outside S are silent."
    y = np.asarray(y)
    return (
        f"In the other {summary.n_inexact} segment(s) (the last ending at t = "
        f"{summary.inexact_until:.0f}) a neuron outside S is active, with an output "
        f"of RMS at most {summary.inexact_contribution:.1e} (the targets' RMS is "
        f"{np.sqrt(np.mean(y**2)):.2f}). Fact 1 does not apply with this S: the small "
        "neuron's output lies outside V, so (I − P)r is no longer invariant and L − L* "
        f"differs from ‖Pr‖²/(2m) (by at most {summary.inexact_delta:.1e} of L − L* "
        "here), and its kernel adds a term of the size of c_j² + |v_j|² of the small "
        "neuron to the decay of Pr. Measured against the bound of the weight-carrying "
        "S, where that bound is above the round-off floor, ‖Pr‖²/(2m) reaches "
        f"{summary.inexact_projected_ratio:.6f} times it, and "
        f"{summary.n_inexact_beyond} of these segments exceed it."
    )


def summary_values(summary: SegmentSummary, y: ArrayLike) -> dict[str, float | int | str]:
    """The glued numbers of :class:`SegmentSummary` (fact 1 over the segments) and :func:`inexact_sentence`."""
    return dict(
        inexact_text=inexact_sentence(summary, y),
        n_segments=summary.n,
        n_exact=summary.n_exact,
        n_inexact=summary.n_inexact,
        max_ratio=summary.max_floored_ratio,
        quad_max=summary.max_quadrature_exact,
        max_floor=summary.max_floor,
        min_decades=summary.min_decades,
        n_below_floor=summary.n_below_floor,
        max_raw_ratio=summary.max_raw_ratio,
        max_projected_ratio_exact=summary.max_projected_ratio_exact,
    )


def showcase_values(
    flow: TrainResult, X: ArrayLike, segment: FlowSegment, gd: GDComparison, gd_coarse: GDComparison
) -> dict[str, float | int | str]:
    r"""The glued numbers of the shown segment: its span, :math:`\lambda` agreement, gradient descent.

    ``gd`` is the fine-step comparison of the figure, ``gd_coarse`` the one with the
    experiment's own step (only its slack is quoted).
    """
    t, segment = record_times(flow), _check_segment(segment)
    return dict(
        flow_steps=int(flow.nit),
        lam_vs_positive=lambda_agreement(segment, X),
        shown_rule=showcase_rule(segment),
        seg_t0=float(t[segment.a]),
        seg_t1=float(t[segment.b]),
        seg_change=float(segment.exact_run.changed_at or np.nan),
        seg_duration=float(t[segment.b] - t[segment.a]),
        gd_steps=gd.steps,
        gd_lr_lammax=float(gd.lr * gd.history.lam_max.max()),
        gd_slack=gd.slack,
        gd_slack_01=gd_coarse.slack,
    )


def draw_fixed_pattern_bound(segments: Sequence[FlowSegment], segment: FlowSegment, gd: GDComparison) -> DrawnFigure:
    """Fact 1 on the shown segment: gap and bound (left), relative margin below the bound (right).

    Every array is the gradient flow's (or measured from its state), so all are ``unchecked``;
    they include :func:`segment_ratios` of all ``segments``.
    """
    from ..plotting import COLUMN_WIDTH_IN, figure, plot_gap_and_bound

    history = _check_segment(segment).exact_history
    bound = history.flow_bound()
    fig, axes = figure(ncols=2, width=COLUMN_WIDTH_IN, height=3.6)
    ax = axes[0, 0]
    plot_gap_and_bound(ax, history.t, history.excess, bound, label="flow: $L - L^*(D,S)$",
                       bound_label=r"bound $(L_0 - L^*)\,e^{-2\int\lambda}$", color="C0")
    ax.plot(gd.history.t, gd.history.excess, color="C1", lw=1.0, ls=":", label=rf"GD, $\eta = {gd.lr}$: $L_k - L^*$")
    ax.set_ylabel("$L - L^*(D, S)$")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0)
    ax = axes[0, 1]
    ax.plot(history.t[1:], 1 - history.excess[1:] / bound[1:], color="C0", label="flow: 1 $-$ $(L - L^*)$ / bound")
    ax.plot(gd.history.t[1:], 1 - gd.history.excess[1:] / gd.bound[1:], color="C1", ls=":",
            label="GD: 1 $-$ $(L_k - L^*) / B_k$")
    ax.set_yscale("log")
    ax.set_xlabel("time $t$ since the segment start")
    ax.set_ylabel("relative margin below the bound")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0)
    unchecked = dict(
        t=history.t, excess=history.excess, projected=history.projected, lam=history.lam, bound=bound,
        gd_t=gd.history.t, gd_excess=gd.history.excess, gd_bound=gd.bound, gd_flow_bound=gd.flow_bound,
        segment_ratios=segment_ratios(segments),
    )
    return DrawnFigure(fig, unchecked=unchecked)


__all__ = [
    "describe_segment",
    "describe_segments",
    "describe_summary",
    "draw_fixed_pattern_bound",
    "failed_segments",
    "flow_segments",
    "FlowSegment",
    "gd_on_segment",
    "GDComparison",
    "inexact_sentence",
    "lambda_agreement",
    "record_times",
    "segment_ratios",
    "SegmentSummary",
    "showcase_rule",
    "showcase_segment",
    "showcase_values",
    "summarize_segments",
    "summary_values",
]
