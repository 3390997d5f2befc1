"""Studies behind the chapters: a named experiment in, tables of measured numbers out.

A chapter cell calls one function here with an experiment's name; the function runs
the experiment (through :mod:`plateau_lib.experiments`), analyses the run with
:mod:`plateau_lib.patterns` and :mod:`plateau_lib.theory`, and returns plain rows that
the chapter plots, asserts on and glues into its prose.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, fields

import numpy as np
from numpy.typing import NDArray

from .experiments import get_experiment
from .patterns import Segment, match_plateaus, nearest_record, pattern_segments, plateau_index, relate
from .result import TrainResult
from .sweeps import sweep
from .theory import lstar_of_network

#: Largest relative distance between a plateau's median loss and its pattern's level
#: :math:`L^*(D, S)` that the plateau detector can resolve: it accepts a stretch as flat
#: when the loss varies by less than a factor ``2**0.1`` over each doubling of time
#: (:func:`~plateau_lib.patterns.detect_plateaus` defaults), so a plateau's median may sit
#: up to ``2**0.1 - 1`` (about 7.2%) away from the level it converges to.
PLATEAU_LEVEL_RESOLUTION = 2**0.1 - 1


@dataclass(frozen=True)
class PlateauRow:
    """One detected plateau of one run, with its pattern bookkeeping and its level.

    Attributes
    ----------
    seed : int
        Seed of the run.
    start, end : float
        First and last recorded step of the plateau.
    level : float
        Median loss on the plateau.
    lstar : float
        :math:`L^*(D, S)` of the pattern at the plateau's middle, with :math:`S` the
        neurons that carry weight there (:func:`~plateau_lib.theory.significant_neurons`).
    gap : float
        ``(level - lstar) / level``.
    n_significant : int
        :math:`|S|`.
    within : bool
        The plateau lies within one constant-pattern segment of the filtered pattern
        of the neurons in :math:`S` (:func:`~plateau_lib.patterns.match_plateaus`).
    within_all : bool
        The same with every neuron's pattern column.
    coverage : float
        Fraction of the plateau covered by its main segment (neurons in :math:`S`).
    raw_changes : int
        Raw pattern changes inside the plateau (all neurons, unfiltered).
    filtered_changes : int
        Filtered pattern changes inside the plateau (neurons in :math:`S`).
    exits : bool
        The loss leaves the plateau before the run ends (the plateau is followed by a
        drop), as opposed to a final stagnation that lasts until the budget runs out.
    index : int
        Index of the recorded step nearest the plateau's middle (``result.net_at(index)``).
    """

    seed: int
    start: float
    end: float
    level: float
    lstar: float
    gap: float
    n_significant: int
    within: bool
    within_all: bool
    coverage: float
    raw_changes: int
    filtered_changes: int
    exits: bool
    index: int


def plateau_rows(result: TrainResult, X: NDArray, y: NDArray, *, seed: int = 0) -> list[PlateauRow]:
    r"""Detect the plateaus of ``result`` and measure each against its pattern.

    For every plateau of :func:`~plateau_lib.patterns.match_plateaus` (default rules), the
    pattern :math:`D` and the weight-carrying neurons :math:`S` are read at its middle step,
    and the plateau's median loss is compared with :math:`L^*(D,S) = \frac1{2m}\|(I-P)y\|^2`.
    """
    all_segments = pattern_segments(result)
    last = result.steps[-1]
    rows = []
    for match in match_plateaus(result, X, y):
        p = match.plateau
        index = plateau_index(result, p)
        net = result.net_at(index)
        lstar = lstar_of_network(net, X, y)
        (match_all,) = relate([p], all_segments)
        rows.append(PlateauRow(
            seed=seed, start=float(p.start), end=float(p.end), level=float(p.level), lstar=lstar,
            gap=(p.level - lstar) / p.level, n_significant=len(match.neurons or ()),
            within=bool(match.within), within_all=bool(match_all.within), coverage=float(match.coverage),
            raw_changes=int(match.raw_changes_inside or 0), filtered_changes=int(match.changes_inside),
            exits=bool(p.end < last), index=index,
        ))
    return rows


def segment_levels(result: TrainResult, X: NDArray, y: NDArray, segments: Sequence[Segment]) -> NDArray[np.float64]:
    r"""The level :math:`L^*(D, S)` of each constant-pattern segment of a run.

    For each segment ``[start, end)`` (e.g. of :func:`~plateau_lib.patterns.pattern_segments`)
    the network recorded nearest its middle step gives the pattern :math:`D` and the
    weight-carrying neurons :math:`S` (:func:`~plateau_lib.theory.lstar_of_network`). This is
    the loss the run would settle at if the pattern stayed as it is (claim C2): on a plateau
    the loss sits on its segment's level.

    Returns
    -------
    ndarray, shape (len(segments), 3)
        Rows ``(start, end, L*)``.
    """
    rows = np.empty((len(segments), 3))
    for k, seg in enumerate(segments):
        net = result.net_at(nearest_record(result, (seg.start + seg.end - 1) / 2))
        rows[k] = seg.start, seg.end, lstar_of_network(net, X, y)
    return rows


def _seed_rows(args: tuple[str, int, bool]) -> list[PlateauRow]:
    name, seed, quick = args
    experiment = get_experiment(name)
    X, y = experiment.data()
    return plateau_rows(experiment.run(seed, quick=quick), X, y, seed=seed)


def plateau_statistics(
    name: str,
    seeds: Sequence[int],
    *,
    quick: bool = False,
    executor: Executor | None = None,
    progress: bool = False,
) -> list[PlateauRow]:
    """:func:`plateau_rows` of the experiment ``name`` for every seed, through :func:`~plateau_lib.sweeps.sweep`."""
    get_experiment(name)
    per_seed = sweep(_seed_rows, [(name, int(s), quick) for s in seeds], executor=executor,
                     progress=progress, desc=f"{name} seeds")
    return [row for rows in per_seed for row in rows]


def rows_to_arrays(rows: Sequence) -> dict[str, NDArray]:
    """Columns of a list of dataclass rows as arrays (for saving beside a figure)."""
    if not rows:
        return {}
    names = [f.name for f in fields(rows[0])]
    return {name: np.array([asdict(r)[name] for r in rows]) for name in names}
