r"""Chapter 1's runs (claims C1 and C2 on one run): the plateaus of a run, each measured against its pattern.

A run of a registered experiment (:mod:`plateau_lib.experiments`) analysed with
:mod:`plateau_lib.patterns` and :mod:`plateau_lib.theory`: its plateaus, each with the neurons
that carry weight on it (:func:`carrying_neurons`), the changes of their pattern inside it
(:func:`weighted_changes`) and its median loss against :math:`L^*(D, S)` of its pattern
(:func:`plateau_rows`, one :class:`PlateauRow` a plateau, to the detector's resolution
:data:`PLATEAU_LEVEL_RESOLUTION`); the level of each constant-pattern segment
(:func:`segment_levels`); a run with its rows and segments (:func:`measure_run`,
:class:`ExperimentRun`) and what the page shows of it (:func:`plateau_table`,
:func:`describe_plateaus`, :func:`exception_sentence`, :func:`plateau_snapshots`,
:func:`leading_neurons`). The same rows over many seeds are counted in
:mod:`~plateau_lib.chapters.explanation_seeds`; the numbers the prose quotes are in
:mod:`~plateau_lib.chapters.explanation_page`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .._validation import check_positive_int
from ..experiments import Experiment
from ..network import ShallowReLU, activation_pattern
from ..patterns import (
    EDGE_TOL,
    PLATEAU_SLOPE_TOL,
    PLATEAU_WINDOW,
    Plateau,
    Segment,
    debounce_flips,
    default_min_dwell,
    match_plateaus,
    nearest_record,
    pattern_segments,
    plateau_index,
    relate,
)
from ..result import TrainResult
from ..theory import (
    SIGNIFICANCE_RTOL,
    local_ls_level,
    lstar_of_network,
    neuron_contributions,
    significant_neurons,
)
from .page import rows_to_arrays
from .tables import markdown_table

#: Largest relative distance between a plateau's median loss and its pattern's level
#: :math:`L^*(D, S)` that the plateau detector can resolve: it accepts a stretch as flat
#: when the loss varies by less than the factor :math:`\rho^s` over each window of a factor
#: :math:`\rho` in time (:func:`~plateau_lib.patterns.detect_plateaus` defaults
#: ``PLATEAU_WINDOW`` and ``PLATEAU_SLOPE_TOL`` of :mod:`plateau_lib.patterns`:
#: a factor :math:`2^{0.1}` per doubling), so a plateau's median may sit up to
#: :math:`\rho^s - 1` (about 7.2%) away from the level it converges to.
PLATEAU_LEVEL_RESOLUTION = PLATEAU_WINDOW**PLATEAU_SLOPE_TOL - 1


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
        :math:`L^*(D, S)` of the pattern :math:`D` at the plateau's middle, with :math:`S`
        the neurons that carry weight on the plateau (:func:`carrying_neurons`).
    gap : float
        ``(level - lstar) / level``.
    n_significant : int
        :math:`|S|` (:func:`carrying_neurons`).
    within : bool
        Claim C2's verdict on this plateau: the filtered pattern of the weight-carrying
        neurons is constant on its interior, ``weighted_changes == 0``. A neuron that grows
        out of the saddle during the plateau (C2's other way for a plateau to end) does not
        break it; one that carries weight and changes its pattern does.
    within_all : bool
        The plateau lies within one constant-pattern segment of the filtered pattern of
        every neuron (:func:`~plateau_lib.patterns.relate`), weight or not.
    coverage : float
        Fraction of the plateau covered by its main segment (neurons significant at its
        middle, :func:`~plateau_lib.patterns.match_plateaus`).
    raw_changes : int
        Raw pattern changes inside the plateau (all neurons, unfiltered).
    filtered_changes : int
        Filtered pattern changes inside the plateau of the neurons significant at its
        middle (:func:`~plateau_lib.patterns.match_plateaus`), ends included.
    exits : bool
        The loss leaves the plateau before the run ends (the plateau is followed by a
        drop), as opposed to a final stagnation that lasts until the budget runs out.
    index : int
        Index of the recorded step nearest the plateau's middle (``result.net_at(index)``).
    weighted_changes : int
        Filtered pattern changes in the plateau's interior made by a neuron that carries
        weight from the interior's start to the step of the change (:func:`weighted_changes`).
    drop_factor : float
        The plateau's level over the next plateau's level, or over the final loss after the
        last plateau: the factor of the drop that follows it (about 1 for a final stagnation).
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
    weighted_changes: int
    drop_factor: float


def carrying_neurons(
    result: TrainResult,
    X: NDArray,
    y: NDArray,
    plateau: Plateau,
    *,
    rel_tol: float = SIGNIFICANCE_RTOL,
    edge_tol: float = EDGE_TOL,
) -> list[int]:
    """The neurons that carry weight on a plateau: significant at the first recorded step of its interior.

    The interior begins after the outer ``edge_tol`` share of the plateau
    (:func:`~plateau_lib.patterns.relate`), once the loss has settled on the plateau; the
    neurons are :func:`~plateau_lib.theory.significant_neurons` (``rel_tol``) of the network
    recorded there. A neuron that starts to grow later in the plateau is not among them
    (see :func:`weighted_changes`).
    """
    lo = plateau.start + edge_tol * plateau.length
    first = min(int(np.searchsorted(result.steps, lo, side="right")), len(result.steps) - 1)
    return significant_neurons(result.net_at(first), X, y, rel_tol)


def weighted_changes(
    result: TrainResult,
    X: NDArray,
    y: NDArray,
    plateau: Plateau,
    *,
    min_dwell: int | None = None,
    rel_tol: float = SIGNIFICANCE_RTOL,
    edge_tol: float = EDGE_TOL,
) -> NDArray[np.int64]:
    r"""Steps in a plateau's interior at which a weight-carrying neuron's filtered pattern changes.

    Claim C2 has two clauses: during a plateau the pattern does not change, and a plateau
    ends when the pattern changes *or when a neuron that carried no weight starts to grow*.
    The interior of the plateau is ``start + edge_tol * length < s <= end - edge_tol * length``
    (the margin of :func:`~plateau_lib.patterns.relate`), and the neurons that carry weight
    on the plateau are those of :func:`~plateau_lib.theory.significant_neurons` (``rel_tol``)
    at the first recorded step of the interior. A filtered change
    (:func:`~plateau_lib.patterns.debounce_flips`, ``min_dwell`` as in
    :func:`~plateau_lib.patterns.pattern_segments`) of entry :math:`D_{ij}` at an interior
    step ``s`` contradicts the first clause when neuron ``j`` carried weight at the start of
    the interior and still does at ``s`` (network recorded nearest ``s``).

    A neuron that carried no weight when the interior began and grows during it is the
    second clause at work: the plateau is ending, and its breakpoint moves as it grows.
    The detector dates a plateau's end to the last point of its last flat window
    (:func:`~plateau_lib.patterns.detect_plateaus`), up to a doubling of time after the
    growth began, so such a neuron's changes fall inside the detected plateau; they are
    not counted. A neuron whose pattern changes while it carries weight throughout is.

    Returns
    -------
    ndarray of int
        Sorted distinct steps (empty when the pattern of the weight-carrying neurons is
        constant on the interior).
    """
    last = int(result.steps[-1])
    dwell = default_min_dwell(last) if min_dwell is None else min_dwell
    flips = debounce_flips(result.flips, last_step=last, min_dwell=dwell)
    margin = edge_tol * plateau.length
    lo, hi = plateau.start + margin, plateau.end - margin
    start_set = carrying_neurons(result, X, y, plateau, rel_tol=rel_tol, edge_tol=edge_tol)
    inner = flips[(flips[:, 0] > lo) & (flips[:, 0] <= hi) & np.isin(flips[:, 2], start_set)]
    carrying: dict[int, set[int]] = {}
    steps = []
    for step, _, j in inner:
        k = nearest_record(result, float(step))
        if k not in carrying:
            carrying[k] = set(significant_neurons(result.net_at(k), X, y, rel_tol))
        if int(j) in carrying[k]:
            steps.append(int(step))
    return np.unique(np.array(steps, dtype=np.int64))


def plateau_rows(result: TrainResult, X: NDArray, y: NDArray, *, seed: int = 0) -> list[PlateauRow]:
    r"""Detect the plateaus of ``result`` and measure each against its pattern.

    For every plateau of :func:`~plateau_lib.patterns.match_plateaus` (default rules), the
    pattern :math:`D` is read at its middle step, the weight-carrying neurons :math:`S` at the start of
    its interior (:func:`carrying_neurons`), and the plateau's median loss is compared with
    :math:`L^*(D,S) = \frac1{2m}\|(I-P)y\|^2`.
    """
    all_segments = pattern_segments(result)
    last = result.steps[-1]
    matches = match_plateaus(result, X, y)
    after = [float(m.plateau.level) for m in matches[1:]] + [float(result.final_loss)]
    rows = []
    for match, next_level in zip(matches, after, strict=True):
        p = match.plateau
        index = plateau_index(result, p)
        carrying = carrying_neurons(result, X, y, p)
        lstar = local_ls_level(X, y, activation_pattern(result.net_at(index), X), carrying)
        (match_all,) = relate([p], all_segments)
        changes = len(weighted_changes(result, X, y, p))
        rows.append(PlateauRow(
            seed=seed, start=float(p.start), end=float(p.end), level=float(p.level), lstar=lstar,
            gap=(p.level - lstar) / p.level, n_significant=len(carrying),
            within=changes == 0, within_all=bool(match_all.within), coverage=float(match.coverage),
            raw_changes=int(match.raw_changes_inside or 0), filtered_changes=int(match.changes_inside),
            exits=bool(p.end < last), index=index, weighted_changes=changes,
            drop_factor=float(p.level) / next_level,
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


def exception_sentence(rows: Sequence[PlateauRow], name: str) -> str:
    """One plain-text sentence on the first plateau of a run that does not keep its pattern.

    For the prose (glued as text, so no markup): it names the plateau's steps, median loss,
    :math:`L^*(D,S)` and the number of changes of the weight-carrying neurons' pattern
    inside it, or says that every plateau of the run ``name`` keeps its pattern.
    """
    bad = [r for r in rows if not r.within]
    if not bad:
        return f"On this run of {name} every detected plateau keeps the pattern of its weight-carrying neurons."
    r = bad[0]
    kind = "followed by a drop" if r.exits else "a final stagnation"
    return (f"On this run of {name}, {len(bad)} of {len(rows)} plateaus do not: the first, from step "
            f"{r.start:.0f} to {r.end:.0f} ({kind}), stagnates at a median loss of {r.level:.4f} while "
            f"L*(D, S) of its pattern is {r.lstar:.4f}, and the pattern of its {r.n_significant} "
            f"weight-carrying neurons changes {r.weighted_changes} times inside it.")


# --------------------------------------------------------------------------- the chapter's runs


@dataclass(frozen=True)
class ExperimentRun:
    """One run of a registered experiment with its plateaus and constant-pattern segments.

    Built by :func:`measure_run`; the chapter draws, prints and glues from it.

    Attributes
    ----------
    experiment : Experiment
        The registered experiment (:func:`~plateau_lib.experiments.get_experiment`).
    X, y : ndarray
        Its data set (:meth:`~plateau_lib.experiments.Experiment.data`).
    result : TrainResult
        The completed training run.
    rows : tuple of PlateauRow
        Its detected plateaus (:func:`plateau_rows`).
    segments : tuple of Segment
        Constant-pattern segments of the filtered pattern of every neuron
        (:func:`~plateau_lib.patterns.pattern_segments`).
    """

    experiment: Experiment
    X: NDArray[np.float64]
    y: NDArray[np.float64]
    result: TrainResult
    rows: tuple[PlateauRow, ...]
    segments: tuple[Segment, ...]

    @property
    def recorded(self) -> NDArray[np.bool_]:
        """Mask of the run's recorded steps that lie on the experiment's recording stride."""
        return self.result.steps % self.experiment.record_every == 0

    @property
    def recorded_steps(self) -> NDArray:
        """The steps of :attr:`recorded`."""
        return self.result.steps[self.recorded]

    @property
    def recorded_loss(self) -> NDArray[np.float64]:
        """The loss at the steps of :attr:`recorded`."""
        return self.result.loss[self.recorded]

    @property
    def recorded_counts(self) -> NDArray:
        """The activation counts :math:`a_j` at the steps of :attr:`recorded`, shape (steps, n)."""
        return self.result.counts[self.recorded]

    @property
    def segment_starts(self) -> NDArray:
        """First step of each constant-pattern segment."""
        return np.array([s.start for s in self.segments])

    def plateau_arrays(self, prefix: str = "plateau_") -> dict[str, NDArray]:
        """The columns of :attr:`rows` (:func:`~plateau_lib.chapters.page.rows_to_arrays`), each key prefixed by
        ``prefix``."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
        return {f"{prefix}{k}": v for k, v in rows_to_arrays(self.rows).items()}


