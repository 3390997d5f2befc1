"""Fact 2 and the rate along a flow (plateau_lib.chapters.quantification_balances): the balances, gradient
descent's drift, the plateau after the escape, the page's numbers and figure.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import sin_problem
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.experiments import get_experiment
from plateau_lib.fixed_pattern import rate_history
from plateau_lib.theory import significant_neurons
from plateau_lib.trainers import train_flow

pytest_plugins = ("quantification_fixtures",)  # the shared fixture short_flow


def test_flow_balances_stay_within_the_integrators_allowance(short_flow):
    from plateau_lib.chapters.quantification_balances import flow_balances
    from plateau_lib.theory import conserved_quantities

    flow = short_flow[0]
    balances = flow_balances(flow, rtol=1e-10)
    n = flow.net.n
    assert balances.change.shape == (len(flow.extra["t"]), n)
    assert_array_equal(balances.change[0], np.zeros(n))
    assert_allclose(balances.change[-1], conserved_quantities(flow.net) - conserved_quantities(flow.net_at(0)))
    assert balances.allowed == 2e-10 * flow.nit * np.max(np.sum(flow.params**2, axis=1))
    assert 0 < balances.drift <= balances.allowed  # fact 2, up to the integrator's error
    with pytest.raises(ValueError, match="rtol"):
        flow_balances(flow, rtol=0.0)


def test_flow_plateau_level_finds_the_first_plateau_after_the_escape():
    from plateau_lib.chapters.quantification_balances import flow_plateau_level
    from plateau_lib.theory import lstar_of_network

    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    flow = train_flow(experiment.initial_network(0), X, y, t_end=400.0, rtol=1e-8)
    level = flow_plateau_level(flow, X, y)
    t = flow.extra["t"]
    middle = flow.net_at(int(np.argmin(np.abs(t - level.plateau.middle))))
    assert significant_neurons(middle, X, y) and level.lstar == lstar_of_network(middle, X, y)
    assert level.gap == abs(level.plateau.level - level.lstar) / level.lstar
    assert level.plateau.start > 0  # not the first plateau, which starts with the run
    # on the first plateau no neuron carries weight: no such plateau
    early = train_flow(experiment.initial_network(0), X, y, t_end=20.0, rtol=1e-8)
    with pytest.raises(ValueError, match="no plateau"):
        flow_plateau_level(early, X, y)


def test_gd_balance_drift_scales_like_the_step_squared():
    from plateau_lib.chapters.quantification_balances import drift_values, gd_balance_drift

    net, X, y = sin_problem(1)
    drift = gd_balance_drift(net, X, y, lrs=[0.1, 0.05, 0.025], duration=5.0)
    assert_array_equal(drift.lr, [0.1, 0.05, 0.025])
    assert_array_equal(drift.per_step, [r.per_step for r in drift.runs])
    assert drift.slope == pytest.approx(2.0, abs=0.2) and drift.identity < 1e-12
    values = drift_values(drift)
    assert values["drift_time"] == 5.0 and values["drift_lr_min"] == 0.025 and values["drift_lr_max"] == 0.1
    assert values["drift_total_01"] == drift.runs[0].drift and values["drift_slope"] == drift.slope
    with pytest.raises(ValueError, match="duration"):
        gd_balance_drift(net, X, y, lrs=[0.1], duration=0.0)


def test_rate_values():
    from plateau_lib.chapters.quantification_balances import FlowBalances, PlateauLevel, rate_values
    from plateau_lib.patterns import Plateau

    level = PlateauLevel(Plateau(10.0, 30.0, 3.0, 0.11, -0.01), 0.1)
    assert level.gap == pytest.approx(0.1)
    balances = FlowBalances(np.array([[0.0, 0.0], [1e-12, -3e-12]]), 1e-9, 10.0)
    assert balances.drift == 3e-12
    values = rate_values([0.0, 0.5, 0.1, 2.0], level, balances)
    assert values == dict(lam_median=0.5, lam_min=0.1, lam_max=2.0, p2_start=10.0, p2_end=30.0, p2_gap=level.gap,
                          flow_balance_drift=3e-12, flow_drift_allowed=1e-9, flow_drift_allowed_rate=1e-10)


def test_rate_and_balance_figure_carries_the_arrays_it_draws(short_flow):
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.quantification_balances import draw_rate_and_balance, flow_balances, gd_balance_drift

    flow, X, y, _ = short_flow
    net, Xs, ys = sin_problem(1)
    drift = gd_balance_drift(net, Xs, ys, lrs=[0.1, 0.05], duration=2.0)
    lam = rate_history(flow, X, y)
    rate = draw_rate_and_balance(flow, lam, flow_balances(flow, rtol=1e-10), drift)
    plt.close(rate.fig)
    assert list(rate.data) == ["drift_lr", "drift_per_step"] and list(rate.unchecked) == [
        "t", "loss", "lam", "balance_change"]
    assert_array_equal(rate.unchecked["lam"], lam)
