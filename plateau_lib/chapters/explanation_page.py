r"""Chapter 1's glued numbers: the showcased run's settings, the other experiments' runs, the seed statistics.

What the prose quotes of the runs of :mod:`~plateau_lib.chapters.explanation_runs` (the showcase,
:func:`showcase_values`; the runs of :data:`OTHER_EXPERIMENTS`, which share one initial scale and
one step size, :func:`shared_settings`, :func:`others_values`) and of the studies over seeds of
:mod:`~plateau_lib.chapters.explanation_seeds` (:func:`seed_values`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..patterns import (
    DEFAULT_DWELL_FRACTION,
    EDGE_TOL,
    PLATEAU_MIN_SPAN,
    PLATEAU_SLOPE_TOL,
    PLATEAU_WINDOW,
    default_min_dwell,
)
from ..theory import SIGNIFICANCE_RTOL
from .explanation_runs import PLATEAU_LEVEL_RESOLUTION, ExperimentRun, exception_sentence
from .explanation_seeds import C1_DROP_FACTOR, SeedStudy


def showcase_values(run: ExperimentRun) -> dict[str, object]:
    """The numbers the prose quotes about the showcased run: its settings and bookkeeping."""
    experiment, result = run.experiment, run.result
    if not run.rows:
        raise ValueError("run must have at least one detected plateau")
    return {
        "dwell_fraction": DEFAULT_DWELL_FRACTION, "edge_tol": EDGE_TOL,
        "detector_window": PLATEAU_WINDOW, "detector_slope_tol": PLATEAU_SLOPE_TOL,
        "detector_min_span": PLATEAU_MIN_SPAN, "plateau_factor": C1_DROP_FACTOR,
        "significance": SIGNIFICANCE_RTOL,
        "m1": experiment.m, "n1": experiment.width, "alpha1": experiment.init_scale,
        "lr1": experiment.options["lr"], "steps1": result.nit,
        "raw_changes1": len(result.pattern_changes),
        "dwell1": default_min_dwell(int(result.steps[-1])),
        "filtered_changes1": len(run.segments) - 1, "lstar_first": run.rows[0].lstar,
    }


def shared_settings(runs: Iterable[ExperimentRun]) -> set[tuple[float, float]]:
    """The distinct pairs (initial scale, step size) of the runs' experiments."""
    return {(run.experiment.init_scale, run.experiment.options["lr"]) for run in runs}


#: The two harder experiments of Chapter 1, in the order the chapter shows them.
OTHER_EXPERIMENTS = ("multi_plateau_1d", "plateau_2d")


def others_values(runs: Mapping[str, ExperimentRun]) -> dict[str, object]:
    """The numbers the prose quotes about the runs of :data:`OTHER_EXPERIMENTS`.

    Their sizes, their one initial scale and step size (:func:`shared_settings`), and a
    sentence on each run's first plateau that does not keep its pattern
    (:func:`~plateau_lib.chapters.explanation_runs.exception_sentence`).

    Raises
    ------
    ValueError
        If ``runs`` lacks an experiment of :data:`OTHER_EXPERIMENTS`, or the runs do not share
        one scale and one step size.
    """
    missing = [name for name in OTHER_EXPERIMENTS if name not in runs]
    if missing:
        raise ValueError(f"runs must have a run of every experiment of {OTHER_EXPERIMENTS}, missing {missing}")
    same = shared_settings(runs[name] for name in OTHER_EXPERIMENTS)
    if len(same) != 1:
        raise ValueError(f"runs must share one initial scale and one step size, got {sorted(same)}")
    ((alpha, lr),) = same
    multi, two_d = runs["multi_plateau_1d"], runs["plateau_2d"]
    return {
        "n_multi": multi.experiment.width, "m_multi": multi.experiment.m,
        "m_2d": two_d.experiment.m, "n_2d": two_d.experiment.width,
        "alpha_others": alpha, "lr_others": lr,
        "sentence_multi": exception_sentence(multi.rows, "multi_plateau_1d"),
        "sentence_2d": exception_sentence(two_d.rows, "plateau_2d"),
    }


def seed_values(study_1d: SeedStudy, study_2d: SeedStudy) -> dict[str, object]:
    """The numbers the prose quotes about the seed statistics of the 1-D and 2-D experiments."""
    cols = study_1d.arrays
    if not len(cols.get("exits", ())) or not cols["exits"].any():
        raise ValueError("study_1d must have at least one plateau followed by a drop")
    exit_drops = cols["drop_factor"][cols["exits"]]
    c2, c2_2d = study_1d.patterns, study_2d.patterns
    return {
        "n_seeds": len(study_1d.seeds), "n_seeds_2d": len(study_2d.seeds),
        "min_drop": exit_drops.min(), "max_drop": exit_drops.max(),
        "several_1d": study_1d.drops.with_several, "several_2d": study_2d.drops.with_several,
        "n_exit": c2.exit, "exit_within": c2.exit_within, "n_exit_weighted": c2.exit_weighted,
        "exit_weighted_within": c2.exit_weighted_within, "exit_weighted_within_all": c2.exit_weighted_within_all,
        "max_gap_exit": c2.max_gap_exit,
        "median_gap_exit": c2.median_gap_exit, "n_final": c2.final,
        "final_within": c2.final_within, "max_gap_final": c2.max_gap_final,
        "n_exit_2d": c2_2d.exit, "exit_within_2d": c2_2d.exit_within,
        "n_exit_weighted_2d": c2_2d.exit_weighted,
        "exit_weighted_within_2d": c2_2d.exit_weighted_within,
        "n_final_2d": c2_2d.final, "final_within_2d": c2_2d.final_within,
        "resolution": PLATEAU_LEVEL_RESOLUTION,
    }
