r"""Chapter 3's stationary points cell by cell: the examples of its figures, chosen by stated rules.

An accepted polish shown cell by cell (:func:`cell_example`, :class:`CellExample`: which cells
fact 4 determines and how far the network is from each cell's least-squares fit), the examples
taken from a catalogue by a rule (:func:`find_example`, :func:`most_cells_example`), the checks over
examples (:func:`worst_determined_deviation`, :func:`orientation_rule_agrees`) and the page's
sentences and numbers (:func:`describe_cells_1d`, :func:`describe_cell_fits`,
:func:`example_values`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_float_array
from ..network import ShallowReLU, check_problem
from ..stationarity import (
    FloatArray,
    PatternCell,
    PolishResult,
    cell_labels,
    check_net_1d,
    pattern_cells,
    predicted_undetermined_1d,
)
from ..sweeps import SeedSearch
from ..theory import cells_1d, check_neuron_set
from .stationary_catalogue import (
    CatalogueRow,
    CatalogueSettings,
    run_to_stationary_point,
    search_past_catalogue,
)
from .stationary_showcase import SHOWCASE_TRIES


def describe_cells_1d(net: ShallowReLU, X: ArrayLike, y: ArrayLike, S: Iterable[int] | None = None) -> str:
    r"""A sentence (Markdown) on a 1-D stationary point: which cells fact 4 determines, and why.

    Continues "*k* of the *n* weight-carrying neurons face left, and ...". It names the reason
    (a neuron active on all data, two opposite orientations at one gap, or neither: then the
    orientation rule of :func:`~plateau_lib.stationarity.undetermined_cells_1d` leaves some cells
    undetermined), and gives
    the largest difference between the network and a determined cell's least-squares line and
    the range of differences on the undetermined cells, relative to :math:`\max_i|y_i|`.
    """
    net = check_net_1d(net)
    net, X, y = check_problem(net, X, y)
    S = sorted(check_neuron_set(S, net.n)) if S is not None else [int(j) for j in np.flatnonzero(net.c != 0)]
    cells = pattern_cells(net, X, y, S)
    scale = float(np.max(np.abs(y))) or 1.0
    det = [c.deviation / scale for c in cells if c.determined]
    und = [c.deviation / scale for c in cells if not c.determined]
    n_full = int(np.sum((net.preactivations(X)[:, S] > 0).all(axis=0)))
    if n_full:
        text = (f"{n_full} of them break beyond the data, so they are active on all of it and their indicator is "
                f"$\\mathbb 1$: all {len(cells)} cells are determined")
    elif not und:
        text = f"two of them break at one gap facing opposite ways: all {len(cells)} cells are determined"
    else:
        text = (f"none is active on all data and no two break at one gap facing opposite ways: "
                f"{len(det)} of its {len(cells)} cells are determined")
    if det:
        text += (", and on each determined cell the network *is* the cell's regression line (largest difference "
                 f"{max(det):.1e}, relative to $\\max|y|$)")
    if und:
        text += (f"; on the {len(und)} undetermined ones it differs from the cell's regression line by "
                 f"{min(und):.2f} to {max(und):.2f}")
    return text + "."


def describe_cell_fits(cells: Sequence[PatternCell], y: ArrayLike) -> str:
    r"""A sentence (Markdown) on how a stationary point compares with each cell's least-squares fit.

    Continues "In the example (*k* cells) ...": how many cells fact 4 determines, the largest
    difference between the network and a determined cell's fit, and the range of differences
    on the undetermined cells, all relative to :math:`\max_i|y_i|`.
    """
    y = as_float_array(y, "y", 1)
    cells = list(cells)
    if not cells:
        raise ValueError("cells must not be empty")
    scale = float(np.max(np.abs(y))) or 1.0
    det = [c.deviation / scale for c in cells if c.determined]
    und = [c.deviation / scale for c in cells if not c.determined]
    parts = []
    if det:
        parts.append(f"{len(det)} of the cells {'is' if len(det) == 1 else 'are'} determined, and on "
                     f"{'it' if len(det) == 1 else 'each'} the network is the cell's least-squares fit "
                     f"(to {max(det):.1e} relative to $\\max|y|$)")
    else:
        parts.append("no cell is determined")
    if und:
        parts.append(f"on {'every' if not det else 'each undetermined'} cell the network differs from the cell's "
                     f"own least-squares fit, by {min(und):.1e} to {max(und):.1e} relative to $\\max|y|$")
    return "; ".join(parts) + "."


@dataclass(frozen=True)
class CellExample:
    r"""A polished stationary point shown cell by cell (:func:`cell_example`).

    Attributes
    ----------
    title : str
        How the chapter names it (a figure title).
    net : ShallowReLU
        The stationary point.
    neurons : tuple of int
        :math:`S`, its weight-carrying neurons.
    cells : tuple of PatternCell
        :func:`~plateau_lib.stationarity.pattern_cells` of ``net`` on :math:`S`.
    X, y : ndarray
        The data.
    """

    title: str
    net: ShallowReLU
    neurons: tuple[int, ...]
    cells: tuple[PatternCell, ...]
    X: FloatArray
    y: FloatArray

    @property
    def loss(self) -> float:
        """The network's loss on the data."""
        return float(np.mean((self.net(self.X) - self.y) ** 2) / 2)

    @property
    def n_determined(self) -> int:
        """How many cells fact 4 determines."""
        return sum(c.determined for c in self.cells)

    @property
    def y_scale(self) -> float:
        r""":math:`\max_i |y_i|`, the scale of the relative deviations."""
        return np.max(np.abs(self.y))

    @property
    def outputs(self) -> FloatArray:
        """The network's outputs on the data."""
        return self.net(self.X)

    @property
    def labels(self) -> NDArray[np.int64]:
        """Cell index of every data point (:func:`~plateau_lib.stationarity.cell_labels`)."""
        return cell_labels(self.cells, len(self.y))

    @property
    def determined(self) -> NDArray[np.bool_]:
        """Whether fact 4 determines each cell."""
        return np.array([c.determined for c in self.cells])

    @property
    def ls_coefs(self) -> FloatArray:
        """Each cell's least-squares affine coefficients, shape (cells, d + 1)."""
        return np.array([c.ls_coef for c in self.cells])

    @property
    def deviations(self) -> FloatArray:
        """Each cell's largest difference between the network and the cell's least-squares fit."""
        return np.array([c.deviation for c in self.cells])

    @property
    def relative_deviations(self) -> FloatArray:
        """:attr:`deviations` over :attr:`y_scale`."""
        return self.deviations / self.y_scale

    @property
    def determined_deviations(self) -> list[float]:
        """The relative deviations of the determined cells (zero up to round-off by fact 4)."""
        return [c.deviation / self.y_scale for c in self.cells if c.determined]

    @property
    def moments(self) -> FloatArray:
        r"""Each cell's residual moments :math:`\rho_C`, shape (cells, d + 1)."""
        return np.array([c.moment for c in self.cells])

    @property
    def moment_scale(self) -> float:
        r""":math:`\mathrm{rms}(y)\,\mathrm{rms}_i\|\tilde x_i\|`, the scale of the relative moments."""
        Xt = np.column_stack([self.X, np.ones(len(self.y))])
        return float(np.sqrt(np.mean(self.y**2)) * np.sqrt(np.mean(np.sum(Xt**2, 1))))

    def relative_moment_sums(self) -> list[float]:
        r""":math:`\|R_j\| = \|\sum_{C\subseteq A_j}\rho_C\|` of each neuron of :math:`S`, over :attr:`moment_scale`."""
        scale = self.moment_scale
        return [float(np.linalg.norm(sum(c.moment for c in self.cells if j in c.active))) / scale
                for j in self.neurons]

    def _check_1d(self) -> None:
        if self.X.shape[1] != 1:
            raise ValueError(f"this needs a 1-D example, got data of dimension {self.X.shape[1]}")

    def rule_agrees(self) -> bool:
        """1-D: the orientation rule (:func:`~plateau_lib.stationarity.predicted_undetermined_1d`) names
        exactly the cells the span test leaves undetermined."""
        self._check_1d()
        predicted = set(predicted_undetermined_1d(self.net, self.X, list(self.neurons)))
        return predicted == {k for k, c in enumerate(self.cells) if not c.determined}

    def interval_deviations(self) -> list[float]:
        """1-D: sorted deviations from the least-squares line on the intervals between breakpoints
        (:func:`~plateau_lib.theory.cells_1d`) that hold more than one point."""
        self._check_1d()
        return sorted(c.ls_deviation for c in cells_1d(self.net, self.X, self.y, list(self.neurons)) if c.size > 1)

    def cell_deviations(self) -> list[float]:
        """Sorted deviations of the cells that hold more than one point (equal to
        :meth:`interval_deviations` in 1-D: the cells are the intervals that hold data)."""
        return sorted(c.deviation for c in self.cells if c.size > 1)

    def describe_1d(self) -> str:
        """1-D: the loss, then one line per cell: its interval, active neurons, verdict and deviation."""
        self._check_1d()
        lines = [f"{self.title}: loss {self.loss:.6f}, {len(self.cells)} cells"]
        for k, c in enumerate(self.cells):
            lo, hi = self.X[c.indices[0], 0], self.X[c.indices[-1], 0]
            lines.append(f"  cell {k}: x in [{lo:+.2f}, {hi:+.2f}], "
                         f"active {c.active}, determined {c.determined} "
                         f"(span error {c.span_error:.1e}), |N - LS line| <= {c.deviation:.2e}")
        return "\n".join(lines)


