r"""Chapter 3's showcase: the first seed whose run polishes to an exact stationary point, and its residuals.

The rule (:func:`first_polished_run`, at most :data:`SHOWCASE_TRIES` seeds), the residuals of
each neuron (:func:`polish_scores`) and the numbers the prose quotes (:func:`showcase_values`).
The runs themselves are the catalogue's (:func:`~plateau_lib.chapters.stationary_catalogue.run_to_stationary_point`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_int
from ..experiments import Experiment
from ..result import TrainResult
from ..stationarity import (
    STATIONARITY_RTOL,
    FloatArray,
    PolishResult,
    stationarity_scores,
)
from ..sweeps import SeedSearch, first_seed
from .stationary_catalogue import POLISH_DEMO, CatalogueSettings, run_to_stationary_point

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
    :func:`~plateau_lib.chapters.stationary_catalogue.run_to_stationary_point` and stops at the
    first whose polish is accepted (and, if ``condition`` is given, satisfies it; ``condition_text``
    says in words what it asks). Not every run reaches a stationary point of its pattern within a
    budget (it may still be sliding along a pattern boundary, or heading out of its pattern), so a
    showcase of the polish is chosen by this rule rather than assumed of one seed.

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


__all__ = [
    "SHOWCASE_TRIES",
    "first_polished_run",
    "polish_scores",
    "PolishScores",
    "showcase_values",
]
