"""The gradient flow: conservation (fact 2), monotone loss, located events, sliding motions,
dying neurons, and agreement with gradient descent as the step size goes to zero."""

from __future__ import annotations

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.network import activation_counts, init_network, loss
from plateau_lib.trainers.first_order import train_gd
from plateau_lib.trainers.flow import train_flow


def sin_1d(seed=0, n=5, scale=0.5, m=21):
    X = np.linspace(-1.0, 1.0, m)[:, None]
    return init_network(n, 1, scale=scale, rng=np.random.default_rng(seed)), X, np.sin(np.pi * X[:, 0])


def kink_1d(seed=1, n=6, scale=1e-2):
    """Small initialisation on a target with a kink; for seed 1 a neuron dies at t = 1.37."""
    X = np.linspace(-1.0, 1.0, 21)[:, None]
    y = np.abs(X[:, 0] - 0.1) + np.sin(3 * X[:, 0])
    return init_network(n, 1, scale=scale, rng=np.random.default_rng(seed)), X, y


def grid_2d(seed=1, n=8):
    """A 7 x 7 grid and a target with a kink along the grid column x1 = 0: neurons' lines
    come to lie on grid rows and columns, so several points sit on one breakpoint."""
    g = np.linspace(-1.0, 1.0, 7)
    X = np.array([(a, b) for a in g for b in g])
    y = np.abs(X[:, 0]) + np.sin(2 * X[:, 1])
    return init_network(n, 2, scale=0.5, rng=np.random.default_rng(seed)), X, y


CASES = {
    "sin_1d": (sin_1d, 50.0),
    "kink_1d_small_init": (kink_1d, 40.0),
    "grid_2d": (grid_2d, 40.0),
}
_RUNS: dict[str, tuple] = {}
# Under mutmut every test integrates its own flow: mutmut runs a mutant against the tests that
# called the mutated function, and a test reading another test's run would be left out.
_SHARE_RUNS = "MUTANT_UNDER_TEST" not in os.environ


def flow_run(name):
    if name not in _RUNS or not _SHARE_RUNS:
        make, t_end = CASES[name]
        net, X, y = make()
        _RUNS[name] = (train_flow(net, X, y, t_end=t_end), net, X, y)
    return _RUNS[name]


def _v2(params, n, d):
    W = params[:, n : n + n * d].reshape(len(params), n, d)
    return np.sum(W**2, axis=2) + params[:, n + n * d :] ** 2


def balance(params, n, d):
    r"""Per-neuron :math:`c_j^2 - |v_j|^2` for each row of ``params`` (fact 2)."""
    c = params[:, :n]
    W = params[:, n : n + n * d].reshape(len(params), n, d)
    b = params[:, n + n * d :]
    return c**2 - np.sum(W**2, axis=2) - b**2


@pytest.mark.parametrize("name", list(CASES))
def test_flow_reaches_t_end_through_many_events(name):
    res, net, X, y = flow_run(name)
    assert res.status == "budget", res.message
    assert res.extra["t"][-1] == CASES[name][1]
    assert len(res.extra["event_times"]) >= 10
    assert len(res.pattern_changes) >= 5
    assert res.extra["n_sliding"].max() >= 1  # every case contains a sliding motion
    assert res.final_loss < 0.5 * res.loss[0]


@pytest.mark.parametrize("name", list(CASES))
def test_flow_conserves_balance_across_pattern_changes(name):
    """Fact 2: c_j^2 - |v_j|^2 is constant for every neuron, through every crossing and
    sliding motion. Tolerance: 1e-8 times the largest c_j^2 + |v_j|^2 along the trajectory
    (the integrator's rtol is 1e-9 per step, relative to the parameters' size; the drift
    we see is 2e-11 to 2e-9 of that size)."""
    res, net, X, y = flow_run(name)
    q = balance(res.params, net.n, net.d)
    size = np.max(res.params[:, : net.n] ** 2 + _v2(res.params, net.n, net.d))
    assert np.max(np.abs(q - q[0])) <= 1e-8 * size
    # and it is not conserved by accident: the parameters moved a lot
    assert np.max(np.abs(res.params[-1] - res.params[0])) > 100 * 1e-8 * size


@pytest.mark.parametrize("name", list(CASES))
def test_flow_loss_is_non_increasing(name):
    res, *_ = flow_run(name)
    assert np.all(np.diff(res.loss) <= 1e-12 * res.loss[0])
    assert res.loss[-1] < res.loss[0]