def measure_run(experiment: Experiment, result: TrainResult, *, seed: int) -> ExperimentRun:
    """Detect and measure the plateaus of a completed run of ``experiment`` (:func:`plateau_rows`).

    Parameters
    ----------
    experiment : Experiment
        The experiment that produced ``result`` (its data are measured against).
    result : TrainResult
        A completed run (``result.completed``).
    seed : int
        Seed of the run, recorded in each :class:`PlateauRow`.

    Raises
    ------
    TypeError
        If ``experiment`` is not an :class:`~plateau_lib.experiments.Experiment`.
    ValueError
        If ``result`` did not complete (its message says why).
    """
    if not isinstance(experiment, Experiment):
        raise TypeError(f"experiment must be an Experiment, got {type(experiment).__name__}")
    if not result.completed:
        raise ValueError(f"result must be a completed run, got one that stopped: {result.message}")
    X, y = experiment.data()
    rows = plateau_rows(result, X, y, seed=seed)
    return ExperimentRun(experiment, X, y, result, tuple(rows), tuple(pattern_segments(result)))


def plateau_table(rows: Sequence[PlateauRow]) -> str:
    """A Markdown table of plateaus: steps, median loss, :math:`L^*(D,S)`, :math:`|S|`, changes, verdicts."""
    header = ["plateau (steps)", "median loss", "$L^*(D,S)$", "$\\lvert S\\rvert$", "raw changes inside",
              "changes of $S$ inside", "constant ($S$)", "constant (all neurons)"]
    return markdown_table(header, "l" * 8, (
        [f"{r.start:.0f} to {r.end:.0f}", f"{r.level:.5f}", f"{r.lstar:.5f}", r.n_significant, r.raw_changes,
         r.weighted_changes, "yes" if r.within else "no", "yes" if r.within_all else "no"] for r in rows))


