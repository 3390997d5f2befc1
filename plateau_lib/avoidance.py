r"""Avoiding plateaus with Active Neuron Least Squares (claim C5): the studies of Chapter 4.

The trainer itself is :func:`plateau_lib.trainers.anls.train_anls` (its module docstring states
the companion's reading of the paper's principle); this module only *runs* it and measures it:

* :func:`threshold_search` and :func:`one_sweep` -- the picture of the algorithm: for one neuron,
  the target it is fitted to, every candidate threshold with its least-squares gain (scored by
  :func:`~plateau_lib.trainers.anls.threshold_gains`, not re-implemented here), the chosen one,
  and the loss after every neuron update of the sweep;
* :func:`gd_vs_anls` -- gradient descent and ANLS from the same initial network;
* :func:`anls_from_stationary` -- ANLS started where gradient descent comes to rest (the exact
  stationary point of Chapter 3, :func:`~plateau_lib.stationary.run_to_stationary_point`);
* :func:`variant_study` -- the variants (global or bounded threshold moves, with or without
  gradient-descent polishing) over seeds, through :func:`~plateau_lib.sweeps.sweep`;
* :func:`load_benchmark`, :func:`benchmark_entries`, :func:`benchmark_goals`,
  :func:`benchmark_schema`, :func:`benchmark_staleness` -- reading and summarising the results document of the benchmark
  :mod:`plateau_lib.benchmark` (this module reads its output and does not import it).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_positive_int
from .experiments import get_experiment, register_study
from .lower_bound import segmentation_lower_bound
from .network import ShallowReLU, check_problem
from .result import TrainResult, check_result
from .stationary import POLISH_DEMO, PolishResult, run_to_stationary_point
from .studies import PlateauRow, plateau_rows
from .sweeps import sweep
from .trainers.anls import ThresholdCandidates, threshold_gains, train_anls

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
    phi = A[:, j]
    den = float(phi @ phi)
    current_gain = float(phi @ target) ** 2 / den if den > 0 else 0.0
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
        ``train_anls(start, X, y, sweeps=1)`` (the design's options).
    agrees : bool
        The trainer's first update is this neuron's, it was kept, and the neuron's new breakpoint and
        orientation are the search's chosen candidate (to :math:`10^{-12}`): the picture is what the
        trainer did.
    """

    start: ShallowReLU
    search: ThresholdSearch
    result: TrainResult
    agrees: bool

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
    result = train_anls(net, X, y, sweeps=1)
    ex = result.extra
    agrees = bool(ex["update_neuron"].size and ex["update_neuron"][0] == 0 and ex["update_accepted"][0])
    if agrees:
        w, b = float(result.net.W[0, 0]), float(result.net.b[0])
        tau = -b / w if w != 0 else math.nan
        scale = max(1.0, abs(search.tau))
        agrees = bool(int(np.sign(w)) == search.s and abs(tau - search.tau) <= 1e-12 * scale)
    return SweepAnatomy(start=net, search=search, result=result, agrees=agrees)