@pytest.mark.parametrize("name", list(CASES))
def test_pattern_changes_happen_at_located_events_on_a_breakpoint(name):
    """At every recorded pattern change some pre-activation z_ij is zero to 1e-7 of its
    size |x~_i| |v_j| (in fact to 1e-12: the event is located to machine precision and
    the pair is then put 1e-12 on its side), and the change time is an event time."""
    res, net, X, y = flow_run(name)
    t = res.extra["t"]
    assert_array_equal(res.extra["change_times"], t[res.pattern_changes])
    assert np.all(np.isin(res.extra["change_times"], res.extra["event_times"]))
    assert np.all(np.isin(res.extra["event_times"], t))
    Xt = np.column_stack([X, np.ones(len(X))])
    for k in res.pattern_changes:
        net_k = res.net_at(int(k))
        Z = net_k.preactivations(X)
        size = np.linalg.norm(Xt, axis=1)[:, None] * np.linalg.norm(net_k.v, axis=1)[None, :]
        changed = res.flips[res.flips[:, 0] == k][:, 1:]
        zc, sc = Z[changed[:, 0], changed[:, 1]], size[changed[:, 0], changed[:, 1]]
        dead = sc == 0  # a neuron that died: v_j = 0
        assert np.all(dead | (np.abs(zc) < 1e-7 * sc)), (t[k], zc, sc)


def test_recorded_times_and_t_eval():
    net, X, y = sin_1d()
    t_eval = np.linspace(0.0, 20.0, 41)
    res = train_flow(net, X, y, t_end=20.0, t_eval=t_eval)
    t = res.extra["t"]
    assert np.all(np.diff(t) >= 0)
    assert np.all(np.isin(t_eval, t))
    assert set(t) == set(t_eval) | set(res.extra["event_times"])
    assert t[-1] == 20.0 and res.extra["t_end"] == 20.0
    assert_array_equal(res.steps, np.arange(len(t)))
    # the same trajectory as with records at every integrator step, at the shared times
    dense = train_flow(net, X, y, t_end=20.0)
    assert_allclose(res.params[-1], dense.params[-1], rtol=0, atol=1e-12)
    assert_array_equal(res.extra["event_times"], dense.extra["event_times"])


@pytest.mark.parametrize(("name", "t_end"), [("sin_1d", 20.0), ("kink_1d_small_init", 5.0), ("grid_2d", 20.0)])
def test_gradient_descent_converges_to_the_flow_at_first_order(name, t_end):
    """GD with step eta after t/eta steps is within O(eta) of the flow at time t, although
    GD flickers across breakpoints thousands of times where the flow slides."""
    make, _ = CASES[name]
    net, X, y = make()
    t_eval = np.linspace(0.0, t_end, 11)
    res = train_flow(net, X, y, t_end=t_end, t_eval=t_eval)
    at = np.isin(res.extra["t"], t_eval) & np.r_[True, np.diff(res.extra["t"]) > 0]
    flow_params = res.params[at]
    errors = {}
    for lr in (1e-2, 1e-3):
        every = round(t_end / 10 / lr)
        gd = train_gd(net, X, y, lr=lr, steps=round(t_end / lr), record_every=every)
        gd_params = gd.params[np.isin(gd.steps, np.arange(0, round(t_end / lr) + 1, every))]
        errors[lr] = np.max(np.abs(gd_params - flow_params))
        if lr == 1e-3:
            assert len(gd.pattern_changes) > 3 * len(res.pattern_changes)
    assert errors[1e-3] < 0.15 * errors[1e-2], errors  # first order: tenfold smaller step, tenfold smaller error
    assert errors[1e-3] < 5e-3, errors


def test_sliding_pair_stays_on_its_breakpoint():
    res, net, X, y = flow_run("sin_1d")
    Xt = np.column_stack([X, np.ones(len(X))])
    sliding = np.nonzero(res.extra["n_sliding"] > 0)[0]
    assert len(sliding) > 0
    for k in sliding:
        net_k = res.net_at(int(k))
        size = np.linalg.norm(Xt, axis=1)[:, None] * np.linalg.norm(net_k.v, axis=1)[None, :]
        rel = np.abs(net_k.preactivations(X)) / np.where(size > 0, size, np.inf)
        assert np.sum(rel < 1e-9) >= res.extra["n_sliding"][k]


def test_a_neuron_that_collapses_dies_as_in_gradient_descent():
    net, X, y = kink_1d()
    res = train_flow(net, X, y, t_end=5.0)
    assert list(res.extra["event_kinds"]).count("neuron_dies") == 1  # a dead neuron is not resolved again
    t_death = res.extra["event_times"][res.extra["event_kinds"] == "neuron_dies"][0]
    assert 1.0 < t_death < 2.0
    dead = np.nonzero(np.linalg.norm(res.net.v, axis=1) == 0)[0]
    assert len(dead) == 1
    j = dead[0]
    assert activation_counts(res.net, X)[j] == 0
    after = res.extra["t"] > t_death
    assert np.all(res.counts[after, j] == 0)
    gd = train_gd(net, X, y, lr=1e-3, steps=5000, record_every=5000)
    assert np.linalg.norm(gd.net.v[j]) < 1e-5 and gd.counts[-1, j] == 0
    assert_allclose(gd.net.c[j], res.net.c[j], atol=1e-5)


