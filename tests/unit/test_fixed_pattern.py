"""The fixed-pattern theory (plateau_lib.fixed_pattern): facts 1-3, sliding phases, round-off floors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import sin_problem
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.experiments import get_experiment
from plateau_lib.fixed_pattern import (
    ConvergenceHistory,
    FixedPatternRun,
    SlidingPhase,
    balance_drift,
    convergence_history,
    covered_steps,
    euler_bound,
    exit_time,
    fixed_pattern_flow,
    fixed_pattern_segments,
    gd_within_pattern,
    loglog_slope,
    max_escape_rate_1d,
    pinned_feature_matrix,
    pinned_ls_level,
    predicted_exit_slope,
    rate_history,
    resolved_history,
    sliding_phases,
)
from plateau_lib.network import ShallowReLU, evaluate
from plateau_lib.result import TrainResult
from plateau_lib.theory import kernel_lambda, local_ls_level, significant_neurons
from plateau_lib.trainers import train_flow, train_gd

SEEDS = st.integers(0, 2**32 - 1)


def generic_start(seed=0):
    """A network with no data point on a breakpoint (grid points are avoided by random biases)."""
    net, X, y = sin_problem(seed)
    assert not np.any(net.preactivations(X) == 0)
    return net, X, y


def test_fixed_pattern_flow_agrees_with_train_flow_and_stops_at_the_change():
    net, X, y = generic_start(3)
    flow = train_flow(net, X, y, t_end=30.0, rtol=1e-11)
    first_event = flow.extra["event_times"][0]
    run = fixed_pattern_flow(net, X, y, t_end=30.0)
    assert run.changed_at is not None
    # both locate the same first crossing; their integrators differ (steps, tolerances ~1e-11)
    assert run.changed_at == pytest.approx(first_event, rel=1e-6)
    assert run.t[-1] == run.changed_at
    k = int(np.searchsorted(flow.extra["t"], 0.5 * first_event))
    tk = flow.extra["t"][k]
    inside = fixed_pattern_flow(net, X, y, t_end=tk)
    assert inside.changed_at is None
    assert_allclose(inside.params[-1], flow.params[k], rtol=0, atol=1e-7)
    # the pattern is the start's until the change, which is a pair reaching its breakpoint
    for p in run.params[:-1]:
        Z = ShallowReLU.from_vector(p, net.n, net.d).preactivations(X)
        assert_array_equal(Z > 0, run.D)
    Z_end = run.net_at(len(run.t) - 1).preactivations(X)
    assert np.min(np.abs(Z_end)) <= 1e-9


def test_fixed_pattern_flow_records_t_eval_and_ignores_zero_neurons():
    net, X, y = generic_start(1)
    zeroed = net.with_params(c=np.r_[net.c[:-1], 0.0], W=np.r_[net.W[:-1], [[0.0]]], b=np.r_[net.b[:-1], 0.0])
    grid = np.linspace(0, 0.5, 11)
    run = fixed_pattern_flow(zeroed, X, y, t_end=0.5, t_eval=grid)
    assert run.method == "flow" and run.lr is None
    if run.changed_at is None:
        assert_array_equal(run.t, grid)
    else:  # the grid up to the change, then the change
        assert_array_equal(run.t[:-1], grid[grid < run.changed_at])
        assert run.t[-1] == run.changed_at
    assert_array_equal(run.params[:, [net.n - 1, 2 * net.n - 1, 3 * net.n - 1]], 0.0)


def test_fixed_pattern_flow_rejects_bad_input():
    net, X, y = generic_start()
    on_point = net.with_params(b=np.r_[-net.W[0, 0] * X[3, 0], net.b[1:]])
    with pytest.raises(ValueError, match="breakpoint"):
        fixed_pattern_flow(on_point, X, y, t_end=1.0)
    with pytest.raises(ValueError, match="t_end"):
        fixed_pattern_flow(net, X, y, t_end=-1.0)
    with pytest.raises(ValueError, match="t_eval"):
        fixed_pattern_flow(net, X, y, t_end=1.0, t_eval=[0.0, 2.0])
    with pytest.raises(TypeError, match="net"):
        fixed_pattern_flow("net", X, y, t_end=1.0)


def test_fixed_pattern_segments_exclude_events_and_sliding():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    flow = train_flow(experiment.initial_network(5), X, y, t_end=120.0, rtol=1e-9)
    t, events = flow.extra["t"], flow.extra["event_times"]
    segs = fixed_pattern_segments(flow, min_duration=1.0)
    assert segs
    for a, b in segs:
        assert t[b] - t[a] >= 1.0
        assert flow.extra["n_sliding"][a] == 0
        assert not np.any((events > t[a]) & (events < t[b]))
    with pytest.raises(TypeError, match="train_flow"):
        fixed_pattern_segments(train_gd(*sin_problem(), lr=0.1, steps=3))


def test_history_excess_equals_projection_and_bound_holds_when_other_neurons_are_zero():
    net, X, y = generic_start(3)  # its pattern (without neuron 3) lasts until t = 5.98 (see below)
    S = [0, 1, 2]
    zeroed = net.with_params(c=np.r_[net.c[:3], 0.0], W=np.r_[net.W[:3], [[0.0]]], b=np.r_[net.b[:3], 0.0])
    run = fixed_pattern_flow(zeroed, X, y, t_end=20.0, t_eval=np.linspace(0, 20, 1601))
    h = convergence_history(run, X, y, S)
    assert isinstance(h, ConvergenceHistory) and h.S == (0, 1, 2) and h.m == 21
    assert h.lstar == pytest.approx(local_ls_level(X, y, run.D, S), rel=1e-12)
    # (I - P) r is invariant: L - L* = |P r|^2 / (2m) to roundoff
    assert_allclose(h.excess, h.projected, rtol=1e-9, atol=1e-15)
    # the kernel's eigenvalue is theory.kernel_lambda's. Not at the last grid point: that is the
    # pattern change itself, where a data point sits on a breakpoint (z = -6e-17) and the pattern
    # kernel_lambda reads off the network is decided by roundoff.
    assert run.t[-1] == run.changed_at
    for k in (0, len(run.t) // 2, len(run.t) - 2):
        assert h.lam[k] == pytest.approx(kernel_lambda(run.net_at(k), X, S), rel=1e-10)
    bound = h.flow_bound()
    assert bound[0] == h.projected[0]
    # fact 1, up to the trapezoid rule (grid 0.0125) and the integrator (rtol 1e-12)
    assert np.all(h.excess <= bound * (1 + 1e-6))
    assert h.excess[-1] < 0.1 * h.excess[0]  # and it is not vacuous: the gap decays
    # the trapezoid rule's error estimate is small here and shrinks like h^2
    err = h.quadrature_error()
    assert 0 <= err < 1e-5
    coarse = convergence_history(fixed_pattern_flow(zeroed, X, y, t_end=20.0, t_eval=np.linspace(0, 20, 401)), X, y, S)
    assert coarse.quadrature_error() == pytest.approx(16 * err, rel=0.3)


def _rk4_first_change(net, X, y, *, dt: float, t_end: float = 20.0) -> float:
    """First time at which the activation pattern changes along the gradient flow, by RK4 with step ``dt``."""
    n, d = net.n, net.d

    def field(theta):
        c, W, b = theta[:n], theta[n:n + n * d].reshape(n, d), theta[n + n * d:]
        ev = evaluate(c, W, b, X, y)
        return -np.concatenate([ev.gc, ev.gW.ravel(), ev.gb]), ev.active

    theta = net.to_vector()
    start = field(theta)[1]
    t = 0.0
    while t < t_end:
        k1 = field(theta)[0]
        k2 = field(theta + dt / 2 * k1)[0]
        k3 = field(theta + dt / 2 * k2)[0]
        k4 = field(theta + dt * k3)[0]
        theta = theta + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += dt
        if not np.array_equal(field(theta)[1], start):
            return t - dt / 2  # the change happened within the last step
    return float("inf")


def test_resolved_history_refines_until_the_quadrature_is_accurate():
    net, X, y = generic_start(3)
    S = [0, 1, 2]
    zeroed = net.with_params(c=np.r_[net.c[:3], 0.0], W=np.r_[net.W[:3], [[0.0]]], b=np.r_[net.b[:3], 0.0])
    run, h = resolved_history(zeroed, X, y, S, t_end=20.0, quad_tol=1e-7)
    assert h.quadrature_error() <= 1e-7 and len(h.t) > 201
    # the pattern's first change, found by a second integrator: classical RK4 on the gradient flow
    # (which is the fixed-pattern flow until the pattern changes), dt = 2e-3
    assert run.changed_at == pytest.approx(_rk4_first_change(zeroed, X, y, dt=2e-3), abs=4e-3)
    assert h.t[-1] == run.changed_at
    # samples of the dense output agree with a direct integration to the requested times
    direct = fixed_pattern_flow(zeroed, X, y, t_end=run.t[-2], t_eval=run.t[:-1])
    assert_allclose(direct.params, run.params[:-1], rtol=0, atol=1e-9)
    _, capped = resolved_history(zeroed, X, y, S, t_end=20.0, quad_tol=1e-30, max_points=401)
    assert len(capped.t) == 401
    with pytest.raises(ValueError, match="min_points"):
        resolved_history(zeroed, X, y, S, t_end=1.0, min_points=2)


def test_euler_step_identity_and_bound_for_gradient_descent():
    net, X, y = generic_start(3)
    S = [0, 1, 2]
    zeroed = net.with_params(c=np.r_[net.c[:3], 0.0], W=np.r_[net.W[:3], [[0.0]]], b=np.r_[net.b[:3], 0.0])
    lr = 0.05
    run = gd_within_pattern(zeroed, X, y, lr=lr, max_steps=400)
    assert run.method == "gd" and run.lr == lr and len(run.t) > 100
    assert_allclose(np.diff(run.t), lr)
    h = convergence_history(run, X, y, S)
    # exact identity N_{k+1} = N_k - lr H_k r_k + lr^2 q_k within the pattern
    from plateau_lib.theory import kernel

    net_k, net_k1 = run.net_at(3), run.net_at(4)
    ev = evaluate(net_k.c, net_k.W, net_k.b, X, y)
    Xt = np.column_stack([X, np.ones(len(y))])
    q = (run.D * (Xt @ np.column_stack([ev.gW, ev.gb]).T)) @ ev.gc
    predicted = net_k(X) - lr * kernel(net_k, X) @ ev.r + lr**2 * q
    assert_allclose(net_k1(X), predicted, rtol=0, atol=1e-13)
    B = euler_bound(h, lr)
    assert B[0] == pytest.approx(h.projected[0])
    assert np.all(h.projected <= B * (1 + 1e-12))
    assert np.all(h.excess <= B * (1 + 1e-9))
    with pytest.raises(ValueError, match="gradient descent"):
        euler_bound(convergence_history(fixed_pattern_flow(zeroed, X, y, t_end=1.0), X, y, S), lr)
    with pytest.raises(TypeError, match="history"):
        euler_bound("h", lr)


def test_gd_within_pattern_stops_before_the_first_change():
    net, X, y = generic_start(3)
    full = train_gd(net, X, y, lr=0.1, steps=500, record_every=1)
    first = int(full.pattern_changes[0])
    run = gd_within_pattern(net, X, y, lr=0.1, max_steps=500)
    assert len(run.t) == first and run.changed_at == pytest.approx(first * 0.1)
    assert_array_equal(run.params, full.params[:first])


def test_convergence_history_validates():
    net, X, y = generic_start()
    run = fixed_pattern_flow(net, X, y, t_end=0.1)
    with pytest.raises(TypeError, match="run"):
        convergence_history("run", X, y)
    with pytest.raises(ValueError, match="X must have shape"):
        convergence_history(run, np.zeros((5, 1)), np.zeros(5))
    with pytest.raises(ValueError, match="S must contain"):
        convergence_history(run, X, y, [7])
    assert isinstance(run, FixedPatternRun)


def test_rate_history_matches_kernel_lambda_of_weighted_neurons():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    result = train_gd(experiment.initial_network(5), X, y, lr=0.1, steps=600, record_every=50)
    lam = rate_history(result, X, y)
    for k in range(len(result.steps)):
        net = result.net_at(k)
        S = significant_neurons(net, X, y)
        expected = kernel_lambda(net, X, S) if S else 0.0
        assert lam[k] == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert lam[0] == 0.0 and lam[-1] > 0  # nothing weighted at the start, something at the end


def test_balance_drift_identity_and_second_order_scaling():
    net, X, y = sin_problem(4, scale=0.5)
    rows = balance_drift(net, X, y, lrs=[0.04, 0.02, 0.01], duration=4.0)
    assert [r.steps for r in rows] == [100, 200, 400]
    for r in rows:
        assert r.identity_error <= r.identity_tol  # exact identity, roundoff only
        theta_sq = np.max(np.sum(train_gd(net, X, y, lr=r.lr, steps=r.steps).params ** 2, axis=1))
        assert r.identity_tol == pytest.approx(4 * 2.0**-53 * (r.steps + 1) * theta_sq, rel=1e-12)
        assert r.identity_tol < 1e-6 * r.drift  # the bound is far below what it separates from
        assert r.per_step == pytest.approx(r.drift / r.steps)
    slope, _ = loglog_slope([r.lr for r in rows], [r.per_step for r in rows])
    assert slope == pytest.approx(2.0, abs=0.15)  # eta^2 times an O(eta)-dependent average
    with pytest.raises(ValueError, match="lrs"):
        balance_drift(net, X, y, lrs=[], duration=1.0)
    with pytest.raises(ValueError, match="lrs"):
        balance_drift(net, X, y, lrs=[-0.1], duration=1.0)


def test_loglog_slope():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    a, b = loglog_slope(x, 3 * x**1.5)
    assert a == pytest.approx(1.5) and b == pytest.approx(math.log(3))
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1.0, -1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        loglog_slope([1.0], [1.0])


def brute_force_rate(x, r, k=200_001):
    phi = np.linspace(-np.pi, np.pi, k)
    Xt = np.column_stack([x, np.ones_like(x)])
    G = np.maximum(Xt @ np.vstack([np.cos(phi), np.sin(phi)]), 0.0).T @ r / len(x)
    return float(np.max(np.abs(G)))


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, m=st.integers(2, 25))
def test_max_escape_rate_is_the_maximum_over_directions(seed, m):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, m))
    r = rng.standard_normal(m)
    e = max_escape_rate_1d(x, r)
    brute = brute_force_rate(x, r)
    # exact maximum >= any sampled value; a 2e5-point grid comes within O(h) of it
    assert e.rate >= brute - 1e-12
    assert e.rate <= brute + 1e-4 * (np.abs(r).sum() / m) * (1 + np.abs(x).max())
    Xt = np.column_stack([x, np.ones(m)])
    G = np.maximum(Xt @ [e.w, e.b], 0.0) @ r / m
    assert abs(G) == pytest.approx(e.rate, rel=1e-12, abs=1e-15)
    assert np.sign(G) == e.sign and e.w**2 + e.b**2 == pytest.approx(1.0)


def test_max_escape_rate_of_plateau_1d_sits_on_a_data_point():
    X, y = get_experiment("plateau_1d").data()
    e = max_escape_rate_1d(X, -y)
    # brute force: |G| on a fine grid of directions and at every kink (a data point on the breakpoint)
    Xt = np.c_[X, np.ones(len(X))]
    kinks = np.arctan2(-Xt[:, 0], Xt[:, 1])  # phi with (cos phi, sin phi) . x~_i = 0
    phi = np.concatenate([np.linspace(0, 2 * np.pi, 20_001), kinks, kinks + np.pi])
    V = np.stack([np.cos(phi), np.sin(phi)])
    G = -y @ np.maximum(Xt @ V, 0.0) / len(X)
    assert e.rate == pytest.approx(np.abs(G).max(), rel=1e-12)
    # the best breakpoint is the grid point x_9 = -0.55 (or its mirror): a kink of G, where |G| is
    # largest but smaller than the one-sided |R| = theory.escape_rate (the point's side matters there)
    assert abs(e.breakpoint) == pytest.approx(0.55, abs=1e-9)
    Xt = np.column_stack([X, np.ones(len(y))])
    phi = math.atan2(e.b, e.w)
    for dphi in (-1e-6, 1e-6):
        v = [math.cos(phi + dphi), math.sin(phi + dphi)]
        assert abs(np.maximum(Xt @ v, 0) @ y / len(y)) < e.rate
    from plateau_lib.theory import escape_rate

    tiny = ShallowReLU([-1e-8 * e.sign], [[1e-8 * e.w]], [1e-8 * e.b])
    assert escape_rate(tiny, X, y)[0] > e.rate


def test_max_escape_rate_validates():
    with pytest.raises(ValueError, match="same length"):
        max_escape_rate_1d([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="1-D data"):
        max_escape_rate_1d(np.zeros((3, 2)), np.zeros(3))


def test_predicted_exit_slope():
    assert predicted_exit_slope(0.25) == pytest.approx(4.0)
    assert predicted_exit_slope(0.25, 0.1) == pytest.approx(0.1 / math.log(1.025))
    assert predicted_exit_slope(0.25, 1e-9) == pytest.approx(4.0, rel=1e-8)
    with pytest.raises(ValueError, match="rate"):
        predicted_exit_slope(0.0)
    with pytest.raises(ValueError, match="lr"):
        predicted_exit_slope(0.2, -1.0)


def test_exit_time_of_a_tiny_neuron_grows_with_the_predicted_slope():
    """The derivation, end to end: a single small neuron in the fastest direction, GD."""
    X, y = get_experiment("plateau_1d").data()
    e = max_escape_rate_1d(X, -y)
    lr, L0 = 0.1, y @ y / (2 * len(y))
    times = []
    for alpha in (1e-3, 1e-5, 1e-7):
        net = ShallowReLU([-alpha * e.sign], [[alpha * e.w]], [alpha * e.b])
        res = train_gd(net, X, y, lr=lr, steps=2000, record_every=1)
        times.append(exit_time(res.steps * lr, res.loss, 0.9 * L0))
    slope = np.polyfit(np.log(1 / np.array([1e-3, 1e-5, 1e-7])), times, 1)[0]
    # exact to the step resolution (0.1 over a range of ~36 time units)
    assert slope == pytest.approx(predicted_exit_slope(e.rate, lr), rel=0.01)


def test_exit_time():
    assert exit_time([0.0, 1.0, 2.0], [3.0, 2.0, 1.0], 2.0) == 1.0
    assert math.isnan(exit_time([0.0, 1.0], [3.0, 2.0], 1.0))
    with pytest.raises(ValueError, match="same length"):
        exit_time([0.0], [1.0, 2.0], 1.0)


def result_with_flips(flips, last_step=200, n=3, m=5):
    net = ShallowReLU(np.ones(n), np.ones((n, 1)), np.zeros(n))
    steps = np.arange(0, last_step + 1, 10)
    return TrainResult(net, "gd", steps, np.ones(len(steps)), np.zeros((len(steps), n), int),
                       np.tile(net.to_vector(), (len(steps), 1)), np.unique(np.asarray(flips)[:, 0]),
                       np.asarray(flips, dtype=np.int64), np.zeros(len(steps)), 0.0, 0, 0, last_step, "budget", "")


def test_sliding_phases_split_at_gaps_and_need_enough_toggles():
    flips = [(s, 2, 1) for s in range(10, 60, 2)]  # 25 toggles, gaps 2
    flips += [(s, 2, 1) for s in range(100, 130, 3)]  # 10 toggles after a gap of 42: too few
    flips += [(s, 4, 0) for s in range(5, 200, 5)]  # 39 toggles, gaps 5
    flips += [(50, 1, 2), (51, 1, 2)]  # a breakpoint passing: 2 toggles
    phases = sliding_phases(result_with_flips(flips))
    assert phases == [SlidingPhase(4, 0, 5, 195, 39), SlidingPhase(2, 1, 10, 58, 25)]
    assert sliding_phases(result_with_flips(flips), max_gap=4) == [SlidingPhase(2, 1, 10, 58, 25)]
    assert len(sliding_phases(result_with_flips(flips), min_toggles=10)) == 3
    assert covered_steps(phases) == 191
    assert covered_steps([SlidingPhase(0, 0, 0, 9, 20), SlidingPhase(1, 0, 10, 19, 20)]) == 20
    assert covered_steps([]) == 0
    with pytest.raises(TypeError, match="result"):
        sliding_phases("result")


def test_pinned_features_in_1d_are_one_hinge_column():
    x = np.linspace(-1, 1, 11)
    X = x[:, None]
    D = np.zeros((11, 2), bool)
    D[:7, 0] = True  # neuron 0 active left of x_6 = 0.2 (x_6 itself on the breakpoint)
    D[3:, 1] = True
    Phi = pinned_feature_matrix(X, D, [0, 1], [(6, 0)])
    assert Phi.shape == (11, 3)
    hinge = np.where(x < 0.2 - 1e-12, x - 0.2, 0.0)
    # the pinned block spans the single hinge column relu(0.2 - x)
    col = Phi[:, 0]
    assert_allclose(np.abs(col / np.linalg.norm(col)), np.abs(hinge / np.linalg.norm(hinge)), atol=1e-12)
    # either neighbouring pattern gives the same matrix
    D2 = D.copy()
    D2[6, 0] = False
    assert_allclose(pinned_feature_matrix(X, D2, [0, 1], [(6, 0)]), Phi, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, m=st.integers(4, 20), d=st.integers(1, 2))
def test_pinned_level_lies_above_the_neighbouring_patterns_and_is_a_constrained_minimum(seed, m, d):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (m, d))
    y = rng.standard_normal(m)
    n = 3
    D = rng.random((m, n)) < 0.6
    i, j = int(rng.integers(m)), int(rng.integers(n))
    S = list(range(n))
    off, on = D.copy(), D.copy()
    off[i, j], on[i, j] = False, True
    pinned = pinned_ls_level(X, y, D, S, [(i, j)])
    assert pinned >= local_ls_level(X, y, off, S) - 1e-12
    assert pinned >= local_ls_level(X, y, on, S) - 1e-12
    # the pinned block is orthogonal to x~_i: the neuron's output vanishes at x_i
    Phi = pinned_feature_matrix(X, D, S, [(i, j)])
    assert Phi.shape[1] == n * (d + 1) - 1
    assert_allclose(Phi[i, j * (d + 1) : j * (d + 1) + d], 0.0, atol=1e-14)


def test_pinned_level_validates():
    X = np.linspace(-1, 1, 5)[:, None]
    D = np.ones((5, 2), bool)
    with pytest.raises(ValueError, match="belong to S"):
        pinned_ls_level(X, np.zeros(5), D, [0], [(1, 1)])
    with pytest.raises(ValueError, match="data index"):
        pinned_ls_level(X, np.zeros(5), D, [0], [(9, 0)])
    with pytest.raises(TypeError, match="pins"):
        pinned_ls_level(X, np.zeros(5), D, [0], 3)
    assert pinned_ls_level(X, np.ones(5), D, [], []) == pytest.approx(0.5)


def _exact_excess(params, n, D, X, y, S):
    """L - L*(D,S) in exact rational arithmetic (Gram-Schmidt projection of y on range Phi)."""
    from fractions import Fraction as Fr

    from plateau_lib.theory import feature_matrix

    m = len(y)
    c, w, b = params[:n], params[n : 2 * n], params[2 * n :]
    r = [sum(Fr(c[j]) * (Fr(w[j]) * Fr(X[i, 0]) + Fr(b[j])) for j in range(n) if D[i, j]) - Fr(y[i]) for i in range(m)]
    Phi = feature_matrix(X, D, S)
    basis = []
    for k in range(Phi.shape[1]):
        v = [Fr(x) for x in Phi[:, k]]
        for q, qq in basis:
            f = sum(a * bb for a, bb in zip(v, q, strict=True)) / qq
            v = [a - f * bb for a, bb in zip(v, q, strict=True)]
        if any(v):
            basis.append((v, sum(a * a for a in v)))
    e = [Fr(x) for x in y]
    for q, qq in basis:
        f = sum(a * bb for a, bb in zip(e, q, strict=True)) / qq
        e = [a - f * bb for a, bb in zip(e, q, strict=True)]
    return float((sum(a * a for a in r) - sum(a * a for a in e)) / (2 * m))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_excess_floor_bounds_the_rounding_error_of_l_minus_lstar(seed):
    # near the level: the network's outputs are y's projection plus a tiny component in V
    net, X, y = generic_start(seed)
    D = net.preactivations(X) > 0
    S = [0, 1, 2, 3]
    run = FixedPatternRun(np.array([0.0, 1.0]), np.vstack([net.to_vector()] * 2), D, net.n, net.d, None, "flow")
    h = convergence_history(run, X, y, S)
    exact = _exact_excess(net.to_vector(), net.n, D, X, y, S)
    assert h.floor is not None and np.all(h.floor > 0)
    assert abs(h.excess[0] - exact) <= h.floor[0]
    # the floor is a few hundred ulps of the losses here, not a blanket tolerance
    assert h.floor[0] <= 1e3 * np.finfo(float).eps * (h.loss[0] + h.lstar)


def test_excess_floor_validates_and_grows_with_the_magnitudes():
    from plateau_lib.fixed_pattern import excess_floor

    small = excess_floor([1.0], [1.0], 1.0, 0.0, m=10, n=2, d=1)
    large = excess_floor([1.0], [100.0], 1.0, 0.0, m=10, n=2, d=1)
    assert 0 < small[0] < large[0] < 1e-12
    with pytest.raises(ValueError, match="same length"):
        excess_floor([1.0, 2.0], [1.0], 1.0, 0.0, m=10, n=2, d=1)


def _converged_segment():
    net, X, y = generic_start(3)
    S = [0, 1, 2]
    zeroed = net.with_params(c=np.r_[net.c[:3], 0.0], W=np.r_[net.W[:3], [[0.0]]], b=np.r_[net.b[:3], 0.0])
    return resolved_history(zeroed, X, y, S, t_end=5.0)


def test_check_bound_holds_on_a_flow_and_catches_a_violation_above_the_floor():
    from dataclasses import replace

    from plateau_lib.fixed_pattern import check_bound

    _, h = _converged_segment()
    bound = h.flow_bound()
    ok = check_bound(h, bound, 1e-9 + 3 * h.quadrature_error())
    assert ok.holds and ok.floored_ratio <= 1 + ok.rtol and ok.decades > 5
    assert ok.projected_ratio <= 1 + ok.rtol
    # a violation of a relative 1e-6 near the end, far above the floor there, is caught
    k = len(h.t) - 1
    assert bound[k] * 1e-6 > 100 * h.floor[k]
    excess = h.excess.copy()
    excess[k] = bound[k] * (1 + 1e-6)
    bad = check_bound(replace(h, excess=excess), bound, 1e-9)
    assert not bad.holds and bad.floored_ratio > 1 + 1e-7
    # the floor hides only errors below itself
    tiny = h.excess.copy()
    tiny[k] = bound[k] + 0.5 * h.floor[k]
    assert check_bound(replace(h, excess=tiny), bound, 0.0).holds
    with pytest.raises(TypeError, match="floor"):
        check_bound(replace(h, floor=None), bound, 0.0)
    with pytest.raises(ValueError, match="bound must have shape"):
        check_bound(h, bound[:-1], 0.0)

