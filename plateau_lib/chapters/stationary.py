r"""Chapter 3, Stationary points (claim C4): the catalogues of runs and the showcase rules.

The science (fact 4: the exact polish, the cells and which of them fact 4 determines) lives in
:mod:`plateau_lib.stationarity`. This module runs many seeds and widths of an experiment to a
stationary point (:func:`stationary_catalogue`), each final loss set against :math:`L^*` of its
pattern and against the segmentation lower bound of fact 5, and chooses the chapter's showcases
by stated rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_float_array, check_positive_float, check_positive_int
from ..experiments import Experiment, get_experiment, run_stacked
from ..lower_bound import segmentation_lower_bound
from ..network import ShallowReLU, check_problem
from ..parallel import ExecutorLike
from ..result import TrainResult
from ..stationarity import (
    STATIONARITY_RTOL,
    FloatArray,
    PatternCell,
    PolishResult,
    cell_labels,
    check_fraction,
    check_net_1d,
    check_rel_tol,
    complex_step_stationarity,
    gradient_norm,
    pattern_cells,
    polish_to_stationarity,
    predicted_undetermined_1d,
    stationarity_scores,
)
from ..sweeps import SeedSearch, first_seed, sweep_groups
from ..theory import SIGNIFICANCE_RTOL, cells_1d, check_neuron_set, feature_matrix
from . import register_study
from .explanation import rows_to_arrays
from .tables import markdown_table

#: Share of a run at its end in which pattern changes mark it as still sliding
#: (:attr:`CatalogueRow.late_changes`).
LATE_FRACTION = 0.1


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


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class CatalogueSettings:
    r"""Settings of :func:`stationary_catalogue` (every number of Chapter 3's catalogue).

    Attributes
    ----------
    experiment : str
        Registered experiment (its data, initialisation, trainer and step size are used).
    widths : tuple of int
        Widths :math:`n` to run (``experiment.with_changes(width=n)``).
    seeds, quick_seeds : int
        Seeds per width (``0 .. seeds - 1``, shifted by the caller's offset), full and quick.
    steps, quick_steps : int
        Gradient-descent budget per run, full and quick.
    gtol : float
        Gradient descent stops once :math:`\|\nabla L\|_2 \le` ``gtol``; a run that gets
        there is *converged*.
    loss_rtol : float
        A converged run's final loss must equal :math:`L^*` of its final pattern to this
        relative tolerance (see the chapter for the bound that justifies it).
    rel_tol : float
        Significance threshold (:func:`~plateau_lib.theory.significant_neurons`).
    stationarity_rtol : float
        ``gtol`` of :func:`~plateau_lib.stationarity.polish_to_stationarity`.
    """

    experiment: str = "plateau_1d"
    widths: tuple[int, ...] = (3, 5, 10, 20)
    seeds: int = 10
    quick_seeds: int = 3
    steps: int = 40_000
    quick_steps: int = 20_000
    gtol: float = 1e-8
    loss_rtol: float = 1e-6
    rel_tol: float = SIGNIFICANCE_RTOL
    stationarity_rtol: float = STATIONARITY_RTOL

    def __post_init__(self) -> None:
        get_experiment(self.experiment)
        if not isinstance(self.widths, tuple) or not self.widths:
            raise TypeError(f"widths must be a non-empty tuple of ints, got {self.widths!r}")
        for w in self.widths:
            check_positive_int(w, "widths")
        for name in ("seeds", "quick_seeds", "steps", "quick_steps"):
            check_positive_int(getattr(self, name), name)
        for name in ("gtol", "loss_rtol", "rel_tol", "stationarity_rtol"):
            check_fraction(getattr(self, name), name)

    def n_seeds(self, quick: bool) -> int:
        """Seeds per width in quick or full mode."""
        return self.quick_seeds if quick else self.seeds

    def budget(self, quick: bool) -> int:
        """Step budget in quick or full mode."""
        return self.quick_steps if quick else self.steps


#: The showcase of Chapter 3: ``plateau_1d`` at its own width and seed, gradient descent until
#: :math:`\|\nabla L\|_2 \le 10^{-6}` (or 80 000 steps), then the polish; the same in quick mode.
POLISH_DEMO = register_study("polish_demo", CatalogueSettings(widths=(10,), seeds=1, quick_seeds=1, steps=80_000,
                                                                quick_steps=80_000, gtol=1e-6))


#: The 1-D catalogue of Chapter 3: ``plateau_1d`` at widths 3, 5, 10, 20.
CATALOGUE_1D = register_study("catalogue_1d", CatalogueSettings())


#: The 2-D catalogue of Chapter 3: ``plateau_2d`` at small widths, where gradient descent can
#: reach stationary points within the budget (at larger widths it ends sliding along pattern
#: boundaries; see the chapter).
CATALOGUE_2D = register_study("catalogue_2d", CatalogueSettings(experiment="plateau_2d", widths=(2, 3, 4, 6), seeds=10,
                                                                 quick_seeds=3, steps=20_000, quick_steps=20_000))


@dataclass(frozen=True)
class CatalogueRow:
    r"""One run of :func:`stationary_catalogue`.

    Attributes
    ----------
    width, seed : int
        Width :math:`n` and seed of the initialisation.
    nit : int
        Gradient-descent steps taken.
    converged : bool
        Gradient descent reached :math:`\|\nabla L\|_2 \le` ``gtol``.
    grad_norm : float
        :math:`\|\nabla L\|_2` at the end of gradient descent.
    loss : float
        Final loss of gradient descent.
    lstar : float
        :math:`L^*(D,S)` of the final pattern and weight-carrying neurons.
    rel_gap : float
        ``(loss - lstar) / lstar``.
    gap_bound : float
        A posteriori bound on ``loss - lstar`` from the gradient:
        :math:`m\|\nabla L\|^2 / (2\min_{j\in S}c_j^2\,\sigma_{\min}^2)`, with
        :math:`\sigma_{\min}` the smallest positive singular value of :math:`\Phi(D,S)`
        (valid when the neurons outside :math:`S` contribute nothing).
    n_significant : int
        :math:`|S|`.
    last_change : int
        Last step at which the pattern changed (0 if never).
    late_changes : int
        Pattern changes in the last ``LATE_FRACTION`` (10%) of the steps taken: many of them mean the run is
        sliding along a pattern boundary (a data point flickering across a breakpoint).
    min_margin : float
        Smallest distance :math:`|w_j\cdot x_i + b_j|/\|w_j\|` of a data point to the
        breakpoint (line) of a neuron of :math:`S` at the end of gradient descent (``inf`` if
        :math:`S` is empty).
    polished : bool
        :func:`~plateau_lib.stationarity.polish_to_stationarity` accepted its candidate.
    polished_loss : float
        Loss of the candidate (``= lstar`` up to round-off when ``polished``).
    polished_stationarity : float
        :func:`~plateau_lib.stationarity.max_stationarity` of the candidate.
    stationarity_cs, polished_stationarity_cs : float
        The same score at gradient descent's end and for the candidate, recomputed by
        :func:`~plateau_lib.stationarity.complex_step_stationarity` (forward passes only).
    pattern_flips : int
        Pattern entries the candidate would change (0 when ``polished``).
    lower_bound : float
        Segmentation lower bound with :math:`n+1` pieces (1-D experiments; ``nan`` otherwise).
    n_cells, n_determined, n_outside, n_shared : int
        Of the polished network's :func:`~plateau_lib.stationarity.pattern_cells`: how many, how many determined by
        fact 4, how many undetermined cells lie outside every active set, and how many
        undetermined cells have an active neuron (``-1`` when not ``polished``).
    determined_deviation : float
        Largest ``deviation`` of a determined cell, relative to :math:`\max_i|y_i|`
        (``nan`` when not ``polished`` or no cell is determined): zero up to round-off by fact 4.
    undetermined_deviation : float
        Smallest relative ``deviation`` of an undetermined cell (``nan`` if none).
    rule_agrees : bool
        1-D: the determined cells are exactly those of :func:`~plateau_lib.stationarity.predicted_undetermined_1d`'s
        complement (``True`` when not ``polished`` or not 1-D).
    """

    width: int
    seed: int
    nit: int
    converged: bool
    grad_norm: float
    loss: float
    lstar: float
    rel_gap: float
    gap_bound: float
    n_significant: int
    last_change: int
    late_changes: int
    min_margin: float
    polished: bool
    polished_loss: float
    polished_stationarity: float
    stationarity_cs: float
    polished_stationarity_cs: float
    pattern_flips: int
    lower_bound: float
    n_cells: int
    n_determined: int
    n_outside: int
    n_shared: int
    determined_deviation: float
    undetermined_deviation: float
    rule_agrees: bool


def gap_bound(net: ShallowReLU, X: ArrayLike, y: ArrayLike, S: Iterable[int]) -> float:
    r"""A posteriori bound :math:`L - L^*(D,S) \le m\|\nabla L\|^2/(2\min_{j\in S} c_j^2\,\sigma_{\min}^2)`.

    Derivation: with :math:`N \in V = \mathrm{range}\,\Phi(D,S)`,
    :math:`L - L^* = \frac1{2m}\|Pr\|^2` (:func:`~plateau_lib.theory.convergence_bound`). For
    :math:`j\in S`, :math:`\nabla_{v_j}L = c_j R_j` with :math:`R_j = \frac1m\tilde X^\top D_j r`,
    so :math:`\|\Phi^\top r\| = m\|(R_j)_{j\in S}\| \le m\|\nabla L\|/\min_{j\in S}|c_j|`, and
    :math:`\|Pr\| \le \|\Phi^\top r\|/\sigma_{\min}` (:math:`\sigma_{\min}` the smallest
    positive singular value of :math:`\Phi`). Valid when neurons outside :math:`S` contribute
    nothing; returns ``inf`` for an empty :math:`S` with a non-zero gradient.
    """
    net, X, y = check_problem(net, X, y)
    S = sorted(check_neuron_set(S, net.n))
    g = gradient_norm(net, X, y)
    if not S:
        return 0.0 if g == 0 else float("inf")
    D = net.preactivations(X) > 0
    s = np.linalg.svd(feature_matrix(X, D, S), compute_uv=False)
    s = s[s > np.finfo(float).eps * max(X.shape[0], len(S) * (net.d + 1)) * s[0]]
    cmin = float(np.min(np.abs(net.c[S])))
    if cmin == 0 or s.size == 0:
        return float("inf")
    return X.shape[0] * g**2 / (2 * cmin**2 * float(s[-1]) ** 2)


def run_to_stationary_point(
    name: str,
    seed: int,
    *,
    width: int | None = None,
    steps: int,
    gtol: float,
    rel_tol: float = SIGNIFICANCE_RTOL,
    stationarity_rtol: float = STATIONARITY_RTOL,
) -> tuple[TrainResult, PolishResult]:
    r"""Train experiment ``name`` towards a stationary point, then polish.

    The experiment's trainer (gradient descent for the registered experiments) with its
    options, optionally at another ``width``, for at most ``steps`` steps, stopping early once
    :math:`\|\nabla L\|_2 \le` ``gtol``; then :func:`~plateau_lib.stationarity.polish_to_stationarity` of the final
    network.

    Returns
    -------
    (TrainResult, PolishResult)
    """
    return runs_to_stationary_points(name, [(seed, width)], steps=steps, gtol=gtol, rel_tol=rel_tol,
                                     stationarity_rtol=stationarity_rtol)[0]


def runs_to_stationary_points(
    name: str,
    runs: Sequence[tuple[int, int | None]],
    *,
    steps: int,
    gtol: float,
    rel_tol: float = SIGNIFICANCE_RTOL,
    stationarity_rtol: float = STATIONARITY_RTOL,
) -> list[tuple[TrainResult, PolishResult]]:
    """:func:`run_to_stationary_point` of each ``(seed, width)``, the runs of one width trained together.

    The training goes through :func:`~plateau_lib.experiments.run_stacked`: the same results as
    one run at a time, bit for bit.
    """
    experiment = get_experiment(name)
    steps = check_positive_int(steps, "steps")
    gtol = check_positive_float(gtol, "gtol")
    rel_tol = check_rel_tol(rel_tol)
    stationarity_rtol = check_fraction(stationarity_rtol, "stationarity_rtol")
    pairs = [(experiment if width is None else experiment.with_changes(width=check_positive_int(width, "width")),
              seed) for seed, width in runs]
    X, y = experiment.data()
    results = run_stacked(pairs, steps=steps, gtol=gtol)
    return [(result, polish_to_stationarity(result.net, X, y, rel_tol=rel_tol, gtol=stationarity_rtol))
            for result in results]


#: How many seeds :func:`first_polished_run` tries before it gives up: a bound on the showcase search,
#: large enough that a claim holding on even a quarter of the runs fails to find a showcase with
#: probability :math:`0.75^{20} < 0.004`, small enough to keep a chapter's run time bounded.
SHOWCASE_TRIES = 20


def first_polished_run(
    name: str,
    start_seed: int,
    *,
    steps: int,
    gtol: float,
    width: int | None = None,
    max_tries: int = SHOWCASE_TRIES,
    condition: Callable[[PolishResult], bool] | None = None,
    condition_text: str = "",
) -> SeedSearch[tuple[TrainResult, PolishResult]]:
    r"""The first seed from ``start_seed`` on whose run polishes to an exact stationary point.

    Tries seeds ``start_seed, start_seed + 1, ...`` (at most ``max_tries``) with
    :func:`run_to_stationary_point` and stops at the first whose polish is accepted (and, if
    ``condition`` is given, satisfies it; ``condition_text`` says in words what it asks). Not every
    run reaches a stationary point of its pattern within a budget (it may still be sliding along
    a pattern boundary, or heading out of its pattern), so a showcase of the polish is chosen by
    this rule rather than assumed of one seed.

    Returns
    -------
    SeedSearch
        Its ``value`` is the pair (gradient-descent run, accepted polish) of the showcased seed;
        ``describe()`` prints the search.

    Raises
    ------
    RuntimeError
        If none of the ``max_tries`` seeds qualifies (the message lists every rejection).
    """
    if isinstance(start_seed, bool) or not isinstance(start_seed, (int, np.integer)) or start_seed < 0:
        raise ValueError(f"start_seed must be an integer >= 0, got {start_seed!r}")
    max_tries = check_positive_int(max_tries, "max_tries")

    def why_not(pair: tuple[TrainResult, PolishResult]) -> str | None:
        polish = pair[1]
        if not polish.accepted:
            return polish.message
        return None if condition is None or condition(polish) else f"polished, but not {condition_text}"

    search = first_seed(lambda seed: run_to_stationary_point(name, seed, width=width, steps=steps, gtol=gtol),
                        int(start_seed), max_tries, why_not)
    if not search.found:
        wanted = f" {condition_text}" if condition is not None else ""
        listing = "; ".join(search.describe().splitlines())
        raise RuntimeError(f"no seed of {start_seed}..{start_seed + max_tries - 1} of {name!r} polishes to a "
                           f"stationary point{wanted} within {steps} steps ({listing})")
    return search


def _catalogue_row(args: tuple[CatalogueSettings, int, int, bool]) -> CatalogueRow:
    return _catalogue_rows([args])[0]


def _catalogue_rows(items: Sequence[tuple[CatalogueSettings, int, int, bool]]) -> list[CatalogueRow]:
    """The catalogue rows of ``(settings, width, seed, quick)`` items sharing their settings and mode,
    the runs trained together (:func:`runs_to_stationary_points`)."""
    if len({(settings, bool(quick)) for settings, _, _, quick in items}) > 1:
        raise ValueError("items must share settings and quick (one stack of runs)")
    if not items:
        return []
    settings, quick = items[0][0], bool(items[0][3])
    pairs = runs_to_stationary_points(
        settings.experiment, [(seed, width) for _, width, seed, _ in items], steps=settings.budget(quick),
        gtol=settings.gtol, rel_tol=settings.rel_tol, stationarity_rtol=settings.stationarity_rtol,
    )
    return [_row_of(settings, width, seed, result, polish)
            for (_, width, seed, _), (result, polish) in zip(items, pairs, strict=True)]


def _row_of(settings: CatalogueSettings, width: int, seed: int, result: TrainResult,
            polish: PolishResult) -> CatalogueRow:
    experiment = get_experiment(settings.experiment)
    X, y = experiment.data()
    net = result.net
    grad = gradient_norm(net, X, y)
    lstar = polish.lstar
    lb = segmentation_lower_bound(X, y, width + 1) if X.shape[1] == 1 else float("nan")
    cells = _cell_summary(polish, X, y) if polish.accepted else {
        "n_cells": -1, "n_determined": -1, "n_outside": -1, "n_shared": -1,
        "determined_deviation": float("nan"), "undetermined_deviation": float("nan"), "rule_agrees": True}
    if lstar > 0:
        rel_gap = (result.final_loss - lstar) / lstar
    else:
        rel_gap = 0.0 if result.final_loss == 0 else float("inf")
    return CatalogueRow(
        width=width, seed=seed, nit=result.nit, converged=bool(grad <= settings.gtol), grad_norm=grad,
        loss=result.final_loss, lstar=lstar, rel_gap=rel_gap,
        gap_bound=gap_bound(net, X, y, polish.neurons), n_significant=len(polish.neurons),
        last_change=int(result.pattern_changes[-1]) if len(result.pattern_changes) else 0,
        late_changes=int(np.sum(result.pattern_changes > (1 - LATE_FRACTION) * result.nit)),
        min_margin=_min_margin(net, X, polish.neurons),
        polished=polish.accepted, polished_loss=polish.loss_after,
        polished_stationarity=polish.stationarity_after, stationarity_cs=complex_step_stationarity(net, X, y),
        polished_stationarity_cs=complex_step_stationarity(polish.candidate, X, y),
        pattern_flips=polish.pattern_flips, lower_bound=lb,
        **cells,
    )


def _min_margin(net: ShallowReLU, X: FloatArray, S: Sequence[int]) -> float:
    S = [j for j in S if np.any(net.W[j] != 0)]
    if not S:
        return float("inf")
    return float(np.min(np.abs(net.preactivations(X)[:, S]) / np.linalg.norm(net.W[S], axis=1)))


def _cell_summary(polish: PolishResult, X: FloatArray, y: FloatArray) -> dict:
    S = list(polish.neurons)
    cells = pattern_cells(polish.net, X, y, S)
    scale = float(np.max(np.abs(y)))
    det = [c.deviation / scale for c in cells if c.determined]
    undet = [c for c in cells if not c.determined]
    agrees = True
    if X.shape[1] == 1:
        predicted = set(predicted_undetermined_1d(polish.net, X, S))
        agrees = predicted == {k for k, c in enumerate(cells) if not c.determined}
    return {
        "n_cells": len(cells), "n_determined": len(det),
        "n_outside": sum(not c.active for c in undet), "n_shared": sum(bool(c.active) for c in undet),
        "determined_deviation": max(det, default=float("nan")),
        "undetermined_deviation": min((c.deviation / scale for c in undet), default=float("nan")),
        "rule_agrees": bool(agrees),
    }


def describe_widths(rows: Sequence[CatalogueRow], widths: Sequence[int]) -> str:
    """A sentence (Markdown): at which widths runs reached stationary points with more than one cell.

    Then, for the largest width, how its runs ended: at a stationary point with more than one
    cell, at a one-cell stationary point, or with the polish rejected (counts of its runs).
    """
    rows, widths = list(rows), [int(w) for w in widths]
    if not widths:
        raise ValueError("widths must not be empty")
    multi = [w for w in widths if any(r.polished and r.n_cells > 1 and r.width == w for r in rows)]
    if not multi:
        text = "No run reached a stationary point with more than one cell"
    else:
        only = "only " if len(multi) < len(widths) else ""
        which = f"width{'s' if len(multi) > 1 else ''} {', '.join(map(str, multi))}"
        text = f"Stationary points with more than one cell were reached {only}at {which}"
    last = [r for r in rows if r.width == widths[-1]]
    n_multi = sum(r.polished and r.n_cells > 1 for r in last)
    n_one = sum(r.polished and r.n_cells <= 1 for r in last)
    n_rej = sum(not r.polished for r in last)
    if n_multi == 0:
        return (f"{text}; at width {widths[-1]} every run either stops at a one-cell stationary point "
                f"({n_one} of {len(last)}) or ends with its polish rejected ({n_rej} of {len(last)}).")
    return (f"{text}; at width {widths[-1]}, {n_multi} of {len(last)} runs reach one with more than one cell, "
            f"{n_one} stop at a one-cell stationary point and {n_rej} end with the polish rejected.")


def stationary_catalogue(
    settings: CatalogueSettings | None = None,
    *,
    quick: bool = False,
    seed: int = 0,
    executor: ExecutorLike = 2,
    progress: bool = False,
) -> list[CatalogueRow]:
    r"""Run many seeds and widths to stationary points and measure each against theory.

    For every width :math:`n` of ``settings.widths`` and seed ``seed + k``
    (:math:`k < ` ``settings.n_seeds(quick)``): :func:`run_to_stationary_point`, then the
    final loss against :math:`L^*(D,S)` of the final pattern, the polish, and the
    segmentation lower bound of fact 5 with :math:`n+1` pieces
    (:func:`~plateau_lib.lower_bound.segmentation_lower_bound`), through
    :func:`~plateau_lib.sweeps.sweep`.

    Returns
    -------
    list of CatalogueRow
        Ordered by width, then seed.
    """
    settings = CatalogueSettings() if settings is None else settings
    if not isinstance(settings, CatalogueSettings):
        raise TypeError(f"settings must be a CatalogueSettings, got {type(settings).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    items = [(settings, int(w), int(seed) + k, bool(quick))
             for w in settings.widths for k in range(settings.n_seeds(quick))]
    return sweep_groups(_catalogue_rows, items, executor=executor, progress=progress, desc="stationary catalogue")


# --------------------------------------------------------------------------- the showcase and the examples


@dataclass(frozen=True)
class PolishScores:
    r"""Relative stationarity residuals of each neuron before and after a polish.

    Attributes
    ----------
    before, after : ndarray, shape (n,)
        :func:`~plateau_lib.stationarity.stationarity_scores` of the network gradient descent
        ended at and of the polished network.
    carrying_before, carrying : ndarray of bool, shape (n,)
        :math:`c_j \ne 0` in each of the two networks: the neurons fact 4 applies to.
    """

    before: FloatArray
    after: FloatArray
    carrying_before: NDArray[np.bool_]
    carrying: NDArray[np.bool_]

    @property
    def max_before(self) -> float:
        r"""Largest residual of a neuron with :math:`c_j \ne 0` at the end of gradient descent."""
        return float(self.before[self.carrying_before].max())

    @property
    def max_after(self) -> float:
        r"""Largest residual of a neuron with :math:`c_j \ne 0` after the polish."""
        return float(self.after[self.carrying].max())


def polish_scores(result: TrainResult, polish: PolishResult, X: ArrayLike, y: ArrayLike) -> PolishScores:
    """Stationarity residuals of ``result.net`` and of ``polish.net`` on the data ``(X, y)``."""
    if not isinstance(polish, PolishResult):
        raise TypeError(f"polish must be a PolishResult, got {type(polish).__name__}")
    return PolishScores(
        before=stationarity_scores(result.net, X, y), after=stationarity_scores(polish.net, X, y),
        carrying_before=result.net.c != 0, carrying=polish.net.c != 0,
    )


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

    ``rows`` is :func:`stationary_catalogue` of ``settings`` (``seed``, ``quick``). Only runs
    with more than one cell qualify. If none does, the seeds after the catalogue's
    (``seed + settings.n_seeds(quick)`` on, at most :data:`SHOWCASE_TRIES`) are run at every
    width, as the catalogue runs them, and the first run that polishes to a stationary point with
    more than one cell is taken (at the smallest qualifying width of its seed): such runs are rare
    at the smallest width (none of seeds 21-40 at width 2 of ``plateau_2d``), so a search at one
    width could fail where the catalogue's widths succeed. The caller checks that
    ``polish.accepted`` (the rerun reproduces the catalogue's run).
    """
    if not isinstance(settings, CatalogueSettings):
        raise TypeError(f"settings must be a CatalogueSettings, got {type(settings).__name__}")
    best = max((r for r in rows if r.polished and r.n_cells > 1),
               key=lambda r: (r.n_cells, -r.width, -r.seed), default=None)
    rule, search = MOST_CELLS_RULE, None
    if best is None:
        condition = "polished to a stationary point with more than one cell"
        first = seed + settings.n_seeds(quick)
        search = _search_past_catalogue(settings, first, quick, lambda r: r.polished and r.n_cells > 1,
                                        condition, SHOWCASE_TRIES)
        best = search.value
        rule = (f"the first seed from {first} on (at most {SHOWCASE_TRIES}) with a run, at any width of the "
                f"catalogue (the smallest that qualifies), {condition} (no run of the catalogue is)")
    _, polish = run_to_stationary_point(settings.experiment, best.seed, width=best.width,
                                        steps=settings.budget(quick), gtol=settings.gtol)
    return ChosenExample(rule, best.width, best.seed, polish, search)


def _search_past_catalogue(
    settings: CatalogueSettings, first: int, quick: bool, predicate: Callable[[CatalogueRow], bool],
    condition: str, max_tries: int,
) -> SeedSearch[CatalogueRow]:
    """Seeds ``first, first + 1, ...`` (at most ``max_tries``), each run at every width of the catalogue
    in order; the first row satisfying ``predicate``. Raises RuntimeError naming ``condition`` if none does."""

    def run(s: int) -> CatalogueRow | None:
        for width in settings.widths:
            row = _catalogue_row((settings, width, s, bool(quick)))
            if predicate(row):
                return row
        return None

    search = first_seed(run, first, check_positive_int(max_tries, "max_tries"),
                        lambda row: None if row is not None else f"no width gives a run {condition}")
    if not search.found:
        raise RuntimeError(f"no run of the catalogue nor of seeds {first}..{first + max_tries - 1} is {condition}: "
                           "no example to show")
    return search


def find_example(
    rows: Sequence[CatalogueRow], settings: CatalogueSettings, rule: str,
    predicate: Callable[[CatalogueRow], bool], *, seed: int = 0, quick: bool = False,
    max_tries: int = SHOWCASE_TRIES,
) -> tuple[CatalogueRow, str]:
    """The first catalogue row that satisfies ``predicate``, searching on past the catalogue.

    ``rows`` is :func:`stationary_catalogue` of ``settings`` (``seed``, ``quick``); ``rule`` says
    in words what ``predicate`` asks. The first row of the catalogue (width, then seed) that
    qualifies is returned with ``rule``. A small catalogue (quick mode) may hold none; then the
    seeds after it, ``seed + settings.n_seeds(quick)`` on (at most ``max_tries``), are run at
    every width with the catalogue's settings, and the first qualifying run is returned with the
    extended rule in words (a showcase is never silently replaced).

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
    search = _search_past_catalogue(settings, first, quick, predicate, rule, max_tries)
    return search.value, (f"the first run {rule}: none of the catalogue's, so seeds from {first} on "
                          f"(at most {max_tries}) at every width; seed {search.seed} qualifies")


# --------------------------------------------------------------------------- tables


def catalogue_table(rows: Sequence[CatalogueRow], widths: Sequence[int]) -> str:
    """A Markdown table of a 1-D catalogue, one line per width.

    Runs, converged runs, polished runs, the distinct stationary levels, the lowest final loss of
    any run, the segmentation lower bound and the two ratios to it (``(bound 0)`` when the bound
    is zero up to round-off).
    """
    cols = rows_to_arrays(rows)
    if not cols:
        raise ValueError("rows must not be empty")
    conv, pol = cols["converged"], cols["polished"]
    header = ["width $n$", "runs", "converged", "stationary (polished)", "stationary levels $L^*$",
              "lowest final loss, any run", "lower bound ($n+1$ pieces)", "lowest level / bound", "lowest loss / bound"]
    lines = []
    for w in widths:
        sel = cols["width"] == w
        levels = sorted({round(v, 6) for v in cols["polished_loss"][sel & pol]})
        lowest = float(np.min(np.where(pol, cols["polished_loss"], cols["loss"])[sel]))
        lb = float(cols["lower_bound"][sel][0])
        ratios = [f"{v / lb:.0f}" if lb > 1e-12 else "(bound 0)" for v in (min(levels, default=np.nan), lowest)]
        cells = [w, sel.sum(), (conv & sel).sum(), (pol & sel).sum(), ", ".join(f"{v:.4g}" for v in levels) or "-",
                 f"{lowest:.3e}", f"{lb:.2e}", *ratios]
        lines.append(["-" if str(c) == "nan" else c for c in cells])
    return markdown_table(header, "l" * 9, lines)


def stationary_kinds(rows: Iterable[CatalogueRow]) -> dict[tuple, list[CatalogueRow]]:
    """The polished runs grouped by kind of stationary point.

    A kind is ``(width, polished loss to 8 decimals, n_cells, n_determined, n_outside, n_shared)``;
    kinds in order of first appearance.
    """
    kinds: dict[tuple, list[CatalogueRow]] = {}
    for r in rows:
        if r.polished:
            key = (r.width, round(r.polished_loss, 8), r.n_cells, r.n_determined, r.n_outside, r.n_shared)
            kinds.setdefault(key, []).append(r)
    return kinds


def kinds_table(rows: Iterable[CatalogueRow]) -> str:
    """A Markdown table of the kinds of stationary point of a catalogue (:func:`stationary_kinds`).

    One line per kind: the seeds that reached it, its cells, and the largest deviation on a
    determined cell and the smallest on an undetermined one (relative to :math:`\\max|y|`).
    """
    header = ["width $n$", "seeds", "loss $= L^*$", "cells", "determined", "outside every active set",
              "shared, undetermined", "largest deviation, determined", "smallest deviation, undetermined"]
    lines = []
    for (w, level, n_cells, n_det, n_out, n_sh), rs in stationary_kinds(rows).items():
        det = max(r.determined_deviation for r in rs)
        und = min(r.undetermined_deviation for r in rs)
        cells = [w, ", ".join(str(r.seed) for r in rs), f"{level:.5f}", n_cells, n_det, n_out, n_sh,
                 f"{det:.1e}", f"{und:.1e}"]
        lines.append([str(c).replace("nan", "-") for c in cells])
    return markdown_table(header, "l" * 9, lines)


# --------------------------------------------------------------------------- checks


def worst_polished_stationarity(rows: Iterable[CatalogueRow], showcase: PolishResult, X: ArrayLike,
                                y: ArrayLike) -> float:
    """Largest stationarity score of the showcased polish (on ``X, y``) and of every accepted polish of ``rows``.

    Recomputed by :func:`~plateau_lib.stationarity.complex_step_stationarity`, not the score the
    polish was accepted on: the check that uses it is independent of the acceptance rule.
    """
    if not showcase.accepted:
        raise ValueError(f"showcase must be an accepted polish, got one that was not: {showcase.message}")
    return max([complex_step_stationarity(showcase.net, X, y)]
               + [r.polished_stationarity_cs for r in rows if r.polished])


def gd_end_stationarity(rows: Iterable[CatalogueRow]) -> float:
    """Median complex-step stationarity score at gradient descent's end, over the rows whose polish was accepted."""
    scores = [r.stationarity_cs for r in rows if r.polished]
    return float(np.median(scores)) if scores else float("nan")


def worst_determined_deviation(rows: Iterable[CatalogueRow], examples: Iterable[CellExample]) -> float:
    r"""Largest relative deviation (to :math:`\max|y|`) on a determined cell of any polished run or example."""
    return max([r.determined_deviation for r in rows if r.polished and r.n_determined > 0]
               + [d for example in examples for d in example.determined_deviations])


def orientation_rule_agrees(rows: Iterable[CatalogueRow], examples: Iterable[CellExample]) -> bool:
    """Whether the 1-D orientation rule agrees with the span test on every row and every example."""
    return all(r.rule_agrees for r in rows) and all(example.rule_agrees() for example in examples)


# --------------------------------------------------------------------------- glued numbers


def showcase_values(
    experiment: Experiment,
    search: SeedSearch[tuple[TrainResult, PolishResult]],
    scores: PolishScores,
    *,
    quick: bool,
    settings: CatalogueSettings = POLISH_DEMO,
) -> dict[str, object]:
    """The numbers the prose quotes about the showcased polish (:func:`first_polished_run`'s ``search``)."""
    if not search.found:
        raise ValueError("search must have found a seed")
    result, polish = search.value
    net = polish.net
    return {
        "show_seed": search.seed, "show_tries": SHOWCASE_TRIES, "show_passed": len(search.passed_over),
        "m1": experiment.m, "n1": experiment.width, "lr1": experiment.options["lr"], "gd_steps": result.nit,
        "demo_gtol": settings.gtol, "demo_steps": settings.budget(quick), "gd_grad": polish.grad_norm_before,
        "show_S": len(polish.neurons), "show_left": int(sum(net.W[j, 0] < 0 for j in polish.neurons)),
        "stat_tol": STATIONARITY_RTOL,
        "gd_max_score": scores.max_before, "polished_max_score": scores.max_after,
        "polish_move": polish.move, "loss_gd": polish.loss_before, "loss_polished": polish.loss_after,
        "lstar_show": polish.lstar,
    }


def _bound_ratios(rows: Sequence[CatalogueRow], widths: Sequence[int]) -> dict[str, object]:
    """The largest width whose lowest stationary level and bound are positive, and the two ratios there."""
    lowest = {w: min((r.polished_loss for r in rows if r.polished and r.width == w), default=np.nan) for w in widths}
    bound = {w: next((r.lower_bound for r in rows if r.width == w), np.nan) for w in widths}
    width = max((w for w in widths if np.isfinite(lowest[w]) and bound[w] > 1e-12), default=widths[0])
    any_run = min(min(r.loss, r.polished_loss if r.polished else np.inf) for r in rows if r.width == width)
    return {"ratio_width": width, "ratio_value": lowest[width] / bound[width], "ratio_any": any_run / bound[width]}


def catalogue_values(
    rows: Sequence[CatalogueRow], settings: CatalogueSettings, *, quick: bool, show_width: int
) -> dict[str, object]:
    """The numbers the prose quotes about a 1-D catalogue: how its runs ended, and the bound.

    ``show_width`` is the width of the showcased run (how many catalogue runs of that width
    reached a stationary point is quoted beside it).

    Raises
    ------
    ValueError
        If ``rows`` has no converged run or no polished run (the prose quotes both).
    """
    rows = list(rows)
    converged = [r for r in rows if r.converged]
    if not converged or not any(r.polished for r in rows):
        raise ValueError("rows must include a converged run and a polished run")
    cols = rows_to_arrays(rows)
    pol = cols["polished"]
    rejected = [r for r in rows if not r.polished]
    sliding = [r for r in rejected if r.late_changes > 0]
    unconv_pol = [r for r in rows if r.polished and not r.converged]
    X, _ = get_experiment(settings.experiment).data()
    return {
        "late_fraction": LATE_FRACTION, "loss_rtol": settings.loss_rtol,
        "pol_show_width": int(pol[cols["width"] == show_width].sum()),
        "widths": ", ".join(map(str, settings.widths)), "n_seeds": settings.n_seeds(quick),
        "budget": settings.budget(quick), "gtol": settings.gtol,
        "max_bound": max(r.gap_bound / r.lstar for r in converged),
        "n_conv": int(cols["converged"].sum()), "max_gap_conv": max(abs(r.rel_gap) for r in converged),
        "n_unconv_pol": len(unconv_pol), "max_gap_unconv_pol": max((r.rel_gap for r in unconv_pol), default=0.0),
        "n_rejected": len(rejected),
        "median_flips": int(np.median([r.pattern_flips for r in rejected])) if rejected else 0,
        "n_conv_pol": sum(r.polished for r in converged),
        "n_sliding": len(sliding), "n_moving": len(rejected) - len(sliding),
        "max_margin_sliding": max((r.min_margin for r in sliding), default=np.nan),
        "min_margin_polished": min(r.min_margin for r in rows if r.polished),
        "spacing": float(np.diff(np.sort(X[:, 0])).min()),
        "max_gap_sliding": max((r.rel_gap for r in sliding), default=np.nan),
        "max_width": settings.widths[-1],
        "pol_max_width": int(pol[cols["width"] == settings.widths[-1]].sum()),
        **_bound_ratios(rows, settings.widths),
    }


def catalogue_2d_values(rows: Sequence[CatalogueRow], settings: CatalogueSettings, *, quick: bool) -> dict[str, object]:
    """The numbers the prose quotes about a 2-D catalogue: its settings and how its runs ended."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must not be empty")
    pol = rows_to_arrays(rows)["polished"]
    sliding = [r for r in rows if not r.polished and r.late_changes > 0]
    return {
        "m2": get_experiment(settings.experiment).m, "widths2": ", ".join(map(str, settings.widths)),
        "n_seeds2": settings.n_seeds(quick), "n_runs2": len(rows), "n_pol2": int(pol.sum()),
        "n_rej2": int((~pol).sum()), "n_sliding2": len(sliding),
        "max_margin_sliding2": max((r.min_margin for r in sliding), default=np.nan),
    }


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
    "CATALOGUE_1D",
    "CATALOGUE_2D",
    "LATE_FRACTION",
    "POLISH_DEMO",
    "SHOWCASE_TRIES",
    "MOST_CELLS_RULE",
    "CatalogueRow",
    "CatalogueSettings",
    "CellExample",
    "ChosenExample",
    "PolishScores",
    "catalogue_2d_values",
    "catalogue_table",
    "catalogue_values",
    "cell_example",
    "describe_cell_fits",
    "describe_cells_1d",
    "describe_widths",
    "example_values",
    "find_example",
    "first_polished_run",
    "gap_bound",
    "kinds_table",
    "most_cells_example",
    "orientation_rule_agrees",
    "polish_scores",
    "run_to_stationary_point",
    "showcase_values",
    "stationary_catalogue",
    "stationary_kinds",
    "worst_determined_deviation",
    "worst_polished_stationarity",
    "gd_end_stationarity",
]
