"""Chapter 4's checks of its records: recomputed losses and the largest rise of a loss history."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from plateau_lib.chapters import anls_checks as checks
from plateau_lib.chapters.anls_sweep import one_sweep
from plateau_lib.chapters.anls_vs_gd import (
    showcase_plateau,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.network import loss
from plateau_lib.trainers.anls import train_anls

pytest_plugins = ("anls_fixtures",)  # the shared fixtures race_quick, rest, variant_rows


def test_loss_histories_and_their_largest_rise(race_quick, rest, variant_rows):
    X, y = get_experiment("plateau_1d").data()
    sweep = one_sweep(race_quick.gd.net_at(showcase_plateau(race_quick.plateaus).index), X, y)
    rows = variant_rows({("plateau_1d", "global", 0): 0.5, ("plateau_1d", "bounded", 0): 0.7})
    histories = checks.anls_loss_histories(race_quick, sweep, rest, rows)
    assert len(histories) == 3 + len(rest.runs) + len(rows)
    assert_array_equal(histories[0], race_quick.anls.loss)
    assert checks.largest_rise(histories) <= 0.0
    assert checks.largest_rise([[3.0, 2.0, 2.0], [1.0, 1.5, 1.0]]) == 0.5
    assert checks.largest_rise([[1.0], [2.0, 1.0]]) == 0.0
    with pytest.raises(ValueError, match="histories must hold"):
        checks.largest_rise([])


def test_recomputed_losses_are_the_recorded_ones_and_catch_a_wrong_record():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    result = train_anls(experiment.initial_network(experiment.seed), X, y, sweeps=3)
    losses, disagreement = checks.recomputed_losses(result, X, y)
    assert len(losses) == len(result.loss) and disagreement <= checks.RECOMPUTE_RTOL
    assert losses[-1] == pytest.approx(loss(result.net, X, y), rel=1e-14)
    tampered = replace(result, loss=result.loss * np.where(np.arange(len(result.loss)) == 1, 1.001, 1.0))
    assert checks.recomputed_losses(tampered, X, y)[1] == pytest.approx(1e-3 / 1.001, rel=1e-6)
