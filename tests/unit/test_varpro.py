"""Variable projection (plateau_lib.trainers.varpro): the reduced residual, its Jacobians, the trainer."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.experiments import get_experiment
from plateau_lib.network import ShallowReLU, activation_pattern, gradient, init_network, loss
from plateau_lib.theory import feature_matrix, local_ls_level
from plateau_lib.trainers import front_door, varpro
from plateau_lib.trainers.scipy_based import train_lm
from plateau_lib.trainers.varpro import project, reduced_jacobian, train_varpro


def problem_2d(seed: int = 0, m: int = 50, n: int = 4):
    """Random 2-D inputs, a smooth target the network cannot fit exactly, and a width-n network."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (m, 2))
    y = np.sin(2.0 * X[:, 0]) + X[:, 1] ** 2
    return init_network(n, 2, scale=1.0, rng=rng), X, y


def alpha_of(net: ShallowReLU) -> np.ndarray:
    return np.concatenate([net.W.ravel(), net.b])


def finite_differences(alpha, X, y, n, h=1e-6):
    """Central differences of f = (A c(alpha) - y)/sqrt(m), checking that no pre-activation changes sign."""
    pattern = project(alpha, X, y, n).active
    cols = []
    for k in range(alpha.size):
        e = np.zeros_like(alpha)
        e[k] = h
        plus, minus = project(alpha + e, X, y, n), project(alpha - e, X, y, n)
        assert_array_equal(plus.active, pattern)
        assert_array_equal(minus.active, pattern)
        cols.append((plus.r - minus.r) / (2 * h))
    return np.column_stack(cols) / np.sqrt(X.shape[0])


def test_golub_pereyra_jacobian_matches_finite_differences():
    net, X, y = problem_2d()
    alpha = alpha_of(net)
    proj = project(alpha, X, y, net.n)
    assert np.linalg.norm(proj.r) > 0.1 * np.linalg.norm(y)  # a real residual: the second term matters
    assert_allclose(reduced_jacobian(proj, X, "golub-pereyra"), finite_differences(alpha, X, y, net.n),
                    rtol=0, atol=1e-7)


def test_kaufman_jacobian_is_exact_on_a_consistent_problem_and_drops_a_residual_term_otherwise():
    net, X, y = problem_2d()
    alpha = alpha_of(net)
    # consistent: y in range A(alpha), so P_perp y = 0 and the dropped term vanishes
    y_fit = np.maximum(X @ net.W.T + net.b, 0.0) @ np.array([1.0, -2.0, 0.5, 1.5])
    fd = finite_differences(alpha, X, y_fit, net.n)
    assert np.abs(fd).max() > 0.1
    assert_allclose(reduced_jacobian(project(alpha, X, y_fit, net.n), X), fd, rtol=0, atol=1e-7)
    # with a residual, Kaufman's Jacobian differs from the derivative by g_jq (A^+)^T e_j / sqrt(m)
    proj = project(alpha, X, y, net.n)
    kaufman, fd = reduced_jacobian(proj, X), finite_differences(alpha, X, y, net.n)
    assert np.abs(kaufman - fd).max() > 1e-3
    Dr = proj.active * (-proj.r)[:, None]
    g = np.concatenate([(Dr.T @ X).ravel(), Dr.sum(axis=0)])
    owner = np.concatenate([np.repeat(np.arange(net.n), 2), np.arange(net.n)])
    dropped = np.linalg.pinv(np.maximum(X @ net.W.T + net.b, 0.0)).T[:, owner] * g / np.sqrt(X.shape[0])
    assert_allclose(kaufman + dropped, fd, rtol=0, atol=1e-7)


def test_eliminated_weights_are_the_minimum_norm_least_squares_solution():
    net, X, y = problem_2d()
    # a dead neuron makes A rank deficient: the minimum-norm solution gives it c = 0
    dead = net.with_params(b=np.where(np.arange(net.n) == 1, -10.0, net.b))
    proj = project(alpha_of(dead), X, y, net.n)
    A = np.maximum(X @ dead.W.T + dead.b, 0.0)
    assert_allclose(proj.c, np.linalg.lstsq(A, y, rcond=None)[0], rtol=1e-10, atol=1e-12)
    assert abs(proj.c[1]) < 1e-12 and proj.U.shape[1] == net.n - 1


