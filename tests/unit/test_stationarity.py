"""Stationary points (plateau_lib.stationarity): scores, the exact polish, pattern cells, the orientation rule."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import grid_1d, net_1d, random_net
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.network import ShallowReLU, activation_pattern, gradient
from plateau_lib.stationarity import (
    STATIONARITY_RTOL,
    cell_labels,
    complex_step_stationarity,
    max_stationarity,
    pattern_cells,
    polish_to_stationarity,
    predicted_undetermined_1d,
    stationarity_scores,
    undetermined_cells_1d,
)
from plateau_lib.theory import cells_1d, feature_matrix, local_ls_fit, local_ls_level, stationarity_residuals

SEEDS = st.integers(0, 2**32 - 1)


def test_scores_are_the_scaled_moments(problem_1d):
    net, X, y = problem_1d
    R = stationarity_residuals(net, X, y)
    Xt = np.column_stack([X, np.ones(len(y))])
    scale = np.sqrt(np.mean(y**2)) * np.sqrt(np.mean(np.sum(Xt**2, axis=1)))
    assert_allclose(stationarity_scores(net, X, y), np.linalg.norm(R, axis=1) / scale, rtol=1e-12)


@given(SEEDS, st.floats(0.1, 10.0))
@settings(max_examples=25, deadline=None)
def test_scores_are_scale_free_and_bounded(seed, k):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (30, 2))
    y = rng.standard_normal(30)
    net = ShallowReLU(rng.standard_normal(4), rng.standard_normal((4, 2)), rng.standard_normal(4))
    s = stationarity_scores(net, X, y)
    # scaling targets and output weights together changes nothing
    assert_allclose(stationarity_scores(net.with_params(c=k * net.c), X, k * y), s, rtol=1e-10, atol=1e-300)
    # Cauchy-Schwarz: score <= rms(r) / rms(y)
    r = net(X) - y
    assert np.all(s <= np.sqrt(np.mean(r**2) / np.mean(y**2)) * (1 + 1e-12))


def test_scores_reject_zero_targets(problem_1d):
    net, X, _ = problem_1d
    with pytest.raises(ValueError, match="y must not be all zero"):
        stationarity_scores(net, X, np.zeros(len(X)))


def test_max_stationarity_ignores_zero_output_weights(problem_1d):
    net, X, y = problem_1d
    s = stationarity_scores(net, X, y)
    c = net.c.copy()
    c[np.argmax(s)] = 0.0
    zeroed = net.with_params(c=c)
    assert max_stationarity(zeroed, X, y) == pytest.approx(stationarity_scores(zeroed, X, y)[c != 0].max())
    assert max_stationarity(net.with_params(c=np.zeros(net.n)), X, y) == 0.0


def test_polish_of_a_converged_run_is_exact(converged_run):
    X, y, result = converged_run
    p = polish_to_stationarity(result.net, X, y)
    assert p.accepted and p.pattern_preserved and p.pattern_flips == 0, p.message
    assert p.stationarity_after <= STATIONARITY_RTOL
    # gradient descent stopped at ||grad|| <= 1e-8; the polish goes to round-off
    assert p.grad_norm_before <= 1e-8 and p.grad_norm_after <= 1e-13
    # the outputs are the projection P y of the pattern, and the loss is L*(D, S)
    D = activation_pattern(result.net, X)
    assert_allclose(p.net(X), local_ls_fit(X, y, D, list(p.neurons)), atol=1e-12)
    assert p.loss_after == pytest.approx(p.lstar, rel=1e-10)
    assert p.lstar == pytest.approx(local_ls_level(X, y, D, list(p.neurons)), rel=1e-12)
    assert p.loss_after <= p.loss_before * (1 + 1e-12)
    assert p.move < 1e-3  # a converged run is close to its stationary point
    # the polished net is a stationary point of the loss itself
    assert np.linalg.norm(gradient(p.net, X, y).to_vector()) <= 1e-13


def test_polish_is_balanced_and_keeps_signs(converged_run):
    X, y, result = converged_run
    p = polish_to_stationarity(result.net, X, y)
    S = list(p.neurons)
    assert_allclose(np.abs(p.net.c[S]), np.linalg.norm(p.net.v[S], axis=1), rtol=1e-12)
    assert_array_equal(np.sign(p.net.c[S]), np.sign(result.net.c[S]))
    # the products c_j v_j fit the data: N = Phi beta
    beta = (p.net.c[S, None] * p.net.v[S]).ravel()
    D = activation_pattern(result.net, X)
    assert_allclose(feature_matrix(X, D, S) @ beta, p.net(X), atol=1e-12)


def test_polish_of_an_exact_stationary_point_changes_nothing():
    # build a stationary point: y = N + e with e orthogonal to range Phi(D, S)
    rng = np.random.default_rng(3)
    X = grid_1d()
    net = net_1d([-0.52, 0.13, 0.61], [1, -1, 1], [1.0, -0.7, 1.3])
    net = net.with_params(c=np.sign(net.c) * np.sqrt(np.abs(net.c) * np.linalg.norm(net.v, axis=1)),
                          W=net.W * np.sqrt(np.abs(net.c) / np.linalg.norm(net.v, axis=1))[:, None],
                          b=net.b * np.sqrt(np.abs(net.c) / np.linalg.norm(net.v, axis=1)))  # balanced
    Phi = feature_matrix(X, activation_pattern(net, X))
    e = rng.standard_normal(len(X))
    e -= Phi @ np.linalg.lstsq(Phi, e, rcond=None)[0]
    y = net(X) + 0.1 * e
    assert max_stationarity(net, X, y) < 1e-14
    p = polish_to_stationarity(net, X, y, neurons=[0, 1, 2])
    assert p.accepted, p.message
    assert_allclose(p.net.to_vector(), net.to_vector(), atol=1e-12)
    assert p.move < 1e-12


def test_polish_zeroes_insignificant_neurons_and_keeps_dead_ones():
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    big = net_1d([-0.3, 0.4], [1, -1], [1.5, -1.2])
    tiny = net_1d([0.1], [1], [1e-7])  # fires on x > 0.1, contributes ~1e-8: insignificant
    dead = net_1d([1.5], [1], [2.0])  # breaks beyond the data, faces out: empty active set
    net = ShallowReLU(np.concatenate([big.c, tiny.c, dead.c]), np.vstack([big.W, tiny.W * 1e-7, dead.W]),
                      np.concatenate([big.b, tiny.b * 1e-7, dead.b]))
    p = polish_to_stationarity(net, X, y)
    assert p.neurons == (0, 1) and p.zeroed == (2,)
    assert p.candidate.c[2] == 0 and np.all(p.candidate.v[2] == 0)
    assert_array_equal(p.candidate.v[3], net.v[3])
    assert p.candidate.c[3] == net.c[3]
    if p.accepted:
        assert np.linalg.norm(gradient(p.net, X, y).to_vector()) <= 1e-12


def test_polish_rejects_a_fit_that_changes_the_pattern():
    # one right-facing neuron active on x > 0; the data's line on x > 0 crosses zero at x = 0.5,
    # so the fitted neuron would switch off the points in (0, 0.5]
    X = grid_1d()
    x = X[:, 0]
    y = np.where(x > 0, x - 0.5, 0.0)
    net = net_1d([0.0], [1], [1.0])
    p = polish_to_stationarity(net, X, y)
    assert not p.accepted and not p.pattern_preserved and p.pattern_flips > 0
    assert "change" in p.message
    assert p.net is net  # the input network is returned unchanged
    # the candidate reaches L*(D, S) but is not a network with pattern D
    assert p.loss_after != pytest.approx(p.lstar, rel=1e-6)


def test_polish_with_no_significant_neuron_returns_the_zero_network():
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    net = net_1d([-0.2, 0.3], [1, -1], [1e-6, 1e-6]).with_params(W=[[1e-6], [-1e-6]], b=[2e-7, 3e-7])
    p = polish_to_stationarity(net, X, y)
    assert p.neurons == () and p.accepted
    assert_allclose(p.net(X), 0.0)
    assert p.loss_after == pytest.approx(y @ y / (2 * len(y)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"gtol": 0.0}, ValueError, "gtol"),
        ({"gtol": 1.0}, ValueError, "gtol"),
        ({"gtol": "x"}, TypeError, "gtol"),
        ({"neurons": [99]}, ValueError, "neurons"),
        ({"neurons": "ab"}, TypeError, "neurons"),
        ({"rel_tol": 2.0}, ValueError, "rel_tol"),
        ({"rel_tol": 0.5, "neurons": [0], "gtol": -1.0}, ValueError, "gtol"),
    ],
)
def test_polish_validates(problem_1d, kwargs, error, match):
    net, X, y = problem_1d
    with pytest.raises(error, match=match):
        polish_to_stationarity(net, X, y, **kwargs)


def test_polish_rejects_neurons_with_zero_output_weight(problem_1d):
    net, X, y = problem_1d
    c = net.c.copy()
    c[0] = 0.0
    with pytest.raises(ValueError, match="c_j != 0"):
        polish_to_stationarity(net.with_params(c=c), X, y, neurons=[0, 1])
    with pytest.raises(TypeError, match="net"):
        polish_to_stationarity("net", X, y)


@given(SEEDS, st.integers(1, 5), st.integers(1, 2))
@settings(max_examples=30, deadline=None)
def test_cells_partition_the_data_and_the_network_is_affine_on_each(seed, n, d):
    net, X, y = random_net(seed, n, d)
    cells = pattern_cells(net, X, y, list(range(n)))
    labels = cell_labels(cells, len(y))
    assert np.all(labels >= 0) and sum(c.size for c in cells) == len(y)
    D = activation_pattern(net, X)
    Xt = np.column_stack([X, np.ones(len(y))])
    r = net(X) - y
    for cell in cells:
        assert np.all(D[cell.indices] == D[cell.indices[0]])  # one pattern row per cell
        assert_allclose(cell.net_values, Xt[cell.indices] @ cell.net_coef, atol=1e-12)
        assert_allclose(cell.moment, r[cell.indices] @ Xt[cell.indices] / len(y), atol=1e-14)
        # deviation is zero iff the moment is (the fit is the projection onto the cell's affine functions)
        assert_allclose(Xt[cell.indices].T @ (y[cell.indices] - cell.ls_values), 0.0, atol=1e-10)
    # the moments of the cells inside each active set add up to R_j (any network, stationary or not)
    R = stationarity_residuals(net, X, y)
    for j in range(n):
        total = sum((c.moment for c in cells if j in c.active), np.zeros(d + 1))
        assert_allclose(total, R[j], atol=1e-12)
    # distinct rows: cells are maximal
    assert len({tuple(D[c.indices[0]]) for c in cells}) == len(cells)


@given(SEEDS, st.integers(1, 4), st.integers(1, 2))
@settings(max_examples=30, deadline=None)
def test_covered_equals_determined_when_cells_have_full_rank(seed, n, d):
    net, X, y = random_net(seed, n, d)
    cells = pattern_cells(net, X, y, list(range(n)))
    if all(c.rank == d + 1 for c in cells):
        assert [c.covered for c in cells] == [c.determined for c in cells]
    for c in cells:
        if not c.active:  # outside every active set: never determined
            assert not c.determined and not c.covered


def test_determined_cells_agree_at_a_stationary_point(converged_run):
    X, y, result = converged_run
    p = polish_to_stationarity(result.net, X, y)
    cells = pattern_cells(p.net, X, y, p.neurons)
    for cell in cells:
        if cell.determined:
            assert cell.deviation <= 1e-12
            assert np.linalg.norm(cell.moment) <= 1e-14
    # theory.cells_1d (intervals between breakpoints) sees the same cells and deviations
    interval = sorted(c.ls_deviation for c in cells_1d(p.net, X, y, p.neurons) if c.size > 1)
    assert_allclose(interval, sorted(c.deviation for c in cells if c.size > 1), atol=1e-12)


def test_facing_neurons_determine_no_cell():
    # a right-facing neuron at -0.41 and a left-facing one at 0.41 share the middle cell
    X = grid_1d()
    net = net_1d([-0.41, 0.41], [1, -1], [1.0, 1.0])
    cells = pattern_cells(net, X, np.sin(np.pi * X[:, 0]))
    assert [c.active for c in cells] == [(1,), (0, 1), (0,)]
    assert not any(c.determined for c in cells)
    # nested half-lines instead: the middle cell is a difference of active sets, the left one is outside
    cells = pattern_cells(net_1d([-0.41, 0.39], [1, 1], [1.0, 1.0]), X, np.sin(np.pi * X[:, 0]))
    assert [c.determined for c in cells] == [False, True, True]


def test_crossing_lines_in_2d_determine_no_cell():
    g = np.linspace(-1, 1, 9)
    X = np.array([(a, b) for a in g for b in g])
    y = np.abs(X[:, 0]) + X[:, 1] ** 2
    net = ShallowReLU([1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]], [0.05, 0.05])  # two crossing lines
    cells = pattern_cells(net, X, y)
    assert len(cells) == 4 and not any(c.determined for c in cells)
    # two parallel lines facing the same way: the strip between them is a difference of active sets
    net = ShallowReLU([1.0, 1.0], [[1.0, 0.0], [1.0, 0.0]], [0.6, -0.3])
    cells = pattern_cells(net, X, y)
    assert [c.active for c in cells] == [(), (0,), (0, 1)]
    assert [c.determined for c in cells] == [False, True, True]


def test_cells_validate(problem_1d):
    net, X, y = problem_1d
    with pytest.raises(ValueError, match="span_rtol"):
        pattern_cells(net, X, y, span_rtol=2.0)
    with pytest.raises(ValueError, match="S"):
        pattern_cells(net, X, y, [99])
    with pytest.raises(ValueError, match="m ="):
        cell_labels(pattern_cells(net, X, y), 3)


@pytest.mark.parametrize(
    ("orientations", "undetermined"),
    [
        ([], [0]),  # no neuron: the single cell is outside every active set
        ([1], [0]),  # left of a right-facing breakpoint: outside
        ([-1], [1]),  # right of a left-facing breakpoint: outside
        ([1, 1, 1], [0]),
        ([-1, -1], [2]),
        ([1, -1], [0, 1, 2]),  # facing each other: the middle cell is shared, the outer ones too
        ([-1, 1], [1]),  # back to back: only the gap between them is outside
        ([1, 0, -1], []),  # both orientations at one gap span the constants
    ],
)
def test_orientation_rule_examples(orientations, undetermined):
    assert undetermined_cells_1d(orientations) == undetermined


@given(st.lists(st.sampled_from([1, -1]), max_size=12))
def test_orientation_rule_leaves_an_odd_number_undetermined(orientations):
    assert len(undetermined_cells_1d(orientations)) % 2 == 1


@given(SEEDS, st.integers(1, 7))
@settings(max_examples=60, deadline=None)
def test_orientation_rule_matches_the_span_test(seed, n):
    # breakpoints at midpoints of the grid, at least two points apart, random orientations and weights;
    # sometimes two neurons at the same gap, sometimes a neuron active on all data
    rng = np.random.default_rng(seed)
    X = grid_1d(41)
    gaps = np.sort(rng.choice(np.arange(2, 39, 2), size=n, replace=False))
    t = -1 + 0.05 * gaps - 0.025
    if n > 1 and rng.random() < 0.3:
        t[-1] = t[-2]
    s = rng.choice([1, -1], n)
    if rng.random() < 0.2:
        t[0], s[0] = -1.5, 1  # active on all data
    net = net_1d(t, s, rng.choice([1, -1], n) * rng.uniform(0.5, 2, n))
    y = rng.standard_normal(41)
    cells = pattern_cells(net, X, y)
    assert all(c.rank == 2 for c in cells)
    assert predicted_undetermined_1d(net, X) == [k for k, c in enumerate(cells) if not c.determined]


def test_orientation_rule_validates(problem_1d):
    with pytest.raises(ValueError, match="orientations"):
        undetermined_cells_1d([1, 2])
    with pytest.raises(ValueError, match="orientations"):
        undetermined_cells_1d([True])
    with pytest.raises(TypeError, match="orientations"):
        undetermined_cells_1d("+-")
    net2, X2, _ = random_net(0, 2, 2)
    with pytest.raises(ValueError, match="1-D"):
        predicted_undetermined_1d(net2, X2)



@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 6), d=st.integers(1, 3))
def test_complex_step_recomputes_the_stationarity_score(seed, n, d):
    """The complex-step score (forward passes only) equals the score from the gradient's moments."""
    net, X, y = random_net(seed, n, d)
    assert_allclose(complex_step_stationarity(net, X, y), max_stationarity(net, X, y), rtol=1e-10, atol=1e-15)


