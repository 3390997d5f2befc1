"""TrainResult (plateau_lib.result): the final gradient norm and whether the run ends on a plateau."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plateau_lib.network import ShallowReLU
from plateau_lib.result import TrainResult


def result(steps, loss, **extra) -> TrainResult:
    """A result with the given loss history (network and counts are placeholders)."""
    steps, loss = np.asarray(steps), np.asarray(loss, dtype=np.float64)
    k, net = len(steps), ShallowReLU(np.ones(2), np.ones((2, 1)), np.zeros(2))
    return TrainResult(net, "gd", steps, loss, np.zeros((k, 2), np.int64), np.tile(net.to_vector(), (k, 1)),
                       np.zeros(0, np.int64), np.zeros((0, 3), np.int64), np.zeros(k), 0.0, k, k, int(steps[-1]),
                       "converged", "", extra)


STEPS = np.arange(0, 1001)


def test_a_run_whose_loss_stagnates_over_its_last_doubling_ends_on_a_plateau():
    falling_then_flat = np.where(STEPS < 300, 1.0 / (1 + STEPS), 1.0 / 301)
    assert result(STEPS, falling_then_flat).ends_on_plateau is True


def test_a_run_still_falling_at_its_end_does_not():
    assert result(STEPS, 1.0 / (1 + STEPS)).ends_on_plateau is False
    # flat for a long time, then a drop in the last doubling: the end is not on the plateau
    drop_at_the_end = np.where(STEPS < 800, 0.5, 0.5 * 0.5 ** ((STEPS - 800) / 50))
    assert result(STEPS, drop_at_the_end).ends_on_plateau is False


def test_an_exact_fit_or_a_failure_does_not_end_on_a_plateau():
    exact = np.where(STEPS < 300, 1.0 / (1 + STEPS), 0.0)
    assert result(STEPS, exact).ends_on_plateau is False
    failed = np.where(STEPS < 1000, 0.25, np.inf)
    assert result(STEPS, failed).ends_on_plateau is False


def test_zero_losses_inside_the_history_are_left_out():
    loss = np.full(len(STEPS), 0.25)
    loss[10] = 0.0
    assert result(STEPS, loss).ends_on_plateau is True


def test_the_flows_times_are_the_time_axis():
    """Records 0..k-1 with times extra["t"]: judged over the times, not the record indices."""
    t = np.concatenate([[0.0], np.geomspace(1e-3, 1000.0, 200)])
    records = np.arange(len(t))
    late_drop = np.where(t < 300.0, 1.0, 0.25)  # flat from t = 300 to 1000: a factor 3.3 in time
    assert result(records, late_drop, t=t).ends_on_plateau is True
    assert result(records, late_drop).ends_on_plateau is False  # in records: the drop at 182 of 200
    too_late = np.where(t < 600.0, 1.0, 0.25)  # flat for less than a doubling of time
    assert result(records, too_late, t=t).ends_on_plateau is False


def test_grad_norm_defaults_to_nan_and_shows_in_the_repr():
    res = result(STEPS, np.full(len(STEPS), 0.25))
    assert math.isnan(res.grad_norm)
    assert "grad_norm=nan, ends_on_plateau=True" in repr(res)
    import dataclasses

    assert "grad_norm=0.0123," in repr(dataclasses.replace(res, grad_norm=0.0123))


@pytest.mark.parametrize("steps", [[0], [0, 1]])
def test_too_short_a_history_has_no_plateau(steps):
    assert result(steps, np.full(len(steps), 0.25)).ends_on_plateau is False