def test_max_pattern_changes_stops_the_run_and_says_so():
    net, X, y = sin_1d()
    res = train_flow(net, X, y, t_end=50.0, max_pattern_changes=3)
    assert res.status == "failed" and not res.completed
    assert "max_pattern_changes=3" in res.message
    assert len(res.extra["event_times"]) == 4
    assert res.extra["t"][-1] == res.extra["event_times"][-1] < 50.0
    assert_allclose(res.final_loss, loss(res.net, X, y), rtol=1e-12)


@pytest.mark.parametrize("integrator", ["RK45", "Radau", "LSODA"])
def test_other_integrators_follow_the_same_trajectory(integrator):
    net, X, y = kink_1d()
    ref = train_flow(net, X, y, t_end=3.0)
    res = train_flow(net, X, y, t_end=3.0, integrator=integrator)
    assert res.status == "budget"
    assert_allclose(res.net.to_vector(), ref.net.to_vector(), rtol=0, atol=1e-7)
    assert_allclose(res.extra["event_times"], ref.extra["event_times"], rtol=0, atol=1e-6)
    assert res.extra["integrator"] == integrator


def test_counts_rhs_evaluations_and_steps():
    res, *_ = flow_run("sin_1d")
    assert res.nit >= 10
    assert res.nfev >= 12 * res.nit  # DOP853: 12 stages a step, plus dense output and restarts
    assert res.njev == 0


# --------------------------------------------------------------------------- the sliding fractions


def test_the_sliding_constraint_is_the_velocity_of_the_pinned_pairs():
    """A alpha - b = X_S (q + X_S^T (alpha o r_S)): no pinned pair moves off its breakpoint when it is 0."""
    from plateau_lib.trainers.flow import _constraint

    rng = np.random.default_rng(0)
    XS, rS, q, alpha = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=2), rng.uniform(size=3)
    A, b = _constraint(XS, rS, q)
    assert_allclose(A @ alpha - b, XS @ (q + XS.T @ (alpha * rS)), rtol=1e-12, atol=1e-14)


def _margin(alpha):
    return float(np.min(np.minimum(alpha, 1 - alpha)))


def test_max_margin_keeps_the_constraint_and_finds_the_best_fraction_a_grid_finds():
    """Affinely dependent points (three on a line, d = 2 with the bias): the solutions form a line
    alpha0 + z n; the largest distance to the faces of [0, 1]^3 along it, by a fine grid of z."""
    from plateau_lib.trainers.flow import _constraint, _max_margin

    XS = np.array([[0.0, 1.0], [0.5, 1.0], [1.0, 1.0]])  # rows (x, 1): collinear, rank 2
    rS = np.array([1.0, -2.0, 0.5])
    alpha0 = np.array([0.2, 0.3, 0.9])
    q = -XS.T @ (alpha0 * rS)  # alpha0 solves A alpha = b
    A, b = _constraint(XS, rS, q)
    assert_allclose(A @ alpha0, b, atol=1e-13)
    alpha, margin = _max_margin(XS, rS, q, alpha0)
    assert_allclose(A @ alpha, b, atol=1e-12)
    assert margin == pytest.approx(_margin(alpha), abs=1e-9)
    n = np.linalg.svd(A)[2][-1]
    grid = max(_margin(alpha0 + z * n) for z in np.linspace(-3, 3, 60001))
    assert margin == pytest.approx(grid, abs=1e-4) and margin > _margin(alpha0)


def test_max_margin_without_freedom_returns_the_start_and_its_margin():
    from plateau_lib.trainers.flow import _max_margin

    XS = np.array([[0.0, 1.0], [1.0, 1.0]])  # independent: A has full rank, one solution
    alpha0 = np.array([0.4, 0.9])
    rS = np.array([1.0, 1.0])
    alpha, margin = _max_margin(XS, rS, -XS.T @ (alpha0 * rS), alpha0)
    assert_array_equal(alpha, alpha0)
    assert margin == pytest.approx(0.1)  # the fraction nearest a face: 1 - 0.9
    # a zero matrix (r_S = 0) leaves every fraction free: the centre, margin 1/2
    alpha, margin = _max_margin(XS, np.zeros(2), np.zeros(2), alpha0)
    assert_allclose(alpha, [0.5, 0.5], atol=1e-9)
    assert margin == pytest.approx(0.5)


