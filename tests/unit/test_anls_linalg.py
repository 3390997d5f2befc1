"""The linear algebra behind the fast ANLS sweep (plateau_lib.trainers._anls_linalg) against plain numpy.

Each piece is compared with the direct computation it replaces: the quadratic forms of prefix and
suffix sums with cumulative sums of the sorted rows, the leave-one-out projector with the SVD basis
of the other columns, the output weights with ``numpy.linalg.lstsq`` on the whole matrix, the
updated basis with a fresh one, the pruned threshold search with the full one, the frozen-pattern
solve with ``lstsq``. Tolerances are round-off (1e-10 relative or tighter, observed far below).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from plateau_lib._linalg import range_basis
from plateau_lib.trainers import _anls_linalg as la
from plateau_lib.trainers import anls_threshold


def direct_forms(Q, order, pc):
    """(|C1|^2, C1.Cp, |Cp|^2) of prefix sums (k = 0..m) and suffix sums, by cumulative sums."""
    Y = Q[order]
    m, r = Y.shape
    C1 = np.vstack([np.zeros(r), np.cumsum(Y, axis=0)])
    Cp = np.vstack([np.zeros(r), np.cumsum(pc[:, None] * Y, axis=0)])
    D1 = np.vstack([np.cumsum(Y[::-1], axis=0)[::-1], np.zeros(r)])
    Dp = np.vstack([np.cumsum((pc[:, None] * Y)[::-1], axis=0)[::-1], np.zeros(r)])

    def forms(a, b):
        return np.column_stack([np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", a, b), np.einsum("ij,ij->i", b, b)])

    return forms(C1, Cp), forms(D1, Dp), (C1, Cp, D1, Dp)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(1, 70), r=st.integers(1, 6), block=st.sampled_from([1, 2, 4, 16]),
       ties=st.booleans())
def test_forms_match_cumulative_sums(seed, m, r, block, ties):
    rng = np.random.default_rng(seed)
    Q = np.ascontiguousarray(rng.standard_normal((m, r)))
    p = rng.uniform(-1, 1, m)
    if ties:
        p = np.round(3 * p) / 3
    order = np.argsort(p, kind="stable")
    pc = p[order] - 0.1
    F_pre, F_suf, (C1, Cp, D1, Dp) = direct_forms(Q, order, pc)
    scale = 1e-12 * max(1.0, float(np.abs(F_pre).max()), float(np.abs(F_suf).max()))
    full_pre, full_suf = la.full_forms(Q, order, pc, block)
    assert_allclose(full_pre, F_pre, atol=scale)
    assert_allclose(full_suf, F_suf, atol=scale)
    k_pre, k_suf, pre, suf = la.knot_forms(Q, order, pc, block)
    knots = np.minimum(np.arange(k_pre.shape[0]) * block, m)
    assert_allclose(k_pre, F_pre[knots], atol=scale)
    assert_allclose(k_suf, F_suf[knots], atol=scale)
    z = rng.standard_normal(r)
    blocks = np.arange(0, k_pre.shape[0] - 1, 2)
    forms = la.block_forms(Q, order, pc, block, blocks, pre, suf, z)
    assert isinstance(forms, la.BlockForms)
    b_pre, b_suf, z_pre, z_suf = forms.pre, forms.suf, forms.z_pre, forms.z_suf
    assert la.block_forms(Q, order, pc, block, blocks, pre, suf).z_pre is None
    pos = np.minimum(blocks[:, None] * block + np.arange(block), m)  # past m (padding): the values at m
    assert_allclose(b_pre, F_pre[np.minimum(pos + 1, m)], atol=scale)
    assert_allclose(b_suf, F_suf[pos], atol=scale)
    assert_allclose(z_pre[..., 0], C1[np.minimum(pos + 1, m)] @ z, atol=scale)
    assert_allclose(z_suf[..., 1], Dp[pos] @ z, atol=scale)
    for k in {0, m // 2, m}:
        assert_allclose(la.sums_at(Q, order, pc, block, pre, suf, k, False), np.stack([C1[k], Cp[k]]), atol=scale)
        assert_allclose(la.sums_at(Q, order, pc, block, pre, suf, k, True), np.stack([D1[k], Dp[k]]), atol=scale)


@pytest.mark.parametrize("m", [3000, 3001])
def test_full_forms_of_large_bases_are_blocked_and_exact(m):
    """Above DIRECT_SIZE the full forms come from the block sums; same values as cumulative sums."""
    rng = np.random.default_rng(m)
    Q = np.ascontiguousarray(rng.standard_normal((m, 20)))
    assert m * 20 > la.DIRECT_SIZE
    p = np.round(rng.uniform(-1, 1, m) * 50) / 50  # ties
    order = np.argsort(p, kind="stable")
    pc = p[order]
    F_pre, F_suf, _ = direct_forms(Q, order, pc)
    got_pre, got_suf = la.full_forms(Q, order, pc)
    scale = 1e-11 * max(np.abs(F_pre).max(), np.abs(F_suf).max())
    assert_allclose(got_pre, F_pre, atol=scale)
    assert_allclose(got_suf, F_suf, atol=scale)


def features(rng, m, n, d=2, *, dead=(), dup=(), affine=()):
    """ReLU features of random neurons; ``dead`` columns zero, ``dup`` pairs equal (scaled), ``affine``
    columns active on every point (so more than d + 1 of them are dependent)."""
    X = rng.uniform(-1, 1, (m, d))
    W = rng.standard_normal((n, d))
    b = rng.uniform(-0.5, 0.5, n)
    for j in affine:
        b[j] = 3.0 * np.abs(W[j]).sum()
    A = np.maximum(X @ W.T + b, 0.0)
    for j in dead:
        A[:, j] = 0.0
    for j, k in dup:
        A[:, k] = 2.5 * A[:, j]
    return A, X


CASES = {
    "independent": {},
    "dead": {"dead": (1,)},
    "duplicate": {"dup": ((2, 4),)},
    "affine": {"affine": (0, 3, 5, 6)},
    "all": {"dead": (1,), "dup": ((2, 4),), "affine": (0, 5, 6, 7)},
}


def projector_without(A, j):
    B = range_basis(np.delete(A, j, axis=1))
    return B @ B.T


@pytest.mark.parametrize("case", list(CASES))
def test_basis_and_leave_one_out_projectors(case):
    rng = np.random.default_rng(len(case))
    A, _ = features(rng, 200, 8, **CASES[case])
    y = rng.standard_normal(200)
    basis = la.FeatureBasis(A, y)
    assert basis.reliable
    Q, S = basis.Q, basis.S
    assert basis.r == np.linalg.matrix_rank(A)
    assert_allclose(Q.T @ Q, np.eye(basis.r), atol=1e-13)
    assert_allclose(Q @ S, A, atol=1e-13 * np.abs(A).max())
    assert_allclose(basis.qty, Q.T @ y, atol=1e-12)
    kinds = set()
    for j in range(A.shape[1]):
        loo = basis.leave_one_out(j)
        kinds.add(loo.kind)
        assert loo.kind in ("essential", "spare")
        P = Q @ Q.T
        if loo.z is not None:
            q = basis.q(loo)
            assert_allclose(np.linalg.norm(q), 1.0, rtol=1e-12)
            P = P - np.outer(q, q)
        assert_allclose(P, projector_without(A, j), atol=1e-10)
        c = rng.standard_normal(A.shape[1])
        t = c[j] * A[:, j] - (A @ c - y)
        assert_allclose(Q @ basis.drop(basis.target_coords(j, c), loo), P @ t, atol=1e-10 * np.linalg.norm(t))
    if case in ("dead", "duplicate", "all"):
        assert "spare" in kinds


@pytest.mark.parametrize("case", list(CASES))
def test_output_weights_are_the_minimum_norm_least_squares_solution(case):
    rng = np.random.default_rng(10 + len(case))
    A, X = features(rng, 150, 8, **CASES[case])
    y = rng.standard_normal(150)
    basis = la.FeatureBasis(A, y)
    for j in range(A.shape[1]):
        for a in (np.maximum(X @ rng.standard_normal(2) + 0.1, 0.0), A[:, (j + 1) % 8].copy(), np.zeros(150)):
            A_new = A.copy()
            A_new[:, j] = a
            expected = np.linalg.lstsq(A_new, y, rcond=None)[0]
            got = basis.solve_replacing(j, basis.extension(a))
            assert_allclose(got, expected, rtol=1e-8, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("case", list(CASES))
def test_replacing_columns_keeps_the_basis_exact(case):
    """A sequence of replacements (new ReLUs, copies of other columns, zero columns) keeps Q
    orthonormal, A = Q S and Q^T y, and the leave-one-out projectors those of a fresh basis."""
    rng = np.random.default_rng(20 + len(case))
    A, X = features(rng, 160, 8, **CASES[case])
    y = rng.standard_normal(160)
    basis = la.FeatureBasis(A, y)
    for step in range(25):
        j = int(rng.integers(8))
        kind = step % 5
        if kind == 3:
            a = A[:, (j + 2) % 8].copy()  # a duplicate of another column
        elif kind == 4:
            a = np.zeros(160)  # a dead neuron
        else:
            a = np.maximum(X @ rng.standard_normal(2) + rng.uniform(-0.5, 0.5), 0.0)
        loo = basis.leave_one_out(j)
        if loo.kind == "unclear" or not basis.reliable:
            basis = la.FeatureBasis(A, y)
            continue
        basis.replace(j, loo, basis.extension(a), a)
        A[:, j] = a
        if not basis.reliable:
            basis = la.FeatureBasis(A, y)
        assert basis.r == np.linalg.matrix_rank(A)
        assert_allclose(basis.Q.T @ basis.Q, np.eye(basis.r), atol=1e-12)
        assert_allclose(basis.Q @ basis.S, A, atol=1e-12 * max(1.0, np.abs(A).max()))
        assert_allclose(basis.qty, basis.Q.T @ y, atol=1e-11)
        k = int(rng.integers(8))
        loo_k = basis.leave_one_out(k)
        if loo_k.kind != "unclear":
            P = basis.Q @ basis.Q.T
            if loo_k.z is not None:
                q = basis.q(loo_k)
                P -= np.outer(q, q)
            assert_allclose(P, projector_without(A, k), atol=1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_forms_follow_the_changes_of_the_basis(case):
    """The 1-D forms carried over every replacement by update_full_forms (rotated, appended and
    unchanged directions) equal the forms of the new basis computed from scratch."""
    rng = np.random.default_rng(40 + len(case))
    m = 160
    A, X = features(rng, m, 8, **CASES[case])
    y = rng.standard_normal(m)
    p = rng.uniform(-1, 1, m)
    order = np.argsort(p, kind="stable")
    pc = p[order] - 0.5 * (p.min() + p.max())
    basis = la.FeatureBasis(A, y)
    F_pre, F_suf = (F.T.copy() for F in la.full_forms(basis.Q, order, pc))
    kinds = set()
    for step in range(30):
        j = int(rng.integers(8))
        a = np.zeros(m) if step % 6 == 5 else A[:, (j + 3) % 8].copy() if step % 6 == 4 else \
            np.maximum(X @ rng.standard_normal(2) + rng.uniform(-0.5, 0.5), 0.0)
        loo = basis.leave_one_out(j)
        if loo.kind == "unclear" or not basis.reliable:
            continue
        change = basis.replace(j, loo, basis.extension(a), a)
        A[:, j] = a
        if change is None or not basis.reliable:
            basis = la.FeatureBasis(A, y)
            F_pre, F_suf = (F.T.copy() for F in la.full_forms(basis.Q, order, pc))
            continue
        kinds.add(("rotated" if change.old is not None else "appended") if change.new is not None else "unchanged")
        la.update_full_forms(F_pre, F_suf, order, pc, change)
        want_pre, want_suf = la.full_forms(basis.Q, order, pc)
        scale = max(1.0, float(np.abs(want_pre).max()))
        assert_allclose(F_pre, want_pre.T, rtol=0, atol=1e-12 * scale)
        assert_allclose(F_suf, want_suf.T, rtol=0, atol=1e-12 * scale)
    assert "rotated" in kinds
    if case != "independent":
        assert kinds & {"appended", "unchanged"}, kinds


@pytest.mark.parametrize("case", list(CASES))
def test_the_part_of_y_outside_the_other_features_is_kept_across_replacements(case):
    """perp_y_without(loo) is P_{-j}^perp y (projector of a fresh basis) after every replacement:
    the kept y - QQ^T y follows rotated and appended directions by O(m) updates."""
    rng = np.random.default_rng(60 + len(case))
    m = 150
    A, X = features(rng, m, 8, **CASES[case])
    y = rng.standard_normal(m)
    basis = la.FeatureBasis(A, y)
    checked = 0
    for step in range(30):
        j = int(rng.integers(8))
        loo = basis.leave_one_out(j)
        if loo.kind == "unclear" or not basis.reliable:
            basis = la.FeatureBasis(A, y)
            continue
        want = y - projector_without(A, j) @ y
        assert_allclose(basis.perp_y_without(loo), want, rtol=0, atol=1e-10 * np.linalg.norm(y))
        checked += 1
        a = A[:, (j + 5) % 8].copy() if step % 5 == 4 else \
            np.maximum(X @ rng.standard_normal(2) + rng.uniform(-0.5, 0.5), 0.0)
        if basis.replace(j, loo, basis.extension(a), a) is None or not basis.reliable:
            A[:, j] = a
            basis = la.FeatureBasis(A, y)
            continue
        A[:, j] = a
    assert checked >= 20


def test_near_dependent_columns_are_unclear():
    rng = np.random.default_rng(5)
    A, _ = features(rng, 120, 6)
    A[:, 5] = A[:, 4] * (1 + 1e-13) + 1e-13 * rng.standard_normal(120)  # a singular value near the cut-off
    basis = la.FeatureBasis(A, rng.standard_normal(120))
    kinds = {basis.leave_one_out(j).kind for j in range(6)} if basis.reliable else {"unclear"}
    assert "unclear" in kinds


# ------------------------------------------------------------------------- the pruned search


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(20, 200), ties=st.booleans(), essential=st.booleans(),
       bounded=st.sampled_from([None, 1, 5]), block=st.sampled_from([2, 4, 16]))
def test_pruned_search_chooses_as_the_full_search(seed, m, ties, essential, bounded, block):
    """Same candidate (threshold, orientation) and gain as scoring every candidate exactly."""
    rng = np.random.default_rng(seed)
    A, X = features(rng, m, 6)
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    basis = la.FeatureBasis(A, y)
    j = 2
    loo = basis.leave_one_out(j)
    if not essential:
        loo = la.LeaveOneOut("spare")
    if loo.kind == "unclear":
        return
    c = np.linalg.lstsq(A, y, rcond=None)[0]
    t = c[j] * A[:, j] - (A @ c - y)
    t_perp = t - basis.Q @ basis.drop(basis.target_coords(j, c), loo)
    p = X @ np.array([0.8, -0.6])
    if ties:
        p = np.round(p * 4) / 4
    rule = None if bounded is None else (1, int(np.sum(A[:, j] > 0)), bounded)
    full_search = anls_threshold._Sorted(p, t_perp, basis.q(loo))
    forms = anls_threshold._FullForms(*la.full_forms(basis.Q, full_search.order, full_search.pc))
    full = anls_threshold._search_full(full_search, False, forms, rule)
    pruned = anls_threshold._search_pruned(anls_threshold._Sorted(p, t_perp), basis.Q, loo.z, rule, block)
    assert (full is None) == (pruned is None)
    if full is not None:
        choice, coef = pruned
        assert (choice.s, choice.tau) == (full.s, full.tau)
        assert_allclose(choice.gain, full.gain, rtol=1e-10)
        phi = np.maximum(choice.s * (p - choice.tau), 0.0)
        assert_allclose(coef, basis.Q.T @ phi, atol=1e-10 * max(1.0, np.linalg.norm(phi)))


# ------------------------------------------------------------------------- frozen pattern


def reference_frozen(active, Xt, y):
    m, n = active.shape
    Phi = (active[:, :, None] * Xt[:, None, :]).reshape(m, -1)
    return np.linalg.lstsq(Phi, y, rcond=None)[0].reshape(n, -1)


@pytest.mark.parametrize("case", ["full-rank", "dead", "duplicate-pattern", "few-active", "all-active-pair"])
def test_frozen_pattern_solve_is_lstsq(case, monkeypatch):
    rng = np.random.default_rng(3)
    m, n, d = 400, 8, 2
    X = rng.uniform(-1, 1, (m, d))
    Xt = np.column_stack([X, np.ones(m)])
    W, b = rng.standard_normal((n, d)), rng.uniform(-0.3, 0.3, n)
    active = X @ W.T + b > 0
    if case == "dead":
        active[:, 3] = False
    elif case == "duplicate-pattern":
        active[:, 4] = active[:, 2]
    elif case == "few-active":
        active[:, 5] = False
        active[:2, 5] = True
    elif case == "all-active-pair":
        active[:, 6] = True
        active[:, 7] = True
        active[0, 7] = False
    y = np.sin(3 * X[:, 0]) + X[:, 1]
    calls = {"lstsq": 0}
    original = np.linalg.lstsq

    def counted(*args, **kwargs):
        calls["lstsq"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(la.np.linalg, "lstsq", counted)
    got = la.frozen_pattern_lstsq(active, Xt, y)
    monkeypatch.undo()
    expected = reference_frozen(active, Xt, y)
    assert_allclose(got, expected, rtol=1e-9, atol=1e-10 * np.abs(expected).max())
    fast = case in ("full-rank", "dead")
    assert calls["lstsq"] == (0 if fast else 1)  # the normal equations only when safe


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("tilt", [0.0, 1e-9, 1e-7, 1e-3, 0.7])
def test_removing_a_direction_keeps_the_rest_of_the_span(sign, tilt):
    """Dropping q = Qz leaves an orthonormal basis of span(Q) minus q, with A's projection and Q^T y
    updated, also when z is nearly +-e_r (where a badly chosen Householder vector cancels)."""
    rng = np.random.default_rng(31)
    A, _ = features(rng, 60, 5)
    y = rng.standard_normal(60)
    basis = la.FeatureBasis(A, y)
    r = basis.r
    w = np.append(rng.standard_normal(r - 1), 0.0)
    z = tilt * w / np.linalg.norm(w)
    z[-1] = sign * np.sqrt(1.0 - tilt**2)
    q = basis.Q @ z
    P = basis.Q @ basis.Q.T - np.outer(q, q)  # projector onto what remains
    basis._remove_direction(z)
    assert basis.r == r - 1
    assert_allclose(basis.Q.T @ basis.Q, np.eye(r - 1), atol=1e-14)
    assert_allclose(basis.Q.T @ q, 0.0, atol=1e-14)
    assert_allclose(basis.Q @ basis.Q.T, P, atol=1e-14)
    assert_allclose(basis.Q @ basis.S, P @ A, atol=1e-13 * np.abs(A).max())
    assert_allclose(basis.qty, basis.Q.T @ y, atol=1e-13)


def test_neglected_residuals_add_in_quadrature_and_unreliability_sticks():
    """Neglected residual columns are orthogonal to the basis: their norms add as sqrt(sum of squares),
    and once the total passes the cut-off the basis stays unreliable."""
    rng = np.random.default_rng(2)
    A, _ = features(rng, 30, 3)
    basis = la.FeatureBasis(A, rng.standard_normal(30))
    assert basis.reliable and basis.resid == 0.0
    basis._neglect(3.0, 5.0)
    basis._neglect(4.0, 5.0)
    assert basis.resid == 5.0 and basis.reliable  # sqrt(3^2 + 4^2), not above the cut-off
    basis._neglect(12.0, 10.0)
    assert basis.resid == 13.0 and not basis.reliable
    basis._neglect(0.0, 100.0)
    assert not basis.reliable


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_replacements_decide_the_rank_as_lstsq_at_any_scale(scale):
    """Rank decisions are relative to the size of the features: a new ReLU, an exact copy of another
    column and a copy perturbed far above the lstsq cut-off keep the basis reliable, of the rank
    numpy finds, and exact."""
    rng = np.random.default_rng(41)
    A, X = features(rng, 100, 6)
    A *= scale
    y = scale * rng.standard_normal(100)
    basis = la.FeatureBasis(A, y)
    noise = rng.standard_normal(100)
    new = [(1, scale * np.maximum(X @ np.array([0.7, -0.4]) + 0.2, 0.0)),
           (2, A[:, 4].copy()),  # column 2 is now spare: a copy of column 4
           (2, scale * np.maximum(X @ np.array([-0.3, 0.9]) - 0.1, 0.0)),  # a new direction appended
           (3, A[:, 0] + 1e-9 * noise / np.linalg.norm(noise) * np.linalg.norm(A[:, 0]))]
    for j, a in new:
        loo = basis.leave_one_out(j)
        assert loo.kind != "unclear"
        basis.replace(j, loo, basis.extension(a), a)
        A[:, j] = a
        assert basis.reliable
        assert basis.r == np.linalg.matrix_rank(A)
        assert_allclose(basis.Q.T @ basis.Q, np.eye(basis.r), atol=1e-12)
        assert_allclose(basis.Q @ basis.S, A, atol=1e-12 * np.abs(A).max())
    with pytest.raises(ValueError, match="clear-cut"):
        basis.replace(0, la.UNCLEAR, basis.extension(A[:, 0]), A[:, 0])


@pytest.mark.parametrize(("m", "block"), [(1, 1), (7, 1), (7, 3), (10, 5), (11, 4), (9, 9), (5, 16)])
def test_sorted_block_sums_add_the_rows_of_each_block_by_hand(m, block):
    """out[beta] = (sum of Q[order[i]], sum of pc[i] Q[order[i]]) over sorted positions i of block beta."""
    rng = np.random.default_rng(m * 31 + block)
    Q = rng.standard_normal((m, 3))
    order = rng.permutation(m)
    pc = rng.uniform(-1, 1, m)
    nb = -(-m // block)
    expected = np.zeros((nb, 2, 3))
    for i in range(m):
        expected[i // block, 0] += Q[order[i]]
        expected[i // block, 1] += pc[i] * Q[order[i]]
    got = la.sorted_block_sums(Q, order, pc, block)
    assert got.shape == (nb, 2, 3)
    assert_allclose(got, expected, rtol=1e-13, atol=1e-14)
    pre, suf = la.boundary_sums(got)
    assert pre.shape == suf.shape == (nb + 1, 2, 3)
    for beta in range(nb + 1):
        assert_allclose(pre[beta], expected[:beta].sum(axis=0), rtol=1e-13, atol=1e-14)
        assert_allclose(suf[beta], expected[beta:].sum(axis=0), rtol=1e-13, atol=1e-14)


def conditioned(m: int, n: int, cond: float, seed: int = 0) -> np.ndarray:
    """An m x n matrix with singular values from 1 down to 1/cond, geometrically."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (U * np.geomspace(1.0, 1.0 / cond, n)) @ V.T