def cell_example(title: str, polish: PolishResult, X: ArrayLike, y: ArrayLike) -> CellExample:
    """The cells (:func:`~plateau_lib.stationarity.pattern_cells`) of an accepted polish on the data ``(X, y)``.

    Raises
    ------
    ValueError
        If ``polish`` was not accepted (its network is then no stationary point).
    """
    if not isinstance(polish, PolishResult):
        raise TypeError(f"polish must be a PolishResult, got {type(polish).__name__}")
    if not polish.accepted:
        raise ValueError(f"polish must be accepted, got one that was not: {polish.message}")
    net, X, y = check_problem(polish.net, X, y)
    neurons = list(polish.neurons)
    cells = pattern_cells(net, X, y, neurons)
    return CellExample(str(title), net, tuple(neurons), tuple(cells), X, y)


#: The rule by which Chapter 3 picks its 2-D example from the catalogue (:func:`most_cells_example`).
MOST_CELLS_RULE = "polished, with the most cells (ties: the smaller width, then the smaller seed)"


@dataclass(frozen=True)
class ChosenExample:
    """A stationary point chosen by a stated rule (:func:`most_cells_example`).

    Attributes
    ----------
    rule : str
        The rule, in words.
    width, seed : int
        The run's width and seed.
    polish : PolishResult
        The polish of the run.
    search : SeedSearch or None
        The seed search, when no run of the catalogue qualified (``None`` otherwise).
    """

    rule: str
    width: int
    seed: int
    polish: PolishResult
    search: SeedSearch | None = None

    def describe(self) -> str:
        """How the example was chosen: the rule, and the search if there was one."""
        if self.search is None:
            return f"example: the catalogue's run {self.rule}"
        return f"example: {self.rule}\n{self.search.describe()}"