def test_max_margin_falls_back_to_the_start_when_the_linear_programme_fails(monkeypatch):
    """The programme is always feasible and bounded (s = min(alpha0, 1 - alpha0), z = 0 is a point);
    should the solver still fail, the start and its own margin are returned."""
    import types

    import scipy.optimize

    from plateau_lib.trainers.flow import _max_margin

    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **k: types.SimpleNamespace(status=4, x=None))
    XS = np.array([[0.0, 1.0], [0.5, 1.0], [1.0, 1.0]])
    alpha0 = np.array([0.2, 0.3, 0.9])
    alpha, margin = _max_margin(XS, np.array([1.0, -2.0, 0.5]), np.zeros(2), alpha0)
    assert_array_equal(alpha, alpha0)
    assert margin == pytest.approx(0.1)


def test_max_margin_over_a_two_dimensional_family_matches_a_grid():
    """Three pinned pairs at one point: A has rank 1, the solutions a plane alpha0 + N z."""
    from plateau_lib.trainers.flow import _constraint, _max_margin

    XS = np.array([[0.5, 1.0]] * 3)
    rS = np.array([1.0, 2.0, -1.0])
    alpha0 = np.array([0.05, 0.1, 0.95])
    q = -XS.T @ (alpha0 * rS)
    A, b = _constraint(XS, rS, q)
    alpha, margin = _max_margin(XS, rS, q, alpha0)
    assert_allclose(A @ alpha, b, atol=1e-12)
    assert margin == pytest.approx(_margin(alpha), abs=1e-9)
    N = np.linalg.svd(A)[2][1:].T
    z = np.linspace(-2, 2, 401)
    grid = max(_margin(alpha0 + N @ np.array([u, v])) for u in z for v in z)
    assert margin == pytest.approx(grid, abs=1e-2) and margin >= grid - 1e-12


def test_track_alpha_of_one_pair_is_the_fraction_that_pins_it():
    r"""One pair: :math:`\tilde x\cdot(q + \alpha r \tilde x) = 0`, so
    :math:`\alpha = -\tilde x\cdot q / (r|\tilde x|^2)`; with :math:`r = 0` no fraction pins it
    (:math:`\pm\infty` by the sign of the velocity) unless it does not move (the centre is kept)."""
    from plateau_lib.trainers.flow import _track_alpha

    x, q = np.array([[0.5, 1.0]]), np.array([0.3, -1.0])
    alpha = _track_alpha(x, np.array([2.0]), q, np.array([0.7]))
    assert alpha.shape == (1,)
    assert x[0] @ (q + alpha[0] * 2.0 * x[0]) == pytest.approx(0.0, abs=1e-15)
    assert alpha[0] == pytest.approx(0.85 / 2.5)
    assert_array_equal(_track_alpha(x, np.zeros(1), q, np.array([0.7])), [np.inf])  # x.q = -0.85
    assert_array_equal(_track_alpha(x, np.zeros(1), -q, np.array([0.7])), [-np.inf])
    assert_array_equal(_track_alpha(x, np.zeros(1), np.array([2.0, -1.0]), np.array([0.7])), [0.7])


@pytest.mark.parametrize("rows", [[0, 1], [0, 1, 2]])
def test_track_alpha_of_several_pairs_pins_them_all_nearest_the_centre(rows):
    """Two independent points: the unique fractions. Three on a line (affinely dependent): a line
    of solutions, of which the one nearest the centre (the difference is orthogonal to the
    family's direction, the null space of the constraint)."""
    from plateau_lib.trainers.flow import _constraint, _track_alpha

    XS = np.array([[0.0, 1.0], [0.5, 1.0], [1.0, 1.0]])[rows]
    rS = np.array([1.0, -2.0, 0.5])[rows]
    q, center = np.array([0.4, -0.2]), np.array([0.1, 0.5, 0.8])[rows]
    alpha = _track_alpha(XS, rS, q, center)
    assert alpha.shape == (len(rows),)
    assert_allclose(XS @ (q + XS.T @ (alpha * rS)), 0.0, atol=1e-13)  # no pinned pair moves
    A, _ = _constraint(XS, rS, q)
    _, sv, Vt = np.linalg.svd(A)
    null = Vt[int(np.sum(sv > 1e-12 * sv[0])) :]
    assert len(null) == len(rows) - 2
    assert_allclose(null @ (alpha - center), 0.0, atol=1e-13)


# --------------------------------------------------------------------------- several pairs on one breakpoint


