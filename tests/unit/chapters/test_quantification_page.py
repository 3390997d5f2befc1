"""Chapter 2's glued settings (plateau_lib.chapters.quantification_page): the sweep's settings, the tolerances,
the experiment and its flow run."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_lib.chapters.quantification_page import run_values, settings_values
from plateau_lib.chapters.quantification_regimes import REGIME_SWEEP
from plateau_lib.experiments import get_experiment


def test_settings_and_run_values():
    settings = settings_values(REGIME_SWEEP, quick=True)
    assert settings["scales_text"] == "10^0, 10^-1, 10^-2, 10^-3, 10^-4, 10^-5, 10^-6"
    assert settings["n_sweep_seeds"] == REGIME_SWEEP.quick_seeds
    assert settings["sweep_steps"] == get_experiment("plateau_1d").quick_steps
    with pytest.raises(TypeError, match="settings"):
        settings_values("regime_1d", quick=True)
    experiment = get_experiment("plateau_1d")
    run = run_values(experiment, [3.0, -4.0], t_end=12.5, flow_rtol=1e-10)
    assert run["y_rms"] == pytest.approx(np.sqrt(12.5)) and run["t_end"] == 12.5
    assert (run["m1"], run["n1"], run["alpha1"]) == (experiment.m, experiment.width, experiment.init_scale)
