"""The dynamic-programming lower bound of fact 5 (segmentation into least-squares lines)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from plateau_lib.lower_bound import SegmentationFit, segmentation_fit, segmentation_lower_bound
from plateau_lib.network import init_network, loss
from plateau_lib.trainers import train_gd

SEEDS = st.integers(0, 2**32 - 1)


def group_sse(x: np.ndarray, y: np.ndarray) -> float:
    """SSE of the least-squares line of one group (minimum-norm lstsq: a tie group gets its mean)."""
    A = np.column_stack([x - x.mean(), np.ones_like(x)])
    e = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    return float(e @ e)


def brute_force(x: np.ndarray, y: np.ndarray, pieces: int) -> float:
    """Minimum over every split of the sorted data (only between distinct x) into <= pieces groups."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    m = xs.size
    cuts = [k for k in range(1, m) if xs[k - 1] < xs[k]]
    best = np.inf
    for size in range(min(pieces - 1, len(cuts)) + 1):
        for chosen in itertools.combinations(cuts, size):
            edges = [0, *chosen, m]
            best = min(best, sum(group_sse(xs[a:b], ys[a:b]) for a, b in itertools.pairwise(edges)))
    return best / (2 * m)


def random_data(seed: int, m: int, ties: bool):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, max(2, m // 2), m).astype(float) if ties else rng.uniform(-1, 1, m)
    return rng, x, rng.standard_normal(m)


@settings(max_examples=80, deadline=None)
@given(seed=SEEDS, m=st.integers(1, 9), pieces=st.integers(1, 4), ties=st.booleans())
def test_equals_brute_force(seed, m, pieces, ties):
    _, x, y = random_data(seed, m, ties)
    # Both compute the same minimum of O(1) sums of squares: agreement to roundoff.
    assert segmentation_lower_bound(x, y, pieces) == pytest.approx(brute_force(x, y, pieces), rel=1e-9, abs=1e-13)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, m=st.integers(1, 40), ties=st.booleans())
def test_non_increasing_in_pieces_and_fit_is_consistent(seed, m, ties):
    _, x, y = random_data(seed, m, ties)
    values = [segmentation_lower_bound(x, y, p) for p in range(1, 8)]
    assert np.all(np.diff(values) <= 1e-13)
    fit = segmentation_fit(x, y, 4)
    assert isinstance(fit, SegmentationFit)
    assert fit.boundaries.size <= 3
    assert np.all(np.diff(fit.boundaries) > 0)
    # Re-fitting each group cut at the returned boundaries reproduces the returned loss,
    # and no boundary separates equal x values (it lies strictly between data points).
    assert not np.any(np.isin(fit.boundaries, x))
    groups = np.searchsorted(fit.boundaries, x)
    total = sum(group_sse(x[groups == g], y[groups == g]) for g in np.unique(groups))
    assert fit.loss == pytest.approx(total / (2 * m), rel=1e-9, abs=1e-13)


@pytest.mark.parametrize("m", [1, 2, 5, 8, 41])
def test_zero_once_groups_hold_two_points(m):
    rng = np.random.default_rng(m)
    x, y = rng.permutation(np.linspace(-1, 1, m)), rng.standard_normal(m)
    pieces = (m + 1) // 2
    assert segmentation_lower_bound(x, y, pieces) <= 1e-14
    if pieces > 1:  # one group fewer must hold three generic points
        assert segmentation_lower_bound(x, y, pieces - 1) > 1e-10


def test_ties_with_different_targets_keep_an_error():
    x = np.array([0.0, 0.0, 1.0, 1.0])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    # Each tie group can only be fitted by its mean: 4 residuals of 1/2 whatever the pieces.
    assert segmentation_lower_bound(x, y, 5) == pytest.approx(4 * 0.25 / 8, rel=1e-14)