def _filippov_violation(field, rows, Dj, r, cj, status, alpha) -> float:
    r"""Largest violation of Filippov's conditions by the sides ``status`` and fractions ``alpha``
    of the pairs ``rows`` on neuron j's breakpoint, relative to the scale of their velocities.

    With :math:`p = q + \sum_k \alpha_k r_k\tilde x_k` the pairs' velocities are
    :math:`u_k = -\tfrac{c_j}{m}\tilde x_k\cdot p`: an inactive pair must not move up
    (:math:`u_k \le 0`), an active one not down (:math:`u_k \ge 0`), a sliding one not at all.
    """
    from plateau_lib.trainers.flow import ACTIVE, INACTIVE

    XS = field.Xt[rows]
    C = (XS * r[rows, None]).T
    q = field.Xt.T @ (Dj * r)
    u = -(cj / field.m) * XS @ (q + C @ alpha)
    scale = (abs(cj) / field.m) * np.linalg.norm(XS, axis=1) * (np.linalg.norm(q) + np.abs(C).sum())
    wrong_way = np.where(status == INACTIVE, np.maximum(u, 0), np.where(status == ACTIVE, np.maximum(-u, 0), np.abs(u)))
    return float(np.max(wrong_way / scale))


def _best_margin(field, rows, Dj, r, status) -> float:
    r"""The largest :math:`s` with :math:`s \le \alpha_k \le 1 - s` over the fractions of the
    sliding pairs that pin them (:math:`A\alpha = b`, the active pairs' fraction 1), by a linear
    programme in :math:`(\alpha, s)` itself (the code searches the null space of :math:`A`)."""
    from scipy.optimize import linprog

    from plateau_lib.trainers.flow import ACTIVE, SLIDING, _constraint

    sl, act = status == SLIDING, status == ACTIVE
    XS, rS = field.Xt[rows], r[rows]
    q = field.Xt.T @ (Dj * r) + (XS[act] * rS[act, None]).sum(axis=0)
    A, b = _constraint(XS[sl], rS[sl], q)
    K = int(sl.sum())
    eye, ones = np.eye(K), np.ones((K, 1))
    res = linprog(
        np.r_[np.zeros(K), -1.0],
        A_ub=np.block([[-eye, ones], [eye, ones]]),
        b_ub=np.r_[np.zeros(K), np.ones(K)],
        A_eq=np.c_[A, np.zeros(K)],
        b_eq=b,
        bounds=[(None, None)] * K + [(None, 0.5)],
        method="highs",
    )
    assert res.status == 0
    return float(res.x[-1])


def _pairs_on_a_line(rng):
    """2-5 data points on neuron j's line (x2 = 0.3 x1 + 0.1), two of them sometimes at one place,
    8 others; random residuals, output weight and pattern of the others."""
    k = int(rng.integers(2, 6))
    x1 = rng.uniform(-1, 1, k)
    on = np.column_stack([x1, 0.3 * x1 + 0.1])
    if rng.random() < 0.3:
        on[1] = on[0]
    X = np.vstack([on, rng.uniform(-1, 1, (8, 2))])
    return X, np.arange(k), np.r_[np.zeros(k, bool), rng.random(8) < 0.5], rng.normal(size=len(X)), rng.normal()


# Found by a random search: two data points at one place, one attracted to the breakpoint and one
# not. When the attracted pair slides, its twin's velocity is zero in exact arithmetic; the side
# iteration read the sign of its roundoff (u > 0), cycled, and returned fractions that did not pin
# the sliding pairs (violation 0.077).
TWIN_X = np.array(
    [
        [-0.1935120064930047, 0.0419463980520986],
        [-0.1935120064930047, 0.0419463980520986],
        [-0.2647205721646604, 0.020583828350601893],
        [-0.7132243715642099, -0.11396731146926298],
        [-0.7034443222692695, 0.9310366883749541],
        [-0.8624863249780901, -0.7522411540815479],
        [0.9335629306080075, 0.9006534117510925],
        [-0.329181057999393, -0.7944212036048817],
        [0.21732051902763216, -0.12380556491781514],
        [0.9041140669695948, -0.7433292554832971],
        [0.5564336172488891, -0.9503310405421399],
        [-0.5846941019156979, -0.3989427391277329],
    ]
)
TWIN_R = np.array(
    [
        -0.25024315898180166,
        0.38073603329011385,
        -0.8735687005905115,
        -1.1930087089371764,
        0.05964869941978189,
        0.2635598382876176,
        -0.27727835054438915,
        0.5623565268593742,
        0.31180943695060304,
        1.0116631952729296,
        0.043262599181645885,
        0.15319185916557274,
    ]
)
TWIN_CJ = -1.0452308852212253
TWIN_DJ = np.isin(np.arange(12), [4, 7, 11])