def describe_plateaus(rows: Sequence[PlateauRow]) -> str:
    """One indented line per plateau: its steps, level, :math:`L^*(D,S)`, :math:`|S|` and C2 verdict."""
    return "\n".join(
        f"  plateau {r.start:.0f}-{r.end:.0f}: level {r.level:.5f}, "
        f"L*(D,S) {r.lstar:.5f}, |S| = {r.n_significant}, "
        f"changes of S inside {r.weighted_changes}, constant: {r.within}"
        for r in rows
    )


def plateau_snapshots(
    run: ExperimentRun, *, start: bool = True, steps: bool = True
) -> tuple[list[ShallowReLU], list[str]]:
    """The network on each plateau of a run (at its middle), at the end, and optionally at the start.

    Parameters
    ----------
    run : ExperimentRun
        The run (:func:`measure_run`).
    start : bool
        Put the initial network first (title ``"start"``).
    steps : bool
        Name each plateau's step in its title (``"plateau 2 (step 350)"``, else ``"plateau 2"``).

    Returns
    -------
    nets : list of ShallowReLU
        The networks, in order of time; the last is the final network (title ``"end"``).
    titles : list of str
        One title per network.
    """
    result, rows = run.result, run.rows
    nets = [result.net_at(r.index) for r in rows] + [result.net]
    titles = [f"plateau {k + 1}" + (f" (step {int((r.start + r.end) / 2)})" if steps else "")
              for k, r in enumerate(rows)] + ["end"]
    if start:
        nets, titles = [result.net_at(0), *nets], ["start", *titles]
    return nets, titles


def leading_neurons(net: ShallowReLU, X: NDArray, k: int = 4) -> list[int]:
    """The ``k`` neurons whose output is largest on the data (RMS, :func:`~plateau_lib.theory.neuron_contributions`),
    largest first: the few a figure of many neurons' counts draws in colour."""
    k = check_positive_int(k, "k")
    return [int(j) for j in np.argsort(-neuron_contributions(net, X), kind="stable")[:k]]