def most_cells_example(
    rows: Sequence[CatalogueRow], settings: CatalogueSettings, *, seed: int = 0, quick: bool = False
) -> ChosenExample:
    """The catalogue's polished run with the most cells (:data:`MOST_CELLS_RULE`), run again.

    ``rows`` is :func:`~plateau_lib.chapters.stationary_catalogue.stationary_catalogue` of
    ``settings`` (``seed``, ``quick``). Only runs with more than one cell qualify. If none does, the
    seeds after the catalogue's (``seed + settings.n_seeds(quick)`` on, at most
    :data:`~plateau_lib.chapters.stationary_showcase.SHOWCASE_TRIES`) are run at every width, as the
    catalogue runs them, and the first run that polishes to a stationary point with more than one
    cell is taken (at the smallest qualifying width of its seed): such runs are rare at the smallest
    width (none of seeds 21-40 at width 2 of ``plateau_2d``), so a search at one width could fail
    where the catalogue's widths succeed. The caller checks that ``polish.accepted`` (the rerun
    reproduces the catalogue's run).
    """
    if not isinstance(settings, CatalogueSettings):
        raise TypeError(f"settings must be a CatalogueSettings, got {type(settings).__name__}")
    best = max((r for r in rows if r.polished and r.n_cells > 1),
               key=lambda r: (r.n_cells, -r.width, -r.seed), default=None)
    rule, search = MOST_CELLS_RULE, None
    if best is None:
        condition = "polished to a stationary point with more than one cell"
        first = seed + settings.n_seeds(quick)
        search = search_past_catalogue(settings, first, quick, lambda r: r.polished and r.n_cells > 1,
                                        condition, SHOWCASE_TRIES)
        best = search.value
        rule = (f"the first seed from {first} on (at most {SHOWCASE_TRIES}) with a run, at any width of the "
                f"catalogue (the smallest that qualifies), {condition} (no run of the catalogue is)")
    _, polish = run_to_stationary_point(settings.experiment, best.seed, width=best.width,
                                        steps=settings.budget(quick), gtol=settings.gtol)
    return ChosenExample(rule, best.width, best.seed, polish, search)