def test_pairs_on_one_breakpoint_take_sides_that_meet_filippovs_conditions():
    """Several pairs on one breakpoint (affinely dependent points, twins): the sides and fractions
    of :meth:`_Field._classify` meet Filippov's conditions, only attracted pairs (c_j r_k > 0) slide,
    strictly inside (0, 1). The tolerance, 1e-8 of the velocities' scale, is the band in which the
    classification takes a velocity for zero; the violation it guards against was 1e-2 to 1e-1."""
    from plateau_lib.trainers.flow import ACTIVE, INACTIVE, SLIDE_MARGIN, SLIDING, _Field

    rng = np.random.default_rng(1)
    cases = [_pairs_on_a_line(rng) for _ in range(300)] + [(TWIN_X, np.arange(4), TWIN_DJ, TWIN_R, TWIN_CJ)]
    n_sliding = []
    for X, rows, Dj, r, cj in cases:
        field = _Field(X, np.zeros(len(X)), 1, 2)
        status, alpha = field._classify(rows, Dj, r, cj)
        assert _filippov_violation(field, rows, Dj, r, cj, status, alpha) <= 1e-8
        sliding = status == SLIDING
        assert np.all(cj * r[rows][sliding] > 0)
        assert np.all((alpha[sliding] > SLIDE_MARGIN) & (alpha[sliding] < 1 - SLIDE_MARGIN))
        assert_array_equal(alpha[status == ACTIVE], 1.0)
        assert_array_equal(alpha[status == INACTIVE], 0.0)
        if sliding.sum() >= 2:  # centred: the largest margin the sliding pairs' fractions admit
            assert _margin(alpha[sliding]) >= _best_margin(field, rows, Dj, r, status) - 1e-9
        n_sliding.append(int(sliding.sum()))
    assert min(n_sliding) == 0 and max(n_sliding) >= 4 and sum(n >= 2 for n in n_sliding) >= 10  # every kind seen


def test_a_breakpoint_whose_output_weight_vanishes_holds_its_pairs_inactive():
    """c_j ~ 0: the breakpoint does not move to first order; relu'(0) = 0 makes its pairs inactive."""
    from plateau_lib.trainers.flow import INACTIVE, _Field

    field = _Field(TWIN_X, np.zeros(12), 1, 2, v_tol=1e-6)
    for cj in (0.0, 1e-6, -1e-6):
        status, alpha = field._classify(np.arange(4), TWIN_DJ, TWIN_R, cj)
        assert_array_equal(status, np.full(4, INACTIVE))
        assert_array_equal(alpha, np.zeros(4))
    status, _ = field._classify(np.arange(4), TWIN_DJ, TWIN_R, TWIN_CJ)  # the twins' case: three pairs slide
    assert np.sum(status != INACTIVE) == 3


# --------------------------------------------------------------------------- the field's pieces


def test_pair_scale_is_the_norm_of_the_augmented_point_times_the_neurons():
    from plateau_lib.trainers.flow import _Field

    net, X, y = grid_2d()
    field = _Field(X, y, net.n, 2)
    theta = net.to_vector()
    theta[net.n] = 0.0  # a zero weight: |v_j| is still the norm of (w_j, b_j)
    W, b = theta[net.n : 3 * net.n].reshape(net.n, 2), theta[3 * net.n :]
    expected = [[np.linalg.norm([*x, 1.0]) * np.linalg.norm([*W[j], b[j]]) for j in range(net.n)] for x in X]
    assert_allclose(field.pair_scale(theta), expected, rtol=1e-14)


def test_the_fractions_of_a_sliding_group_pin_it_nearest_its_centre():
    """A group of three collinear pairs (affinely dependent): the fractions the field uses pin every
    pair and differ from the group's centre only across the family of solutions."""
    from plateau_lib.trainers.flow import _constraint, _Field, _Group

    X = np.vstack(
        [np.column_stack([[-0.5, 0.0, 0.5], [0.1, 0.25, 0.4]]), np.random.default_rng(2).uniform(-1, 1, (6, 2))]
    )
    r = np.random.default_rng(3).normal(size=9)
    field = _Field(X, np.zeros(9), 1, 2)
    D = np.zeros((9, 1), dtype=bool)
    D[[4, 6, 7], 0] = True
    centre = np.array([0.2, 0.5, 0.7])
    field.set_segment(D, [_Group(0, np.arange(3), centre)], np.zeros(1, dtype=bool))
    (alpha,) = field.alphas(r)
    XS, q = field.Xt[:3], field.Xt.T @ (D[:, 0] * r)
    assert_allclose(XS @ (q + XS.T @ (alpha * r[:3])), 0.0, atol=1e-13)
    A, _ = _constraint(XS, r[:3], q)
    null = np.linalg.svd(A)[2][-1]
    assert_allclose(null @ (alpha - centre), 0.0, atol=1e-13)


