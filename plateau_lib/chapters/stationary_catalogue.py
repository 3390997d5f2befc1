r"""Chapter 3's catalogues (claim C4): many seeds and widths run to stationary points, each measured against theory.

The science (fact 4: the exact polish, the cells and which of them fact 4 determines) lives in
:mod:`plateau_lib.stationarity`. The study: the catalogues' settings (:class:`CatalogueSettings`;
the registered :data:`POLISH_DEMO`, :data:`CATALOGUE_1D`, :data:`CATALOGUE_2D`), a run to a
stationary point and its polish (:func:`run_to_stationary_point`), the catalogue of them
(:func:`stationary_catalogue`, one :class:`CatalogueRow` a run, each final loss set against
:math:`L^*` of its pattern, the a posteriori :func:`gap_bound` and the segmentation lower bound of
fact 5), the search past it (:func:`search_past_catalogue`) and the checks over its rows
(:func:`worst_polished_stationarity`, :func:`gd_end_stationarity`). What the page shows of a
catalogue is in :mod:`~plateau_lib.chapters.stationary_page`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_positive_float, check_positive_int
from ..experiments import get_experiment, run_stacked
from ..lower_bound import segmentation_lower_bound
from ..network import ShallowReLU, check_problem
from ..parallel import ExecutorLike
from ..result import TrainResult
from ..stationarity import (
    STATIONARITY_RTOL,
    FloatArray,
    PolishResult,
    check_fraction,
    check_rel_tol,
    complex_step_stationarity,
    gradient_norm,
    pattern_cells,
    polish_to_stationarity,
    predicted_undetermined_1d,
)
from ..sweeps import SeedSearch, first_seed, sweep_groups
from ..theory import SIGNIFICANCE_RTOL, check_neuron_set, feature_matrix
from . import register_study

#: Share of a run at its end in which pattern changes mark it as still sliding
#: (:attr:`CatalogueRow.late_changes`).
LATE_FRACTION = 0.1


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


def search_past_catalogue(
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


__all__ = [
    "CATALOGUE_1D",
    "CATALOGUE_2D",
    "LATE_FRACTION",
    "POLISH_DEMO",
    "CatalogueRow",
    "CatalogueSettings",
    "gap_bound",
    "gd_end_stationarity",
    "run_to_stationary_point",
    "search_past_catalogue",
    "stationary_catalogue",
    "worst_polished_stationarity",
]