def find_example(
    rows: Sequence[CatalogueRow], settings: CatalogueSettings, rule: str,
    predicate: Callable[[CatalogueRow], bool], *, seed: int = 0, quick: bool = False,
    max_tries: int = SHOWCASE_TRIES,
) -> tuple[CatalogueRow, str]:
    """The first catalogue row that satisfies ``predicate``, searching on past the catalogue.

    ``rows`` is :func:`~plateau_lib.chapters.stationary_catalogue.stationary_catalogue` of
    ``settings`` (``seed``, ``quick``); ``rule`` says in words what ``predicate`` asks. The first
    row of the catalogue (width, then seed) that qualifies is returned with ``rule``. A small
    catalogue (quick mode) may hold none; then the seeds after it, ``seed +
    settings.n_seeds(quick)`` on (at most ``max_tries``), are run at every width with the
    catalogue's settings, and the first qualifying run is returned with the extended rule in words
    (a showcase is never silently replaced).

    Raises
    ------
    RuntimeError
        If no run qualifies within the search (the message names the rule).
    """
    if not isinstance(settings, CatalogueSettings):
        raise TypeError(f"settings must be a CatalogueSettings, got {type(settings).__name__}")
    found = next((r for r in rows if predicate(r)), None)
    if found is not None:
        return found, f"the first catalogue run {rule}"
    first = int(seed) + settings.n_seeds(quick)
    search = search_past_catalogue(settings, first, quick, predicate, rule, max_tries)
    return search.value, (f"the first run {rule}: none of the catalogue's, so seeds from {first} on "
                          f"(at most {max_tries}) at every width; seed {search.seed} qualifies")



def worst_determined_deviation(rows: Iterable[CatalogueRow], examples: Iterable[CellExample]) -> float:
    r"""Largest relative deviation (to :math:`\max|y|`) on a determined cell of any polished run or example."""
    return max([r.determined_deviation for r in rows if r.polished and r.n_determined > 0]
               + [d for example in examples for d in example.determined_deviations])


def orientation_rule_agrees(rows: Iterable[CatalogueRow], examples: Iterable[CellExample]) -> bool:
    """Whether the 1-D orientation rule agrees with the span test on every row and every example."""
    return all(r.rule_agrees for r in rows) and all(example.rule_agrees() for example in examples)



def example_values(outside: CellExample, shared: CellExample, example_2d: CellExample) -> dict[str, object]:
    """The numbers the prose quotes about the examples of the 1-D and 2-D figures.

    Parameters
    ----------
    outside : CellExample
        The 1-D example with a cell outside every active set.
    shared : CellExample
        The 1-D example with a shared cell and no determined cell.
    example_2d : CellExample
        The 2-D example.
    """
    empty = [c.deviation for c in outside.cells if not c.active]
    if not empty:
        raise ValueError("outside must have a cell outside every active set")
    dev_shared = [c.deviation / shared.y_scale for c in shared.cells]
    return {
        "dev_b": max(empty) / outside.y_scale, "dev_c_min": min(dev_shared), "dev_c_max": max(dev_shared),
        "cells2_n": len(example_2d.cells), "moment_sum_max": max(example_2d.relative_moment_sums()),
    }


__all__ = [
    "MOST_CELLS_RULE",
    "cell_example",
    "CellExample",
    "ChosenExample",
    "describe_cell_fits",
    "describe_cells_1d",
    "example_values",
    "find_example",
    "most_cells_example",
    "orientation_rule_agrees",
    "worst_determined_deviation",
]