@pytest.mark.parametrize("cond", [1.0, 1e2, 3e4])
def test_refined_normal_equations_reach_the_accuracy_of_qr_without_lstsq(cond, monkeypatch):
    """Below the condition limit the solve is Cholesky plus iterative refinement, never the fallback.

    The unrefined normal equations lose accuracy like cond^2 * eps (1e-7 relative at cond 3e4);
    refined, like a QR solve, cond * eps. Compared with the QR solution (R u = Q^T y).
    """
    Phi = conditioned(60, 6, cond)
    y = np.random.default_rng(1).standard_normal(60)
    Qf, R = np.linalg.qr(Phi)
    expected = np.linalg.solve(R, Qf.T @ y)
    monkeypatch.setattr(la.np.linalg, "lstsq", lambda *a, **k: pytest.fail("fell back to lstsq"))
    got = la._normal_equations_lstsq(Phi, y)
    assert_allclose(got, expected, rtol=100 * cond * la.EPS)


def test_normal_equations_fall_back_to_lstsq_when_square_or_ill_conditioned(monkeypatch):
    calls = []
    original = np.linalg.lstsq

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(la.np.linalg, "lstsq", counted)
    square = conditioned(6, 6, 10.0)
    y = np.arange(6.0)
    assert_allclose(la._normal_equations_lstsq(square, y), np.linalg.solve(square, y), rtol=1e-12)
    ill = conditioned(60, 6, 1e7)  # beyond max_cond = 1e5
    la._normal_equations_lstsq(ill, np.ones(60))
    assert calls == [(6, 6), (60, 6)]
    zero_column = np.column_stack([conditioned(60, 3, 10.0), np.zeros(60)])
    got = la._normal_equations_lstsq(zero_column, np.ones(60))
    assert got[3] == 0.0 and len(calls) == 2  # the zero column's coefficient exactly 0, by the fast path


