r"""Avoiding plateaus with Active Neuron Least Squares (claim C5): the studies of Chapter 4.

The trainer itself is :func:`plateau_lib.trainers.anls.train_anls` (its module docstring states
the companion's reading of the paper's principle); this module only *runs* it and measures it:

* :func:`threshold_search` and :func:`one_sweep` -- the picture of the algorithm: for one neuron,
  the target it is fitted to, every candidate threshold with its least-squares gain (scored by
  :func:`~plateau_lib.trainers.anls.threshold_gains`, not re-implemented here), the chosen one,
  and the loss after every neuron update of the sweep;
* :func:`gd_vs_anls` -- gradient descent and ANLS from the same initial network;
* :func:`iteration_lead` and :func:`steps_to_reach` -- C5's count: a loss ANLS reaches in :math:`k`
  sweeps and the steps gradient descent needs from the same network to reach it;
  :func:`exit_study` and :func:`exit_summary` -- both races of the showcase over many seeds;
* :func:`anls_from_stationary` -- ANLS started where gradient descent comes to rest (the exact
  stationary point of Chapter 3, :func:`~plateau_lib.chapters.stationary.run_to_stationary_point`);
* :func:`variant_study` -- the variants (global or bounded threshold moves, with or without
  gradient-descent polishing) over seeds, through :func:`~plateau_lib.sweeps.sweep`;
* :func:`load_benchmark`, :func:`benchmark_entries`, :func:`benchmark_goals`,
  :func:`benchmark_schema`, :func:`benchmark_staleness` -- reading and summarising the results document of the benchmark
  :mod:`plateau_lib.chapters.anls_benchmark` (this module reads its output and does not import it);
* the chapter's page: what the notebook prints (:func:`sweep_report`, :func:`race_report`), tabulates
  (:func:`exits_table`, :func:`variants_table`, :func:`benchmark_table`, :func:`goals_table`), saves beside its
  figures (:class:`FigureData`: :func:`sweep_figure_data` and its siblings), and glues into its prose: the
  numbers (:func:`sweep_values`, :func:`race_values`, ...) and the sentences (:func:`variants_text`,
  :func:`benchmark_text`, :func:`goal_text`, ...), each computed from the studies' results.

Medians over seeds. Where a quantity can be infinite (the time to reach a loss level that some
runs never reach) the median is the *lower* median (:func:`lower_median`), as in the
benchmark: with 10 seeds it is finite iff at least 5 runs reached the level.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_float_array, check_positive_int
from ..experiments import get_experiment
from ..lower_bound import segmentation_lower_bound
from ..network import ShallowReLU, check_problem
from ..network import loss as network_loss
from ..result import TrainResult, check_result
from .page import number, run_line
from ..stationarity import PolishResult
from ..sweeps import sweep
from ..trainers.anls import ThresholdCandidates, preset_options, threshold_gains, train_anls
from . import register_study
from .explanation import PlateauRow, plateau_rows, rows_to_arrays
from .stationary import POLISH_DEMO, SHOWCASE_TRIES, first_polished_run
from .tables import markdown_table

FloatArray = NDArray[np.float64]

#: Sweep budget of the chapter's ANLS runs (the benchmark's full budget).
SWEEPS = 30
#: "Far fewer iterations": ANLS must get below gradient descent's final loss within this fraction
#: of gradient descent's steps (two orders of magnitude, the paper's "orders of magnitude").
FAR_FEWER = 0.01
#: The performance goals set for ANLS (:func:`benchmark_goals`): median final loss within
#: ``GOAL_FACTOR`` times the best-known loss, and reaching ``GOAL_LEVEL`` times it at least
#: ``GOAL_SPEEDUP`` times faster than the fastest peer.
GOAL_FACTOR, GOAL_SPEEDUP, GOAL_LEVEL = 1.5, 10.0, 2.0
#: Methods of the benchmark that are ANLS variants (the rest are its peers, as in the benchmark).
ANLS_PREFIXES = ("anls", "gd+")


def first_reach(result: TrainResult, level: float) -> int | None:
    """The first recorded step (sweep, for ANLS) at which the loss is at most ``level``; None if never."""
    result = check_result(result)
    level = float(level)
    if not math.isfinite(level):
        raise ValueError(f"level must be finite, got {level!r}")
    hit = np.flatnonzero(result.loss <= level)
    return int(result.steps[hit[0]]) if hit.size else None


def lower_median(values: ArrayLike) -> float:
    r"""Median over seeds; the lower median if any value is infinite (the benchmark's rule).

    For :math:`k` values sorted increasingly, the lower median is the :math:`\lceil k/2\rceil`-th:
    a time to reach a level is finite in the median iff at least half of the runs reached it.
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("values must not be empty")
    if np.isnan(v).any():
        raise ValueError("values must not contain NaN")
    if np.isinf(v).any():
        return float(np.percentile(v, 50, method="lower"))
    return float(np.median(v))


# --------------------------------------------------------------------------- one neuron, one sweep


@dataclass(frozen=True)
class ThresholdSearch:
    r"""The threshold search of one ANLS update of a 1-D neuron :math:`j` (step 3 of the algorithm).

    Attributes
    ----------
    neuron : int
        :math:`j`.
    x : ndarray, shape (m,)
        The data (the projections :math:`p_i = x_i`: in 1-D the direction is :math:`\pm1`, covered by
        the orientation :math:`s`).
    target : ndarray, shape (m,)
        :math:`t = y - \sum_{l\ne j} c_l\,\mathrm{relu}(w_l x + b_l)`.
    candidates : ThresholdCandidates
        Every candidate :math:`(\tau, s)` with its gain
        :math:`G = (\varphi\cdot t)^2/(\varphi\cdot\varphi)`, :math:`\varphi = \mathrm{relu}(s(x - \tau))`.
    chosen : int
        Index of the candidate of largest gain (the first of equal ones, as the trainer).
    current_tau, current_s, current_gain, current_count
        The neuron's own breakpoint :math:`-b_j/w_j`, orientation :math:`\mathrm{sign}\,w_j`, the gain
        of its current activation :math:`\mathrm{relu}(w_j x + b_j)` (scale-free) and its active
        count (``nan``, 0 when :math:`w_j = 0`).
    """

    neuron: int
    x: FloatArray
    target: FloatArray
    candidates: ThresholdCandidates
    chosen: int
    current_tau: float
    current_s: int
    current_gain: float
    current_count: int

    @property
    def tau(self) -> float:
        """Chosen threshold."""
        return float(self.candidates.tau[self.chosen])

    @property
    def s(self) -> int:
        """Chosen orientation."""
        return int(self.candidates.s[self.chosen])

    @property
    def gain(self) -> float:
        """Gain of the chosen candidate."""
        return float(self.candidates.gain[self.chosen])

    @property
    def count(self) -> int:
        """Active count of the chosen candidate."""
        return int(self.candidates.count[self.chosen])

    def fit(self, x: ArrayLike) -> FloatArray:
        r"""The chosen single fit :math:`\gamma\,\mathrm{relu}(s(x - \tau))` at ``x``.

        :math:`\gamma = \varphi\cdot t/\varphi\cdot\varphi` is the least-squares output weight.
        """
        phi = np.maximum(self.s * (self.x - self.tau), 0.0)
        gamma = float(phi @ self.target / (phi @ phi))
        return gamma * np.maximum(self.s * (np.asarray(x, dtype=float) - self.tau), 0.0)


def threshold_search(net: ShallowReLU, X: ArrayLike, y: ArrayLike, neuron: int, *,
                     thresholds: str = "data") -> ThresholdSearch:
    r"""Score every threshold of neuron ``neuron`` of a 1-D network, as one ANLS update does.

    The target is :math:`t = y - \sum_{l\ne j} c_l\,\mathrm{relu}(w_l x + b_l) = c_j\,\mathrm{relu}(w_j x
    + b_j) - r` (:math:`r = N - y`); the candidates and gains come from
    :func:`~plateau_lib.trainers.anls.threshold_gains` (``criterion="single"``, the design's choice).

    Raises
    ------
    ValueError
        If the network is not 1-D, ``neuron`` is out of range, or no candidate has a positive gain.
    """
    net, X, y = check_problem(net, X, y)
    if net.d != 1:
        raise ValueError(f"net must be 1-D (d = 1) for the threshold picture, got d = {net.d}")
    if isinstance(neuron, bool) or not isinstance(neuron, (int, np.integer)) or not 0 <= neuron < net.n:
        raise ValueError(f"neuron must be an integer in [0, {net.n}), got {neuron!r}")
    j = int(neuron)
    Z = net.preactivations(X)
    A = np.maximum(Z, 0.0)
    target = net.c[j] * A[:, j] - (A @ net.c - y)
    x = X[:, 0].copy()
    cand = threshold_gains(x, target, thresholds=thresholds)
    if not (cand.gain > 0).any():
        raise ValueError(f"no threshold of neuron {j} has a positive gain (the target is orthogonal to every ReLU)")
    chosen = int(np.argmax(cand.gain))
    w, b = float(net.W[j, 0]), float(net.b[j])
    current_gain = _single_gain(A[:, j], target)
    return ThresholdSearch(
        neuron=j, x=x, target=target, candidates=cand, chosen=chosen,
        current_tau=-b / w if w != 0 else math.nan, current_s=int(np.sign(w)),
        current_gain=current_gain, current_count=int((Z[:, j] > 0).sum()),
    )


@dataclass(frozen=True)
class SweepAnatomy:
    r"""One ANLS sweep from a given network, with the threshold search of the first neuron it visits.

    Attributes
    ----------
    start : ShallowReLU
        The network the sweep starts from.
    search : ThresholdSearch
        The search of the first neuron visited (neuron 0: the cyclic order). Its state is exactly
        ``start``; later neurons see the network after the earlier updates of the sweep.
    result : TrainResult
        ``train_anls(start, X, y, sweeps=1, preset="design")`` (the design's options).
    agrees : bool
        The trainer's first update is this neuron's, it was kept, and the neuron's new breakpoint and
        orientation are the search's chosen candidate (to :math:`10^{-12}`): the picture is what the
        trainer did.
    best_gain : float
        The largest gain :math:`(\phi\cdot t)^2/(\phi\cdot\phi)` over every data threshold and
        orientation, by :func:`brute_force_gains` (one candidate at a time, no prefix sums).
    trainer_gain : float
        The same gain of the neuron the trainer set, computed from its new breakpoint and orientation.
    """

    start: ShallowReLU
    search: ThresholdSearch
    result: TrainResult
    agrees: bool
    best_gain: float
    trainer_gain: float

    @property
    def is_best(self) -> bool:
        """The trainer's update attains the brute-force best gain (relative :math:`10^{-12}`): an independent check."""
        return self.trainer_gain >= self.best_gain * (1 - 1e-12)

    @property
    def start_loss(self) -> float:
        """Loss before the sweep."""
        return float(self.result.loss[0])

    @property
    def update_neuron(self) -> NDArray[np.int64]:
        """Neuron of each update of the sweep, in order."""
        return self.result.extra["update_neuron"]

    @property
    def update_loss(self) -> FloatArray:
        """Loss after each proposed update (kept or not)."""
        return self.result.extra["update_loss"]

    @property
    def update_accepted(self) -> NDArray[np.bool_]:
        """Whether each update was kept."""
        return self.result.extra["update_accepted"]

    @property
    def update_pattern_changed(self) -> NDArray[np.bool_]:
        """Whether each kept update changed its neuron's activation column."""
        return self.result.extra["update_pattern_changed"]

    def kept_loss(self) -> FloatArray:
        """The loss after each update *as the trainer continued* (a rejected update leaves it unchanged)."""
        out, current = [], self.start_loss
        for loss_k, ok in zip(self.update_loss, self.update_accepted, strict=True):
            current = float(loss_k) if ok else current
            out.append(current)
        return np.asarray(out)


def one_sweep(net: ShallowReLU, X: ArrayLike, y: ArrayLike) -> SweepAnatomy:
    """One ANLS sweep (design options, cyclic order) from ``net``, and the search of its first neuron."""
    net, X, y = check_problem(net, X, y)
    search = threshold_search(net, X, y, 0)
    result = train_anls(net, X, y, sweeps=1, preset="design")
    ex = result.extra
    agrees = bool(ex["update_neuron"].size and ex["update_neuron"][0] == 0 and ex["update_accepted"][0])
    w, b = float(result.net.W[0, 0]), float(result.net.b[0])  # neuron 0 after the sweep: its first update
    if agrees:
        tau = -b / w if w != 0 else math.nan
        scale = max(1.0, abs(search.tau))
        agrees = bool(int(np.sign(w)) == search.s and abs(tau - search.tau) <= 1e-12 * scale)
    x, t = search.x, search.target
    trainer_gain = _single_gain(np.maximum(w * x + b, 0.0), t)
    best_gain = float(np.max(brute_force_gains(x, t)[2]))
    return SweepAnatomy(start=net, search=search, result=result, agrees=agrees, best_gain=best_gain,
                        trainer_gain=trainer_gain)


def _single_gain(phi: FloatArray, t: FloatArray) -> float:
    den = float(phi @ phi)
    return float(phi @ t) ** 2 / den if den > 0 else 0.0


def brute_force_gains(x: ArrayLike, t: ArrayLike) -> tuple[FloatArray, NDArray[np.int64], FloatArray]:
    r"""The design's gain of every data threshold and orientation, one candidate at a time.

    For each distinct :math:`\tau \in \{x_i\}` and :math:`s = \pm1`,
    :math:`\phi = \mathrm{relu}(s(x - \tau))` and the gain is :math:`(\phi\cdot t)^2/(\phi\cdot\phi)`
    (0 when :math:`\phi = 0`): the definition, computed directly in :math:`O(m^2)`, as a check
    of :func:`~plateau_lib.trainers.anls.threshold_gains`' sorted prefix sums.

    Returns
    -------
    tau, s, gain : ndarray
        One entry per candidate.
    """
    x = as_float_array(x, "x", 1)
    t = as_float_array(t, "t", 1)
    if x.shape != t.shape:
        raise ValueError(f"x and t must have the same length, got {x.size} and {t.size}")
    taus, signs, gains = [], [], []
    for tau in np.unique(x):
        for s in (1, -1):
            taus.append(float(tau))
            signs.append(s)
            gains.append(_single_gain(np.maximum(s * (x - tau), 0.0), t))
    return np.array(taus), np.array(signs, dtype=np.int64), np.array(gains)


def showcase_plateau(rows: Sequence[PlateauRow]) -> PlateauRow:
    """The longest plateau (in steps) that gradient descent leaves and that does not start at step 0.

    Rows from :func:`~plateau_lib.chapters.explanation.plateau_rows`; falls back to the longest of all if no plateau
    qualifies. Raises ValueError if ``rows`` is empty.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one plateau")
    eligible = [r for r in rows if r.exits and r.start > 0] or rows
    return max(eligible, key=lambda r: (r.end - r.start, -r.start))


def anls_joint_options(d: int) -> dict[str, Any]:
    """Options of ``anls-joint`` for input dimension ``d``: the preset ``"joint"``, the default of
    :func:`~plateau_lib.trainers.anls.train_anls` (:func:`~plateau_lib.trainers.anls.preset_options`)."""
    return preset_options("joint", d)


# --------------------------------------------------------------------------- GD against ANLS


@dataclass(frozen=True)
class GdVsAnls:
    r"""Gradient descent and ANLS from the same initial network.

    Attributes
    ----------
    experiment : str
        Registered experiment (its data, initialisation, step size and budget).
    seed : int
        Seed of the initial network.
    initial : ShallowReLU
        The common initial network.
    gd : TrainResult
        The experiment's gradient-descent run.
    anls : TrainResult
        ``train_anls(initial, ..., sweeps=sweeps, preset="design", **options)``.
    plateaus : list of PlateauRow
        Gradient descent's plateaus (:func:`~plateau_lib.chapters.explanation.plateau_rows`).
    lower_bound : float
        The segmentation lower bound of fact 5 (``n + 1`` pieces; NaN for ``d > 1``).
    options : dict
        The ANLS options used.
    """

    experiment: str
    seed: int
    initial: ShallowReLU
    gd: TrainResult
    anls: TrainResult
    plateaus: list[PlateauRow]
    lower_bound: float
    options: dict = field(default_factory=dict)

    @property
    def anls_sweeps_to_gd(self) -> int | None:
        """First sweep at which ANLS is at or below gradient descent's final loss (None: never)."""
        return first_reach(self.anls, self.gd.final_loss)

    @property
    def anls_nfev_to_gd(self) -> int | None:
        """Loss evaluations ANLS spent until then (None: never)."""
        k = self.anls_sweeps_to_gd
        return None if k is None else int(self.anls.extra["nfev_per_sweep"][k])

    @property
    def anls_time_to_gd(self) -> float:
        """Wall time ANLS spent until then (inf: never)."""
        hit = np.flatnonzero(self.anls.loss <= self.gd.final_loss)
        return float(self.anls.times[hit[0]]) if hit.size else math.inf

    def plateau_steps(self) -> float:
        """Steps gradient descent spends on its detected plateaus (the plateau at step 0 included)."""
        return float(sum(p.end - p.start for p in self.plateaus))


def gd_vs_anls(name: str = "plateau_1d", seed: int | None = None, *, quick: bool = False, sweeps: int = SWEEPS,
               **options: Any) -> GdVsAnls:
    """Run experiment ``name``'s gradient descent and ANLS (``options``) from the same initial network.

    ``seed`` defaults to the experiment's seed; gradient descent uses the experiment's budget
    (``quick``: its quick budget).
    """
    experiment = get_experiment(name)
    seed = experiment.seed if seed is None else check_positive_int(seed, "seed", allow_zero=True)
    sweeps = check_positive_int(sweeps, "sweeps")
    X, y = experiment.data()
    net = experiment.initial_network(seed)
    gd = experiment.run(seed, quick=quick, net=net)
    anls = train_anls(net, X, y, sweeps=sweeps, **{"preset": "design", **options})
    lb = segmentation_lower_bound(X, y, experiment.width + 1) if experiment.d == 1 else math.nan
    return GdVsAnls(experiment=name, seed=seed, initial=net, gd=gd, anls=anls,
                    plateaus=plateau_rows(gd, X, y, seed=seed), lower_bound=lb, options=dict(options))


# --------------------------------------------------------------------------- iterations, over seeds


def steps_to_reach(result: TrainResult, level: float, start: int = 0) -> int | None:
    """Steps from recorded step ``start`` until the loss is at most ``level``; None if not within the run.

    The count runs to the first recorded step at or after ``start`` whose loss is at most ``level``.
    Gradient descent records every ``record_every`` steps and at every pattern change, so the count is
    exact to within ``record_every - 1`` steps.

    Raises
    ------
    ValueError
        If ``level`` is not finite or ``start`` is not a recorded step of ``result``.
    """
    result = check_result(result)
    level = float(level)
    if not math.isfinite(level):
        raise ValueError(f"level must be finite, got {level!r}")
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start not in result.steps:
        raise ValueError(f"start must be a recorded step of result, got {start!r}")
    after = result.steps >= start
    hit = np.flatnonzero(after & (result.loss <= level))
    return int(result.steps[hit[0]]) - int(start) if hit.size else None


@dataclass(frozen=True)
class IterationLead:
    r"""A loss ANLS reaches and the gradient-descent steps needed to reach it from the same network.

    Attributes
    ----------
    sweeps : int
        ANLS sweeps to reach ``loss`` (at least 1).
    loss : float
        The loss ANLS has after ``sweeps`` sweeps.
    gd_steps : int or None
        Gradient-descent steps from the same network to reach ``loss`` (:func:`steps_to_reach`); None:
        not within gradient descent's budget.
    gd_budget : int
        The steps gradient descent had left from that network.
    """

    sweeps: int
    loss: float
    gd_steps: int | None
    gd_budget: int

    @property
    def reached(self) -> bool:
        """Whether gradient descent reaches ``loss`` within its budget."""
        return self.gd_steps is not None

    @property
    def steps_needed(self) -> int:
        """Steps gradient descent needs: ``gd_steps``, or more than its budget (``gd_budget + 1``) if never."""
        return self.gd_budget + 1 if self.gd_steps is None else self.gd_steps

    @property
    def ratio(self) -> float:
        """``steps_needed / sweeps``: how many times more iterations gradient descent needs (a lower bound if
        it never gets there)."""
        return self.steps_needed / self.sweeps

    def orders_fewer(self, fraction: float = FAR_FEWER) -> bool:
        """C5's "orders of magnitude more iterations": ``sweeps <= fraction * steps_needed``."""
        return self.sweeps <= fraction * self.steps_needed


def iteration_lead(gd: TrainResult, anls: TrainResult, start: int = 0) -> IterationLead:
    r"""The ANLS sweep whose loss gradient descent needs the most steps per sweep to reach.

    ``anls`` starts from gradient descent's network at recorded step ``start`` (0: the same initial
    network); gradient descent continuing from ``start`` is the rest of ``gd``. For every recorded sweep
    :math:`k \ge 1` of ANLS the steps gradient descent needs to reach its loss are counted
    (:func:`steps_to_reach`); the sweep of largest ``steps_needed / k`` is returned (the first of equal ones).

    Raises
    ------
    ValueError
        If ``anls`` recorded no sweep after its start, or ``start`` is not a recorded step of ``gd``.
    """
    gd, anls = check_result(gd, "gd"), check_result(anls, "anls")
    sweeps = anls.steps[anls.steps >= 1]
    if not sweeps.size:
        raise ValueError("anls must record at least one sweep after its start")
    budget = int(gd.steps[-1]) - int(start)
    leads = [IterationLead(sweeps=int(k), loss=float(loss_k), gd_steps=steps_to_reach(gd, loss_k, start),
                           gd_budget=budget)
             for k, loss_k in zip(anls.steps, anls.loss, strict=True) if k >= 1]
    return max(leads, key=lambda lead: lead.ratio)


@dataclass(frozen=True)
class ExitSettings:
    r"""Settings of :func:`exit_study`: the showcase's measurements over seeds.

    Attributes
    ----------
    experiment : str
        Registered 1-D experiment (gradient descent's run, the initial networks).
    seeds, quick_seeds : int
        Seeds ``seed + k`` of the experiment, full and quick mode.
    sweeps : int
        Sweep budget of the ANLS runs from the initial network.
    """

    experiment: str = "plateau_1d"
    seeds: int = 20
    quick_seeds: int = 10
    sweeps: int = SWEEPS

    def __post_init__(self) -> None:
        if get_experiment(self.experiment).d != 1:
            raise ValueError(f"experiment must be 1-D (the sweep picture is 1-D), got {self.experiment!r}")
        for name in ("seeds", "quick_seeds", "sweeps"):
            check_positive_int(getattr(self, name), name)

    def n_seeds(self, quick: bool) -> int:
        """Seeds in quick or full mode."""
        return self.quick_seeds if quick else self.seeds


#: The chapter's study over seeds.
EXITS = register_study("anls_exits", ExitSettings())


@dataclass(frozen=True)
class ExitRow:
    r"""One seed of :func:`exit_study`: the showcase's two races on that seed.

    Attributes
    ----------
    seed : int
        Seed of the initial network.
    gd_final : float
        Gradient descent's final loss.
    plateau_level : float
        Level of the plateau the sweep starts on (:func:`showcase_plateau`).
    sweep : IterationLead
        One ANLS sweep from gradient descent's network in the middle of that plateau.
    race : IterationLead
        ANLS from the initial network (:func:`iteration_lead`).
    anls_final : float
        The final loss of that ANLS run.
    """

    seed: int
    gd_final: float
    plateau_level: float
    sweep: IterationLead
    race: IterationLead
    anls_final: float

    @property
    def sweep_below_gd(self) -> bool:
        """One sweep from the plateau ends below gradient descent's final loss."""
        return self.sweep.loss < self.gd_final

    @property
    def anls_below_gd(self) -> bool:
        """ANLS from the initial network ends below gradient descent's final loss."""
        return self.anls_final < self.gd_final


def exit_row(race: GdVsAnls) -> ExitRow:
    """The :class:`ExitRow` of a race: one sweep from its showcased plateau, and the race's lead."""
    X, y = get_experiment(race.experiment).data()
    plateau = showcase_plateau(race.plateaus)
    start = int(race.gd.steps[plateau.index])
    one = train_anls(race.gd.net_at(plateau.index), X, y, sweeps=1, preset="design")
    return ExitRow(seed=race.seed, gd_final=race.gd.final_loss, plateau_level=plateau.level,
                   sweep=iteration_lead(race.gd, one, start), race=iteration_lead(race.gd, race.anls),
                   anls_final=race.anls.final_loss)


def _exit_row(args: tuple[ExitSettings, int, bool]) -> ExitRow:
    settings, seed, quick = args
    return exit_row(gd_vs_anls(settings.experiment, seed, quick=quick, sweeps=settings.sweeps))


def exit_study(settings: ExitSettings | None = None, *, quick: bool = False, seed: int = 0,
               executor: Executor | None = None, progress: bool = False) -> list[ExitRow]:
    """:func:`exit_row` for seeds ``experiment.seed + seed + k``, through :func:`~plateau_lib.sweeps.sweep`.

    The first row is the chapter's showcase (seed ``experiment.seed + seed``).
    """
    settings = EXITS if settings is None else settings
    if not isinstance(settings, ExitSettings):
        raise TypeError(f"settings must be an ExitSettings, got {type(settings).__name__}")
    seed = check_positive_int(seed, "seed", allow_zero=True)
    first = get_experiment(settings.experiment).seed + seed
    items = [(settings, first + k, bool(quick)) for k in range(settings.n_seeds(quick))]
    return sweep(_exit_row, items, executor=executor, progress=progress, desc="ANLS over seeds")


@dataclass(frozen=True)
class ExitSummary:
    r"""Counts and medians of :func:`exit_study` rows.

    Attributes
    ----------
    runs : int
        Seeds.
    fraction : float
        The iteration fraction of C5's "orders of magnitude" (:meth:`IterationLead.orders_fewer`).
    sweep_leads, race_leads : int
        Runs whose one sweep from the plateau, whose ANLS run from the initial network, reaches a loss in at
        most ``fraction`` times the iterations gradient descent needs (the chapter's checks 2 and 1).
    sweep_below_gd, anls_below_gd : int
        Runs whose one sweep from the plateau, whose ANLS run, ends below gradient descent's final loss.
    gd_final_median, sweep_loss_median : float
        Medians over all runs of gradient descent's final loss and of the loss after the one sweep.
    above_seeds : tuple of int
        Seeds whose one sweep ends at or above gradient descent's final loss.
    above_weak, above_low : int
        Of those, the runs whose sweep ends above ``sweep_loss_median`` (a weak sweep), and those whose
        gradient descent ends below ``gd_final_median`` (a low gradient-descent loss).
    not_leading_seeds : tuple of int
        Seeds where the sweep or the race does not lead by ``fraction`` (empty if C5 holds on every run).
    min_sweep_ratio, min_race_ratio : float
        The smallest :attr:`IterationLead.ratio` of the sweeps and of the races.
    """

    runs: int
    fraction: float
    sweep_leads: int
    race_leads: int
    sweep_below_gd: int
    anls_below_gd: int
    gd_final_median: float
    sweep_loss_median: float
    above_seeds: tuple[int, ...]
    above_weak: int
    above_low: int
    not_leading_seeds: tuple[int, ...]
    min_sweep_ratio: float
    min_race_ratio: float


def exit_summary(rows: Sequence[ExitRow], fraction: float = FAR_FEWER) -> ExitSummary:
    """Summarise :func:`exit_study` rows (see :class:`ExitSummary`). Raises ValueError if ``rows`` is empty."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one run")
    fraction = float(fraction)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    gd_median = float(np.median([r.gd_final for r in rows]))
    sweep_median = float(np.median([r.sweep.loss for r in rows]))
    above = [r for r in rows if not r.sweep_below_gd]
    return ExitSummary(
        runs=len(rows), fraction=fraction,
        sweep_leads=sum(r.sweep.orders_fewer(fraction) for r in rows),
        race_leads=sum(r.race.orders_fewer(fraction) for r in rows),
        sweep_below_gd=sum(r.sweep_below_gd for r in rows), anls_below_gd=sum(r.anls_below_gd for r in rows),
        gd_final_median=gd_median, sweep_loss_median=sweep_median, above_seeds=tuple(r.seed for r in above),
        above_weak=sum(r.sweep.loss > sweep_median for r in above),
        above_low=sum(r.gd_final < gd_median for r in above),
        not_leading_seeds=tuple(r.seed for r in rows
                                if not (r.sweep.orders_fewer(fraction) and r.race.orders_fewer(fraction))),
        min_sweep_ratio=min(r.sweep.ratio for r in rows), min_race_ratio=min(r.race.ratio for r in rows),
    )


# --------------------------------------------------------------------------- the chapter's sentences


def _relation(a: float, b: float) -> str:
    return "below" if a < b else ("above" if a > b else "equal to")


def _n(k: int, what: str) -> str:
    return f"{k} {what}" if k == 1 else f"{k} {what}s"


def _of(k: int, n: int, what: str = "seeds") -> str:
    return f"all {n} {what}" if k == n else f"{k} of the {n} {what}"


def _join_words(items: Sequence[str]) -> str:
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def plateau_choice_text(plateau: PlateauRow) -> str:
    """Which plateau the sweep starts on, in words (:func:`showcase_plateau`'s rule and its fallback)."""
    if plateau.exits and plateau.start > 0:
        return "the longest plateau it leaves"
    left = "which it does not leave within its budget" if not plateau.exits else "the one it starts on"
    return f"its longest plateau, {left} (it leaves no other plateau)"


def sweep_text(lead: IterationLead, gd_final: float, gd_steps: int) -> str:
    """Where one sweep from the plateau ends, against gradient descent's final loss and its steps."""
    how = (f"needs {lead.gd_steps} steps to get as low" if lead.reached else
           f"does not get as low in the {lead.gd_budget} steps it has left")
    return (f"{_relation(lead.loss, gd_final)} the loss gradient descent reaches after all its {gd_steps} steps "
            f"({gd_final:.5f}). Gradient descent, continuing from the same network, {how}.")


def race_text(race: GdVsAnls, lead: IterationLead) -> str:
    """The race from the initial network in words: plateau levels, gradient descent's final loss, the lead."""
    gd, anls = race.gd, race.anls
    firsts = [np.flatnonzero(anls.loss < p.level) for p in race.plateaus]
    missed = [p.level for p, f in zip(race.plateaus, firsts, strict=True) if not f.size]
    if not missed:
        first = max((int(anls.steps[f[0]]) for f in firsts), default=0)
        plateaus = f"ANLS is below the level of every one of these plateaus after {_n(first, 'sweep')}"
    else:
        plateaus = (f"ANLS gets below the level of {len(race.plateaus) - len(missed)} of these "
                    f"{len(race.plateaus)} plateaus, never below the one at {min(missed):.2e}")
    k = race.anls_sweeps_to_gd
    to_gd = (f"below gradient descent's final loss after {_n(k, 'sweep')} ({race.anls_nfev_to_gd} loss evaluations "
             f"against gradient descent's {gd.nfev})" if k is not None else
             f"never below gradient descent's final loss ({anls.nfev} loss evaluations in all, against gradient "
             f"descent's {gd.nfev})")
    converged = anls.message.startswith("converged")
    stop = (f"stops after {_n(anls.nit, 'sweep')} at a fixed point of its update" if converged
            else f"ends after {_n(anls.nit, 'sweep')}")
    ratio = gd.final_loss / anls.final_loss if anls.final_loss < gd.final_loss else anls.final_loss / gd.final_loss
    end = (f"{ratio:.1f} times {_relation(anls.final_loss, gd.final_loss)} gradient descent's final loss"
           if anls.final_loss != gd.final_loss else "equal to gradient descent's final loss")
    reach = (f"a loss gradient descent reaches only after {lead.gd_steps} steps, {lead.ratio:.0f} times as many "
             "iterations" if lead.reached else f"a loss gradient descent does not reach in its {lead.gd_budget} steps")
    return (f"{plateaus}, {to_gd}, and {stop} with loss {anls.final_loss:.2e}, {end}. After "
            f"{_n(lead.sweeps, 'sweep')} it is at {lead.loss:.2e}, {reach}.")


def race_time_text(race: GdVsAnls) -> str:
    """The race in wall time (machine-dependent: saved apart from the reference data)."""
    t = race.anls_time_to_gd
    if math.isfinite(t):
        return (f"In wall time, ANLS took {t:.3f} s to get below gradient descent's final loss, gradient descent "
                f"{race.gd.wall_time:.2f} s for its whole run.")
    return f"In wall time, ANLS took {race.anls.wall_time:.3f} s in all, gradient descent {race.gd.wall_time:.2f} s."


def exits_text(summary: ExitSummary) -> str:
    """The counts of :func:`exit_summary` in words, each statement chosen from the numbers."""
    s, n = summary, summary.runs
    need = round(1 / s.fraction)
    out = [
        f"On {_of(s.sweep_leads, n)} one sweep from the plateau network reaches a loss that gradient descent, "
        f"continuing from the same network, needs at least {need} times as many steps to reach or never reaches "
        f"(the smallest ratio: {s.min_sweep_ratio:.0f}); ANLS from the initial network reaches a loss that gradient "
        f"descent needs at least {need} times as many iterations for on {_of(s.race_leads, n)} (smallest ratio: "
        f"{s.min_race_ratio:.0f}).",
        ("C5, in the form checked below, holds on every seed measured." if not s.not_leading_seeds else
         f"C5, in the form checked below, fails on {_n(len(s.not_leading_seeds), 'seed')} "
         f"{_join_words([str(k) for k in s.not_leading_seeds])}."),
        ("The stronger statements hold on every seed too" if s.sweep_below_gd == s.anls_below_gd == n else
         "The stronger statements do not hold on every seed")
        + f": one sweep from the plateau ends below gradient descent's final loss on {_of(s.sweep_below_gd, n)}, "
        f"and ANLS's final loss is below gradient descent's on {_of(s.anls_below_gd, n)}.",
    ]
    if s.above_seeds:
        k = len(s.above_seeds)
        out.append(
            f"Of the {_n(k, 'seed')} where one sweep ends at or above gradient descent's final loss "
            f"({_join_words([str(v) for v in s.above_seeds])}), {s.above_weak} end the sweep above its median over "
            f"all seeds ({s.sweep_loss_median:.2e}: a weak sweep) and {s.above_low} have gradient descent end below "
            f"its median ({s.gd_final_median:.2e}: gradient descent lower than usual).")
    return " ".join(out)


def c5_verdict(summary: ExitSummary) -> str:
    """Whether ANLS left the plateau within one sweep on every seed of :func:`exit_study`, in words."""
    s = summary
    if s.sweep_leads == s.runs:
        return f"ANLS leaves the plateau within one sweep on all {s.runs} seeds measured above"
    return (f"ANLS leaves the plateau within one sweep on {s.sweep_leads} of the {s.runs} seeds measured above, "
            "not on every one")


# --------------------------------------------------------------------------- from a stationary point


#: How many seeds :func:`anls_from_stationary` tries for a run that polishes to an exact stationary point
#: (a bound on the showcase search; Chapter 3 bounds its own search the same way).
STATIONARY_TRIES = SHOWCASE_TRIES


@dataclass(frozen=True)
class AnlsFromStationary:
    r"""ANLS started where gradient descent comes to rest.

    Attributes
    ----------
    gd : TrainResult
        Gradient descent until :math:`\|\nabla L\|\le` ``gtol`` (or its budget), on seed ``seed``.
    polish : PolishResult
        The exact polish of Chapter 3 (accepted).
    start : ShallowReLU
        The polished network: an exact stationary point.
    runs : dict of str to TrainResult
        ANLS from ``start``, one run per variant name.
    seed : int
        The first seed from the requested one whose polish was accepted.
    passed_over : tuple of str
        The polish message of every seed tried before ``seed``.
    """

    gd: TrainResult
    polish: PolishResult
    start: ShallowReLU
    runs: dict[str, TrainResult]
    seed: int = 0
    passed_over: tuple[str, ...] = ()

    @property
    def start_loss(self) -> float:
        """Loss at the start of ANLS."""
        return float(next(iter(self.runs.values())).loss[0])

    def describe(self) -> str:
        """The seeds tried (each passed over with its polish message), the start and every run, one per line."""
        first = self.seed - len(self.passed_over)
        lines = [f"seed {first + k}: polish {msg} -> passed over" for k, msg in enumerate(self.passed_over)]
        lines += [f"seed {self.seed}: polish {self.polish.message}",
                  f"start: exact stationary point, loss {self.start_loss:.8f}"]
        lines += [run_line(res, name) for name, res in self.runs.items()]
        return "\n".join(lines)


def anls_from_stationary(name: str = "plateau_1d", seed: int | None = None, *,
                         variants: Mapping[str, Mapping[str, Any]] | None = None, sweeps: int = SWEEPS,
                         steps: int = POLISH_DEMO.steps, gtol: float = POLISH_DEMO.gtol,
                         max_tries: int = STATIONARY_TRIES) -> AnlsFromStationary:
    """Gradient descent to a stationary point and its polish (Chapter 3's showcase), then ANLS from it.

    Not every run polishes to an exact stationary point within ``steps`` (it may still be sliding along a
    pattern boundary), so the start is chosen by a rule: the first seed ``seed, seed + 1, ...`` (at most
    ``max_tries``) whose polish is accepted. ``variants`` maps a name to ANLS options (default:
    ``{"anls": {}}``, the design's options).

    Raises
    ------
    RuntimeError
        If none of the ``max_tries`` seeds polishes to a stationary point (the message lists why).
    """
    experiment = get_experiment(name)
    seed = experiment.seed if seed is None else check_positive_int(seed, "seed", allow_zero=True)
    sweeps = check_positive_int(sweeps, "sweeps")
    variants = {"anls": {}} if variants is None else {str(k): dict(v) for k, v in variants.items()}
    if not variants:
        raise ValueError("variants must name at least one set of ANLS options")
    search = first_polished_run(name, seed, steps=steps, gtol=gtol, max_tries=max_tries)
    gd, polish = search.value
    X, y = experiment.data()
    runs = {v: train_anls(polish.net, X, y, sweeps=sweeps, **{"preset": "design", **o}) for v, o in variants.items()}
    return AnlsFromStationary(gd=gd, polish=polish, start=polish.net, runs=runs, seed=search.seed,
                              passed_over=search.passed_over)


# --------------------------------------------------------------------------- variants over seeds


VARIANT_NAMES = ("global", "bounded", "global+polish", "bounded+polish")


@dataclass(frozen=True)
class VariantSettings:
    r"""Settings of :func:`variant_study`.

    Attributes
    ----------
    problems : tuple of str
        Registered 1-D experiments (data, width, initialisation; the polishing step is the
        experiment's gradient-descent step).
    seeds, quick_seeds : int
        Seeds per problem (``seed + k``), full and quick mode.
    sweeps : int
        Sweep budget of every run.
    bounded_moves : int
        ``bounded_moves`` of the bounded variants: the threshold moves by at most this many data
        points per update, keeping its orientation.
    polish_steps : int
        Gradient-descent steps after each sweep in the polished variants.
    """

    problems: tuple[str, ...] = ("plateau_1d", "multi_plateau_1d")
    seeds: int = 10
    quick_seeds: int = 4
    sweeps: int = SWEEPS
    bounded_moves: int = 2
    polish_steps: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.problems, tuple) or not self.problems:
            raise TypeError(f"problems must be a non-empty tuple of experiment names, got {self.problems!r}")
        for p in self.problems:
            if get_experiment(p).d != 1:
                raise ValueError(f"problems must be 1-D experiments (the lower bound is 1-D), got {p!r}")
        for name in ("seeds", "quick_seeds", "sweeps", "bounded_moves", "polish_steps"):
            check_positive_int(getattr(self, name), name)

    def n_seeds(self, quick: bool) -> int:
        """Seeds per problem in quick or full mode."""
        return self.quick_seeds if quick else self.seeds

    def options(self, variant: str, problem: str) -> dict[str, Any]:
        """ANLS options of ``variant`` on ``problem`` (polishing with the problem's GD step)."""
        return self.options_for(variant, float(get_experiment(problem).options.get("lr", 0.1)))

    def options_for(self, variant: str, lr: float) -> dict[str, Any]:
        """ANLS options of ``variant`` when polishing uses the gradient-descent step ``lr``."""
        if variant not in VARIANT_NAMES:
            raise ValueError(f"variant must be one of {', '.join(VARIANT_NAMES)}, got {variant!r}")
        out: dict[str, Any] = {"preset": "design"}
        if variant.startswith("bounded"):
            out["bounded_moves"] = self.bounded_moves
        if variant.endswith("+polish"):
            out["polish_steps"] = self.polish_steps
            out["polish_lr"] = float(lr)
        return out


#: The chapter's variant study.
VARIANTS = register_study("anls_variants", VariantSettings())


@dataclass(frozen=True)
class VariantRow:
    r"""One ANLS run of :func:`variant_study`.

    ``curve`` is the loss after each sweep ``0..sweeps`` (held at the final value after the run
    stops); ``ratio_to_lower_bound`` is ``final_loss / lower_bound``; ``wall_time`` is the only
    machine-dependent field.
    """

    problem: str
    variant: str
    seed: int
    final_loss: float
    lower_bound: float
    ratio_to_lower_bound: float
    sweeps: int
    nfev: int
    njev: int
    pattern_changes: int
    converged: bool
    wall_time: float
    curve: tuple[float, ...]


def _variant_row(args: tuple[VariantSettings, str, str, int]) -> VariantRow:
    settings, problem, variant, seed = args
    experiment = get_experiment(problem)
    X, y = experiment.data()
    net = experiment.initial_network(seed)
    res = train_anls(net, X, y, sweeps=settings.sweeps, **settings.options(variant, problem))
    lb = segmentation_lower_bound(X, y, experiment.width + 1)
    curve = np.full(settings.sweeps + 1, res.final_loss)
    curve[res.steps] = res.loss
    return VariantRow(
        problem=problem, variant=variant, seed=seed, final_loss=res.final_loss, lower_bound=lb,
        ratio_to_lower_bound=res.final_loss / lb if lb > 0 else math.inf, sweeps=res.nit, nfev=res.nfev,
        njev=res.njev, pattern_changes=len(res.pattern_changes), converged=res.message.startswith("converged"),
        wall_time=res.wall_time, curve=tuple(float(v) for v in curve),
    )


def variant_study(settings: VariantSettings | None = None, *, quick: bool = False, seed: int = 0,
                  executor: Executor | None = None, progress: bool = False) -> list[VariantRow]:
    """Every variant of ``settings`` on every problem and seed ``seed + k``, through :func:`~plateau_lib.sweeps.sweep`.

    Each run starts from the problem's own small initialisation
    (:meth:`~plateau_lib.experiments.Experiment.initial_network`); rows are ordered by problem,
    variant, seed.
    """
    settings = VARIANTS if settings is None else settings
    if not isinstance(settings, VariantSettings):
        raise TypeError(f"settings must be a VariantSettings, got {type(settings).__name__}")
    seed = check_positive_int(seed, "seed", allow_zero=True)
    items = [(settings, p, v, seed + k) for p in settings.problems for v in VARIANT_NAMES
             for k in range(settings.n_seeds(quick))]
    return sweep(_variant_row, items, executor=executor, progress=progress, desc="ANLS variants")


def variant_summary(rows: Sequence[VariantRow]) -> list[dict[str, Any]]:
    """Per (problem, variant): seeds, median / quartiles of the final loss and of its ratio to the lower bound,
    median sweeps and loss evaluations, and the median loss curve over sweeps (with quartiles)."""
    out = []
    keys = list(dict.fromkeys((r.problem, r.variant) for r in rows))
    for problem, variant in keys:
        sel = [r for r in rows if r.problem == problem and r.variant == variant]
        final = np.array([r.final_loss for r in sel])
        ratio = np.array([r.ratio_to_lower_bound for r in sel])
        curves = np.array([r.curve for r in sel])
        q = np.percentile(curves, [25, 50, 75], axis=0)
        out.append({
            "problem": problem, "variant": variant, "seeds": len(sel),
            "final_median": float(np.median(final)), "final_q25": float(np.percentile(final, 25)),
            "final_q75": float(np.percentile(final, 75)), "ratio_median": float(np.median(ratio)),
            "ratio_q25": float(np.percentile(ratio, 25)), "ratio_q75": float(np.percentile(ratio, 75)),
            "sweeps_median": float(np.median([r.sweeps for r in sel])),
            "nfev_median": float(np.median([r.nfev for r in sel])),
            "curve_q25": q[0], "curve_median": q[1], "curve_q75": q[2],
        })
    return out


# --------------------------------------------------------------------------- the benchmark's results


#: Top-level keys every benchmark results document has.
BENCHMARK_KEYS = ("suite", "best_known", "rows", "summary", "curves", "goals")


def _inf_if_none(doc: Any, prefixes: tuple[str, ...]) -> Any:
    """JSON stores inf as null: restore it in the keys starting with ``prefixes`` (times, evaluations)."""
    if isinstance(doc, dict):
        return {k: (math.inf if v is None and k.startswith(prefixes) else _inf_if_none(v, prefixes))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [_inf_if_none(v, prefixes) for v in doc]
    return doc


def check_benchmark(doc: object) -> dict[str, Any]:
    """Validate a benchmark results document (the keys this module reads); return it."""
    if not isinstance(doc, dict):
        raise TypeError(f"doc must be a dict (a benchmark results document), got {type(doc).__name__}")
    missing = [k for k in BENCHMARK_KEYS if k not in doc]
    if missing:
        raise ValueError(f"doc is not a benchmark results document: missing {', '.join(missing)}")
    for k in ("problems", "seeds", "levels", "methods"):
        if k not in doc["suite"]:
            raise ValueError(f"doc['suite'] has no {k!r}")
    if not doc["rows"]:
        raise ValueError("doc has no rows")
    return doc


def load_benchmark(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``bench_anls.json`` written by ``python -m plateau_lib bench anls --output DIR``.

    Infinite times and evaluation counts (a level never reached), written as ``null``, become ``inf``
    again.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no benchmark results at {path}; create them with "
                                f"`python -m plateau_lib bench anls --output {path.parent}`") from None
    doc = _inf_if_none(doc, ("time_to_", "evals_to_", "speedup", "best_peer_time", "median_time"))
    return check_benchmark(doc)


def problem_names(doc: Mapping[str, Any]) -> list[str]:
    """Problem names of a benchmark document, in suite order."""
    return [p["name"] for p in doc["suite"]["problems"]]


def benchmark_schema(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a results document is made of: its keys and columns, methods, problems, levels and seeds.

    Two documents of the same benchmark code (e.g. the committed full run and a quick rerun) have the
    same schema apart from ``seeds`` (and the budgets, not included).
    """
    doc = check_benchmark(dict(doc))
    rows = doc["rows"]
    return {
        "keys": sorted(doc),
        "row_keys": sorted(set().union(*(r.keys() for r in rows))),
        "row_keys_1d": sorted(set().union(*(r.keys() for r in rows if r["d"] == 1))),
        "curve_keys": sorted(set().union(*(r["curve"].keys() for r in rows))),
        "summary_keys": sorted(set().union(*(s.keys() for s in doc["summary"]))),
        "median_curve_keys": sorted(set().union(*(c.keys() for c in doc["curves"]))),
        "goal_keys": sorted(set().union(*(g.keys() for g in doc["goals"]))),
        "methods": list(doc["suite"]["methods"]),
        "problems": problem_names(doc),
        "levels": [float(f) for f in doc["suite"]["levels"]],
        "seeds": sorted({int(r["seed"]) for r in rows}),
    }


def benchmark_staleness(doc: Mapping[str, Any], *, seeds: Sequence[int], budgets: Mapping[str, Any],
                        methods: Sequence[str], problems: Sequence[str],
                        best_known: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What makes a committed results document stale against the benchmark's current settings.

    Compares the document's seeds, budgets, methods and problems with the given ones, and its best-known
    losses with the current cache (``best_known[problem]["best_known"]``). Returns one line per mismatch;
    empty means the document is up to date.
    """
    doc = check_benchmark(dict(doc))
    suite = doc["suite"]
    out = []
    if [int(s) for s in suite["seeds"]] != [int(s) for s in seeds]:
        out.append(f"seeds {suite['seeds']} != {list(seeds)}")
    if dict(suite.get("budgets", {})) != dict(budgets):
        out.append(f"budgets {suite.get('budgets')} != {dict(budgets)}")
    if list(suite["methods"]) != list(methods):
        out.append(f"methods {suite['methods']} != {list(methods)}")
    if problem_names(doc) != list(problems):
        out.append(f"problems {problem_names(doc)} != {list(problems)}")
    for name, entry in best_known.items():
        cached = doc["best_known"].get(name, {}).get("best_known")
        if cached != entry["best_known"]:
            out.append(f"best-known loss of {name}: {cached} != {entry['best_known']} (best_known.json)")
    return out


@dataclass(frozen=True)
class BenchmarkEntry:
    r"""One (problem, method) of the benchmark: medians over its seeds.

    ``ratio_to_best``: median of final loss / best-known loss (the reference: best known, floored at
    :math:`10^{-12}L(0)`); ``ratio_to_lower_bound``: median of final loss / the segmentation lower bound
    (NaN for 2-D problems); ``time_to_level``: lower median of the wall time to reach ``level`` x the
    reference (inf: not reached by at least half of the seeds); ``reached``: seeds that reached it.
    """

    problem: str
    method: str
    seeds: int
    final_median: float
    final_q25: float
    final_q75: float
    ratio_to_best: float
    ratio_to_lower_bound: float
    time_to_level: float
    reached: int
    wall_time: float
    level: float


def _rows_of(doc: Mapping[str, Any], problem: str, method: str) -> list[dict[str, Any]]:
    return [r for r in doc["rows"] if r["problem"] == problem and r["method"] == method]


def benchmark_entries(doc: Mapping[str, Any], *, level: float = 2.0) -> list[BenchmarkEntry]:
    """Per problem and method (suite order), the medians of :class:`BenchmarkEntry`, from the rows."""
    doc = check_benchmark(dict(doc))
    key = f"time_to_{float(level):g}x"
    if key not in doc["rows"][0]:
        raise ValueError(f"level {level:g} is not one of the benchmark's levels {doc['suite']['levels']}")
    out = []
    for problem in problem_names(doc):
        for method in doc["suite"]["methods"]:
            sel = _rows_of(doc, problem, method)
            if not sel:
                continue
            final = np.array([r["final_loss"] for r in sel], dtype=float)
            lb = [r.get("lower_bound") for r in sel]
            ratio_lb = (float(np.median(final / np.array(lb, dtype=float)))
                        if all(v is not None and v > 0 for v in lb) else math.nan)
            times = np.array([r[key] for r in sel], dtype=float)
            out.append(BenchmarkEntry(
                problem=problem, method=method, seeds=len(sel), final_median=float(np.median(final)),
                final_q25=float(np.percentile(final, 25)), final_q75=float(np.percentile(final, 75)),
                ratio_to_best=float(np.median([r["ratio_to_best"] for r in sel])), ratio_to_lower_bound=ratio_lb,
                time_to_level=lower_median(times), reached=int(np.isfinite(times).sum()),
                wall_time=float(np.median([r["wall_time"] for r in sel])), level=float(level),
            ))
    return out


def is_peer(method: str) -> bool:
    """Whether a benchmark method is a peer of ANLS (not an ANLS variant nor started from another method)."""
    return not method.startswith(ANLS_PREFIXES)


@dataclass(frozen=True)
class GoalVerdict:
    r"""The performance goal for one ANLS variant on one problem.

    ``final_ok``: median final loss within ``factor`` x the best-known reference. ``speed_ok``: the
    lower-median time to ``level`` x the reference is at least ``required_speedup`` times shorter than
    the fastest peer's (``speedup = peer time / ANLS time``; inf when no peer reaches the level in the
    median and ANLS does, 0 when ANLS does not). ``peer_reaches``: whether the fastest peer reaches it.
    """

    problem: str
    variant: str
    ratio_to_best: float
    final_ok: bool
    time_to_level: float
    best_peer: str
    best_peer_time: float
    peer_reaches: bool
    speedup: float
    speed_ok: bool
    factor: float
    required_speedup: float
    level: float


def benchmark_goals(doc: Mapping[str, Any], *, variants: Sequence[str] = ("anls", "anls-joint"),
                    factor: float = GOAL_FACTOR, speedup: float = GOAL_SPEEDUP,
                    level: float = GOAL_LEVEL) -> list[GoalVerdict]:
    """The goal per problem and variant, recomputed from the rows with the benchmark's definitions."""
    entries = benchmark_entries(doc, level=level)
    out = []
    for problem in problem_names(doc):
        here = {e.method: e for e in entries if e.problem == problem}
        peers = [e for m, e in here.items() if is_peer(m)]
        if not peers:
            raise ValueError(f"problem {problem!r} has no peer methods")
        best = min(peers, key=lambda e: e.time_to_level)
        for variant in variants:
            if variant not in here:
                raise ValueError(f"variant {variant!r} is not a method of the benchmark on {problem!r}")
            e = here[variant]
            t = e.time_to_level
            ratio = best.time_to_level / t if math.isfinite(t) and t > 0 else (math.inf if t == 0 else 0.0)
            out.append(GoalVerdict(
                problem=problem, variant=variant, ratio_to_best=e.ratio_to_best, final_ok=e.ratio_to_best <= factor,
                time_to_level=t, best_peer=best.method, best_peer_time=best.time_to_level,
                peer_reaches=math.isfinite(best.time_to_level), speedup=ratio, speed_ok=ratio >= speedup,
                factor=float(factor), required_speedup=float(speedup), level=float(level),
            ))
    return out


def peer_wins(entries: Sequence[BenchmarkEntry], variant: str) -> list[tuple[str, str, str]]:
    """Where a peer beats ``variant``: ``(problem, peer, "final loss" | "time to level")`` rows.

    A peer beats it on final loss if its median final loss is lower, on time if its (lower-median) time to
    the level is shorter (a finite time beats an infinite one; two infinite times tie).
    """
    out = []
    for problem in dict.fromkeys(e.problem for e in entries):
        here = {e.method: e for e in entries if e.problem == problem}
        if variant not in here:
            raise ValueError(f"variant {variant!r} is not a method of the benchmark on {problem!r}")
        a = here[variant]
        for m, e in here.items():
            if not is_peer(m):
                continue
            if e.final_median < a.final_median:
                out.append((problem, m, "final loss"))
            if e.time_to_level < a.time_to_level:
                out.append((problem, m, "time to level"))
    return out


def problem_curves(doc: Mapping[str, Any], problem: str) -> dict[str, dict[str, FloatArray]]:
    """The curves of one problem in a benchmark document, per method: time grid, quartiles and median.

    The document holds them as computed by ``plateau_lib.chapters.anls_benchmark.median_curves``.
    """
    doc = check_benchmark(dict(doc))
    out = {}
    for c in doc["curves"]:
        if c["problem"] == problem:
            out[c["method"]] = {k: np.asarray(c[k], dtype=float)
                                for k in ("time", "loss_q25", "loss_median", "loss_q75")}
    if not out:
        raise ValueError(f"problem {problem!r} has no curves in the benchmark document")
    return out


# --------------------------------------------------------------------------- the chapter's page
#
# What the notebook prints, tabulates, saves beside its figures and glues into its prose: every
# number and sentence is computed here from the studies' results, so the notebook's cells stay short.

#: The three experiments of the book (the benchmark's other problems are named in the prose).
BOOK_PROBLEMS = ("plateau_1d", "multi_plateau_1d", "plateau_2d")


def _require_keys(mapping: Mapping[str, Any], keys: Sequence[str], name: str) -> None:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{name} must have the keys {', '.join(keys)}; missing: {', '.join(missing)}")


def _time_or_never(t: float) -> str:
    return f"{t:.3f}" if np.isfinite(t) else "never"


def method_key(method: str) -> str:
    """A benchmark method's name as part of an array name (``gd+anls`` -> ``gd_anls``)."""
    return method.replace("-", "_").replace("+", "_")


# ------------------------------------------------------------------ printed reports


def sweep_report(race: GdVsAnls, plateau: PlateauRow, sweep: SweepAnatomy, lead: IterationLead) -> str:
    """The sweep from the plateau network in words: the run, the plateau, the search, the losses, the lead.

    Parameters
    ----------
    race : GdVsAnls
        The showcase race (its gradient descent supplies the plateau network).
    plateau : PlateauRow
        The plateau the sweep starts on (:func:`showcase_plateau`).
    sweep : SweepAnatomy
        :func:`one_sweep` from gradient descent's network in the middle of ``plateau``.
    lead : IterationLead
        :func:`iteration_lead` of the sweep against gradient descent continuing from that network.

    Returns
    -------
    str
        The run, the plateau, the search, the loss after each update and the lead, one per line (numpy may
        wrap the array of losses over two).
    """
    step = int(race.gd.steps[plateau.index])
    s = sweep.search
    return "\n".join([
        run_line(race.gd),
        f"plateau: steps {plateau.start:.0f}-{plateau.end:.0f}, loss {plateau.level:.5f}; "
        f"network at step {step}, counts {race.gd.counts[plateau.index]}",
        f"neuron {s.neuron}: current breakpoint {s.current_tau:+.3f} (s = {s.current_s:+d}, {s.current_count} "
        f"active), chosen tau = {s.tau:+.3f}, s = {s.s:+d} ({s.count} active), gain {s.gain:.4f}; the trainer "
        f"did the same: {sweep.agrees}",
        f"loss: {sweep.start_loss:.5f} before the sweep, after each update {np.round(sweep.kept_loss(), 5)}",
        f"GD from step {step} needs {gd_needs_text(lead)} steps to reach the loss of this one sweep",
    ])


def race_report(race: GdVsAnls, lead: IterationLead) -> str:
    """The race from the initial network: both runs, the lead, and when ANLS gets below each plateau.

    Parameters
    ----------
    race : GdVsAnls
        Gradient descent and ANLS from the same initial network.
    lead : IterationLead
        ``iteration_lead(race.gd, race.anls)``.

    Returns
    -------
    str
        One line per run, the lead, the race to gradient descent's final loss, and one line per plateau.
    """
    gd, anls = race.gd, race.anls
    lines = [
        run_line(anls),
        f"lead: at sweep {lead.sweeps} ANLS is at {lead.loss:.4g}; GD from the same network needs "
        f"{gd_needs_text(lead)} steps to get as low",
        f"ANLS below GD's final loss {gd.final_loss:.6f} at sweep {number(race.anls_sweeps_to_gd)} "
        f"({number(race.anls_nfev_to_gd)} loss evaluations, {race.anls_time_to_gd:.3f} s); "
        f"GD: {gd.nit} steps, {gd.wall_time:.3f} s",
    ]
    for p in race.plateaus:
        below = anls.steps[anls.loss < p.level]
        lines.append(f"GD plateau steps {p.start:.0f}-{p.end:.0f} at {p.level:.5f}: ANLS below it "
                     f"from sweep {below[0] if below.size else 'never'}")
    return "\n".join(lines)


def gd_needs_text(lead: IterationLead) -> str:
    """The steps gradient descent needs for ``lead``'s loss: ``"1234"``, or ``"more than 8000"`` if never."""
    return f"{lead.gd_steps}" if lead.reached else f"more than {lead.gd_budget}"


def describe_benchmark(doc: Mapping[str, Any]) -> str:
    """One line on a benchmark results document: suite, seeds, creation date, seconds and workers."""
    doc = check_benchmark(dict(doc))
    return (f"benchmark ({doc['suite']['name']}): seeds {doc['suite']['seeds']}, created {doc['created']}, "
            f"{doc['seconds']} s on {doc['workers']} workers")


def suite_staleness(doc: Mapping[str, Any], suite: Any, best_known: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """:func:`benchmark_staleness` of ``doc`` against a benchmark suite's current settings.

    Parameters
    ----------
    doc : mapping
        A benchmark results document (:func:`load_benchmark`).
    suite : anls_benchmark.Suite
        The suite the document should be a run of (its ``seeds``, ``budgets`` -- a dataclass --,
        ``methods`` and ``problems``, each with a ``name``).
    best_known : mapping
        The current best-known losses of the suite's problems.

    Returns
    -------
    list of str
        One line per mismatch; empty if the document is up to date.
    """
    for attribute in ("seeds", "budgets", "methods", "problems"):
        if not hasattr(suite, attribute):
            raise TypeError(f"suite must be a benchmark Suite (with {attribute!r}), got {type(suite).__name__}")
    return benchmark_staleness(doc, seeds=suite.seeds, budgets=asdict(suite.budgets), methods=suite.methods,
                               problems=[p.name for p in suite.problems], best_known=best_known)


def schema_differences(doc: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """The parts of :func:`benchmark_schema` (seeds aside) in which ``doc`` differs from ``reference``."""
    schema, expected = benchmark_schema(doc), benchmark_schema(reference)
    return [k for k in schema if k != "seeds" and schema[k] != expected[k]]


def anls_loss_histories(race: GdVsAnls, sweep: SweepAnatomy, rest: AnlsFromStationary,
                        variant_rows: Sequence[VariantRow]) -> list[FloatArray]:
    """Every recorded ANLS loss history of the chapter (its check 4: none may rise).

    In order: ANLS of the race, the sweep from the plateau (as recorded, and update by update), the runs from
    the stationary point, and the variant runs.
    """
    return [
        race.anls.loss,
        sweep.result.loss,
        sweep.kept_loss(),
        *(r.loss for r in rest.runs.values()),
        *(np.array(r.curve) for r in variant_rows),
    ]


#: Largest relative disagreement allowed between a trainer's recorded loss and the loss recomputed
#: from the stored parameters (:func:`recomputed_losses`): both sum the same :math:`m` squares of
#: residuals of the same parameters, so they differ by summation order at most, a few
#: :math:`(m + n + d)\,u \approx 10^{-14}` relative on this chapter's data; a record that belongs to
#: other parameters (a bookkeeping bug) is off by far more.
RECOMPUTE_RTOL = 1e-12


def recomputed_losses(result: TrainResult, X: ArrayLike, y: ArrayLike) -> tuple[FloatArray, float]:
    r"""The loss at every record of ``result`` recomputed from its stored parameters, and its largest disagreement.

    :math:`L_k = \frac1{2m}\|N_{\theta_k}(X) - y\|^2` by :func:`~plateau_lib.network.loss` (a forward
    pass), independent of the trainer's own bookkeeping.

    Returns
    -------
    losses : ndarray
        One per record.
    disagreement : float
        :math:`\max_k |L_k - \text{recorded}_k| / \max(\text{recorded}_k, \text{tiny})`.
    """
    losses = np.array([network_loss(result.net_at(k), X, y) for k in range(len(result.steps))])
    recorded = np.asarray(result.loss, dtype=float)
    tiny = np.finfo(np.float64).tiny
    return losses, float(np.max(np.abs(losses - recorded) / np.maximum(recorded, tiny)))


def largest_rise(histories: Sequence[ArrayLike]) -> float:
    """The largest increase between consecutive records over all ``histories`` (0 if none rises).

    Raises
    ------
    ValueError
        If ``histories`` is empty.
    """
    histories = list(histories)
    if not histories:
        raise ValueError("histories must hold at least one loss history")
    return max(float(np.max(np.diff(np.asarray(h, dtype=float)), initial=0.0)) for h in histories)


# ------------------------------------------------------------------ Markdown tables


def exits_table(rows: Sequence[ExitRow]) -> str:
    """The rows of :func:`exit_study` as a Markdown table (one line per seed)."""

    def steps(lead: IterationLead) -> str:
        return f"{lead.gd_steps}" if lead.reached else f"> {lead.gd_budget}"

    header = ["seed", "GD final", "plateau", "one sweep", "GD steps to it", "ANLS sweeps: loss", "GD steps to it",
              "ANLS final"]
    return markdown_table(header, "r" * 8, (
        [r.seed, f"{r.gd_final:.2e}", f"{r.plateau_level:.4f}", f"{r.sweep.loss:.2e}", steps(r.sweep),
         f"{r.race.sweeps}: {r.race.loss:.2e}", steps(r.race), f"{r.anls_final:.2e}"] for r in rows))


def variants_table(summary: Sequence[Mapping[str, Any]]) -> str:
    """:func:`variant_summary` as a Markdown table (one line per problem and variant)."""
    header = ["problem", "variant", "final loss: median [quartiles]", "/ lower bound (median)", "sweeps (median)",
              "loss evaluations (median)"]
    return markdown_table(header, "lllrrr", (
        [f"`{s['problem']}`", s["variant"], f"{s['final_median']:.2e} [{s['final_q25']:.2e}, {s['final_q75']:.2e}]",
         f"{s['ratio_median']:.1f}", f"{s['sweeps_median']:.0f}", f"{s['nfev_median']:.0f}"] for s in summary))


def benchmark_table(entries: Sequence[BenchmarkEntry]) -> str:
    """:func:`benchmark_entries` as a Markdown table (one line per problem and method)."""
    header = ["problem", "method", "final loss: median [quartiles]", "/ best known", "/ lower bound",
              "time to 2x best [s]", "reached 2x", "wall time [s]"]
    return markdown_table(header, "lllrrrrr", (
        [f"`{e.problem}`", e.method, f"{e.final_median:.2e} [{e.final_q25:.1e}, {e.final_q75:.1e}]",
         f"{e.ratio_to_best:.3g}", f"{e.ratio_to_lower_bound:.3g}" if np.isfinite(e.ratio_to_lower_bound) else "-",
         _time_or_never(e.time_to_level), f"{e.reached}/{e.seeds}", f"{e.wall_time:.3f}"] for e in entries))


def goals_table(goals: Sequence[GoalVerdict]) -> str:
    """:func:`benchmark_goals` as a Markdown table, against the chapter's goals (``GOAL_*``)."""
    header = ["problem", "variant", f"final / best (goal <= {GOAL_FACTOR:g})", f"time to {GOAL_LEVEL:g}x [s]",
              "fastest peer", "its time [s]", f"speed-up (goal >= {GOAL_SPEEDUP:g})"]
    return markdown_table(header, "llrrlrr", (
        [f"`{g.problem}`", g.variant, f"{g.ratio_to_best:.3g} {'yes' if g.final_ok else 'no'}",
         _time_or_never(g.time_to_level), g.best_peer if g.peer_reaches else "(none reaches it)",
         _time_or_never(g.best_peer_time), f"{g.speedup:.3g} {'yes' if g.speed_ok else 'no'}"] for g in goals))


# ------------------------------------------------------------------ the data saved beside the figures


@dataclass(frozen=True)
class FigureData:
    """The arrays a figure draws, as :func:`~plateau_lib.figures.save_figure` saves them.

    Attributes
    ----------
    arrays : dict of str to array
        Compared with the references by ``book check``.
    unchecked : dict of str to array
        Saved for the reader, not compared (they amplify round-off).
    timing : dict of str to array
        Data with wall-clock times (:func:`~plateau_lib.figures.save_data` to the unchecked folder).
    """

    arrays: dict[str, Any] = field(default_factory=dict)
    unchecked: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)


def sweep_figure_data(sweep: SweepAnatomy) -> FigureData:
    """The sweep figure's data: the first neuron's target, candidates and choice, and the updates' losses.

    The acceptances are unchecked: a rejection is decided by comparing two nearly equal losses.
    """
    s = sweep.search
    return FigureData(
        arrays={"x": s.x, "target": s.target, "tau": s.candidates.tau, "s": s.candidates.s,
                "gain": s.candidates.gain, "chosen": s.chosen, "update_neuron": sweep.update_neuron,
                "update_loss": sweep.update_loss, "start_loss": sweep.start_loss},
        unchecked={"update_accepted": sweep.update_accepted},
    )


def gd_vs_anls_figure_data(race: GdVsAnls) -> FigureData:
    """The race figure's data: both loss curves, gradient descent's counts and plateaus, and the wall times.

    Gradient descent's records are thinned to its regular grid (every ``record_every`` steps of the
    experiment); ANLS's counts are unchecked, the wall times go to ``timing``.
    """
    gd, anls = race.gd, race.anls
    grid = gd.steps % get_experiment(race.experiment).record_every == 0
    plateaus = {f"plateau_{k}": v for k, v in rows_to_arrays(race.plateaus).items()}
    return FigureData(
        arrays={"gd_step": gd.steps[grid], "gd_loss": gd.loss[grid], "gd_counts": gd.counts[grid],
                "anls_sweep": anls.steps, "anls_loss": anls.loss, "lower_bound": race.lower_bound, **plateaus},
        unchecked={"anls_counts": anls.counts},
        timing={"gd_time": gd.times[grid], "gd_loss": gd.loss[grid], "anls_time": anls.times,
                "anls_loss": anls.loss},
    )


def from_stationary_figure_data(rest: AnlsFromStationary, X: ArrayLike) -> FigureData:
    """The stationary start's figure data: the networks at the data ``X`` and the loss of every run."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != rest.start.d:
        raise ValueError(f"X must be an (m, {rest.start.d}) array of inputs, got shape {X.shape}")
    nets = {f"{method_key(k)}_net": r.net(X) for k, r in rest.runs.items()}
    losses = {f"{method_key(k)}_loss": r.loss for k, r in rest.runs.items()}
    return FigureData(arrays={"x": X[:, 0], "start": rest.start(X), **nets, **losses})


def variants_figure_data(summary: Sequence[Mapping[str, Any]], rows: Sequence[VariantRow]) -> FigureData:
    """The variants figure's data (all unchecked): the median curves and the rows' columns (``row_*``).

    The rows' curves and wall times are left out (the curves' medians are saved, the times are the
    machine's).
    """
    data = {f"{s['problem']}_{s['variant'].replace('+', '_')}": s["curve_median"] for s in summary}
    columns = rows_to_arrays(rows)
    columns.pop("curve", None)
    columns.pop("wall_time", None)
    return FigureData(unchecked=data | {f"row_{k}": v for k, v in columns.items()})


def final_ratios(doc: Mapping[str, Any], problem: str, method: str) -> FloatArray:
    """Final loss / best-known loss of every seed of one problem and method of a benchmark document."""
    return np.array([r["ratio_to_best"] for r in _rows_of(doc, problem, method)])


def lower_bound_ratio(doc: Mapping[str, Any], problem: str) -> float | None:
    """The segmentation lower bound of ``problem`` over its best-known reference (None in 2-D)."""
    rows = [r for r in doc["rows"] if r["problem"] == problem]
    if not rows:
        raise ValueError(f"problem {problem!r} has no rows in the benchmark document")
    bound = rows[0].get("lower_bound")
    return None if bound is None else bound / doc["best_known"][problem]["reference"]


def first_record_time(doc: Mapping[str, Any], problem: str, method: str) -> float:
    """The earliest first record (wall time) over the seeds of one method: where its curve is drawn from.

    ``gd+anls`` starts where its gradient descent ended, so its curve begins late.
    """
    rows = _rows_of(doc, problem, method)
    if not rows:
        raise ValueError(f"method {method!r} has no rows on problem {problem!r}")
    return min(r["curve"]["time"][0] for r in rows)


def benchmark_final_data(doc: Mapping[str, Any]) -> FigureData:
    """The final-loss figure's data (unchecked): :func:`final_ratios` per problem and method."""
    doc = check_benchmark(dict(doc))
    return FigureData(unchecked={f"{p}_{method_key(m)}": final_ratios(doc, p, m)
                                 for p in problem_names(doc) for m in doc["suite"]["methods"]})


def benchmark_curves_data(doc: Mapping[str, Any]) -> FigureData:
    """The curves figure's data: time grid and median loss per problem and method (:func:`problem_curves`)."""
    doc = check_benchmark(dict(doc))
    arrays = {}
    for problem in problem_names(doc):
        curves = problem_curves(doc, problem)
        for m in doc["suite"]["methods"]:
            arrays[f"{problem}_{method_key(m)}_time"] = curves[m]["time"]
            arrays[f"{problem}_{method_key(m)}_loss"] = curves[m]["loss_median"]
    return FigureData(arrays=arrays)


# ------------------------------------------------------------------ numbers glued into the prose


def chapter_constants(joint_options: Mapping[str, Any]) -> dict[str, Any]:
    """The chapter's settings the prose quotes: the sweep budget, C5's fraction, the goals, the pair moves.

    ``joint_options``: :func:`anls_joint_options` (its ``pair_moves``).
    """
    _require_keys(joint_options, ("pair_moves",), "joint_options")
    return {"anls_budget": SWEEPS, "far_fewer": FAR_FEWER, "far_fewer_steps": round(1 / FAR_FEWER),
            "goal_factor": GOAL_FACTOR, "goal_speedup": GOAL_SPEEDUP, "goal_level": GOAL_LEVEL,
            "pair_moves": joint_options["pair_moves"]}


def sweep_values(race: GdVsAnls, plateau: PlateauRow, sweep: SweepAnatomy) -> dict[str, Any]:
    """The numbers of the sweep section: the experiment, the plateau, the first neuron's search, the losses.

    The count of kept updates is left out: it is decided by accept/reject comparisons (glue it unchecked).
    """
    experiment = get_experiment(race.experiment)
    s = sweep.search
    return {
        "m1": experiment.m, "n1": experiment.width, "alpha1": f"{experiment.init_scale:g}",
        "lr1": experiment.options["lr"], "run_seed": race.seed,
        "plat_start": plateau.start, "plat_end": plateau.end, "plat_level": plateau.level,
        "sweep_neuron": s.neuron, "cur_count": s.current_count, "cur_tau": s.current_tau,
        "n_candidates": len(s.candidates.tau), "chosen_tau": s.tau, "chosen_count": s.count,
        "chosen_gain": s.gain, "cur_gain": s.current_gain, "chosen_s": f"{s.s:+d}",
        "chosen_side": "to its right" if s.s > 0 else "to its left",
        "sweep_start": sweep.start_loss, "sweep_first": float(sweep.kept_loss()[0]),
        "sweep_end": sweep.result.final_loss, "sweep_updates": len(sweep.update_accepted),
    }


def race_values(race: GdVsAnls) -> dict[str, Any]:
    """The numbers of the race from the initial network (wall times aside: :func:`race_time_text`)."""
    gd, anls = race.gd, race.anls
    return {
        "gd_steps": gd.nit, "gd_final": gd.final_loss, "gd_nfev": gd.nfev,
        "gd_plateau_steps": race.plateau_steps(), "gd_n_plateaus": len(race.plateaus),
        "anls_sweeps": anls.nit, "anls_final": anls.final_loss,
        "anls_lb_factor": anls.final_loss / race.lower_bound,
    }


def exit_values(rows: Sequence[ExitRow]) -> dict[str, Any]:
    """How many seeds :func:`exit_study` ran, and the first and last of them."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one run")
    return {"exit_runs": len(rows), "exit_first": rows[0].seed, "exit_last": rows[-1].seed}


def stationary_values(rest: AnlsFromStationary, lower_bound: float) -> dict[str, Any]:
    """The numbers of the start at the stationary point: its search, its loss, and the runs from it.

    ``rest`` must hold the runs ``"anls-design"`` (the design's literal reading) and ``"anls"`` (the
    default preset ``"joint"``), the book's names for the two readings everywhere; ``lower_bound``
    is the segmentation lower bound of the problem (``stat_joint_lb`` is the default's final loss
    over it).
    """
    _require_keys(rest.runs, ("anls-design", "anls"), "rest.runs")
    design, joint = rest.runs["anls-design"], rest.runs["anls"]
    return {
        "stat_gtol": POLISH_DEMO.gtol, "stat_tries": STATIONARY_TRIES, "stat_seed": rest.seed,
        "stat_passed": len(rest.passed_over), "stat_gd_steps": rest.gd.nit, "stat_loss": rest.start_loss,
        "stat_anls": design.final_loss, "stat_anls_sweeps": design.nit,
        "stat_anls_factor": rest.start_loss / design.final_loss,
        "stat_joint": joint.final_loss, "stat_joint_factor": rest.start_loss / joint.final_loss,
        "stat_joint_lb": joint.final_loss / lower_bound,
    }


def variant_values(settings: VariantSettings, quick: bool) -> dict[str, Any]:
    """The settings of the variant study the prose quotes, and the size of ``multi_plateau_1d``."""
    if not isinstance(settings, VariantSettings):
        raise TypeError(f"settings must be a VariantSettings, got {type(settings).__name__}")
    multi = get_experiment("multi_plateau_1d")
    return {"bounded_k": settings.bounded_moves, "polish_steps": settings.polish_steps,
            "var_seeds": settings.n_seeds(quick), "var_sweeps": settings.sweeps,
            "n_multi": multi.width, "m_multi": multi.m}


def benchmark_values(committed: Mapping[str, Any], *, quick: bool, quick_seeds: int,
                     floor_rtol: float) -> dict[str, Any]:
    """The numbers of the benchmark section, and where the page's numbers come from.

    Parameters
    ----------
    committed : mapping
        The committed full run (:func:`load_benchmark`).
    quick : bool
        Whether the page runs the quick suite instead.
    quick_seeds : int
        Seeds of the quick suite.
    floor_rtol : float
        The floor of the best-known reference, relative to the zero network's loss.
    """
    committed = check_benchmark(dict(committed))
    quick_seeds = check_positive_int(quick_seeds, "quick_seeds")
    full_seeds = len(committed["suite"]["seeds"])
    seeds_text = f"{quick_seeds} seed" + ("s" if quick_seeds != 1 else "")
    source = (f"a fresh run of the quick suite ({seeds_text}, small budgets): indicative only, the full "
              "results are in the committed file" if quick else
              f"the committed full run ({full_seeds} seeds, created {committed['created']})")
    return {"floor_rtol": floor_rtol, "bench_seeds_full": full_seeds, "bench_seeds_quick": quick_seeds,
            "bench_mode": "quick" if quick else "full", "n_bench_problems": len(problem_names(committed)),
            "bench_full_seconds": committed["seconds"], "bench_source": source}


# ------------------------------------------------------------------ sentences glued into the prose


def current_state_text(search: ThresholdSearch) -> str:
    """What the first neuron of the sweep activates before its update, in words."""
    if search.current_count == 0:
        return (f"no data point: its breakpoint lies at {search.current_tau:.2f}, outside the data, so it "
                "receives no gradient, and gradient descent cannot move it")
    return f"{search.current_count} of the {search.x.size} points (breakpoint {search.current_tau:.2f})"


def other_problems_text(problems: Sequence[str], book: Sequence[str] = BOOK_PROBLEMS) -> str:
    """The benchmark's problems that are not the book's experiments, as a list in words."""
    return _join_words([f"`{p}`" for p in problems if p not in book])


def _variant_median(summary: Sequence[Mapping[str, Any]], problem: str, variant: str) -> float:
    for s in summary:
        if s["problem"] == problem and s["variant"] == variant:
            return s["ratio_median"]
    raise ValueError(f"summary has no variant {variant!r} on {problem!r}")


def unchanged_by_polish(rows: Sequence[VariantRow], problem: str) -> int:
    """Polished runs of ``problem`` that end exactly where the unpolished run of the same seed ends."""
    return sum(r.final_loss == q.final_loss for r in rows for q in rows
               if r.problem == q.problem == problem and r.seed == q.seed and q.variant == r.variant + "+polish")


def variants_text(rows: Sequence[VariantRow], summary: Sequence[Mapping[str, Any]], settings: VariantSettings,
                  quick: bool) -> str:
    """The variant study in words: each problem's median ratios, the polishing that changed nothing, the best.

    Parameters
    ----------
    rows, summary
        :func:`variant_study` and :func:`variant_summary` of ``settings``.
    settings : VariantSettings
        The study's settings (its problems; ``quick`` selects the seed count).
    quick : bool
        The mode the study ran in.
    """
    if not summary:
        raise ValueError("summary must hold at least one variant")
    lines = []
    for problem in settings.problems:
        g, b, gp, bp = (_variant_median(summary, problem, v) for v in VARIANT_NAMES)
        lines.append(
            f"On `{problem}` the median final loss is {g:.1f} times the lower bound with the global search and "
            f"{b:.1f} times with bounded moves; with polishing {gp:.1f} and {bp:.1f} times. There "
            f"{unchanged_by_polish(rows, problem)} of the {2 * settings.n_seeds(quick)} polished runs end exactly "
            "where the unpolished run of the same seed ends: every one of their polishing steps was rejected (a "
            "step is kept only if it lowers the loss).")
    global_better = all(_variant_median(summary, p, "global") <= _variant_median(summary, p, "bounded")
                        for p in settings.problems)
    best = min(summary, key=lambda s: s["ratio_median"])
    return (" ".join(lines)
            + (" Bounding the moves does not help on either problem: a neuron that may move its threshold only a "
               "few points at a time stops sooner at a fixed point of the bounded update. " if global_better
               else " Neither search is better on both problems. ")
            + f"The best of these medians is {best['ratio_median']:.1f} times the lower bound ({best['variant']} "
            f"on `{best['problem']}`); the additions of `anls-joint` do better (previous section and the benchmark).")


def one_d_problems(doc: Mapping[str, Any]) -> list[str]:
    """The 1-D problems of a benchmark document, in suite order."""
    return [p["name"] for p in doc["suite"]["problems"] if p["d"] == 1]


def _entry_map(entries: Sequence[BenchmarkEntry]) -> dict[tuple[str, str], BenchmarkEntry]:
    return {(e.problem, e.method): e for e in entries}


def ratio_range(entries: Sequence[BenchmarkEntry], methods: Sequence[str], problems: Sequence[str]) -> str:
    """The range of the median final loss / best known over ``methods`` and ``problems``: ``"1.2 to 3.4"``."""
    by = _entry_map(entries)
    missing = [(p, m) for p in problems for m in methods if (p, m) not in by]
    if missing or not problems or not methods:
        raise ValueError(f"entries must cover every problem and method asked for; missing: {missing or 'all'}")
    v = [by[(p, m)].ratio_to_best for p in problems for m in methods]
    return f"{min(v):.3g} to {max(v):.3g}"


def peer_wins_text(wins: Sequence[tuple[str, str, str]]) -> str:
    """Rows of :func:`peer_wins` in words, per peer: ``"lm on `a` and `b`; oga on `c`"`` (``"no peer"``)."""
    if not wins:
        return "no peer"
    per: dict[str, list[str]] = {}
    for problem, peer, _ in wins:
        per.setdefault(peer, []).append(f"`{problem}`")
    return "; ".join(f"{peer} on {_join_words(ps)}" for peer, ps in per.items())


def lowest_final(entries: Sequence[BenchmarkEntry]) -> dict[str, str]:
    """Per problem, the method of lowest median final loss (the first of equal ones, in entry order)."""
    out: dict[str, BenchmarkEntry] = {}
    for e in entries:
        if e.problem not in out or e.final_median < out[e.problem].final_median:
            out[e.problem] = e
    return {p: e.method for p, e in out.items()}


def benchmark_text(doc: Mapping[str, Any], entries: Sequence[BenchmarkEntry]) -> str:
    """What the benchmark shows, in words: the ranges of the 1-D ratios, where peers win, the 2-D problems.

    Parameters
    ----------
    doc : mapping
        The benchmark results document the page reads.
    entries : list of BenchmarkEntry
        ``benchmark_entries(doc, level=GOAL_LEVEL)``.
    """
    doc = check_benchmark(dict(doc))
    by = _entry_map(entries)
    problems = problem_names(doc)
    one_d = one_d_problems(doc)
    two_d = [p for p in problems if p not in one_d]
    wins = {v: peer_wins(entries, v) for v in ("anls", "anls-joint")}
    final = {v: peer_wins_text([w for w in ws if w[2] == "final loss"]) for v, ws in wins.items()}
    time = {v: peer_wins_text([w for w in ws if w[2] == "time to level"]) for v, ws in wins.items()}
    lowest = lowest_final(entries)
    peer_lowest = [p for p in problems if is_peer(lowest[p])]
    return (
        "On the 1-D problems, gradient descent, Adam, L-BFGS and Levenberg-Marquardt, started from the small "
        f"initialisation, end {ratio_range(entries, ('gd', 'adam', 'lbfgs', 'lm'), one_d)} times the best-known "
        "loss (medians over seeds): they stall on plateaus and at stationary points, as in Chapters 1 and 3. OGA "
        f"ends {ratio_range(entries, ('oga',), one_d)} times it, the design's `anls` "
        f"{ratio_range(entries, ('anls',), one_d)} times, `anls-joint` {ratio_range(entries, ('anls-joint',), one_d)}"
        f" times and `gd+anls` {ratio_range(entries, ('gd+anls',), one_d)} times. "
        f"**Where a peer beats the design's `anls`:** on median final loss, {final['anls']}; on the time to reach "
        f"{GOAL_LEVEL:g} times the best-known loss, {time['anls']}. **Where a peer beats `anls-joint`:** on final "
        f"loss, {final['anls-joint']}; on time, {time['anls-joint']}. "
        f"On the 2-D problems the best-known losses are exact fits (below "
        f"{max(doc['best_known'][p]['best_known'] for p in two_d):.0e}); "
        + "; ".join(f"on `{p}` the lowest median final loss is {lowest[p]}'s, {by[(p, lowest[p])].final_median:.2e}"
                    for p in two_d)
        + ". "
        + ("On every problem an ANLS variant has the lowest median final loss. " if not peer_lowest else
           f"A peer has the lowest median final loss on {_join_words([f'`{p}`' for p in peer_lowest])}. ")
    )


def verdict_text(summary: ExitSummary, doc: Mapping[str, Any], entries: Sequence[BenchmarkEntry]) -> str:
    """C5's verdict over seeds (:func:`c5_verdict`) and where the design's `anls` ends on the 1-D problems."""
    by = _entry_map(entries)
    one_d = one_d_problems(doc)
    anls_1d = {p: by[(p, "anls")].ratio_to_best for p in one_d}
    not_below_gd = [p for p in one_d if anls_1d[p] >= by[(p, "gd")].ratio_to_best]
    return (
        f"{c5_verdict(summary)}. On the 1-D problems of the benchmark the design's `anls` ends "
        f"{ratio_range(entries, ('anls',), one_d)} times the best-known losses, "
        + ("beyond" if max(anls_1d.values()) > GOAL_FACTOR else "within")
        + f" the goal of {GOAL_FACTOR:g} times, and "
        + (f"below gradient descent's ({ratio_range(entries, ('gd',), one_d)} times) on each of them."
           if not not_below_gd else f"not below gradient descent's on {_join_words([f'`{p}`' for p in not_below_gd])}.")
    )


def _speed_text(goal: GoalVerdict) -> str:
    return (f"On `{goal.problem}` the fastest peer ({goal.best_peer}) needs {goal.best_peer_time:.3f} s and "
            f"`anls-joint` {goal.time_to_level:.3f} s: a speed-up of {goal.speedup:.2f}, "
            f"{'meeting' if goal.speed_ok else 'missing'} the goal of {GOAL_SPEEDUP:g}. ")


def goal_text(doc: Mapping[str, Any], entries: Sequence[BenchmarkEntry], goals: Sequence[GoalVerdict],
              summary: ExitSummary) -> str:
    """The performance goal in words: met or not, final loss and speed per variant, then :func:`verdict_text`.

    Parameters
    ----------
    doc : mapping
        The benchmark results document the page reads.
    entries : list of BenchmarkEntry
        ``benchmark_entries(doc, level=GOAL_LEVEL)``.
    goals : list of GoalVerdict
        ``benchmark_goals(doc, variants=("anls", "anls-joint", "gd+anls"))``.
    summary : ExitSummary
        The runs over seeds (:func:`exit_summary`), for the verdict on C5.
    """
    doc = check_benchmark(dict(doc))
    variants = ("anls", "anls-joint", "gd+anls")
    missing = [v for v in variants if not any(g.variant == v for g in goals)]
    if missing:
        raise ValueError(f"goals must cover the variants {', '.join(variants)}; missing: {', '.join(missing)}")
    problems = problem_names(doc)
    by = _entry_map(entries)
    joint = [by[(p, "anls-joint")].ratio_to_best for p in problems]
    final_ok = {v: [g.problem for g in goals if g.variant == v and g.final_ok] for v in variants}
    met = {v: all(g.final_ok and g.speed_ok for g in goals if g.variant == v) for v in variants}
    reach = {v: [g for g in goals if g.variant == v and np.isfinite(g.time_to_level)] for v in variants[:2]}
    unbounded = [g.problem for g in reach["anls-joint"] if not g.peer_reaches]
    measured = [g for g in reach["anls-joint"] if g.peer_reaches]
    return (
        f"**The goal is {'met' if any(met.values()) else 'not met'}.** *Final loss:* `anls` is within "
        f"{GOAL_FACTOR:g} times the best-known loss on {len(final_ok['anls'])} of {len(problems)} problems, "
        f"`anls-joint` on {len(final_ok['anls-joint'])} "
        f"({_join_words([f'`{p}`' for p in final_ok['anls-joint']]) or 'none'}), `gd+anls` on "
        f"{len(final_ok['gd+anls'])}; the largest median ratio of `anls-joint` is {max(joint):.3g} "
        f"(`{problems[int(np.argmax(joint))]}`). *Speed:* `anls` reaches {GOAL_LEVEL:g} times the best-known "
        f"loss (in the median over seeds) on {len(reach['anls'])} problems, `anls-joint` on "
        f"{len(reach['anls-joint'])}. "
        + (f"On {_join_words([f'`{p}`' for p in unbounded])} no peer reaches that level at all, so the speed-up of "
           "`anls-joint` there is unbounded rather than measured. " if unbounded else "")
        + "".join(_speed_text(g) for g in measured)
        + verdict_text(summary, doc, entries)
    )
