r"""Chapter 2's glued settings: the experiment it follows, its tolerances, the sweep's settings.

The numbers every section's prose quotes before any study is run (:func:`run_values`,
:func:`settings_values`); each study's own numbers and figures are beside it, in
:mod:`~plateau_lib.chapters.quantification_segments` (fact 1),
:mod:`~plateau_lib.chapters.quantification_balances` (fact 2),
:mod:`~plateau_lib.chapters.quantification_regimes` and
:mod:`~plateau_lib.chapters.quantification_exit_times` (fact 3),
:mod:`~plateau_lib.chapters.quantification_sliding`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..experiments import Experiment, get_experiment
from ..fixed_pattern import (
    FLOW_ATOL,
    FLOW_RTOL,
    INTEGRATION_RTOL,
    MAX_POINTS,
    QUAD_TOL,
    SLIDING_MAX_GAP,
    SLIDING_MIN_TOGGLES,
)
from .quantification_regimes import REGIME_SWEEP, TAIL_FRACTION, TAIL_STEPS, RegimeSweep
from .quantification_sliding import REST_RTOL, SHOWCASE_SEARCH, SLIDING_PIN_STEPS, SLIDING_ZOOM_STEPS


def run_values(experiment: Experiment, y: ArrayLike, *, t_end: float, flow_rtol: float) -> dict[str, float | int]:
    """The glued settings of the experiment the chapter follows, and of its gradient-flow run to ``t_end``."""
    y = np.asarray(y)
    return dict(
        y_rms=float(np.sqrt(np.mean(y**2))),
        m1=experiment.m,
        n1=experiment.width,
        alpha1=experiment.init_scale,
        lr1=float(experiment.options["lr"]),
        t_end=t_end,
        flow_rtol=flow_rtol,
    )


def settings_values(settings: RegimeSweep = REGIME_SWEEP, *, quick: bool) -> dict[str, float | int | str]:
    """The glued tolerances and settings of the chapter: the re-integration, the checks, the sweep."""
    if not isinstance(settings, RegimeSweep):
        raise TypeError(f"settings must be a RegimeSweep, got {type(settings).__name__}")
    return dict(
        fp_rtol=FLOW_RTOL,
        integration_rtol=INTEGRATION_RTOL,
        fp_atol=FLOW_ATOL,
        quad_tol=QUAD_TOL,
        max_points=MAX_POINTS,
        on_saddle_rtol=settings.on_saddle_rtol,
        tail_steps=TAIL_STEPS,
        tail_fraction=TAIL_FRACTION,
        rest_rtol=REST_RTOL,
        min_toggles=SLIDING_MIN_TOGGLES,
        max_gap=SLIDING_MAX_GAP,
        showcase_search=SHOWCASE_SEARCH,
        sliding_zoom_steps=SLIDING_ZOOM_STEPS,
        sliding_pin_steps=SLIDING_PIN_STEPS,
        scales_text=", ".join(f"10^{np.log10(s):.0f}" for s in settings.scales),
        n_sweep_seeds=len(settings.seed_list(quick)),
        sweep_steps=get_experiment(settings.base).budget(quick),
        exit_fraction=settings.exit_fraction,
    )


__all__ = [
    "run_values",
    "settings_values",
]
