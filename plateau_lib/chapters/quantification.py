r"""Chapter 2, Quantification (claim C3): the studies behind its figures and checks.

Notation as in :mod:`plateau_lib.fixed_pattern`, where the fixed-pattern machinery (facts 1-3,
sliding) lives; this module holds the chapter's studies: the segments of one
flow run and their summary, the lazy-to-adaptive regime sweep and its exit-time fit, the sliding
showcase and the state a run ends in, and the tolerances of the chapter's checks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_float, check_positive_int
from ..experiments import Experiment, get_experiment
from ..fixed_pattern import (
    INTEGRATION_RTOL,
    SLIDING_MAX_GAP,
    BoundCheck,
    ConvergenceHistory,
    FixedPatternRun,
    FloatArray,
    IntArray,
    SlidingPhase,
    check_bound,
    covered_steps,
    exit_time,
    fixed_pattern_segments,
    max_escape_rate_1d,
    pinned_ls_level,
    predicted_exit_slope,
    resolved_history,
    sliding_phases,
    weighted_phases,
)
from ..network import check_problem
from ..patterns import detect_plateaus, filtered_changes
from ..result import TrainResult
from ..sweeps import SeedSearch, first_seed, sweep
from ..theory import SIGNIFICANCE_RTOL, local_ls_level, significant_neurons
from . import register_study

#: Steps over which the end of a run is summarised (medians of the loss, the final sliding state).
TAIL_STEPS = 100


#: Share of a run at its end over which "has come to rest" is judged (:class:`RegimeRow`).
TAIL_FRACTION = 0.1


#: Chapter 2's checks: the exit-time slope within this relative distance of the prediction
#: (fact 3); a run has come to rest when its loss changed by at most ``REST_RTOL`` (relative)
#: over its last ``TAIL_FRACTION``; a sliding loss within ``SLIDING_LEVEL_ATOL`` (relative) of
#: its pinned level.
EXIT_SLOPE_RTOL = 0.05


REST_RTOL = 1e-5


SLIDING_LEVEL_ATOL = 1e-4


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
    """

    pins: tuple[tuple[int, int], ...]
    loss: float
    pinned: float
    lstar_off: float
    lstar_on: float


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
    return SlidingState(tuple(pins), float(np.median(result.loss[tail])), pinned_ls_level(X, y, D, S, pins),
                        local_ls_level(X, y, off, S), local_ls_level(X, y, on, S))


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
    end_loss, end_pinned, end_lstar_off, end_lstar_on : float
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
    tail_change: float
    n_directions: int
    grid_loss: FloatArray = field(repr=False)
    wall_time: float = 0.0


def regime_run(item: tuple[RegimeSweep, float, int, bool]) -> RegimeRow:
    """Run and analyse one ``(settings, scale, seed, quick)`` of a :class:`RegimeSweep`.

    Module level (picklable) for :func:`~plateau_lib.sweeps.sweep`. Records every step.
    """
    settings, scale, seed, quick = item
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    start = time.perf_counter()
    experiment = settings.experiment(scale)
    X, y = experiment.data()
    lr = float(experiment.options["lr"])
    result = experiment.run(int(seed), quick=bool(quick), record_every=1)
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
        tail_change=tail_change, n_directions=count_directions(result.net.v[weighted]),
        grid_loss=grid_loss, wall_time=time.perf_counter() - start,
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
    executor: Executor | None = None,
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
    return sweep(regime_run, items, executor=executor, progress=progress, desc=settings.name)


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


__all__ = [
    "EXIT_SLOPE_RTOL",
    "REGIME_SWEEP",
    "REST_RTOL",
    "SHOWCASE_SEARCH",
    "SLIDING_LEVEL_ATOL",
    "TAIL_FRACTION",
    "TAIL_STEPS",
    "count_directions",
    "ExitFit",
    "final_sliding_state",
    "find_sliding_showcase",
    "fit_exit_times",
    "flow_segments",
    "FlowSegment",
    "regime_arrays",
    "regime_run",
    "regime_sweep",
    "RegimeRow",
    "RegimeSweep",
    "SegmentSummary",
    "showcase_segment",
    "SlidingState",
    "summarize_segments",
]
