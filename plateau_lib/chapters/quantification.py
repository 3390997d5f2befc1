r"""Chapter 2, Quantification (claim C3): the studies behind its figures and checks.

Notation as in :mod:`plateau_lib.fixed_pattern`, where the fixed-pattern machinery (facts 1-3,
sliding) lives; this module holds the chapter's studies and what the chapter computes but
does not show:

- fact 1 on one flow run: its segments and their summary (:func:`flow_segments`,
  :func:`summarize_segments`), the segment shown and gradient descent from its start
  (:func:`showcase_segment`, :func:`gd_on_segment`);
- fact 2: the balances along the flow and gradient descent's drift (:func:`flow_balances`,
  :func:`gd_balance_drift`), the rate along the run (:func:`flow_plateau_level`);
- fact 3: the lazy-to-adaptive regime sweep and its exit-time fit (:func:`regime_sweep`,
  :func:`fit_exit_times`), the runs that keep descending (:func:`descending_plateau_times`);
- sliding: the showcase and the state a run ends in (:func:`sliding_showcase`,
  :func:`final_sliding_state`), sliding over the sweep (:func:`sliding_statistics`);
- the chapter's figures (``draw_*``, each a :class:`DrawnFigure` with the arrays it draws),
  the numbers and sentences glued into its prose (``*_values``, ``*_sentence``), and the
  tolerances of its checks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_float, check_positive_int
from ..experiments import Experiment, get_experiment, run_stacked
from ..fixed_pattern import (
    FLOW_ATOL,
    FLOW_RTOL,
    INTEGRATION_RTOL,
    MAX_POINTS,
    QUAD_TOL,
    SLIDING_MAX_GAP,
    SLIDING_MIN_TOGGLES,
    BoundCheck,
    ConvergenceHistory,
    DriftRow,
    EscapeDirection,
    FixedPatternRun,
    FloatArray,
    IntArray,
    SlidingPhase,
    balance_drift,
    breakpoint_history,
    check_bound,
    convergence_history,
    covered_steps,
    euler_bound,
    exit_time,
    fixed_pattern_segments,
    gd_within_pattern,
    loglog_slope,
    lstar_rounding,
    max_escape_rate_1d,
    pinned_feature_matrix,
    pinned_ls_level,
    predicted_exit_slope,
    resolved_history,
    sliding_phases,
    weighted_phases,
)
from ..network import ShallowReLU, check_problem
from ..parallel import ExecutorLike
from ..patterns import Plateau, detect_plateaus, filtered_changes
from ..result import TrainResult
from ..sweeps import SeedSearch, first_seed, sweep_groups
from ..theory import (
    SIGNIFICANCE_RTOL,
    conserved_quantities,
    feature_matrix,
    kernel_lambda,
    local_ls_level,
    lstar_of_network,
    significant_neurons,
)
from . import register_study

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Steps over which the end of a run is summarised (medians of the loss, the final sliding state).
TAIL_STEPS = 100


#: Share of a run at its end over which "has come to rest" is judged (:class:`RegimeRow`).
TAIL_FRACTION = 0.1


#: Chapter 2's checks: a run has come to rest when its loss changed by at most ``REST_RTOL``
#: (relative) over its last ``TAIL_FRACTION``. (The other tolerances are derived from what they
#: separate: fact 3's from the two predicted slopes, :attr:`ExitFit.rtol`; the sliding check's
#: from each run's gap between its pinned and neighbouring levels, :func:`sliding_tolerance`.)
REST_RTOL = 1e-5


#: Steps at the end of the sliding showcase drawn in the middle panel (the loss against the
#: levels) and the right panel (the pinned breakpoints) of its figure.
SLIDING_ZOOM_STEPS = 400


SLIDING_PIN_STEPS = 60


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


@dataclass(frozen=True)
class SlidingState:
    r"""The end of a run that finishes in a sliding phase (:func:`final_sliding_state`).

    Attributes
    ----------
    pins : tuple of (int, int)
        Pairs ``(i, j)`` flickering at the end, with ``j`` weighted.
    loss : float
        Median loss over the last ``window`` recorded steps (gradient descent oscillates
        around the sliding motion by :math:`O(\eta)`).
    pinned : float
        :func:`~plateau_lib.fixed_pattern.pinned_ls_level` of the final pattern, weighted neurons, ``pins``.
    lstar_off, lstar_on : float
        :math:`L^*(D,S)` of the two neighbouring patterns: every pinned entry inactive, or
        every pinned entry active.
    level_error : float
        Bound on the round-off error of a computed difference of the pinned level and a
        neighbouring one: :func:`~plateau_lib.fixed_pattern.lstar_rounding` of the pinned
        level plus the larger of the neighbours'.
    """

    pins: tuple[tuple[int, int], ...]
    loss: float
    pinned: float
    lstar_off: float
    lstar_on: float
    level_error: float


def final_sliding_state(
    result: TrainResult, X: ArrayLike, y: ArrayLike, phases: Sequence[SlidingPhase], *,
    max_gap: int = SLIDING_MAX_GAP, window: int = TAIL_STEPS, rel_tol: float = SIGNIFICANCE_RTOL,
) -> SlidingState | None:
    """The pinned level at the end of a run whose last steps are a sliding phase, else ``None``.

    A phase is still running at the end when its last toggle is within ``max_gap`` steps of
    the last step. Its neuron must be weighted at the end (:func:`~plateau_lib.theory.significant_neurons`).
    """
    _, X, y = check_problem(result.net, X, y)
    window = check_positive_int(window, "window")
    last = int(result.steps[-1])
    net = result.net
    S = significant_neurons(net, X, y, rel_tol)
    pins = sorted({(p.i, p.j) for p in phases if p.end >= last - max_gap and p.j in S})
    if not pins:
        return None
    D = net.preactivations(X) > 0
    off, on = D.copy(), D.copy()
    for i, j in pins:
        off[i, j], on[i, j] = False, True
    tail = np.asarray(result.steps) >= last - window
    error = lstar_rounding(pinned_feature_matrix(X, D, S, pins), y) + max(
        lstar_rounding(feature_matrix(X, off, S), y), lstar_rounding(feature_matrix(X, on, S), y))
    return SlidingState(tuple(pins), float(np.median(result.loss[tail])), pinned_ls_level(X, y, D, S, pins),
                        local_ls_level(X, y, off, S), local_ls_level(X, y, on, S), error)


# =========================================================================== the regime sweep


@dataclass(frozen=True)
class RegimeSweep:
    r"""Settings of the lazy-to-adaptive sweep: one base experiment at many initial scales.

    Attributes
    ----------
    name : str
        Name of the sweep (its name in the study registry, :func:`~plateau_lib.chapters.get_study`).
    base : str
        Registered experiment (:func:`~plateau_lib.experiments.get_experiment`) run at each
        scale with ``init_scale`` replaced; everything else (data, width, trainer, step,
        budget, quick budget) is the base's.
    scales : tuple of float
        Initial scales :math:`\alpha`, decreasing.
    seeds : tuple of int
        Seeds of the full sweep; quick mode uses the first ``quick_seeds`` of them.
    quick_seeds : int
        Number of seeds in quick mode.
    exit_fraction : float
        A run has left the first plateau when :math:`L \le` ``exit_fraction`` :math:`\cdot L_0`,
        :math:`L_0 = \|y\|^2/(2m)` the loss of the zero network (the first plateau's level).
        The slope of the exit time in :math:`\log(1/\alpha)` does not depend on it
        (:func:`~plateau_lib.fixed_pattern.predicted_exit_slope`: it shifts the time by a constant).
    on_saddle_rtol : float
        Scales whose runs all start with :math:`|L(0)/L_0 - 1| \le` ``on_saddle_rtol`` start
        on the first plateau; only they enter the fit of the exit time.
    grid_points : int
        Number of log-spaced steps at which each loss curve is kept for plotting.
    """

    name: str = "regime_1d"
    base: str = "plateau_1d"
    scales: tuple[float, ...] = (1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
    seeds: tuple[int, ...] = tuple(range(8))
    quick_seeds: int = 5
    exit_fraction: float = 0.9
    on_saddle_rtol: float = 1e-2
    grid_points: int = 160

    def __post_init__(self) -> None:
        get_experiment(self.base)
        if len(self.scales) < 2 or any(not s > 0 for s in self.scales):
            raise ValueError(f"scales must hold at least two positive scales, got {self.scales}")
        if len(self.seeds) < 1:
            raise ValueError("seeds must not be empty")
        check_positive_int(self.quick_seeds, "quick_seeds")
        if not 0 < self.exit_fraction < 1:
            raise ValueError(f"exit_fraction must lie in (0, 1), got {self.exit_fraction}")

    def experiment(self, scale: float) -> Experiment:
        """The base experiment at initial scale ``scale``."""
        scale = check_positive_float(scale, "scale")
        return get_experiment(self.base).with_changes(name=f"{self.name}_alpha_{scale:g}", init_scale=scale)

    def seed_list(self, quick: bool = False, offset: int = 0) -> list[int]:
        """Seeds of the sweep (quick mode: the first ``quick_seeds``), shifted by ``offset``."""
        seeds = self.seeds[: self.quick_seeds] if quick else self.seeds
        return [int(s) + int(offset) for s in seeds]

    def step_grid(self, quick: bool = False) -> IntArray:
        """Steps at which loss curves are kept: 0 and ``grid_points`` log-spaced steps to the budget."""
        budget = get_experiment(self.base).budget(quick)
        return np.unique(np.concatenate([[0], np.round(np.geomspace(1, budget, self.grid_points))])).astype(np.int64)


#: The sweep of Chapter 2, registered as the study ``regime_1d``.
REGIME_SWEEP = register_study("regime_1d", RegimeSweep())


@dataclass(frozen=True, eq=False)
class RegimeRow:
    r"""One run of a :class:`RegimeSweep` (:func:`regime_run`). Times are flow times :math:`k\eta`.

    Attributes
    ----------
    scale, seed : float, int
        Initial scale :math:`\alpha` and seed.
    lr : float
        Step size.
    budget : int
        Steps run.
    initial_loss, final_loss : float
        :math:`L(0)` and the final loss.
    zero_level : float
        :math:`L_0 = \|y\|^2/(2m)`.
    exit_time : float
        First time with :math:`L \le` ``exit_fraction`` :math:`L_0` (``nan`` if never).
    plateau_time : float
        Total time on detected plateaus (:func:`~plateau_lib.patterns.detect_plateaus`) that
        end before the run does (followed by a drop).
    n_plateaus : int
        Number of those plateaus.
    final_plateau_start : float
        Start time of a plateau lasting to the end of the run (``nan`` if none).
    raw_changes, filtered_changes : int
        Raw pattern changes and flicker-filtered ones (:func:`~plateau_lib.patterns.filtered_changes`).
    pattern_distance : float
        Fraction of pattern entries :math:`D_{ij}` that differ between the start and the end.
    movement : float
        :math:`\|\theta_{\mathrm{end}} - \theta_0\| / \|\theta_0\|`.
    sliding_steps : int
        Steps covered by sliding phases of weighted neurons (:func:`~plateau_lib.fixed_pattern.sliding_phases`,
        :func:`~plateau_lib.fixed_pattern.weighted_phases`, :func:`~plateau_lib.fixed_pattern.covered_steps`).
    end_sliding : bool
        The run ends in a sliding phase of a weighted neuron.
    end_loss, end_pinned, end_lstar_off, end_lstar_on, end_level_error : float
        :class:`SlidingState` values at the end (``nan`` unless ``end_sliding``).
    tail_change : float
        Relative decrease of the loss over the last ``TAIL_FRACTION`` (10%) of the run, between the
        medians of the ``TAIL_STEPS`` (100) steps before step ``0.9 * budget`` and of the last
        ``TAIL_STEPS`` steps (medians, so that
        gradient descent's flicker does not count): about 0 when the run has come to rest.
    n_directions : int
        Number of distinct directions :math:`v_j/|v_j|` among the weighted neurons at the
        end (:func:`count_directions`).
    grid_loss : ndarray
        Loss at :meth:`RegimeSweep.step_grid`.
    wall_time : float
        Seconds for the run and its analysis.
    """

    scale: float
    seed: int
    lr: float
    budget: int
    initial_loss: float
    final_loss: float
    zero_level: float
    exit_time: float
    plateau_time: float
    n_plateaus: int
    final_plateau_start: float
    raw_changes: int
    filtered_changes: int
    pattern_distance: float
    movement: float
    sliding_steps: int
    end_sliding: bool
    end_loss: float
    end_pinned: float
    end_lstar_off: float
    end_lstar_on: float
    end_level_error: float
    tail_change: float
    n_directions: int
    grid_loss: FloatArray = field(repr=False)
    wall_time: float = 0.0


def regime_run(item: tuple[RegimeSweep, float, int, bool]) -> RegimeRow:
    """Run and analyse one ``(settings, scale, seed, quick)`` of a :class:`RegimeSweep` (every step recorded)."""
    return regime_runs([item])[0]


def regime_runs(items: Sequence[tuple[RegimeSweep, float, int, bool]]) -> list[RegimeRow]:
    """:func:`regime_run` of each item, the runs trained together (:func:`~plateau_lib.experiments.run_stacked`).

    Module level (picklable) for :func:`~plateau_lib.sweeps.sweep_groups`. The items must share
    their mode (``quick``). A row's ``wall_time`` is its share of the stack's training plus its
    own analysis.
    """
    for settings, *_ in items:
        if not isinstance(settings, RegimeSweep):
            raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    modes = {bool(quick) for *_, quick in items}
    if len(modes) > 1:
        raise ValueError("items must share quick (one mode per stack)")
    start = time.perf_counter()
    runs = [(settings.experiment(scale), int(seed)) for settings, scale, seed, _ in items]
    results = run_stacked(runs, quick=modes.pop() if modes else False, record_every=1)
    share = (time.perf_counter() - start) / max(len(items), 1)
    return [_regime_row(item, result, share) for item, result in zip(items, results, strict=True)]


def _regime_row(item: tuple[RegimeSweep, float, int, bool], result: TrainResult, train_time: float) -> RegimeRow:
    settings, scale, seed, quick = item
    start = time.perf_counter()
    experiment = settings.experiment(scale)
    X, y = experiment.data()
    lr = float(experiment.options["lr"])
    steps, loss = result.steps, result.loss
    last = int(steps[-1])
    L0 = float(y @ y) / (2 * len(y))
    plateaus = detect_plateaus(steps, loss)
    ended = [p for p in plateaus if p.end < last]
    final = [p for p in plateaus if p.end >= last]
    phases = weighted_phases(result, X, y, sliding_phases(result))
    state = final_sliding_state(result, X, y, phases)
    D0 = result.net_at(0).preactivations(X) > 0
    D1 = result.net.preactivations(X) > 0
    theta0, theta1 = result.params[0], result.params[-1]
    grid = settings.step_grid(quick)
    grid_loss = np.interp(grid, steps, loss)  # every step is recorded: exact at the grid
    cut = (1 - TAIL_FRACTION) * last
    before = (steps >= cut - TAIL_STEPS) & (steps < cut)
    end_med = float(np.median(loss[steps >= last - TAIL_STEPS]))
    tail_change = (float(np.median(loss[before])) - end_med) / end_med if before.any() else math.nan
    weighted = significant_neurons(result.net, X, y)
    nan = math.nan
    return RegimeRow(
        scale=float(scale), seed=int(seed), lr=lr, budget=last,
        initial_loss=float(loss[0]), final_loss=float(loss[-1]), zero_level=L0,
        exit_time=exit_time(steps * lr, loss, settings.exit_fraction * L0),
        plateau_time=float(sum(p.end - p.start for p in ended)) * lr, n_plateaus=len(ended),
        final_plateau_start=float(final[0].start) * lr if final else nan,
        raw_changes=len(result.pattern_changes), filtered_changes=len(filtered_changes(result)),
        pattern_distance=float(np.mean(D0 != D1)),
        movement=float(np.linalg.norm(theta1 - theta0) / np.linalg.norm(theta0)),
        sliding_steps=covered_steps(phases), end_sliding=state is not None,
        end_loss=state.loss if state else nan, end_pinned=state.pinned if state else nan,
        end_lstar_off=state.lstar_off if state else nan, end_lstar_on=state.lstar_on if state else nan,
        end_level_error=state.level_error if state else nan,
        tail_change=tail_change, n_directions=count_directions(result.net.v[weighted]),
        grid_loss=grid_loss, wall_time=train_time + time.perf_counter() - start,
    )


#: How many seeds (from the chapter's seed onward) the sliding showcase searches
#: (:func:`find_sliding_showcase`).
SHOWCASE_SEARCH = 40


def find_sliding_showcase(
    settings: RegimeSweep, scale: float, seed: int, *, quick: bool = False,
    rows: Sequence[RegimeRow] = (), max_seeds: int = SHOWCASE_SEARCH,
) -> SeedSearch[RegimeRow]:
    """The first seed from ``seed`` onward whose run at ``scale`` ends in a sliding phase (``end_sliding``).

    Runs already in ``rows`` (same scale and seed) are reused; the others are run by
    :func:`regime_run`. At most ``max_seeds`` seeds, ``seed .. seed + max_seeds - 1``.
    """
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    scale = check_positive_float(scale, "scale")
    max_seeds = check_positive_int(max_seeds, "max_seeds")
    known = {r.seed: r for r in rows if r.scale == scale}

    def run(s: int) -> RegimeRow:
        return known[s] if s in known else regime_run((settings, scale, s, bool(quick)))

    return first_seed(run, int(seed), max_seeds, lambda row: None if row.end_sliding else "does not end sliding")


def regime_sweep(
    settings: RegimeSweep = REGIME_SWEEP,
    *,
    quick: bool = False,
    seed_offset: int = 0,
    executor: ExecutorLike = 2,
    progress: bool = False,
) -> list[RegimeRow]:
    """Run every (scale, seed) of ``settings`` through :func:`~plateau_lib.sweeps.sweep`.

    Returns
    -------
    list of RegimeRow
        Ordered by scale (as given), then seed.
    """
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    seeds = settings.seed_list(quick, seed_offset)
    items = [(settings, float(s), seed, bool(quick)) for s in settings.scales for seed in seeds]
    return sweep_groups(regime_runs, items, executor=executor, progress=progress, desc=settings.name)


def regime_arrays(rows: Sequence[RegimeRow]) -> dict[str, NDArray]:
    """Columns of :class:`RegimeRow` rows as arrays (``grid_loss`` stacked to (k, g))."""
    if not rows:
        raise ValueError("rows must not be empty")
    return {f.name: np.array([getattr(r, f.name) for r in rows]) for f in fields(RegimeRow)}


@dataclass(frozen=True)
class ExitFit:
    r"""Fit of the exit time against :math:`\log(1/\alpha)` (:func:`fit_exit_times`).

    Attributes
    ----------
    scales : ndarray
        The scales that start on the first plateau (used in the fit).
    median_times : ndarray
        Median exit time over seeds at each of them.
    slope, intercept : float
        Least-squares line ``median_time = slope * log(1/scale) + intercept``.
    predicted_slope : float
        :func:`~plateau_lib.fixed_pattern.predicted_exit_slope` of the rate and step.
    rate : float
        :math:`\rho^*` at the zero network (:func:`~plateau_lib.fixed_pattern.max_escape_rate_1d` with :math:`r = -y`).
    """

    scales: FloatArray
    median_times: FloatArray
    slope: float
    intercept: float
    predicted_slope: float
    rate: float

    @property
    def ratio(self) -> float:
        """Measured over predicted slope."""
        return self.slope / self.predicted_slope

    @property
    def flow_slope(self) -> float:
        r"""The gradient flow's predicted slope :math:`1/\rho^*`: the alternative to ``predicted_slope``."""
        return 1.0 / self.rate

    @property
    def flow_ratio(self) -> float:
        """Measured slope over the flow's predicted slope."""
        return self.slope / self.flow_slope

    @property
    def rtol(self) -> float:
        r"""Tolerance of fact 3's check: half the relative gap between the two predictions.

        :math:`|1/\rho^* - s_{GD}| / (2 s_{GD})` with :math:`s_{GD}` = ``predicted_slope``. A
        measured slope within it of :math:`s_{GD}` is at least as far from the flow's slope,
        so the check tells the discretised prediction from the flow's.
        """
        return abs(self.flow_slope - self.predicted_slope) / (2 * self.predicted_slope)

    def resolution(self, lr: float) -> float:
        r"""How far exit times exact to one step (:math:`\eta` = ``lr``) can move the slope.

        :math:`2\eta/\text{span}`, with span the range of the median exit times fitted.
        """
        return 2 * check_positive_float(lr, "lr") / float(self.median_times.max() - self.median_times.min())


def fit_exit_times(settings: RegimeSweep, rows: Sequence[RegimeRow]) -> ExitFit:
    r"""Fit the median exit time over seeds against :math:`\log(1/\alpha)` on the scales that start on the saddle.

    The prediction uses the base experiment's data with :math:`r = -y` (every neuron is small
    on the first plateau) and its step size (:func:`~plateau_lib.fixed_pattern.predicted_exit_slope`).
    """
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    cols = regime_arrays(rows)
    scales = np.unique(cols["scale"])[::-1]
    keep, med = [], []
    for s in scales:
        sel = cols["scale"] == s
        on_saddle = np.all(np.abs(cols["initial_loss"][sel] / cols["zero_level"][sel] - 1) <= settings.on_saddle_rtol)
        times = cols["exit_time"][sel]
        if on_saddle and np.all(np.isfinite(times)):
            keep.append(s)
            med.append(float(np.median(times)))
    if len(keep) < 2:
        raise ValueError("fewer than two scales start on the first plateau; nothing to fit")
    keep, med = np.array(keep), np.array(med)
    slope, intercept = np.polyfit(np.log(1 / keep), med, 1)
    experiment = get_experiment(settings.base)
    X, y = experiment.data()
    rate = max_escape_rate_1d(X, -y).rate
    lr = float(experiment.options["lr"]) if experiment.trainer == "gd" else None
    return ExitFit(keep, med, float(slope), float(intercept), predicted_exit_slope(rate, lr), rate)


def count_directions(V: ArrayLike, tol: float = 0.05) -> int:
    r"""Number of distinct directions among the rows of ``V`` (zero rows ignored).

    Rows are normalised to unit length and grouped greedily: a row joins the first group
    whose representative is within Euclidean distance ``tol`` (default 0.05, about 3 degrees)
    of it. After an escape from a small initialisation, neurons that aligned to the same
    direction (the same breakpoint and orientation, in 1-D) count once.

    Parameters
    ----------
    V : array_like, shape (k, p)
        E.g. the inner weights :math:`v_j` of some neurons (``k = 0`` allowed).
    tol : float
        Grouping distance between unit vectors, in (0, 2).
    """
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2:
        raise ValueError(f"V must be a 2-D array (k, p), got shape {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ValueError("V must be finite")
    tol = check_positive_float(tol, "tol")
    norms = np.linalg.norm(V, axis=1)
    reps: list[FloatArray] = []
    for v in V[norms > 0] / norms[norms > 0, None]:
        if not any(np.linalg.norm(v - u) <= tol for u in reps):
            reps.append(v)
    return len(reps)


# =========================================================================== figures


@dataclass(frozen=True, eq=False)
class DrawnFigure:
    """A figure of the chapter and the arrays it draws, for :func:`~plateau_lib.figures.save_figure`.

    Attributes
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    data : dict of str to ndarray
        Arrays compared with the committed references (``save_figure(fig, name, dir, **data)``).
    unchecked : dict of str to ndarray
        Arrays that amplify round-off (the gradient flow's): saved, not compared
        (``save_figure(..., unchecked=unchecked)``).
    """

    fig: Figure
    data: dict[str, NDArray] = field(default_factory=dict)
    unchecked: dict[str, NDArray] = field(default_factory=dict)


def _check_segment(segment: object) -> FlowSegment:
    if not isinstance(segment, FlowSegment):
        raise TypeError(f"segment must be a FlowSegment (flow_segments), got {type(segment).__name__}")
    return segment


def _record_times(flow: TrainResult) -> FloatArray:
    """The record times of a gradient-flow run (``extra["t"]`` of :func:`~plateau_lib.trainers.train_flow`)."""
    if not isinstance(flow, TrainResult) or "t" not in flow.extra:
        raise TypeError("flow must be a TrainResult of train_flow (with extra['t'])")
    return np.asarray(flow.extra["t"])


# =========================================================================== fact 1 on the flow run


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
    t, segment = _record_times(flow), _check_segment(segment)
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
    t, segment = _record_times(flow), _check_segment(segment)
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
    from ..plotting import figure, plot_gap_and_bound

    history = _check_segment(segment).exact_history
    bound = history.flow_bound()
    fig, axes = figure(ncols=2, width=8.0, height=3.2)
    ax = axes[0, 0]
    plot_gap_and_bound(ax, history.t, history.excess, bound, label="flow: $L - L^*(D,S)$",
                       bound_label=r"bound $(L_0 - L^*)\,e^{-2\int\lambda}$", color="C0")
    ax.plot(gd.history.t, gd.history.excess, color="C1", lw=1.0, ls=":", label=rf"GD, $\eta = {gd.lr}$: $L_k - L^*$")
    ax.set_ylabel("$L - L^*(D, S)$")
    ax.legend(loc="lower left")
    ax = axes[0, 1]
    ax.plot(history.t[1:], 1 - history.excess[1:] / bound[1:], color="C0", label="flow: 1 $-$ $(L - L^*)$ / bound")
    ax.plot(gd.history.t[1:], 1 - gd.history.excess[1:] / gd.bound[1:], color="C1", ls=":",
            label="GD: 1 $-$ $(L_k - L^*) / B_k$")
    ax.set_yscale("log")
    ax.set_xlabel("time $t$ since the segment start")
    ax.set_ylabel("relative margin below the bound")
    ax.legend(loc="lower right")
    unchecked = dict(
        t=history.t, excess=history.excess, projected=history.projected, lam=history.lam, bound=bound,
        gd_t=gd.history.t, gd_excess=gd.history.excess, gd_bound=gd.bound, gd_flow_bound=gd.flow_bound,
        segment_ratios=segment_ratios(segments),
    )
    return DrawnFigure(fig, unchecked=unchecked)


# =========================================================================== the rate and the balances


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
    t = _record_times(flow)

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
    t = _record_times(flow)
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
    from ..plotting import figure, plot_per_neuron, plot_power_law, plot_rate_history

    t = _record_times(flow)
    lam = np.asarray(lam)
    fig, axes = figure(ncols=3, width=10.0, height=3.0, gridspec_kw={"width_ratios": [1.3, 1, 1]})
    ax = axes[0, 0]
    ax.plot(t[t > 0], flow.loss[t > 0], color="C0", lw=1.0, label="loss $L$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time $t$")
    ax2 = ax.twinx()
    plot_rate_history(ax2, t, lam, events=flow.extra["event_times"], label=r"$\lambda(t)$")
    ax2.set_xscale("log")
    ax.set_ylabel("loss $L$", color="C0")
    ax2.set_ylabel(r"$\lambda(t)$ (weight-carrying neurons)", color="C2")
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    ax = axes[0, 1]
    plot_per_neuron(ax, t, balances.change, floor=1e-20)
    ax.set_xlabel("time $t$")
    ax.set_ylabel(r"$|Q_j(t) - Q_j(0)|$, flow")
    ax.set_title(r"$Q_j = c_j^2 - |v_j|^2$, each neuron")
    ax = axes[0, 2]
    plot_power_law(ax, drift.lr, drift.per_step, drift.slope, drift.intercept,
                   label="GD: max$_j|\\Delta Q_j|$ / steps", fit_label=f"fit: slope {drift.slope:.2f}")
    ax.set_xlabel(r"step $\eta$")
    ax.set_ylabel("drift per step")
    ax.legend(loc="upper left")
    return DrawnFigure(
        fig,
        data=dict(drift_lr=drift.lr, drift_per_step=drift.per_step),
        unchecked=dict(t=t, loss=flow.loss, lam=lam, balance_change=balances.change),
    )


# =========================================================================== the regime sweep: values and figures


def run_values(experiment: Experiment, y: ArrayLike, *, t_end: float, flow_rtol: float) -> dict[str, float | int]:
    """The glued settings of the experiment the chapter follows, and of its gradient-flow run to ``t_end``."""
    y = np.asarray(y)
    return dict(
        y_rms=float(np.sqrt(np.mean(y**2))),
        m1=experiment.m,
        n1=experiment.width,
        alpha1=experiment.init_scale,
        lr1=float(experiment.options["lr"]),
        t_end=t_end,
        flow_rtol=flow_rtol,
    )


def settings_values(settings: RegimeSweep = REGIME_SWEEP, *, quick: bool) -> dict[str, float | int | str]:
    """The glued tolerances and settings of the chapter: the re-integration, the checks, the sweep."""
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    return dict(
        fp_rtol=FLOW_RTOL,
        integration_rtol=INTEGRATION_RTOL,
        fp_atol=FLOW_ATOL,
        quad_tol=QUAD_TOL,
        max_points=MAX_POINTS,
        on_saddle_rtol=settings.on_saddle_rtol,
        tail_steps=TAIL_STEPS,
        tail_fraction=TAIL_FRACTION,
        rest_rtol=REST_RTOL,
        min_toggles=SLIDING_MIN_TOGGLES,
        max_gap=SLIDING_MAX_GAP,
        showcase_search=SHOWCASE_SEARCH,
        sliding_zoom_steps=SLIDING_ZOOM_STEPS,
        sliding_pin_steps=SLIDING_PIN_STEPS,
        scales_text=", ".join(f"10^{np.log10(s):.0f}" for s in settings.scales),
        n_sweep_seeds=len(settings.seed_list(quick)),
        sweep_steps=get_experiment(settings.base).budget(quick),
        exit_fraction=settings.exit_fraction,
    )


def exit_values(fit: ExitFit, escape: EscapeDirection, X: ArrayLike, lr: float) -> dict[str, float | str]:
    r"""The glued numbers of fact 3: the escape direction, the predicted and measured slopes.

    With :math:`\rho^*` the escape rate and :math:`\eta` = ``lr``: the flow's slope
    :math:`1/\rho^*`, gradient descent's :math:`\eta/\log(1+\eta\rho^*)`, their ratio
    :math:`\eta\rho^*/\log(1+\eta\rho^*)` (``discretisation_factor``), the cost of a decade of
    :math:`\alpha`, slope :math:`\cdot\log 10`, and the slope's resolution :math:`2\eta/\text{span}`
    from exit times exact to one step on a span of times.
    """
    X = np.asarray(X)
    span = float(fit.median_times.max() - fit.median_times.min())
    return dict(
        escape_breakpoint=escape.breakpoint,
        rho_star=escape.rate,
        escape_where="a data point" if np.min(np.abs(X[:, 0] - escape.breakpoint)) < 1e-9 else "between data points",
        slope_flow=predicted_exit_slope(escape.rate),
        slope_gd=fit.predicted_slope,
        slope_measured=fit.slope,
        slope_ratio=fit.ratio,
        slope_ratio_flow=fit.slope * escape.rate,
        discretisation_factor=lr * escape.rate / np.log1p(lr * escape.rate),
        decade_cost=fit.slope * np.log(10),
        decade_steps=fit.slope * np.log(10) / lr,
        fit_alpha_max=float(fit.scales.max()),
        fit_span=span,
        slope_resolution=fit.resolution(lr),
        exit_slope_rtol=fit.rtol,
    )


def draw_lazy_adaptive(
    cols: Mapping[str, NDArray], fit: ExitFit, grid_t: ArrayLike, *, exit_fraction: float
) -> DrawnFigure:
    r"""Loss curves of every run coloured by :math:`\alpha` (left), exit time against :math:`\log(1/\alpha)` (right)."""
    from ..plotting import figure, plot_exit_fit, plot_scale_curves

    grid_t = np.asarray(grid_t)
    fig, axes = figure(ncols=2, width=9.0, height=3.4, gridspec_kw={"width_ratios": [1.3, 1]})
    ax = plot_scale_curves(axes[0, 0], grid_t, cols["grid_loss"], cols["scale"])
    ax.axhline(exit_fraction * cols["zero_level"][0], color="k", lw=0.6, ls=":")
    ax.legend(loc="lower left", ncol=2)
    ax.set_title("loss curves, every seed")
    ax = plot_exit_fit(axes[0, 1], np.log(1 / cols["scale"]), cols["exit_time"], np.log(1 / fit.scales),
                       fit.median_times, fit.slope, fit.intercept, fit.predicted_slope)
    ax.set_ylim(bottom=-5)
    ax.legend(loc="upper left")
    data = dict(
        grid_t=grid_t, grid_loss=cols["grid_loss"], scale=cols["scale"], seed=cols["seed"],
        exit_time=cols["exit_time"], fit_scales=fit.scales, fit_median_times=fit.median_times,
        slope=np.array([fit.slope, fit.predicted_slope]),
    )
    return DrawnFigure(fig, data=data)


def stalled(cols: Mapping[str, NDArray]) -> NDArray[np.bool_]:
    r"""The runs that stall: final loss above :math:`L_0/10`."""
    return cols["final_loss"] > cols["zero_level"] / 10


def draw_scale_summary(cols: Mapping[str, NDArray]) -> DrawnFigure:
    """Pattern changes (left), time on plateaus ending in a drop (middle), final loss (right), against the scale."""
    from ..plotting import figure, plot_against_scale

    scale, stalls = cols["scale"], stalled(cols)
    fig, axes = figure(ncols=3, width=10.0, height=3.0)
    ax = plot_against_scale(axes[0, 0], scale, cols["raw_changes"].astype(float) + 1, label="raw", color="C7")
    plot_against_scale(ax, scale, cols["filtered_changes"].astype(float) + 1, label="filtered", color="C0")
    ax.set_ylabel("pattern changes + 1")
    ax.legend(loc="upper left")
    ax = plot_against_scale(axes[0, 1], scale[~stalls], cols["plateau_time"][~stalls],
                            label="runs that keep descending", color="C3", logy=False)
    plot_against_scale(ax, scale[stalls], cols["plateau_time"][stalls], label=r"runs that stall above $L_0/10$",
                       color="C7", marker="s", logy=False)
    ax.set_ylabel(r"time on plateaus ending in a drop ($t = k\eta$)")
    ax.legend(loc="upper left")
    ax = plot_against_scale(axes[0, 2], scale, cols["final_loss"], label="final loss", color="C2")
    ax.set_ylabel("final loss")
    keys = ("scale", "seed", "raw_changes", "filtered_changes", "plateau_time", "final_loss", "final_plateau_start")
    return DrawnFigure(fig, data={key: cols[key] for key in keys})


@dataclass(frozen=True)
class DescendingPlateauTimes:
    r"""Median time on plateaus of the runs that keep descending, per scale (:func:`descending_plateau_times`).

    Attributes
    ----------
    scales : ndarray
        The scales (those of the exit-time fit, decreasing).
    median_times : ndarray
        Median ``plateau_time`` over the runs at that scale that do not stall
        (:func:`stalled`); ``nan`` where every run stalls.
    """

    scales: FloatArray
    median_times: FloatArray

    @property
    def missing(self) -> list[float]:
        """The scales at which every run stalls (the prose needs none)."""
        return [float(s) for s, t in zip(self.scales, self.median_times, strict=True) if math.isnan(t)]

    @property
    def per_decade(self) -> float:
        r"""Slope of the median times against :math:`\log_{10}(1/\alpha)`: time per decade of :math:`\alpha`."""
        return float(np.polyfit(np.log10(1 / self.scales), self.median_times, 1)[0])


def descending_plateau_times(cols: Mapping[str, NDArray], scales: ArrayLike) -> DescendingPlateauTimes:
    """Median time on plateaus ending in a drop over the runs that do not stall, at each of ``scales``."""
    scales = np.asarray(scales, dtype=np.float64)
    keep = ~stalled(cols)
    times = []
    for s in scales:
        sel = (cols["scale"] == s) & keep
        times.append(float(np.median(cols["plateau_time"][sel])) if sel.any() else math.nan)
    return DescendingPlateauTimes(scales, np.array(times))


def _median_at(cols: Mapping[str, NDArray], key: str, scale: float) -> float:
    return float(np.nanmedian(cols[key][cols["scale"] == scale]))


def tenth_times(cols: Mapping[str, NDArray], grid_t: ArrayLike) -> FloatArray:
    r"""Per run, the first time its loss (on the plotting grid) falls to :math:`L_0/10` (``nan`` if never)."""
    grid_t = np.asarray(grid_t)
    return np.array(
        [exit_time(grid_t, g, l0 / 10) for g, l0 in zip(cols["grid_loss"], cols["zero_level"], strict=True)]
    )


def lazy_adaptive_values(cols: Mapping[str, NDArray], grid_t: ArrayLike) -> dict[str, float | int]:
    r"""The glued medians over seeds at the lazy end (largest :math:`\alpha`) and the adaptive end (smallest)."""
    lazy, smallest = max(cols["scale"].tolist()), min(cols["scale"].tolist())
    tenth = tenth_times(cols, grid_t)

    def tenth_at(scale: float) -> tuple[float, int]:
        sel = (cols["scale"] == scale) & np.isfinite(tenth)
        return (float(np.median(tenth[sel])) if sel.any() else math.nan), int(np.sum(sel))

    (tenth_lazy, tenth_lazy_n), (tenth_adaptive, tenth_adaptive_n) = tenth_at(lazy), tenth_at(smallest)
    return dict(
        lazy_alpha=lazy,
        lazy_initial_ratio=_median_at(cols, "initial_loss", lazy) / float(cols["zero_level"][0]),
        smallest_alpha=smallest,
        plateau_time_lazy=_median_at(cols, "plateau_time", lazy),
        filt_lazy=_median_at(cols, "filtered_changes", lazy),
        filt_adaptive=_median_at(cols, "filtered_changes", smallest),
        tenth_lazy=tenth_lazy,
        tenth_adaptive=tenth_adaptive,
        tenth_lazy_n=tenth_lazy_n,
        tenth_adaptive_n=tenth_adaptive_n,
        movement_lazy=_median_at(cols, "movement", lazy),
        movement_adaptive=_median_at(cols, "movement", smallest),
        final_lazy=_median_at(cols, "final_loss", lazy),
        final_adaptive=_median_at(cols, "final_loss", smallest),
    )


def stall_values(
    cols: Mapping[str, NDArray], fit: ExitFit, descending: DescendingPlateauTimes
) -> dict[str, float | int]:
    r"""The glued numbers on stalling: how many runs stall, their directions, later plateaus' growth.

    A run is *adaptive* when its scale enters the exit-time fit (:math:`\alpha \le` the fit's
    largest) and *stuck* when it is adaptive and stalls (:func:`stalled`). ``later_vs_first``
    compares the descending runs' plateau time per decade with fact 3's cost of a decade,
    slope :math:`\cdot\log 10`.
    """
    adaptive = cols["scale"] <= fit.scales.max()
    stuck = adaptive & stalled(cols)
    per_decade = descending.per_decade
    return dict(
        n_stall_all=int(stalled(cols).sum()),
        free_per_decade=per_decade,
        later_vs_first=per_decade / (fit.slope * np.log(10)),
        free_pt_fit_max=float(descending.median_times[0]),
        free_pt_smallest=float(descending.median_times[-1]),
        n_stuck=int(stuck.sum()),
        frac_stuck=float(stuck.sum() / adaptive.sum()),
        stall_one_plateau=int(np.sum(stuck & (cols["n_plateaus"] == 1))),
        final_adaptive_free=float(np.median(cols["final_loss"][adaptive & ~stuck])),
        n_adaptive=int(adaptive.sum()),
        stuck_dirs_max=int(cols["n_directions"][stuck].max()) if stuck.any() else 0,
        other_dirs_median=float(np.median(cols["n_directions"][~stuck])),
    )


# =========================================================================== sliding: the showcase and the sweep


@dataclass(frozen=True, eq=False)
class SlidingShowcase:
    r"""The run shown in the sliding section, at its end (:func:`sliding_showcase`).

    Attributes
    ----------
    row : RegimeRow
        The sweep's row of the run (its ``tail_change`` says whether it has come to rest).
    run : TrainResult
        The run, every step recorded.
    state : SlidingState
        Its final sliding state (:func:`final_sliding_state`).
    last_phase : SlidingPhase
        The last sliding phase of the first pinned data point.
    x_pin : float
        That data point.
    pinned_neurons : tuple of int
        The weight-carrying neurons whose breakpoints sit on a pinned point at the end.
    """

    row: RegimeRow
    run: TrainResult
    state: SlidingState
    last_phase: SlidingPhase
    x_pin: float
    pinned_neurons: tuple[int, ...]

    @property
    def gap(self) -> float:
        r"""Relative distance of the loss from the pinned level, :math:`|L - L^*_{\rm pin}|/L^*_{\rm pin}`."""
        return abs(self.state.loss - self.state.pinned) / self.state.pinned

    @property
    def gap_nbr(self) -> float:
        r"""Relative distance of the loss from the nearer neighbouring :math:`L^*` (over :math:`L^*_{\rm pin}`)."""
        s = self.state
        return min(abs(s.loss - s.lstar_off), abs(s.loss - s.lstar_on)) / s.pinned

    @property
    def above(self) -> float:
        r"""Signed :math:`(L - L^*_{\rm pin})/L^*_{\rm pin}`: not below :math:`-\epsilon` while sliding."""
        return (self.state.loss - self.state.pinned) / self.state.pinned

    @property
    def tolerance(self) -> float:
        """The check's tolerance on :attr:`above` and :attr:`gap` (:func:`sliding_tolerance`)."""
        s = self.state
        return float(sliding_tolerance(s.pinned, s.lstar_off, s.lstar_on, s.level_error)[0])

    @property
    def distinct(self) -> bool:
        """A neighbouring level differs from the pinned one by more than round-off (:func:`sliding_tolerance`)."""
        s = self.state
        return bool(sliding_tolerance(s.pinned, s.lstar_off, s.lstar_on, s.level_error)[1])

    @property
    def oscillation(self) -> float:
        """Range of the loss over the last ``TAIL_STEPS`` steps, relative to its median."""
        steps = self.run.steps
        tail = self.run.loss[steps >= steps[-1] - TAIL_STEPS]
        return float((tail.max() - tail.min()) / np.median(tail))

    @property
    def at_rest(self) -> bool:
        """The run has come to rest: its loss changed by at most ``REST_RTOL`` over its last ``TAIL_FRACTION``."""
        return bool(abs(self.row.tail_change) <= REST_RTOL)

    def describe(self) -> str:
        """The pins, the loss and the three levels at the end, and the last phase."""
        s = self.state
        return (
            f"seed {self.row.seed}: pins {s.pins}; loss {s.loss:.7f}, pinned level "
            f"{s.pinned:.7f}, L* off {s.lstar_off:.7f}, L* on {s.lstar_on:.7f}; "
            f"{self._phase_words()}"
        )

    def _phase_words(self) -> str:
        phase = self.last_phase
        if phase is None:
            return "no sliding phase at the end"
        return (f"phase: point {phase.i} on neuron {phase.j}'s breakpoint, steps {phase.start}-{phase.end}, "
                f"{phase.toggles} toggles")

    def describe_gaps(self) -> str:
        """The loss's distances from the pinned level and the nearer neighbour, the tolerance, the oscillation."""
        return (
            f"shown: gap to pinned {self.gap:.2e}, to nearest neighbour {self.gap_nbr:.2e}, "
            f"tolerance {self.tolerance:.2e}, oscillation {self.oscillation:.2e}"
        )


def sliding_tolerance(
    pinned: ArrayLike, lstar_off: ArrayLike, lstar_on: ArrayLike, level_error: ArrayLike
) -> tuple[FloatArray, NDArray[np.bool_]]:
    r"""The sliding check's relative tolerance: half the gap to the nearer distinct neighbouring level.

    Both neighbouring patterns' ranges contain the pinned range, so
    :math:`L^*_{\rm off}, L^*_{\rm on} \le L^*_{\rm pin}`. A neighbour is *distinct* when its
    gap :math:`L^*_{\rm pin} - L^*_k` exceeds ``level_error``, the round-off bound of the computed
    difference (:attr:`SlidingState.level_error`); otherwise its range gives the same level (the
    pin does not bind) and nothing can tell the two apart. With :math:`g` the smallest gap of a
    distinct neighbour,

    .. math::

        \epsilon = \frac{g}{2\,L^*_{\rm pin}} ,

    and a loss within :math:`\epsilon` (relative) of :math:`L^*_{\rm pin}` is nearer to it than to
    any other level: the tolerance tells the pinned level, the chapter's explanation, from its
    alternative, a loss that has gone to a neighbouring pattern's level. Without a distinct
    neighbour, :math:`\epsilon` is the round-off bound ``level_error`` over :math:`L^*_{\rm pin}`.

    Returns
    -------
    tolerance : ndarray
        :math:`\epsilon` per run.
    distinct : ndarray of bool
        Whether the run has a distinct neighbour.
    """
    pinned = np.asarray(pinned, dtype=float)
    error = np.asarray(level_error, dtype=float)
    gaps = pinned - np.stack([np.asarray(lstar_off, dtype=float), np.asarray(lstar_on, dtype=float)])
    apart = gaps > error
    distinct = apart.any(axis=0)
    smallest = np.where(apart, gaps, np.inf).min(axis=0)
    return np.where(distinct, smallest / 2, error) / pinned, distinct


def sliding_showcase(
    experiment: Experiment, row: RegimeRow, X: ArrayLike, y: ArrayLike, *, quick: bool = False
) -> SlidingShowcase:
    """Re-run the seed of ``row`` (found by :func:`find_sliding_showcase`) and measure its final sliding state.

    Raises
    ------
    ValueError
        If the run does not end in a sliding phase of a weight-carrying neuron.
    """
    if not isinstance(row, RegimeRow):
        raise TypeError(f"row must be a RegimeRow, got {type(row).__name__}")
    run = experiment.run(row.seed, quick=quick, record_every=1)
    phases = weighted_phases(run, X, y, sliding_phases(run))
    state = final_sliding_state(run, X, y, phases)
    if state is None:
        raise ValueError(f"row: the run of seed {row.seed} does not end in a sliding phase")
    pin_i = state.pins[0][0]
    last_phase = max((p for p in phases if p.i == pin_i), key=lambda p: p.end)
    pinned = tuple(sorted({j for _, j in state.pins}))
    return SlidingShowcase(row, run, state, last_phase, float(np.asarray(X)[pin_i, 0]), pinned)


def draw_sliding(slide: SlidingShowcase) -> DrawnFigure:
    """The loss with the last sliding phase (left), its last ``SLIDING_ZOOM_STEPS`` steps against the
    levels (middle), and the pinned breakpoints over the last ``SLIDING_PIN_STEPS`` steps (right)."""
    from ..plotting import figure, plot_per_neuron

    run, state, phase, x_pin = slide.run, slide.state, slide.last_phase, slide.x_pin
    steps = run.steps
    fig, axes = figure(ncols=3, width=10.5, height=3.1, gridspec_kw={"width_ratios": [1.2, 1, 1]})
    ax = axes[0, 0]
    ax.plot(steps[1:], run.loss[1:], color="C0", lw=1.0, label="GD loss")
    ax.axvspan(max(phase.start, 1), phase.end, color="C1", alpha=0.15, lw=0, label="sliding phase")
    ax.set_xscale("log")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("loss $L$")
    ax.legend(loc="upper right")
    ax.set_title(f"seed {slide.row.seed}")
    ax = axes[0, 1]
    tail = steps >= steps[-1] - SLIDING_ZOOM_STEPS
    unit = 1e-5
    ax.plot(steps[tail], (run.loss[tail] - state.lstar_off) / unit, color="C0", lw=0.6, label="GD loss")
    ax.axhline((state.pinned - state.lstar_off) / unit, color="k", lw=1.0, label=r"$L^*_{\rm pin}$ (kink at $x_i$)")
    ax.axhline(0.0, color="k", lw=1.0, ls="--", label=r"$L^*$, $x_i$ inactive")
    ax.set_xlabel("step")
    ax.set_ylabel(r"$L - L^*(x_i$ inactive$)$  [$10^{-5}$]")
    ax.set_ylim(-0.15 * (state.pinned - state.lstar_off) / unit, 1.3 * (run.loss[tail].max() - state.lstar_off) / unit)
    ax.legend(loc="center right", fontsize=7)
    ax.set_title(f"last {SLIDING_ZOOM_STEPS} steps")
    ax = axes[0, 2]
    window = steps >= steps[-1] - SLIDING_PIN_STEPS
    offset = breakpoint_history(run, list(slide.pinned_neurons))[window] - x_pin
    plot_per_neuron(ax, steps[window], offset, logy=False)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel(r"breakpoint $-\,x_i$")
    ax.set_title(f"last {SLIDING_PIN_STEPS} steps: {len(slide.pinned_neurons)} neuron(s) at $x_i = {x_pin:.3f}$")
    data = dict(
        step=steps, loss=run.loss, levels=np.array([state.pinned, state.lstar_off, state.lstar_on]),
        window_step=steps[window], breakpoint_offset=offset,
    )
    return DrawnFigure(fig, data=data)


def sliding_fraction(cols: Mapping[str, NDArray]) -> FloatArray:
    """Per run, the share of its steps covered by sliding phases of weight-carrying neurons."""
    return cols["sliding_steps"] / cols["budget"]


def draw_sliding_statistics(cols: Mapping[str, NDArray]) -> DrawnFigure:
    """Sliding fraction against the scale (left); final loss against the levels, runs ending while sliding (right)."""
    from ..plotting import figure, plot_against_scale

    fraction, ending = sliding_fraction(cols), cols["end_sliding"]
    fig, axes = figure(ncols=2, width=8.0, height=2.9)
    ax = plot_against_scale(axes[0, 0], cols["scale"], fraction, label="median over seeds", color="C1", logy=False)
    ax.set_ylabel("fraction of the run in sliding phases")
    ax.legend(loc="center right")
    ax = axes[0, 1]
    if ending.any():
        end_loss = cols["end_loss"][ending]
        ax.plot(cols["end_pinned"][ending], end_loss, "o", color="C1", ms=4, label=r"$L^*_{\rm pin}$")
        ax.plot(cols["end_lstar_off"][ending], end_loss, "v", color="0.5", ms=3, label=r"$L^*$ ($x_i$ inactive)")
        lo, hi = np.nanmin(end_loss) / 1.5, np.nanmax(end_loss) * 1.5
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
        ax.legend(loc="upper left")
    else:
        ax.text(0.5, 0.5, "no run ends while sliding", transform=ax.transAxes, ha="center")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("level")
    ax.set_ylabel("final loss (runs ending while sliding)")
    data = dict(scale=cols["scale"], seed=cols["seed"], sliding_fraction=fraction, end_sliding=ending)
    data.update({key: cols[key] for key in ("end_loss", "end_pinned", "end_lstar_off", "end_lstar_on")})
    return DrawnFigure(fig, data=data)


@dataclass(frozen=True, eq=False)
class SlidingStatistics:
    r"""Sliding over the sweep (:func:`sliding_statistics`).

    Attributes
    ----------
    fraction : ndarray
        Per run, :func:`sliding_fraction`.
    base : ndarray of bool
        The runs at the base experiment's own scale.
    ending : ndarray of bool
        The runs that end in a sliding phase.
    at_rest : ndarray of bool
        Those of them that have come to rest (``|tail_change| <= REST_RTOL``).
    end_gap_min : float
        Smallest :math:`(L - L^*_{\rm pin})/L^*_{\rm pin}` at the end over the ``ending`` runs
        (``nan`` if none): not below :math:`-\epsilon` while the kink stays.
    end_gap_rest_max : float
        Largest :math:`|L - L^*_{\rm pin}|/L^*_{\rm pin}` over the ``at_rest`` runs (``nan`` if none).
    distinct : ndarray of bool
        The runs with a neighbouring level distinct from the pinned one (:func:`sliding_tolerance`).
    below_ratio : float
        Smallest :math:`(L - L^*_{\rm pin})/(L^*_{\rm pin}\epsilon)` over the ``ending`` runs, with
        :math:`\epsilon` each run's :func:`sliding_tolerance` (``nan`` if none): the check wants
        at least -1.
    rest_ratio : float
        Largest :math:`|L - L^*_{\rm pin}|/(L^*_{\rm pin}\epsilon)` over the ``at_rest`` runs with
        a distinct neighbour (``nan`` if none): the check wants at most 1.
    """

    fraction: FloatArray
    base: NDArray[np.bool_]
    ending: NDArray[np.bool_]
    at_rest: NDArray[np.bool_]
    end_gap_min: float
    end_gap_rest_max: float
    distinct: NDArray[np.bool_]
    below_ratio: float
    rest_ratio: float

    @property
    def n_same_level(self) -> int:
        """Runs ending while sliding whose pinned level equals both neighbouring levels to round-off."""
        return int(np.sum(self.ending & ~self.distinct))

    @property
    def ending_base(self) -> NDArray[np.bool_]:
        """The runs at the base scale that end in a sliding phase."""
        return self.ending & self.base

    def search_miss(self, max_seeds: int = SHOWCASE_SEARCH) -> float:
        r"""Chance that ``max_seeds`` independent runs at the base scale all miss a sliding end, at this sweep's rate:
        :math:`(1 - k/n)^{\text{max\_seeds}}`."""
        return (1 - int(self.ending_base.sum()) / int(self.base.sum())) ** max_seeds

    def describe(self) -> str:
        """How many runs end while sliding, their smallest excess, those at rest and their largest gap."""
        return (
            f"runs ending while sliding: {self.ending.sum()}; smallest (L - L_pin)/L_pin "
            f"{self.end_gap_min:.2e}; at rest: {self.at_rest.sum()}, largest |gap| {self.end_gap_rest_max:.2e}; "
            f"in units of half the gap to the neighbouring level: smallest excess {self.below_ratio:.2e}, "
            f"largest gap at rest {self.rest_ratio:.2e}; pinned level equal to both neighbours' "
            f"(to round-off): {self.n_same_level}"
        )


def sliding_statistics(cols: Mapping[str, NDArray], base_scale: float) -> SlidingStatistics:
    """Sliding fractions and the runs that end while sliding, against their pinned levels."""
    ending, pinned, end_loss = cols["end_sliding"], cols["end_pinned"], cols["end_loss"]
    at_rest = ending & (np.abs(cols["tail_change"]) <= REST_RTOL)
    gap = (end_loss - pinned) / pinned
    tol, distinct = sliding_tolerance(pinned, cols["end_lstar_off"], cols["end_lstar_on"], cols["end_level_error"])
    checked = at_rest & distinct
    return SlidingStatistics(
        fraction=sliding_fraction(cols),
        base=cols["scale"] == base_scale,
        ending=ending,
        at_rest=at_rest,
        end_gap_min=_reduce(np.min, gap[ending]),
        end_gap_rest_max=_reduce(np.max, np.abs(gap[at_rest])),
        distinct=distinct,
        below_ratio=_reduce(np.min, gap[ending] / tol[ending]),
        rest_ratio=_reduce(np.max, np.abs(gap[checked]) / tol[checked]),
    )


def _reduce(reduction: Callable[[FloatArray], float], values: FloatArray) -> float:
    """``reduction(values)`` as a float, ``nan`` for no values."""
    return float(reduction(values)) if values.size else math.nan


def end_sliding_sentence(stats: SlidingStatistics) -> str:
    """The prose's sentence on the runs of the sweep that end while sliding (or that none does)."""
    if not stats.ending.any():
        return "No run of the sweep ends while sliding."
    return (
        f"{int(stats.ending.sum())} of the {len(stats.ending)} runs end while sliding "
        f"({int(stats.ending_base.sum())} of the {int(stats.base.sum())} runs of plateau_1d). In "
        "every one the final loss is above the pinned level, up to gradient descent's "
        "oscillation (smallest relative excess "
        f"{stats.end_gap_min:.1e}), as it must be while "
        "the kink stays at the data point; most are still descending, the rest of the "
        "network not yet converged. "
        f"The {int(stats.at_rest.sum())} of them that have come to "
        f"rest (relative loss change below {REST_RTOL:.0e} over the last "
        f"{TAIL_FRACTION:.0%} of the run) sit within {stats.end_gap_rest_max:.1e} of the "
        "pinned level."
    )


def shown_sentence(slide: SlidingShowcase) -> str:
    """The prose's sentence on whether the shown run has come to rest, and what its pinned level then means."""
    if slide.at_rest:
        return (
            "This run has come to rest (relative loss change below "
            f"{REST_RTOL:.0e} over the last {TAIL_FRACTION:.0%} of the run), so its "
            "loss must sit at the pinned level."
        )
    return (
        f"This run has not come to rest (its loss still fell by {slide.row.tail_change:.1e} "
        f"over the last {TAIL_FRACTION:.0%} of the run): the pinned level is the "
        "level it approaches while the kink stays, a lower bound, not yet its loss."
    )


def sliding_showcase_values(
    slide: SlidingShowcase, search: SeedSearch[RegimeRow], stats: SlidingStatistics
) -> dict[str, float | int | str]:
    """The glued numbers and sentence of the sliding run shown, and of the search that found it."""
    s = slide.state
    return dict(
        showcase_tried=len(search.tried),
        search_miss=stats.search_miss(),
        shown_text=shown_sentence(slide),
        slide_seed=slide.row.seed,
        x_pin=slide.x_pin,
        n_pinned=len(slide.pinned_neurons),
        phase_start=slide.last_phase.start,
        slide_loss=s.loss,
        slide_off=s.lstar_off,
        slide_on=s.lstar_on,
        slide_pinned=s.pinned,
        slide_gap=slide.gap,
        slide_gap_nbr=slide.gap_nbr,
        slide_tol=slide.tolerance,
        slide_osc=slide.oscillation,
        on_below=s.lstar_off - s.lstar_on,
    )


def sliding_sweep_values(stats: SlidingStatistics) -> dict[str, float | int | str]:
    """The glued numbers and sentence of sliding over the sweep (``_1d``: the runs at the base scale)."""
    fraction, base = stats.fraction, stats.base
    return dict(
        end_sliding_text=end_sliding_sentence(stats),
        end_1d=int(stats.ending_base.sum()),
        end_rest_1d=int(np.sum(stats.at_rest & base)),
        n_1d_runs=int(base.sum()),
        slide_frac_1d_median=float(np.median(fraction[base])),
        slide_frac_1d_mean=float(np.mean(fraction[base])),
        slide_frac_1d_min=float(fraction[base].min()),
        slide_frac_1d_max=float(fraction[base].max()),
        n_runs=len(fraction),
        slide_frac_all=float(np.mean(fraction)),
        n_end_sliding=int(stats.ending.sum()),
        end_gap_min=stats.end_gap_min,
        n_end_rest=int(stats.at_rest.sum()),
        end_gap_rest_max=stats.end_gap_rest_max,
        below_ratio=stats.below_ratio,
        rest_ratio=stats.rest_ratio,
        n_same_level=stats.n_same_level,
    )


__all__ = [
    "REGIME_SWEEP",
    "REST_RTOL",
    "DRIFT_POWER_TOL",
    "SHOWCASE_SEARCH",
    "sliding_tolerance",
    "TAIL_FRACTION",
    "TAIL_STEPS",
    "count_directions",
    "descending_plateau_times",
    "DescendingPlateauTimes",
    "describe_segment",
    "describe_segments",
    "describe_summary",
    "draw_fixed_pattern_bound",
    "draw_lazy_adaptive",
    "draw_rate_and_balance",
    "draw_scale_summary",
    "draw_sliding",
    "draw_sliding_statistics",
    "DrawnFigure",
    "drift_values",
    "DriftFit",
    "end_sliding_sentence",
    "exit_values",
    "ExitFit",
    "failed_segments",
    "final_sliding_state",
    "find_sliding_showcase",
    "fit_exit_times",
    "flow_balances",
    "flow_plateau_level",
    "flow_segments",
    "FlowBalances",
    "FlowSegment",
    "gd_balance_drift",
    "gd_on_segment",
    "GDComparison",
    "inexact_sentence",
    "lambda_agreement",
    "lazy_adaptive_values",
    "PlateauLevel",
    "rate_values",
    "regime_arrays",
    "regime_run",
    "regime_runs",
    "regime_sweep",
    "RegimeRow",
    "RegimeSweep",
    "run_values",
    "segment_ratios",
    "SegmentSummary",
    "settings_values",
    "showcase_rule",
    "showcase_segment",
    "showcase_values",
    "shown_sentence",
    "sliding_fraction",
    "sliding_showcase",
    "sliding_showcase_values",
    "sliding_statistics",
    "sliding_sweep_values",
    "SlidingShowcase",
    "SlidingState",
    "SlidingStatistics",
    "stall_values",
    "stalled",
    "summarize_segments",
    "summary_values",
    "tenth_times",
]
