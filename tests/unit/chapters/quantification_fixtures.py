"""Fixtures and builders Chapter 2's study tests share: a short gradient flow and its segments, a hand-made
sweep's columns, a placeholder regime row, the data point nearest a breakpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plateau_lib.chapters.quantification_regimes import RegimeRow
from plateau_lib.chapters.quantification_segments import flow_segments
from plateau_lib.experiments import get_experiment
from plateau_lib.theory import significant_neurons
from plateau_lib.trainers import train_flow


@pytest.fixture(scope="module")
def short_flow():
    """A short gradient flow of plateau_1d (seed 5) that leaves the first plateau, and its segments."""

    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    flow = train_flow(experiment.initial_network(5), X, y, t_end=60.0, rtol=1e-10)
    return flow, X, y, flow_segments(flow, X, y, min_duration=1.0)


def synthetic_cols():
    """Columns of a hand-made sweep: scales 1, 1e-2, 1e-3, two seeds each (as regime_arrays makes them)."""
    nan = math.nan
    grid_loss = np.array([[1.0, 0.5, 0.05, 0.01]] * 2 + [[1.0, 1.0, 0.08, 0.05]] * 2 + [[1.0, 1.0, 1.0, 0.5]] * 2)
    return {
        "scale": np.array([1.0, 1.0, 1e-2, 1e-2, 1e-3, 1e-3]),
        "seed": np.array([0, 1, 0, 1, 0, 1]),
        "zero_level": np.ones(6),
        "initial_loss": np.array([2.0, 4.0, 1.0, 1.0, 1.0, 1.0]),
        "final_loss": np.array([0.01, 0.02, 0.05, 0.5, 0.03, 0.2]),
        "exit_time": np.array([0.0, 0.0, 2.0, 2.0, 3.0, 3.0]),
        "plateau_time": np.array([1.0, 2.0, 10.0, 99.0, 20.0, 98.0]),
        "final_plateau_start": np.full(6, nan),
        "n_plateaus": np.array([0, 1, 2, 1, 3, 2]),
        "raw_changes": np.array([5, 7, 9, 11, 13, 15]),
        "filtered_changes": np.array([1, 3, 4, 6, 8, 10]),
        "movement": np.array([0.2, 0.4, 10.0, 20.0, 100.0, 300.0]),
        "n_directions": np.array([5, 6, 4, 1, 3, 2]),
        "grid_loss": grid_loss,
        "sliding_steps": np.array([0, 50, 100, 0, 25, 75]),
        "budget": np.full(6, 100),
        "end_sliding": np.array([False, True, True, False, False, True]),
        "tail_change": np.array([0.0, 1e-6, 1e-3, 0.0, 0.0, 1e-7]),
        "end_loss": np.array([nan, 0.0201, 0.05, nan, nan, 0.2]),
        "end_pinned": np.array([nan, 0.02, 0.049, nan, nan, 0.2]),
        "end_lstar_off": np.array([nan, 0.019, 0.048, nan, nan, 0.19]),
        "end_lstar_on": np.array([nan, 0.018, 0.047, nan, nan, 0.18]),
        "end_level_error": np.array([nan, 1e-18, 1e-18, nan, nan, 1e-18]),
    }


def regime_row(seed, tail_change):
    """A RegimeRow with only ``seed`` and ``tail_change`` meaningful (the rest is placeholder)."""

    return RegimeRow(1e-3, seed, 0.1, 3000, 1.0, 0.1, 1.0, 1.0, 1.0, 1, 1.0, 1, 1, 0.0, 1.0, 0, True,
                     0.1, 0.1, 0.1, 0.1, 1e-18, tail_change, 1, np.zeros(2))


def point_nearest_a_breakpoint(net, X, y):
    """The data point nearest to a breakpoint -b_j/w_j of a weight-carrying neuron (1-D input).

    Found from the geometry alone, independently of the toggle counting of ``sliding_phases``.
    """
    weighted = significant_neurons(net, X, y)
    distance = np.abs(X[:, :1] + net.b[weighted][None, :] / net.W[weighted, 0][None, :])
    return int(np.unravel_index(distance.argmin(), distance.shape)[0])