def test_recovers_kinks_of_piecewise_linear_data():
    x = np.linspace(-1, 1, 41)
    y = np.abs(x - 0.3) - 2 * np.maximum(x + 0.52, 0)  # kinks at -0.52 (off grid) and 0.3 (on it)
    fit = segmentation_fit(x, y, 3)
    assert fit.loss <= 1e-15  # zero up to the roundoff of C_yy - C_xy^2 / C_xx on O(1) data
    assert fit.boundaries.size == 2
    assert -0.55 < fit.boundaries[0] < -0.5 and 0.25 < fit.boundaries[1] < 0.35
    assert segmentation_lower_bound(x, y, 2) > 1e-3


def test_invariant_under_permutation_and_shift():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, 60), rng.standard_normal(60)
    ref = segmentation_lower_bound(x, y, 5)
    perm = rng.permutation(60)
    assert segmentation_lower_bound(x[perm], y[perm], 5) == pytest.approx(ref, rel=1e-12)
    assert segmentation_lower_bound(x[:, None], y, 5) == pytest.approx(ref, rel=1e-15)
    # Large offsets: running moments avoid the cancellation of raw prefix sums of x^2, y^2.
    assert segmentation_lower_bound(x + 1e6, y + 1e6, 5) == pytest.approx(ref, rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, n=st.integers(1, 6), scheme=st.sampled_from(["normal", "uniform_breakpoints"]))
def test_below_loss_of_random_networks(seed, n, scheme):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, 30))
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(30)
    net = init_network(n, 1, scale=float(rng.uniform(0.1, 3.0)), rng=rng, scheme=scheme)
    assert segmentation_lower_bound(x, y, n + 1) <= loss(net, x[:, None], y) + 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_below_loss_of_gd_trained_networks(seed):
    x = np.linspace(-1, 1, 41)
    X, y = x[:, None], np.sin(np.pi * x)
    net = init_network(3, 1, scale=1.0, rng=np.random.default_rng(seed), scheme="uniform_breakpoints")
    trained = train_gd(net, X, y, lr=0.05, steps=3000, record_every=3000).net
    final = loss(trained, X, y)
    bound = segmentation_lower_bound(x, y, 4)
    assert bound <= final
    assert final < loss(net, X, y)  # training did something


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((np.arange(3.0), np.arange(4.0), 2), ValueError, "same length"),
        ((np.ones((3, 2)), np.arange(3.0), 2), ValueError, "x must be 1-D data"),
        ((np.ones((2, 2, 2)), np.arange(2.0), 2), ValueError, "x must be a 1-D"),
        ((np.array([0.0, np.nan]), np.arange(2.0), 2), ValueError, "x must be finite"),
        ((np.array([[0.0], [np.nan]]), np.arange(2.0), 2), ValueError, "x must be finite"),
        ((np.arange(2.0), np.array([0.0, np.inf]), 2), ValueError, "y must be finite"),
        ((np.arange(2.0), np.arange(2.0), 0), ValueError, "pieces must be >= 1"),
        ((np.arange(2.0), np.arange(2.0), 2.5), TypeError, "pieces must be an integer"),
        ((np.arange(2.0), np.arange(2.0), True), TypeError, "pieces must be an integer"),
        (("abc", np.arange(2.0), 2), TypeError, "x must be an array"),
        ((np.arange(2.0), None, 2), TypeError, "y must be an array"),
        ((np.array([]), np.array([]), 2), ValueError, "x must not be empty"),
    ],
)
@pytest.mark.parametrize("func", [segmentation_lower_bound, segmentation_fit])
def test_bad_inputs_raise(func, args, error, match):
    with pytest.raises(error, match=match):
        func(*args)


def test_moderate_size_decreases_to_zero():
    x = np.linspace(-1, 1, 400)
    y = np.sin(3 * np.pi * x)
    values = [segmentation_lower_bound(x, y, p) for p in (2, 6, 11, 21)]
    assert np.all(np.diff(values) < 0)
    assert_allclose(segmentation_lower_bound(x, y, 200), 0.0, atol=1e-14)
