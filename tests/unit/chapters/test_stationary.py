"""Stationary points: the exact polish, the cells, the 1-D orientation rule, the catalogue.

Tolerances: identities exact in real arithmetic are checked to 1e-10 (relative or on O(1)
data), stationarity after the polish to the library's STATIONARITY_RTOL = 1e-10 (round-off is
~1e-16), and gradient-descent statements to what the stopping rule guarantees, stated at each test.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.chapters.explanation import rows_to_arrays
from plateau_lib.chapters.stationary import (
    CATALOGUE_1D,
    CATALOGUE_2D,
    POLISH_DEMO,
    CatalogueRow,
    CatalogueSettings,
    describe_cell_fits,
    describe_cells_1d,
    describe_widths,
    first_example,
    first_polished_run,
    gap_bound,
    run_to_stationary_point,
    stationary_catalogue,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.lower_bound import segmentation_lower_bound
from plateau_lib.network import ShallowReLU, activation_pattern, gradient, loss
from plateau_lib.stationarity import (
    STATIONARITY_RTOL,
    cell_labels,
    max_stationarity,
    pattern_cells,
    polish_to_stationarity,
    predicted_undetermined_1d,
    stationarity_scores,
    undetermined_cells_1d,
)
from plateau_lib.sweeps import SeedSearch
from plateau_lib.theory import cells_1d, feature_matrix, local_ls_fit, local_ls_level, stationarity_residuals

SEEDS = st.integers(0, 2**32 - 1)


def grid_1d(m: int = 41) -> np.ndarray:
    return np.linspace(-1, 1, m)[:, None]


def net_1d(breaks, orient, c) -> ShallowReLU:
    """Neurons c_j relu(s_j (x - t_j)) with breakpoints t_j and orientations s_j."""
    s = np.asarray(orient, float)
    t = np.asarray(breaks, float)
    return ShallowReLU(np.asarray(c, float), s[:, None], -s * t)


@pytest.fixture(scope="module")
def converged_run():
    """plateau_1d at width 5, seed 8: gradient descent reaches ||grad|| <= 1e-8 (a low stationary level)."""
    e = get_experiment("plateau_1d")
    X, y = e.data()
    result = e.with_changes(width=5).run(8, steps=40_000, gtol=1e-8)
    assert result.message.startswith("gradient norm")
    return X, y, result


# --------------------------------------------------------------------------- scores


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


# --------------------------------------------------------------------------- polish


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


def test_gap_bound_holds_on_a_converged_run(converged_run):
    X, y, result = converged_run
    p = polish_to_stationarity(result.net, X, y)
    bound = gap_bound(result.net, X, y, p.neurons)
    assert 0 <= result.final_loss - p.lstar <= bound * (1 + 1e-6) + 1e-15
    assert gap_bound(p.net, X, y, p.neurons) < 1e-20


# --------------------------------------------------------------------------- cells


def random_net(seed: int, n: int, d: int) -> tuple[ShallowReLU, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (60, d))
    y = rng.standard_normal(60)
    return ShallowReLU(rng.standard_normal(n), rng.standard_normal((n, d)), 0.5 * rng.standard_normal(n)), X, y


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


# --------------------------------------------------------------------------- the 1-D orientation rule


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


# --------------------------------------------------------------------------- catalogue


SMALL = CatalogueSettings(widths=(3, 5), seeds=2, quick_seeds=2, steps=6_000, quick_steps=6_000)


def test_catalogue_rows_and_executors():
    pooled = stationary_catalogue(SMALL, seed=0)
    serial = stationary_catalogue(SMALL, seed=0, executor=ThreadPoolExecutor(1))
    for key, value in rows_to_arrays(pooled).items():  # same numbers in any executor (NaN == NaN here)
        assert_array_equal(value, rows_to_arrays(serial)[key], err_msg=key)
    assert [(r.width, r.seed) for r in pooled] == [(3, 0), (3, 1), (5, 0), (5, 1)]
    X, y = get_experiment("plateau_1d").data()
    for r in pooled:
        assert isinstance(r, CatalogueRow)
        assert r.lower_bound == pytest.approx(segmentation_lower_bound(X, y, r.width + 1))
        assert r.lower_bound <= r.loss and r.lower_bound <= r.polished_loss
        if r.converged:
            assert r.grad_norm <= SMALL.gtol and abs(r.rel_gap) <= SMALL.loss_rtol
        if r.polished:
            assert r.polished_stationarity <= SMALL.stationarity_rtol and r.pattern_flips == 0
            assert r.polished_loss == pytest.approx(r.lstar, rel=1e-10)
            assert r.n_cells == r.n_determined + r.n_outside + r.n_shared and r.rule_agrees
        else:
            assert r.n_cells == -1
    cols = rows_to_arrays(pooled)
    assert cols["loss"].dtype == np.float64 and cols["polished"].dtype == np.bool_


def test_catalogue_row_matches_a_direct_run():
    row = stationary_catalogue(SMALL, seed=1, quick=True, executor=ThreadPoolExecutor(1))[0]
    result, polish = run_to_stationary_point("plateau_1d", 1, width=3, steps=6_000, gtol=SMALL.gtol)
    assert row.loss == result.final_loss and row.nit == result.nit and row.polished == polish.accepted
    X, y = get_experiment("plateau_1d").data()
    assert row.loss == pytest.approx(loss(result.net, X, y), rel=1e-12)


def test_catalogue_settings():
    assert CATALOGUE_1D.widths == (3, 5, 10, 20) and CATALOGUE_1D.n_seeds(False) >= 10
    assert CATALOGUE_1D.n_seeds(True) >= 5 and CATALOGUE_2D.experiment == "plateau_2d"
    assert POLISH_DEMO.budget(True) == POLISH_DEMO.budget(False)
    with pytest.raises(ValueError, match="unknown experiment"):
        CatalogueSettings(experiment="nope")
    with pytest.raises(TypeError, match="widths"):
        CatalogueSettings(widths=[3, 5])
    with pytest.raises(ValueError, match="gtol"):
        CatalogueSettings(gtol=0.0)
    with pytest.raises(ValueError, match="seeds"):
        CatalogueSettings(seeds=0)
    with pytest.raises(TypeError, match="settings"):
        stationary_catalogue({"widths": (3,)})
    with pytest.raises(ValueError, match="seed"):
        stationary_catalogue(SMALL, seed=-1)


def test_run_to_stationary_point_validates():
    with pytest.raises(ValueError, match="unknown experiment"):
        run_to_stationary_point("nope", 0, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="width"):
        run_to_stationary_point("plateau_1d", 0, width=0, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="steps"):
        run_to_stationary_point("plateau_1d", 0, steps=0, gtol=1e-8)
    with pytest.raises(ValueError, match="stationarity_rtol"):
        run_to_stationary_point("plateau_1d", 0, steps=10, gtol=1e-8, stationarity_rtol=0.0)
    with pytest.raises(ValueError, match="rel_tol"):
        run_to_stationary_point("plateau_1d", 0, steps=10, gtol=1e-8, rel_tol=-1.0)


# --------------------------------------------------------------------------- showcase search


def test_first_polished_run_passes_over_rejected_seeds():
    # plateau_1d at width 3, 6000 steps: seed 1 is still sliding (rejected), seed 2 polishes
    search = first_polished_run("plateau_1d", 1, width=3, steps=6_000, gtol=1e-8)
    assert isinstance(search, SeedSearch) and search.found
    assert search.seed == 2 and search.tried == (1, 2) and search.value[1].accepted
    assert len(search.passed_over) == 1 and search.passed_over[0].startswith("rejected")
    direct = run_to_stationary_point("plateau_1d", 1, width=3, steps=6_000, gtol=1e-8)[1]
    assert not direct.accepted and direct.message == search.passed_over[0]
    lines = search.describe().splitlines()
    assert lines[0].startswith("seed 1: rejected") and lines[-1].endswith("showcased")


def test_first_polished_run_returns_the_start_seed_when_it_qualifies():
    search = first_polished_run("plateau_1d", 0, width=3, steps=6_000, gtol=1e-8)
    assert search.seed == 0 and search.tried == (0,) and search.passed_over == ()


def test_first_polished_run_fails_loudly_when_no_seed_qualifies():
    # seeds 3, 4, 5 at width 3 all end sliding within 6000 steps
    with pytest.raises(RuntimeError, match=r"no seed of 3\.\.5 .*seed 5: rejected"):
        first_polished_run("plateau_1d", 3, width=3, steps=6_000, gtol=1e-8, max_tries=3)
    with pytest.raises(ValueError, match="start_seed"):
        first_polished_run("plateau_1d", -1, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="max_tries"):
        first_polished_run("plateau_1d", 0, steps=10, gtol=1e-8, max_tries=0)


def test_describe_cells_1d_names_the_reason():
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    # a neuron active on all data: every cell determined
    full = describe_cells_1d(net_1d([-1.5, 0.21], [1, 1], [1.0, 1.0]), X, y)
    assert full.startswith("1 of them break beyond the data") and "all 2 cells are determined" in full
    # opposite orientations at one gap: every cell determined, and no neuron is active on all data
    pair = describe_cells_1d(net_1d([0.21, 0.22], [1, -1], [1.0, 1.0]), X, y)
    assert pair.startswith("two of them break at one gap") and "all 2 cells" in pair
    # facing neurons: no cell determined, so no claim about determined cells is made
    facing = describe_cells_1d(net_1d([-0.41, 0.41], [1, -1], [1.0, 1.0]), X, y)
    assert "0 of its 3 cells are determined" in facing and "network *is*" not in facing
    assert "on the 3 undetermined ones it differs from the cell's regression line" in facing
    with pytest.raises(ValueError, match="1-D"):
        describe_cells_1d(ShallowReLU([1.0], [[1.0, 0.0]], [0.0]), np.zeros((3, 2)), np.ones(3))


def test_first_example_takes_the_first_match_or_names_the_rule():
    rows = stationary_catalogue(SMALL, seed=0, executor=ThreadPoolExecutor(1))
    first = first_example(rows, "polished", lambda r: r.polished)
    assert first is next(r for r in rows if r.polished)
    with pytest.raises(RuntimeError, match="no run of the catalogue is wider than 99"):
        first_example(rows, "wider than 99", lambda r: r.width > 99)


def test_describe_cell_fits_in_2d():
    g = np.linspace(-1, 1, 9)
    X = np.array([(a, b) for a in g for b in g])
    y = np.abs(X[:, 0]) + X[:, 1] ** 2
    crossing = pattern_cells(ShallowReLU([1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]], [0.05, 0.05]), X, y)
    text = describe_cell_fits(crossing, y)
    assert text.startswith("no cell is determined; on every cell the network differs")
    nested = pattern_cells(ShallowReLU([1.0, 1.0], [[1.0, 0.0], [1.0, 0.0]], [0.6, -0.3]), X, y)
    text = describe_cell_fits(nested, y)
    assert text.startswith("2 of the cells are determined") and "each undetermined cell" in text
    with pytest.raises(ValueError, match="cells"):
        describe_cell_fits([], y)


def _row(width: int, polished: bool, n_cells: int) -> CatalogueRow:
    nan = float("nan")
    return CatalogueRow(width=width, seed=0, nit=1, converged=polished, grad_norm=0.0, loss=1.0, lstar=1.0,
                        rel_gap=0.0, gap_bound=0.0, n_significant=1, last_change=0, late_changes=0, min_margin=1.0,
                        polished=polished, polished_loss=1.0, polished_stationarity=0.0, pattern_flips=0,
                        lower_bound=nan, n_cells=n_cells if polished else -1, n_determined=0, n_outside=0,
                        n_shared=0, determined_deviation=nan, undetermined_deviation=nan, rule_agrees=True)


def test_describe_widths_states_what_the_rows_show():
    rows = [_row(2, True, 4), _row(3, True, 1), _row(6, True, 1), _row(6, False, 1)]
    text = describe_widths(rows, (2, 3, 6))
    assert text.startswith("Stationary points with more than one cell were reached only at width 2;")
    assert "at width 6 every run either stops at a one-cell stationary point (1 of 2)" in text
    assert "rejected (1 of 2)" in text
    rows.append(_row(6, True, 3))  # now the largest width reaches one too: the sentence must change
    text = describe_widths(rows, (2, 3, 6))
    assert "widths 2, 6;" in text and "at width 6, 1 of 3 runs reach one with more than one cell" in text
    assert describe_widths([_row(2, False, 1)], (2,)).startswith("No run reached")
    with pytest.raises(ValueError, match="widths"):
        describe_widths(rows, ())
