r"""The lazy-to-adaptive regime sweep of Chapter 2: one experiment at many initial scales, each run measured.

The sweep's settings (:class:`RegimeSweep`, registered as ``regime_1d``), its runs and what each
records (:func:`regime_sweep`, :class:`RegimeRow`, :func:`regime_arrays`), among them the state a
run ends in when it ends sliding (:func:`final_sliding_state`) and the directions its neurons
aligned to (:func:`count_directions`). What the chapter reads from the rows lives beside it: fact
3's exit-time fit in :mod:`~plateau_lib.chapters.quantification_exit_times`, sliding over the
sweep in :mod:`~plateau_lib.chapters.quantification_sliding`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_float, check_positive_int
from ..experiments import Experiment, get_experiment, run_stacked
from ..fixed_pattern import (
    SLIDING_MAX_GAP,
    FloatArray,
    IntArray,
    SlidingPhase,
    covered_steps,
    exit_time,
    lstar_rounding,
    pinned_feature_matrix,
    pinned_ls_level,
    sliding_phases,
    weighted_phases,
)
from ..network import check_problem
from ..parallel import ExecutorLike
from ..patterns import detect_plateaus, filtered_changes
from ..result import TrainResult
from ..sweeps import sweep_groups
from ..theory import (
    SIGNIFICANCE_RTOL,
    feature_matrix,
    local_ls_level,
    significant_neurons,
)
from . import register_study

#: Steps over which the end of a run is summarised (medians of the loss, the final sliding state).
TAIL_STEPS = 100


#: Share of a run at its end over which "has come to rest" is judged (:class:`RegimeRow`).
TAIL_FRACTION = 0.1


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
    "count_directions",
    "final_sliding_state",
    "regime_arrays",
    "regime_run",
    "regime_runs",
    "regime_sweep",
    "REGIME_SWEEP",
    "RegimeRow",
    "RegimeSweep",
    "SlidingState",
    "TAIL_FRACTION",
    "TAIL_STEPS",
]