def test_complex_step_uses_no_gradient_code(monkeypatch):
    """Independent of network.evaluate and of stationarity_scores: it works with both broken."""
    net, X, y = random_net(0, 4, 2)
    expected = max_stationarity(net, X, y)

    def broken(*args, **kwargs):
        raise AssertionError("the gradient code was called")

    import plateau_lib.stationarity as stationarity_module

    monkeypatch.setattr(stationarity_module, "evaluate", broken)
    monkeypatch.setattr(stationarity_module, "stationarity_scores", broken)
    assert_allclose(complex_step_stationarity(net, X, y), expected, rtol=1e-10)


def test_complex_step_is_round_off_at_a_polished_point_and_not_before(converged_run):
    X, y, result = converged_run
    end = result.net
    polish = polish_to_stationarity(end, X, y)
    assert polish.accepted, polish.message
    assert complex_step_stationarity(polish.net, X, y) <= 1e-13  # (m + n + d) u on this yardstick
    assert complex_step_stationarity(end, X, y) > 10 * STATIONARITY_RTOL  # gtol 1e-8: not round-off


def test_complex_step_refuses_all_zero_targets():
    net, X, _ = random_net(0, 2, 1)
    with pytest.raises(ValueError, match="y must not be all zero"):
        complex_step_stationarity(net, X, np.zeros(len(X)))