def near_a_network():
    """A 3-neuron network, 80 points of [-1, 1]^2 none within 0.1 of a kink, its outputs plus noise."""
    rng = np.random.default_rng(7)
    true = ShallowReLU(c=np.array([1.0, -1.5, 2.0]), W=np.array([[1.0, 0.5], [-0.7, 1.0], [0.3, -1.0]]),
                       b=np.array([0.2, -0.1, 0.05]))
    X = rng.uniform(-1.0, 1.0, (400, 2))
    X = X[np.abs(X @ true.W.T + true.b).min(axis=1) > 0.1][:80]
    y = np.maximum(X @ true.W.T + true.b, 0.0) @ true.c + 0.02 * rng.standard_normal(80)
    return true, X, y, rng


def test_reduced_loss_at_a_frozen_pattern_is_the_local_least_squares_level():
    """At the network built from Phi(D)'s least-squares solution, pattern D kept, the reduced loss is L*(D)."""
    true, X, y, rng = near_a_network()
    D = activation_pattern(true, X)
    beta = np.linalg.lstsq(feature_matrix(X, D), y, rcond=None)[0].reshape(3, 3)
    c = np.sign(true.c) * np.linalg.norm(beta, axis=1)  # beta_j = c_j v_j, v_j on the side that fires on D_j
    V = beta / c[:, None]
    best = ShallowReLU(c=c, W=V[:, :2], b=V[:, 2])
    assert_array_equal(activation_pattern(best, X), D)  # the fit keeps the pattern
    level = local_ls_level(X, y, D)
    proj = project(alpha_of(best), X, y, 3)
    assert float(proj.r @ proj.r) / (2 * 80) == pytest.approx(level, rel=1e-10)
    # elsewhere in the same cell (the pattern kept) the reduced loss is above the level
    inside = 0
    for k in range(20):
        other = project(alpha_of(best) + 0.02 * rng.standard_normal(9), X, y, 3)
        if np.array_equal(other.active, D):
            inside += 1
            assert float(other.r @ other.r) / 160 >= level * (1 - 1e-12), k
    assert inside >= 10
    assert float(project(alpha_of(true), X, y, 3).r @ project(alpha_of(true), X, y, 3).r) / 160 > level * (1 + 1e-6)

def test_varpro_lowers_the_loss_from_the_plateau_start():
    exp = get_experiment("plateau_1d")
    X, y = exp.data()
    net = exp.initial_network()
    res = train_varpro(net, X, y, steps=100)
    assert res.method == "varpro" and res.loss[0] <= loss(net, X, y)
    assert res.final_loss < 0.01 * loss(net, X, y), res.final_loss
    assert np.all(np.diff(res.loss) <= 1e-15 * res.loss[0])  # accepted trust-region steps never raise it
    assert res.final_loss == pytest.approx(loss(res.net, X, y), rel=1e-12)
    assert_array_equal(res.params[-1], res.net.to_vector())


def test_both_jacobians_and_algorithms_run_and_report_their_counts():
    net, X, y = problem_2d()
    for kw in ({"jacobian": "golub-pereyra"}, {"algorithm": "dogbox"}):
        res = train_varpro(net, X, y, steps=5, **kw)
        assert res.nit <= 5 and res.nfev >= res.nit and res.njev >= 1 and res.final_loss < loss(net, X, y)


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        ({"net": "net"}, TypeError, "^net must be a ShallowReLU"),
        ({"X": np.zeros((50, 3))}, ValueError, "^X must have d = 2"),
        ({"y": np.zeros(7)}, ValueError, "^X and y must have the same number of rows"),
        ({"steps": 0}, ValueError, "^steps must be >= 1"),
        ({"steps": 2.5}, TypeError, "^steps must be an integer"),
        ({"record_every": 0}, ValueError, "^record_every"),
        ({"algorithm": "lm"}, ValueError, "^algorithm must be one of 'trf', 'dogbox'"),
        ({"jacobian": "exact"}, ValueError, "^jacobian must be one of"),
        ({"ftol": -1.0}, ValueError, "^ftol must be finite"),
        ({"gtol": "1"}, TypeError, "^gtol must be a real number"),
        ({"ftol": 0.0, "xtol": 0.0, "gtol": 0.0}, ValueError, "at least one of ftol, xtol, gtol"),
        ({"max_nfev": 0}, ValueError, "^max_nfev must be >= 1"),
        ({"time_limit": 0.0}, ValueError, "^time_limit must be finite"),
    ],
)
def test_bad_input_is_refused_naming_the_argument_before_any_work(monkeypatch, kwargs, error, needle):
    def no_work(*args, **kw):
        raise AssertionError("work started before the inputs were checked")

    monkeypatch.setattr(varpro, "project", no_work)
    net, X, y = problem_2d()
    args = {"net": net, "X": X, "y": y}
    for name in ("net", "X", "y"):
        args[name] = kwargs.pop(name, args[name])
    with pytest.raises(error, match=needle):
        train_varpro(args["net"], args["X"], args["y"], **kwargs)