def test_nfev_counts_every_evaluation_of_the_field(monkeypatch):
    from plateau_lib.trainers import flow

    calls = []
    original = flow._Field.__call__
    monkeypatch.setattr(flow._Field, "__call__", lambda self, t, theta: calls.append(t) or original(self, t, theta))
    net, X, y = kink_1d()
    res = train_flow(net, X, y, t_end=1.0)
    assert res.nfev == len(calls) > 12 * res.nit


def test_a_pair_on_a_breakpoint_is_nudged_to_its_side_and_watched_from_there():
    r"""Neuron 0's breakpoint sits on the data point x = 0.5. ``start_segment`` classifies the pair,
    moves the breakpoint by :math:`10^{-12}` of the pair's scale to the pair's side, and offsets its
    crossing event so that it starts at ``NUDGE`` times that scale; nothing else moves. Here the
    two signs of c_0 put the pair on opposite sides (both directions of the nudge are checked)."""
    from plateau_lib.network import ShallowReLU
    from plateau_lib.trainers.flow import NUDGE, _Field

    X = np.linspace(-1.0, 1.0, 21)[:, None]
    y = np.sin(3 * X[:, 0])
    scale = 1.25  # |(x, 1)| |(w, b)| at x = 0.5, for (w, b) = (1, -0.5); not 1: NUDGE * scale != NUDGE / scale
    sides = []
    for c0 in (1.0, -1.0):
        net = ShallowReLU(np.array([c0, 0.7]), np.array([[1.0], [-0.8]]), np.array([-0.5, 0.3]))
        field = _Field(X, y, 2, 1)
        theta = net.to_vector()
        nudged, n_sliding = field.start_segment(theta)
        assert n_sliding == 0
        moved = np.flatnonzero(nudged != theta)
        assert set(moved) <= {2, 4} and len(moved) >= 1  # only neuron 0's weight and bias
        z = field.preactivations(nudged)[15, 0]
        sides.append(bool(field.D[15, 0]))
        side = 1.0 if field.D[15, 0] else -1.0
        assert side * z == pytest.approx(NUDGE * scale, rel=1e-3, abs=0)
        assert field.sign[15, 0] * z + field.offset[15, 0] == pytest.approx(NUDGE * scale, rel=1e-12, abs=0)
        assert_array_equal(np.delete(field.offset.ravel(), 15 * 2), 0.0)
        assert_array_equal(field.D[:, 1], field.preactivations(nudged)[:, 1] > 0)
        assert field.crossing(0.0, nudged) == pytest.approx(NUDGE * scale, rel=1e-3, abs=0)
    assert sorted(sides) == [False, True]


# --------------------------------------------------------------------------- options and counters


def test_rtol_is_accepted_from_100_eps_up_to_but_not_including_1():
    from plateau_lib.trainers.flow import _EPS

    net, X, y = sin_1d()
    for rtol in (100 * _EPS, 0.5):
        assert train_flow(net, X, y, t_end=1e-3, rtol=rtol).extra["rtol"] == rtol
    for rtol in (1.0, 100 * _EPS * (1 - 1e-6)):
        with pytest.raises(ValueError, match=r"^rtol must lie in \[2.22e-14, 1\), got "):
            train_flow(net, X, y, t_end=1e-3, rtol=rtol)


def test_the_default_atol_is_a_thousandth_of_rtol_times_the_parameters_rms():
    net, X, y = sin_1d(scale=0.5)
    theta = net.to_vector()
    res = train_flow(net, X, y, t_end=1e-3, rtol=1e-8)
    assert res.extra["atol"] == pytest.approx(1e-11 * np.sqrt(np.mean(theta**2)), rel=1e-15)
    assert np.sqrt(np.mean(theta**2)) < 1  # so that the rule is not "1e-3 rtol" on this net
    zero = type(net)(0 * net.c, 0 * net.W, 0 * net.b)  # rms 0: the absolute 1e-3 rtol
    assert train_flow(zero, X, y, t_end=1e-3, rtol=1e-8).extra["atol"] == pytest.approx(1e-11, rel=1e-15)


