r"""Chapter 1's seed statistics (claims C1 and C2 over seeds): the plateaus of many runs, counted.

The settings (:class:`SeedStatistics`, the registered :data:`SEED_STATISTICS`); the plateau rows
(:func:`~plateau_lib.chapters.explanation_runs.plateau_rows`) of every seed of an experiment
(:func:`plateau_statistics`, the runs trained in stacks and in parallel); claim C1's count of the
runs with a drop (:func:`drop_counts`, :class:`DropCounts`; a drop is a fall by more than
:data:`C1_DROP_FACTOR`); claim C2's tally of the plateaus that keep their pattern
(:func:`pattern_counts`, :class:`PatternCounts`); and both over one experiment's seeds
(:func:`seed_study`, :class:`SeedStudy`). The numbers the prose quotes of them are in
:mod:`~plateau_lib.chapters.explanation_page`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

from .._validation import check_positive_int
from ..experiments import get_experiment, run_stacked
from ..parallel import ExecutorLike
from ..patterns import PLATEAU_SLOPE_TOL, PLATEAU_WINDOW
from ..sweeps import sweep_groups
from . import register_study
from .explanation_runs import PlateauRow, plateau_rows
from .page import rows_to_arrays

#: Factor by which the loss must fall after a plateau for the fall to count as the drop of
#: claim C1: more than the factor :math:`\rho^s` by which the loss may vary along a plateau
#: over one window of the detector. A smaller fall is one the detector could not tell from
#: the plateau going on (a stagnation split in two by a bump, or a last plateau that ends in a
#: slow drift). C1 names no size for the drop; the sizes measured are reported beside the count.
C1_DROP_FACTOR = PLATEAU_WINDOW**PLATEAU_SLOPE_TOL


@dataclass(frozen=True)
class SeedStatistics:
    """How many seeds Chapter 1 measures each experiment over (:func:`plateau_statistics`).

    Attributes
    ----------
    experiments : tuple of str
        Registered experiments.
    seeds, quick_seeds : tuple of int
        Number of seeds of each experiment in full and in quick mode (a 2-D run costs about
        ten 1-D runs, hence fewer 2-D seeds). Quick mode is the smoke test of continuous
        integration: it checks that every claim the chapter asserts of *every* run holds on
        fewer runs, not the rates.
    """

    experiments: tuple[str, ...] = ("plateau_1d", "plateau_2d")
    seeds: tuple[int, ...] = (20, 10)
    quick_seeds: tuple[int, ...] = (6, 2)

    def __post_init__(self) -> None:
        for name in self.experiments:
            get_experiment(name)
        if not len(self.experiments) == len(self.seeds) == len(self.quick_seeds):
            raise ValueError("experiments, seeds and quick_seeds must have one entry per experiment")
        for n in (*self.seeds, *self.quick_seeds):
            check_positive_int(n, "seeds")

    def seed_list(self, name: str, seed: int = 0, quick: bool = False) -> list[int]:
        """The seeds of experiment ``name``: ``seed, seed + 1, ...``, as many as the mode asks."""
        if name not in self.experiments:
            raise ValueError(f"name must be one of {self.experiments}, got {name!r}")
        k = self.experiments.index(name)
        return list(range(int(seed), int(seed) + (self.quick_seeds if quick else self.seeds)[k]))


#: Chapter 1's seed statistics, registered as the study ``plateau_seeds``.
SEED_STATISTICS = register_study("plateau_seeds", SeedStatistics())


def _seed_rows(items: list[tuple[str, int]], *, quick: bool) -> list[list[PlateauRow]]:
    """:func:`~plateau_lib.chapters.explanation_runs.plateau_rows` of the runs ``(name, seed)``, trained together
    (:func:`~plateau_lib.experiments.run_stacked`)."""
    runs = [(get_experiment(name), seed) for name, seed in items]
    results = run_stacked(runs, quick=quick)
    return [plateau_rows(result, *experiment.data(), seed=seed)
            for result, (experiment, seed) in zip(results, runs, strict=True)]


def plateau_statistics(
    name: str,
    seeds: Sequence[int],
    *,
    quick: bool = False,
    executor: ExecutorLike = 2,
    progress: bool = False,
) -> list[PlateauRow]:
    """:func:`~plateau_lib.chapters.explanation_runs.plateau_rows` of the experiment ``name`` for every seed, the
    runs trained in stacks (:func:`~plateau_lib.experiments.run_stacked`) through
    :func:`~plateau_lib.sweeps.sweep_groups`."""
    get_experiment(name)
    per_seed = sweep_groups(partial(_seed_rows, quick=quick), [(name, int(s)) for s in seeds], executor=executor,
                            progress=progress, desc=f"{name} seeds")
    return [row for rows in per_seed for row in rows]


@dataclass(frozen=True)
class DropCounts:
    """Claim C1 over runs: how many runs show a plateau followed by a sudden drop (:func:`drop_counts`).

    Attributes
    ----------
    n_runs : int
        Runs measured.
    factor : float
        The smallest drop factor that counts (:data:`C1_DROP_FACTOR` by default).
    with_drop : int
        Runs with at least one plateau followed by a drop by at least ``factor``: what C1
        claims of every run.
    with_several : int
        Runs with at least two such drops (the "possibly several times" of C1).
    most : int
        Largest number of such drops in one run.
    """

    n_runs: int
    factor: float
    with_drop: int
    with_several: int
    most: int


def drop_counts(rows: Sequence[PlateauRow], seeds: Sequence[int], *, factor: float = C1_DROP_FACTOR) -> DropCounts:
    """Count, for each seed, the plateaus followed by a drop by at least ``factor``.

    A run with no detected plateau counts as a run with no drop.
    """
    per_seed = {int(s): 0 for s in seeds}
    for r in rows:
        if r.exits and r.drop_factor >= factor:
            per_seed[r.seed] += 1
    counts = np.array(list(per_seed.values()), dtype=np.int64)
    return DropCounts(
        n_runs=len(counts), factor=float(factor), with_drop=int((counts >= 1).sum()),
        with_several=int((counts >= 2).sum()), most=int(counts.max(initial=0)),
    )


@dataclass(frozen=True)
class PatternCounts:
    r"""Claim C2 over runs: how many plateaus keep the pattern of their weight-carrying neurons.

    Plateaus followed by a drop and final stagnations (which last until the budget ends,
    so the run has not shown how they end) are counted apart; so are the plateaus with an
    empty set :math:`S` of weight-carrying neurons, whose pattern is constant by definition
    (the saddle of the zero network): only plateaus with :math:`S \ne \emptyset` are
    evidence for C2. Counts are integers; a rate is ``within / total``.

    Attributes
    ----------
    exit, exit_within : int
        Plateaus followed by a drop, and those of them with ``within``.
    exit_weighted, exit_weighted_within : int
        The same restricted to :math:`S \ne \emptyset`.
    exit_weighted_within_all : int
        Of the ``exit_weighted`` plateaus, those on which the pattern of *every* neuron is
        constant (``within_all``), weight or not: what a reading of C2 over all neurons counts.
    final, final_within : int
        Final stagnations, and those of them with ``within``.
    max_gap_exit, median_gap_exit, max_gap_final : float
        Largest and median ``|gap|`` over the plateaus followed by a drop; largest over the
        final stagnations (NaN when there are none).
    """

    exit: int
    exit_within: int
    exit_weighted: int
    exit_weighted_within: int
    exit_weighted_within_all: int
    final: int
    final_within: int
    max_gap_exit: float
    median_gap_exit: float
    max_gap_final: float


def _stat(values: NDArray[np.float64], fn) -> float:
    return float(fn(values)) if len(values) else float("nan")


def pattern_counts(rows: Sequence[PlateauRow]) -> PatternCounts:
    """Tally the C2 verdicts of plateau rows (e.g. of :func:`plateau_statistics`)."""
    exits = [r for r in rows if r.exits]
    weighted = [r for r in exits if r.n_significant > 0]
    final = [r for r in rows if not r.exits]
    gaps_exit = np.abs([r.gap for r in exits], dtype=np.float64)
    gaps_final = np.abs([r.gap for r in final], dtype=np.float64)
    return PatternCounts(
        exit=len(exits), exit_within=sum(r.within for r in exits),
        exit_weighted=len(weighted), exit_weighted_within=sum(r.within for r in weighted),
        exit_weighted_within_all=sum(r.within_all for r in weighted),
        final=len(final), final_within=sum(r.within for r in final),
        max_gap_exit=_stat(gaps_exit, np.max), median_gap_exit=_stat(gaps_exit, np.median),
        max_gap_final=_stat(gaps_final, np.max),
    )


@dataclass(frozen=True)
class SeedStudy:
    """Claims C1 and C2 over the seeds of one experiment (:func:`seed_study`).

    Attributes
    ----------
    name : str
        The experiment.
    seeds : tuple of int
        The seeds run.
    rows : tuple of PlateauRow
        Every detected plateau of every seed (:func:`plateau_statistics`).
    drops : DropCounts
        C1 over the seeds (:func:`drop_counts`).
    patterns : PatternCounts
        C2 over the plateaus (:func:`pattern_counts`).
    """

    name: str
    seeds: tuple[int, ...]
    rows: tuple[PlateauRow, ...]
    drops: DropCounts
    patterns: PatternCounts

    @property
    def arrays(self) -> dict[str, NDArray]:
        """The columns of :attr:`rows` (:func:`~plateau_lib.chapters.page.rows_to_arrays`)."""
        return rows_to_arrays(self.rows)

    @property
    def exceptions(self) -> list[tuple[int, float, float]]:
        """``(seed, start, end)`` of every plateau followed by a drop that does not keep its pattern."""
        return [(r.seed, r.start, r.end) for r in self.rows if r.exits and not r.within]


def seed_study(
    name: str,
    seed: int = 0,
    *,
    quick: bool = False,
    settings: SeedStatistics = SEED_STATISTICS,
    executor: ExecutorLike = 2,
) -> SeedStudy:
    """Run experiment ``name`` over the seeds of ``settings`` from ``seed`` on and count C1 and C2.

    The seeds are ``settings.seed_list(name, seed, quick)``; every run is measured by
    :func:`plateau_statistics` (in parallel through :func:`~plateau_lib.sweeps.sweep`), then
    tallied by :func:`drop_counts` and :func:`pattern_counts`.
    """
    if not isinstance(settings, SeedStatistics):
        raise TypeError(f"settings must be a SeedStatistics, got {type(settings).__name__}")
    seeds = settings.seed_list(name, seed, quick)
    rows = plateau_statistics(name, seeds, quick=quick, executor=executor)
    return SeedStudy(name, tuple(seeds), tuple(rows), drop_counts(rows, seeds), pattern_counts(rows))