def test_time_limit_stops_after_the_first_iteration_with_status_budget():
    net, X, y = problem_2d()
    full = train_varpro(net, X, y, steps=50)
    cut = train_varpro(net, X, y, steps=50, time_limit=1e-9)
    assert cut.status == "budget" and not cut.success and cut.message == "reached time_limit=1e-09 s"
    assert cut.nit == 1 and full.nit > 1
    assert cut.final_loss == pytest.approx(loss(cut.net, X, y), rel=1e-12)
    generous = train_varpro(net, X, y, steps=50, time_limit=1e6)
    assert (generous.status, generous.message) == (full.status, full.message)
    assert_array_equal(generous.loss, full.loss)


def test_step_budget_and_front_door():
    net, X, y = problem_2d()
    short = train_varpro(net, X, y, steps=3, gtol=0.0, xtol=0.0)
    assert short.nit == 3 and short.status == "budget" and short.message == "reached steps=3"
    assert front_door.BUDGETS["varpro"] == "steps"
    assert_array_equal(front_door.train(net, X, y, "varpro", budget=3, gtol=0.0, xtol=0.0).loss, short.loss)



def test_a_reduced_stationary_point_is_one_of_the_full_problem_that_full_least_squares_keeps():
    """Golub-Pereyra: where the pattern is locally constant, stationary points of the reduced functional
    are stationary points of L in (c, W, b). From varpro's end, full-parameter least squares gains nothing."""
    true, X, y, _ = near_a_network()
    start = true.with_params(W=true.W + 0.05, b=true.b - 0.03)
    res = train_varpro(start, X, y, steps=300)
    assert res.status == "converged", res.message
    assert_array_equal(activation_pattern(res.net, X), activation_pattern(true, X))  # a smooth point
    assert np.abs(gradient(start, X, y).to_vector()).max() > 0.05
    assert np.abs(gradient(res.net, X, y).to_vector()).max() < 1e-8
    full = train_lm(res.net, X, y, steps=50)
    assert full.final_loss == pytest.approx(res.final_loss, rel=1e-9)


def test_a_failed_trust_region_step_ends_the_run_as_a_failure_at_its_last_point(monkeypatch):
    """scipy's trust-region step raises LinAlgError when its SVD does not converge (seen in the race)."""
    import scipy.optimize

    X = np.linspace(-1, 1, 21)[:, None]
    y = np.sin(np.pi * X[:, 0])
    net = init_network(4, 1, scale=1.0, rng=np.random.default_rng(3))

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(scipy.optimize, "least_squares", broken)
    result = train_varpro(net, X, y, steps=5)
    assert result.status == "failed" and "SVD did not converge" in result.message
    assert np.isfinite(result.final_loss) and result.nit == 0


@pytest.mark.parametrize(("status", "success", "expected"), [
    (-2, False, ("budget", "stopped")), (0, False, ("budget", "reached max_nfev=7 residual evaluations")),
    (1, True, ("converged", "done")), (-1, False, ("failed", "done"))])
def test_varpro_and_lm_map_scipy_statuses_the_same_way(status, success, expected):
    """One mapping of least_squares' status serves both trainers (scipy_based.least_squares_status)."""
    from types import SimpleNamespace

    from plateau_lib.trainers.scipy_based import least_squares_status

    res = SimpleNamespace(status=status, success=success, message="done", x=np.zeros(2), nfev=3, njev=2)
    assert least_squares_status(res, "stopped", 7) == expected
    assert varpro._outcome(res, None, "stopped", 7)[3:] == expected