@pytest.mark.parametrize("live_norm", [0.5, 3.0])
def test_leave_one_out_of_a_single_live_feature_among_zero_ones(live_norm):
    """Rank one: the live feature alone spans the range (essential, q_j = a/|a|); a zero feature spans
    nothing (spare); with every feature zero there is no range and nothing to leave out."""
    rng = np.random.default_rng(7)
    m = 30
    a = rng.standard_normal(m)
    a *= live_norm / np.linalg.norm(a)
    A = np.column_stack([np.zeros(m), a, np.zeros(m)])
    basis = la.FeatureBasis(A, rng.standard_normal(m))
    assert basis.r == 1 and basis.reliable
    live = basis.leave_one_out(1)
    assert live.kind == "essential"
    assert_allclose(abs(basis.q(live) @ a), live_norm, rtol=1e-13)
    for j in (0, 2):
        assert basis.leave_one_out(j).kind == "spare"
    empty = la.FeatureBasis(np.zeros((m, 3)), np.ones(m))
    assert empty.r == 0 and empty.Q.shape == (m, 0)
    assert [empty.leave_one_out(j).kind for j in range(3)] == ["spare"] * 3


def _small_init_features(seed: int, m: int = 2000, n: int = 60) -> np.ndarray:
    """1-D features of a network at the race's small scale: ramps, many of them affine on the data."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, m))
    w, b = 1e-3 * rng.standard_normal(n), 1e-3 * rng.standard_normal(n)
    return np.maximum(np.outer(x, w) + b, 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_the_small_singular_values_decide_where_the_bounds_cannot(seed, monkeypatch):
    """Near-dependent features (a small initialisation) leave the bounds of leave_one_out undecided; the
    SVD of S_{-j} then decides each feature as lstsq's rank of A_{-j} does, and none stays unclear."""
    A = _small_init_features(seed)
    basis = la.FeatureBasis(A, np.zeros(A.shape[0]))
    assert basis.reliable
    calls = []
    rank_without = la.FeatureBasis._rank_without
    monkeypatch.setattr(la.FeatureBasis, "_rank_without",
                        lambda self, j, cut: calls.append(j) or rank_without(self, j, cut))
    for j in range(A.shape[1]):
        kind = basis.leave_one_out(j).kind
        assert kind != "unclear"
        rank = np.linalg.matrix_rank(np.delete(A, j, axis=1))
        assert rank == (basis.r - 1 if kind == "essential" else basis.r), j
    assert calls  # the case this test is about


@pytest.mark.parametrize(("ratio", "kind"), [(4.0, "spare"), (1.3, None), (0.7, None), (0.2, "essential")])
def test_rank_without_keeps_the_margin_on_both_sides(ratio, kind):
    """A_{-3} has singular values (1, 1, s), s = ratio x lstsq's cut-off: decided only clear of the margin."""
    m = 50
    cut = la.lstsq_cutoff(m, 3)
    S = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, ratio * cut, 1.0]])
    Q0 = np.linalg.qr(np.random.default_rng(0).standard_normal((m, 3)))[0]
    basis = la.FeatureBasis(Q0 @ S, np.zeros(m))
    assert basis.r == 3
    assert basis._rank_without(3, cut) == kind