def showcase_plateau(rows: Sequence[PlateauRow]) -> PlateauRow:
    """The longest plateau (in steps) that gradient descent leaves and that does not start at step 0.

    Rows from :func:`~plateau_lib.studies.plateau_rows`; falls back to the longest of all if no plateau
    qualifies. Raises ValueError if ``rows`` is empty.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one plateau")
    eligible = [r for r in rows if r.exits and r.start > 0] or rows
    return max(eligible, key=lambda r: (r.end - r.start, -r.start))


#: ``anls-joint``: the joint gain, the fixed-pattern solve and up to 10 pair moves; thresholds: the exact
#: continuous optimum in 1-D, the data projections for d > 1 (measured on 4-10 seeds per problem: continuous
#: thresholds lowered the median 1-D loss by 20-40 %, data thresholds found exact fits of pyramid_2d that
#: continuous ones missed; pair moves lowered the median 1-D loss by 0-55 %).
ANLS_JOINT_1D = {"criterion": "joint", "thresholds": "continuous", "pattern_solve": True, "pair_moves": 10}
ANLS_JOINT_ND = {"criterion": "joint", "thresholds": "data", "pattern_solve": True, "pair_moves": 10}


def anls_joint_options(d: int) -> dict[str, Any]:
    """Options of ``anls-joint`` for input dimension ``d``."""
    return dict(ANLS_JOINT_1D if d == 1 else ANLS_JOINT_ND)


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
        ``train_anls(initial, ..., sweeps=sweeps, **options)``.
    plateaus : list of PlateauRow
        Gradient descent's plateaus (:func:`~plateau_lib.studies.plateau_rows`).
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
    anls = train_anls(net, X, y, sweeps=sweeps, **options)
    lb = segmentation_lower_bound(X, y, experiment.width + 1) if experiment.d == 1 else math.nan
    return GdVsAnls(experiment=name, seed=seed, initial=net, gd=gd, anls=anls,
                    plateaus=plateau_rows(gd, X, y, seed=seed), lower_bound=lb, options=dict(options))


# --------------------------------------------------------------------------- from a stationary point


@dataclass(frozen=True)
class AnlsFromStationary:
    r"""ANLS started where gradient descent comes to rest.

    Attributes
    ----------
    gd : TrainResult
        Gradient descent until :math:`\|\nabla L\|\le` ``gtol`` (or its budget).
    polish : PolishResult
        The exact polish of Chapter 3.
    start : ShallowReLU
        The polished network if the polish was accepted (an exact stationary point), else
        gradient descent's final network.
    stationary : bool
        Whether ``start`` is the exact stationary point.
    runs : dict of str to TrainResult
        ANLS from ``start``, one run per variant name.
    """

    gd: TrainResult
    polish: PolishResult
    start: ShallowReLU
    stationary: bool
    runs: dict[str, TrainResult]

    @property
    def start_loss(self) -> float:
        """Loss at the start of ANLS."""
        return float(next(iter(self.runs.values())).loss[0])


def anls_from_stationary(name: str = "plateau_1d", seed: int | None = None, *,
                         variants: Mapping[str, Mapping[str, Any]] | None = None, sweeps: int = SWEEPS,
                         steps: int = POLISH_DEMO.steps, gtol: float = POLISH_DEMO.gtol) -> AnlsFromStationary:
    """Gradient descent to a stationary point and its polish (Chapter 3's showcase), then ANLS from it.

    ``variants`` maps a name to ANLS options (default: ``{"anls": {}}``, the design's options).
    """
    experiment = get_experiment(name)
    seed = experiment.seed if seed is None else check_positive_int(seed, "seed", allow_zero=True)
    sweeps = check_positive_int(sweeps, "sweeps")
    variants = {"anls": {}} if variants is None else {str(k): dict(v) for k, v in variants.items()}
    if not variants:
        raise ValueError("variants must name at least one set of ANLS options")
    X, y = experiment.data()
    gd, polish = run_to_stationary_point(name, seed, steps=steps, gtol=gtol)
    start = polish.net if polish.accepted else gd.net
    runs = {k: train_anls(start, X, y, sweeps=sweeps, **v) for k, v in variants.items()}
    return AnlsFromStationary(gd=gd, polish=polish, start=start, stationary=bool(polish.accepted), runs=runs)


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
        out: dict[str, Any] = {}
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


def median_curves(doc: Mapping[str, Any], problem: str) -> dict[str, dict[str, FloatArray]]:
    """The benchmark's median (and quartile) best-loss-so-far curves of ``problem`` on its time grid, per method."""
    doc = check_benchmark(dict(doc))
    out = {}
    for c in doc["curves"]:
        if c["problem"] == problem:
            out[c["method"]] = {k: np.asarray(c[k], dtype=float)
                                for k in ("time", "loss_q25", "loss_median", "loss_q75")}
    if not out:
        raise ValueError(f"problem {problem!r} has no curves in the benchmark document")
    return out