def test_max_step_bounds_every_step_and_must_be_a_positive_real():
    net, X, y = sin_1d()
    res = train_flow(net, X, y, t_end=2.0, max_step=0.25)
    assert np.max(np.diff(res.extra["t"])) <= 0.25 * (1 + 1e-12) and res.nit >= 8
    for bad, error in ((True, TypeError), ("1", TypeError), (0.0, ValueError), (-1.0, ValueError)):
        with pytest.raises(error, match="^max_step must be"):
            train_flow(net, X, y, t_end=1.0, max_step=bad)


def test_zero_pattern_changes_stops_at_the_first_event():
    net, X, y = sin_1d()
    res = train_flow(net, X, y, t_end=50.0, max_pattern_changes=0)
    assert res.status == "failed" and "max_pattern_changes=0" in res.message
    assert len(res.extra["event_times"]) == 1


def test_nit_and_njev_count_the_integrators_steps_and_jacobians(monkeypatch):
    import scipy.integrate

    steps = []
    original = scipy.integrate.DOP853.step
    monkeypatch.setattr(scipy.integrate.DOP853, "step", lambda self: steps.append(1) or original(self))
    net, X, y = sin_1d()
    res = train_flow(net, X, y, t_end=2.0, t_eval=[1.0, 2.0])
    assert res.nit == len(steps) >= 5 and res.njev == 0  # explicit: no Jacobian
    assert len(res.steps) - 1 < res.nit  # records (3) are not steps
    implicit = train_flow(*kink_1d(), t_end=2.0, integrator="Radau")
    assert implicit.njev > 0


def test_no_progress_bar_unless_asked(capsys):
    net, X, y = sin_1d()
    train_flow(net, X, y, t_end=0.5)
    assert capsys.readouterr().err == ""
    train_flow(net, X, y, t_end=0.5, progress=True)
    assert "flow" in capsys.readouterr().err


def test_events_that_make_no_progress_in_time_stop_the_run(monkeypatch):
    """A crossing event that stays on from t = 0.5 (injected) fires at the start of every segment:
    time stops advancing, and after STALL_EVENTS such events the run stops and says why."""
    from plateau_lib.trainers import flow

    monkeypatch.setattr(flow._Field, "crossing", lambda self, t, theta: 1.0 if t < 0.5 else 0.0)
    net, X, y = sin_1d()
    res = train_flow(net, X, y, t_end=5.0)
    assert res.status == "failed"
    assert res.message.endswith(
        f"after {flow.STALL_EVENTS} events without progress in time (Zeno-like flicker at a breakpoint?)"
    )
    times = res.extra["event_times"]
    assert len(times) == flow.STALL_EVENTS + 1
    assert_array_equal(times, times[0])
    assert 0.5 <= times[0] < 1.0


def test_the_progress_bar_counts_thousandths_of_t_end_and_ends_full(monkeypatch):
    from plateau_lib.trainers import flow

    bars = []

    class Bar:
        def __init__(self, total, desc, enabled):
            self.total, self.n, self.steps, self.closed = total, 0, [], False
            bars.append(self)

        def update(self, k):
            assert k >= 0
            self.n += k
            self.steps.append(k)

        def close(self):
            self.closed = True

    monkeypatch.setattr(flow, "progress_bar", Bar)
    net, X, y = sin_1d()
    train_flow(net, X, y, t_end=3.0, progress=True)
    (bar,) = bars
    assert bar.total == bar.n == 1000 and bar.closed  # a thousandth of t_end a unit, full at t_end


def test_t_eval_must_increase_strictly_inside_0_to_t_end():
    net, X, y = sin_1d()
    for bad in ([0.0, 1.0, 1.0], [-1.0, 1.0], [0.0, 1.0, 50.0]):
        with pytest.raises(ValueError, match="^t_eval must"):
            train_flow(net, X, y, t_end=40.0, t_eval=bad)
    with pytest.raises(ValueError, match="t_eval"):
        train_flow(net, X, y, t_end=40.0, t_eval=[[0.0, 1.0]])


def test_an_integrator_failure_ends_the_run_and_says_where(monkeypatch):
    """A step that fails (injected after the integrator's fifth) ends the run with status "failed",
    the integrator's message and the time reached; what was integrated is kept."""
    import scipy.integrate

    steps = []
    original = scipy.integrate.DOP853.step

    def step(self):
        steps.append(1)
        if len(steps) == 6:
            self.status, self.message = "failed", "step size too small (injected)"
            return
        original(self)

    monkeypatch.setattr(scipy.integrate.DOP853, "step", step)
    net, X, y = sin_1d()
    res = train_flow(net, X, y, t_end=5.0)
    assert res.status == "failed" and res.nit == 5
    assert res.message == f"integrator failed at t={res.extra['t'][-1]:.6g}: step size too small (injected)"
    assert 0 < res.extra["t"][-1] < 5.0
