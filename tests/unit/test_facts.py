"""Facts 1, 3 and 4 of the design checked end to end on the gradient-flow integrator.

Fact 2 is checked in test_flow.py, fact 5 in test_lower_bound.py, and the sharpness of the
constant in fact 1 (the slowest mode decays exactly at the bound) in test_theory.py."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from plateau_lib import (
    ShallowReLU,
    activation_pattern,
    convergence_bound,
    escape_rate,
    kernel_lambda,
    local_ls_level,
    loss,
    stationarity_residuals,
    train_flow,
    train_lm,
)


def _fixed_pattern_problem():
    """Two well-separated neurons with c_j^2 > |v_j|^2 (so c_j never reaches 0 under the flow:
    fact 2) and targets off the pattern's span, so L* > 0 and L - L* decays to it."""
    x = np.linspace(-1, 1, 25)
    X = x[:, None]
    net = ShallowReLU([1.5, -1.2], [[1.0], [-0.8]], [0.3, 0.1])
    rng = np.random.default_rng(0)
    y = net(X) + 0.3 * np.sin(3 * x) + 0.05 * rng.standard_normal(x.size)
    return X, y, net


def test_fact1_bound_along_a_resolved_gradient_flow():
    X, y, net = _fixed_pattern_problem()
    D = activation_pattern(net, X)
    t = np.linspace(0.0, 0.3, 61)
    res = train_flow(net, X, y, t_end=t[-1], t_eval=t, rtol=1e-11)
    assert res.pattern_changes.size == 0, "the window must keep the pattern fixed"
    lstar = local_ls_level(X, y, D)
    times = res.extra["t"]
    lambdas = np.array([kernel_lambda(res.net_at(k), X) for k in range(times.size)])
    gap = res.loss - lstar
    bound = convergence_bound(gap[0], lambdas, times)
    # The bound holds up to the integrator's tolerance ...
    assert np.all(gap <= bound * (1 + 1e-6) + 1e-14)
    # ... and is not vacuous: the true gap decays, and the bound is within a factor 1e3 of it.
    assert gap[-1] < 0.9 * gap[0]
    assert bound[-1] / gap[-1] < 1e3


def _escape_problem(alpha: float):
    """A converged constant fit plus one tiny neuron of size alpha with breakpoint 0 (see test_theory)."""
    x = np.linspace(-1, 1, 20)
    X, y = x[:, None], 24 * np.abs(x)
    a = np.sqrt(y.mean())
    return X, y, ShallowReLU([a, alpha], [[0.0], [alpha]], [a, 0.0])


def _escape_time(alpha: float, threshold: float = 0.05) -> float:
    X, y, net = _escape_problem(alpha)
    t = np.linspace(0, 20, 4001)
    res = train_flow(net, X, y, t_end=t[-1], t_eval=t, rtol=1e-10)
    size = np.array([abs(res.net_at(k).c[1]) + np.linalg.norm(res.net_at(k).v[1]) for k in range(len(res.loss))])
    k = int(np.argmax(size >= threshold))
    assert size[k] >= threshold, "the neuron did not escape within the window"
    return float(res.extra["t"][k])


def test_fact3_escape_time_grows_linearly_in_log_inverse_scale():
    X, y, net = _escape_problem(1e-8)
    rate = escape_rate(net, X, y)[1]
    alphas = 10.0 ** -np.arange(2, 7)
    times = np.array([_escape_time(a) for a in alphas])
    slope, _ = np.polyfit(np.log(1 / alphas), times, 1)
    # Parameters grow like alpha * exp(rate t) (up to an O(1) factor), so the time to a fixed size
    # grows by 1/rate per unit of log(1/alpha).
    assert slope == pytest.approx(1 / rate, rel=0.02)
    residuals = times - np.polyval(np.polyfit(np.log(1 / alphas), times, 1), np.log(1 / alphas))
    assert np.max(np.abs(residuals)) < 0.05 * (times[-1] - times[0])


def test_fact4_converged_run_is_stationary():
    x = np.linspace(-1, 1, 41)
    X, y = x[:, None], np.sin(np.pi * x)
    rng = np.random.default_rng(3)
    net0 = ShallowReLU(rng.standard_normal(4), np.sign(rng.standard_normal((4, 1))), rng.uniform(-0.8, 0.8, 4))
    # LM's trust region can shrink below xtol before the gradient vanishes (seen with another
    # OpenBLAS kernel: stopped on xtol at max|R| = 8e-10); a restart from its result resets the region.
    res = train_lm(net0, X, y, steps=500, ftol=1e-15, xtol=1e-15, gtol=1e-15)
    res = train_lm(res.net, X, y, steps=500, ftol=1e-15, xtol=1e-15, gtol=1e-15)
    net = res.net
    R = stationarity_residuals(net, X, y)
    live = np.abs(net.c) > 1e-8
    assert live.any()
    scale = np.sqrt(np.mean(y**2))
    assert np.max(np.abs(R[live])) < 1e-9 * scale
    # and the loss is the local least-squares level of the final pattern (fact 1 at t -> infinity)
    D = activation_pattern(net, X)
    assert_allclose(loss(net, X, y), local_ls_level(X, y, D, list(np.flatnonzero(live))), rtol=1e-8)
