"""The threshold search of ANLS (:mod:`plateau_lib.trainers.anls_threshold`) against brute force.

Every candidate's gain :math:`G(\tau, s)` of :func:`threshold_gains` is compared with the gain
computed directly from :math:`\varphi = \\mathrm{relu}(s(p - \tau))`, with and without a basis
projected out; continuous thresholds against a fine grid; bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from plateau_lib.trainers.anls_threshold import threshold_gains

# ----------------------------------------------------------------------------- brute force


def brute_gain(p, t, tau, s, B=None):
    """(phi . P t)^2 / (phi . P phi) for phi = relu(s (p - tau)), computed directly."""
    phi = np.maximum(s * (p - tau), 0.0)
    if B is not None:
        t = t - B @ (B.T @ t)
        phi_perp = phi - B @ (B.T @ phi)
        den = phi_perp @ phi_perp
    else:
        den = phi @ phi
    num = phi @ t
    return 0.0 if den <= 1e-12 * max(phi @ phi, 1e-300) else num * num / den


def brute_gains_on_grid(p, t, taus, s, B=None):
    """:func:`brute_gain` at every threshold of ``taus`` at once (one row of phi per threshold)."""
    phi = np.maximum(s * (p[None, :] - np.asarray(taus)[:, None]), 0.0)
    if B is not None:
        t = t - B @ (B.T @ t)
        phi_perp = phi - (phi @ B) @ B.T
        den = np.einsum("ij,ij->i", phi_perp, phi_perp)
    else:
        den = np.einsum("ij,ij->i", phi, phi)
    num = phi @ t
    full = np.maximum(np.einsum("ij,ij->i", phi, phi), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den <= 1e-12 * full, 0.0, num * num / den)


def brute_candidates(p, t, B=None):
    return {(float(v), s): brute_gain(p, t, v, s, B) for v in np.unique(p) for s in (1, -1)}


def well_conditioned(p, tau, s, B=None, rtol=1e-7):
    """phi . P phi is not tiny next to the terms the cumulative sums form it from (centred at the
    midrange): only there is the vectorised gain accurate to round-off (see threshold_gains)."""
    centre = 0.5 * (p.min() + p.max())
    active = s * (p - tau) > 0
    phi = np.maximum(s * (p - tau), 0.0)
    if B is not None:
        phi = phi - B @ (B.T @ phi)
    scale = np.sum((p[active] - centre) ** 2) + active.sum() * (tau - centre) ** 2
    return phi @ phi > rtol * scale


def random_case(seed, m, ties):
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1, 1, m)
    if ties:
        p = np.round(p * 3) / 3  # few distinct values, many ties
    t = rng.standard_normal(m)
    return p, t


def orthonormal(rng, m, k):
    return np.linalg.qr(rng.standard_normal((m, k)))[0]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(1, 25), ties=st.booleans(), k=st.integers(0, 3))
def test_data_thresholds_match_brute_force(seed, m, ties, k):
    p, t = random_case(seed, m, ties)
    B = orthonormal(np.random.default_rng(seed + 1), m, min(k, m - 1)) if k and m > 1 else None
    cand = threshold_gains(p, t, thresholds="data", basis=B)
    brute = brute_candidates(p, t, B)
    assert len(cand.tau) == len(brute)
    for tau, s, g, count in zip(cand.tau, cand.s, cand.gain, cand.count, strict=True):
        expected = brute[(float(tau), int(s))]
        if well_conditioned(p, tau, s, B):
            assert_allclose(g, expected, rtol=1e-6, atol=1e-10 * max(1.0, t @ t))
        else:  # scored 0 (cancellation guard) or close
            assert g == 0 or np.isclose(g, expected, rtol=1e-3)
        assert count == int(np.sum(s * (p - tau) > 0))  # strict: a point at tau is inactive


def test_ties_put_the_whole_block_on_the_inactive_side():
    p = np.array([0.0, 0.5, 0.5, 0.5, 1.0])
    t = np.array([0.0, 1.0, 1.0, 1.0, 2.0])
    cand = threshold_gains(p, t)
    at_half_up = np.flatnonzero((cand.tau == 0.5) & (cand.s == 1))[0]
    assert cand.count[at_half_up] == 1  # only p = 1 is active
    assert_allclose(cand.gain[at_half_up], brute_gain(p, t, 0.5, 1))
    at_half_down = np.flatnonzero((cand.tau == 0.5) & (cand.s == -1))[0]
    assert cand.count[at_half_down] == 1  # only p = 0 is active; its phi is 0.5, t = 0: no gain
    assert cand.gain[at_half_down] == 0.0


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(2, 20), ties=st.booleans(), k=st.integers(0, 2))
def test_continuous_thresholds_are_the_exact_maximum(seed, m, ties, k):
    """The best continuous candidate beats every threshold on a fine grid of the searched window
    (one data span beyond the extreme projections), and every reported gain is the true gain at
    its threshold."""
    p, t = random_case(seed, m, ties)
    B = orthonormal(np.random.default_rng(seed + 1), m, min(k, m - 1)) if k else None
    cand = threshold_gains(p, t, thresholds="continuous", basis=B)
    for tau, s, g in zip(cand.tau, cand.s, cand.gain, strict=True):
        if well_conditioned(p, tau, s, B):
            assert_allclose(g, brute_gain(p, t, tau, s, B), rtol=1e-6, atol=1e-9 * max(1.0, t @ t))
    span = np.ptp(p) if np.ptp(p) > 0 else 1.0
    taus = np.linspace(p.min() - span, p.max() + span, 4001)
    grid_best = max(brute_gains_on_grid(p, t, np.concatenate([taus, p]), s, B).max() for s in (1, -1))
    assert cand.gain.max() >= grid_best * (1 - 1e-6) - 1e-12  # accuracy: see well_conditioned
    data_best = threshold_gains(p, t, thresholds="data", basis=B).gain.max()
    assert cand.gain.max() >= data_best * (1 - 1e-12)


def test_continuous_threshold_recovers_a_single_relu():
    p = np.linspace(-1, 1, 21)
    t = 1.7 * np.maximum(p - 0.33, 0.0)  # breakpoint between data points
    cand = threshold_gains(p, t, thresholds="continuous")
    k = int(np.argmax(cand.gain))
    assert cand.s[k] == 1
    assert_allclose(cand.tau[k], 0.33, rtol=1e-10)
    assert_allclose(cand.gain[k], t @ t, rtol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"p": np.zeros((3, 1))}, ValueError, "p must be a 1-D array"),
        ({"t": np.zeros(4)}, ValueError, "p and t must have the same length"),
        ({"t": [1.0, np.nan, 0.0]}, ValueError, "t must be finite"),
        ({"thresholds": "all"}, ValueError, "thresholds"),
        ({"basis": np.zeros((4, 1))}, ValueError, "basis must have m = 3 rows"),
        ({"basis": np.zeros(3)}, ValueError, "basis must be a 2-D array"),
    ],
)
def test_threshold_gains_rejects_bad_input(kwargs, exc, match):
    args = {"p": np.array([0.0, 1.0, 2.0]), "t": np.array([1.0, 0.0, 1.0])} | kwargs
    with pytest.raises(exc, match=match):
        threshold_gains(**args)


def test_grid_gains_are_the_pointwise_gains():
    """The vectorised brute force of the grid search is :func:`brute_gain` at each threshold."""
    p, t = random_case(3, 9, ties=True)
    B = orthonormal(np.random.default_rng(4), 9, 2)
    taus = np.concatenate([np.linspace(-2, 2, 41), p])
    for basis in (None, B):
        for s in (1, -1):
            expected = [brute_gain(p, t, tau, s, basis) for tau in taus]
            assert_allclose(brute_gains_on_grid(p, t, taus, s, basis), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("ties", [False, True])
def test_the_sort_is_the_stable_one_with_and_without_ties(ties):
    """_ordering sorts by the default argsort and falls back to the stable one when values repeat:
    its order is that of a stable argsort either way (ties keep their index order)."""
    from plateau_lib.trainers.anls_threshold import _ordering

    p = np.random.default_rng(7).uniform(-1, 1, 500)
    if ties:
        p = np.round(p * 4) / 4
    o = _ordering(p)
    np.testing.assert_array_equal(o.order, np.argsort(p, kind="stable"))
    np.testing.assert_array_equal(o.u, np.unique(p))
