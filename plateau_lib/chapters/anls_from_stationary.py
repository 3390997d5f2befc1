r"""ANLS started where gradient descent comes to rest: an exact stationary point of Chapter 3.

:func:`anls_from_stationary` finds the first seed whose gradient-descent run polishes to an exact
stationary point (:func:`~plateau_lib.chapters.stationary_showcase.first_polished_run`) and runs ANLS
variants from it (:class:`AnlsFromStationary`); the page of this study is
:func:`from_stationary_figure_data` and :func:`stationary_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_positive_int
from ..experiments import get_experiment
from ..network import ShallowReLU
from ..result import TrainResult
from ..stationarity import PolishResult
from ..trainers.anls import train_anls
from .anls_vs_gd import SWEEPS
from .page import FigureData, require_keys, run_line
from .stationary_catalogue import POLISH_DEMO
from .stationary_showcase import SHOWCASE_TRIES, first_polished_run

FloatArray = NDArray[np.float64]


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


def method_key(method: str) -> str:
    """A benchmark method's name as part of an array name (``gd+anls`` -> ``gd_anls``)."""
    return method.replace("-", "_").replace("+", "_")


def from_stationary_figure_data(rest: AnlsFromStationary, X: ArrayLike) -> FigureData:
    """The stationary start's figure data: the networks at the data ``X`` and the loss of every run."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != rest.start.d:
        raise ValueError(f"X must be an (m, {rest.start.d}) array of inputs, got shape {X.shape}")
    nets = {f"{method_key(k)}_net": r.net(X) for k, r in rest.runs.items()}
    losses = {f"{method_key(k)}_loss": r.loss for k, r in rest.runs.items()}
    return FigureData(arrays={"x": X[:, 0], "start": rest.start(X), **nets, **losses})


def stationary_values(rest: AnlsFromStationary, lower_bound: float) -> dict[str, Any]:
    """The numbers of the start at the stationary point: its search, its loss, and the runs from it.

    ``rest`` must hold the runs ``"anls-design"`` (the design's literal reading) and ``"anls"`` (the
    default preset ``"joint"``), the book's names for the two readings everywhere; ``lower_bound``
    is the segmentation lower bound of the problem (``stat_joint_lb`` is the default's final loss
    over it).
    """
    require_keys(rest.runs, ("anls-design", "anls"), "rest.runs")
    design, joint = rest.runs["anls-design"], rest.runs["anls"]
    return {
        "stat_gtol": POLISH_DEMO.gtol, "stat_tries": STATIONARY_TRIES, "stat_seed": rest.seed,
        "stat_passed": len(rest.passed_over), "stat_gd_steps": rest.gd.nit, "stat_loss": rest.start_loss,
        "stat_anls": design.final_loss, "stat_anls_sweeps": design.nit,
        "stat_anls_factor": rest.start_loss / design.final_loss,
        "stat_joint": joint.final_loss, "stat_joint_factor": rest.start_loss / joint.final_loss,
        "stat_joint_lb": joint.final_loss / lower_bound,
    }
