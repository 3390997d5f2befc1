r"""Private linear algebra of the ANLS sweep (:mod:`plateau_lib.trainers.anls`).

Three pieces make a sweep cost :math:`O(n\,m\log m + m n^2)` instead of :math:`O(m n^3)`:

* :class:`FeatureBasis` keeps an orthonormal basis :math:`Q` (:math:`m\times r`) of the span of
  the feature matrix :math:`A = \mathrm{relu}(XW^\top + b)`, the coefficients
  :math:`S = Q^\top A` (:math:`r\times n`) and :math:`Q^\top y`. For neuron :math:`j` the
  projector onto the span of the *other* features is :math:`P_{-j} = Q(I - zz^\top)Q^\top`
  (:math:`q_j = Qz` the direction only feature :math:`j` spans), or :math:`QQ^\top` when another
  feature can stand in for :math:`A_j`; :math:`z` comes from an :math:`n \times n`
  factorisation of :math:`S` (:meth:`FeatureBasis.leave_one_out`). The output weights of a
  proposal are the minimum-norm least-squares solution of an :math:`(r+1)\times n` system
  (:meth:`FeatureBasis.solve_replacing`), and a kept update changes :math:`Q` by one rank-1
  update in place (:meth:`FeatureBasis.replace`): :math:`O(mn)` each.
* :func:`knot_forms` and :func:`block_forms` give the quadratic forms
  :math:`(|C_1|^2, C_1\cdot C_p, |C_p|^2)` of the prefix and suffix sums
  :math:`C_1 = \sum Q_i`, :math:`C_p = \sum p_iQ_i` over the sorted data, from which the joint
  gain of every threshold candidate follows: exactly at every :math:`b`-th sorted position (one
  pass over :math:`Q`), and exactly at every position of the blocks asked for.
* :func:`frozen_pattern_lstsq` solves the least-squares problem of the frozen-pattern solve by
  the normal equations with iterative refinement when that is safe (full rank, condition number
  at most :math:`10^5`), else by ``numpy.linalg.lstsq``.

Rank decisions follow ``numpy.linalg.lstsq`` (singular values below
:math:`\max(m, n)\,\varepsilon\,\sigma_1` count as zero): a quantity is neglected when a bound
on it (including its own round-off) is below that cut-off and kept when it is :data:`RANK_MARGIN`
times above it. Where the two bounds of :meth:`FeatureBasis.leave_one_out` lie too far apart to
decide, the singular values of the small coefficient matrix decide
(:meth:`FeatureBasis._rank_without`, margin :data:`SVD_RANK_MARGIN`); anything still between is
reported as unclear, and the trainer then computes that update the straightforward way. Every
function here is private: no validation, shapes as documented.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

EPS = float(np.finfo(float).eps)
#: Rank decisions: a quantity counts as nonzero only when it exceeds the ``lstsq`` cut-off by this
#: factor (and as zero when a bound on it is below the cut-off); between the two the fast path
#: defers to the straightforward computation.
RANK_MARGIN = 100.0
#: Where the bounds of :meth:`FeatureBasis.leave_one_out` cannot classify a feature, the SVD of the
#: small coefficient matrix :math:`S_{-j}` decides (:meth:`FeatureBasis._rank_without`) when its
#: :math:`\sigma_r` is this factor away from the ``lstsq`` cut-off :math:`\max(m, n)\,\varepsilon\,
#: \sigma_1`. Computed singular values are within about :math:`\varepsilon\sigma_1` of the exact
#: ones (LAPACK Users' Guide, sec. 4.9), so a gap of half the cut-off itself settles ``lstsq``'s
#: decision on :math:`A_{-j} = QS_{-j}` with room to spare.
SVD_RANK_MARGIN = 2.0


def lstsq_cutoff(m: int, n: int) -> float:
    """Relative singular-value cut-off of ``numpy.linalg.lstsq(rcond=None)`` for an m x n matrix."""
    return max(m, n) * EPS


# --------------------------------------------------------------------- quadratic forms of Q


def sorted_block_sums(Q: FloatArray, order: IntArray, pc: FloatArray, block: int) -> FloatArray:
    r"""Sums of the rows of ``Q`` and of ``pc``-weighted rows over blocks of the sorted order.

    Block :math:`\beta` holds the sorted positions :math:`[\beta b, \min(\beta b + b, m))`; the
    result ``out[β, 0] = Σ Q[order[i]]`` and ``out[β, 1] = Σ pc[i] Q[order[i]]`` over the block
    (``pc`` is already in sorted order). One sparse product with a CSC matrix whose column ``i``
    holds the block of data point ``i``: a single pass over the rows of ``Q`` in their stored order
    (no sorted copy), accumulating into the small (nb, 2, r) result.
    """
    m = order.shape[0]
    nb = -(-m // block)
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m)
    blk = rank // block
    indices = np.empty(2 * m, dtype=np.int32)
    indices[0::2] = 2 * blk
    indices[1::2] = 2 * blk + 1
    data = np.empty(2 * m)
    data[0::2] = 1.0
    data[1::2] = pc[rank]
    E = sp.csc_matrix((data, indices, np.arange(0, 2 * m + 1, 2, dtype=np.int32)), shape=(2 * nb, m))
    return np.asarray(E @ Q).reshape(nb, 2, Q.shape[1])


def boundary_sums(bs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Prefix sums before block β and suffix sums from block β on (β = 0..nb), each accumulated from its own end."""
    nb = bs.shape[0]
    flat = bs.reshape(nb, -1)
    pre = np.zeros((nb + 1, flat.shape[1]))
    np.cumsum(flat, axis=0, out=pre[1:])
    suf = np.zeros((nb + 1, flat.shape[1]))
    np.cumsum(flat[::-1], axis=0, out=suf[nb - 1 :: -1])
    return pre.reshape((nb + 1,) + bs.shape[1:]), suf.reshape((nb + 1,) + bs.shape[1:])


def forms_of(V: FloatArray) -> FloatArray:
    r"""``(|v_1|^2, v_1\cdot v_p, |v_p|^2)`` for stacked pairs ``V[..., 0, :] = v_1``, ``V[..., 1, :] = v_p``."""
    return _forms(V[..., 0, :], V[..., 1, :])


def _forms(v1: FloatArray, vp: FloatArray) -> FloatArray:
    lead, k = v1.shape[:-1], v1.shape[-1]
    a, b = v1.reshape(-1, k), vp.reshape(-1, k)
    out = np.empty((a.shape[0], 3))
    out[:, 0] = np.einsum("ij,ij->i", a, a)
    out[:, 1] = np.einsum("ij,ij->i", a, b)
    out[:, 2] = np.einsum("ij,ij->i", b, b)
    return out.reshape(lead + (3,))


def knot_forms(Q: FloatArray, order: IntArray, pc: FloatArray, block: int
               ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    r"""The quadratic forms of the prefix and suffix sums of ``Q`` at the block boundaries.

    With :math:`C_1(k) = \sum_{i<k} Q_{o_i}`, :math:`C_p(k) = \sum_{i<k} p^c_i Q_{o_i}` (sorted
    positions :math:`i`) and :math:`D_1, D_p` the same sums over :math:`i \ge k`, returns

    * ``F_pre`` (nb+1, 3): :math:`(|C_1|^2, C_1\cdot C_p, |C_p|^2)` at :math:`k = \min(\beta b, m)`;
    * ``F_suf`` (nb+1, 3): the same for :math:`D_1, D_p`;
    * ``pre``, ``suf`` (nb+1, 2, r): the sums themselves (for :func:`block_forms`).
    """
    bs = sorted_block_sums(Q, order, pc, block)
    pre, suf = boundary_sums(bs)
    return forms_of(pre), forms_of(suf), pre, suf


class BlockForms(NamedTuple):
    """The forms of :func:`block_forms` at every position of some blocks, by name.

    Attributes
    ----------
    pre, suf : ndarray, shape (len(blocks), b, 3)
        Forms of the prefix sums up to and including each position, and of the suffix sums from it on.
    z_pre, z_suf : ndarray, shape (len(blocks), b, 2), or None
        The same sums dotted with ``z``, ``(C_1 . z, C_p . z)``; ``None`` without ``z``.
    """

    pre: FloatArray
    suf: FloatArray
    z_pre: FloatArray | None
    z_suf: FloatArray | None


def block_forms(Q: FloatArray, order: IntArray, pc: FloatArray, block: int, blocks: IntArray,
                pre: FloatArray, suf: FloatArray, z: FloatArray | None = None) -> BlockForms:
    r"""Exact prefix and suffix forms at every position of the given blocks.

    Returns (as :class:`BlockForms`) ``F_pre`` (len(blocks), b, 3) with the forms of the prefix sums *including* sorted
    position :math:`\beta b + \iota` (i.e. at :math:`k = \beta b + \iota + 1`) and ``F_suf`` with
    the forms of the suffix sums *from* :math:`\beta b + \iota` on; with ``z``, also the sums
    dotted with ``z``, ``(C_1\cdot z, C_p\cdot z)``, shape (len(blocks), b, 2) each. Positions
    past :math:`m` (the padding of the last block) repeat the values at :math:`m`. The
    within-block partial sums :math:`L(\iota)` (accumulated from the block's start) are added to
    the prefix boundary sums ``pre[β]`` and subtracted from the suffix boundary sums ``suf[β]`` of
    :func:`knot_forms` (:math:`D(\beta b + \iota) = D(\beta b) - L(\iota - 1)`), so no long sum
    is differenced.
    """
    L1, Lp = _partial_sums(Q, order, pc, block, blocks)
    P1, Pp = L1 + pre[blocks, 0][:, None, :], Lp + pre[blocks, 1][:, None, :]
    F_pre = _forms(P1, Pp)
    zpre = np.stack([P1 @ z, Pp @ z], axis=-1) if z is not None else None
    V1, Vp = P1, Pp  # reuse the buffers for the suffix vectors
    V1[:, 0] = suf[blocks, 0]
    Vp[:, 0] = suf[blocks, 1]
    np.subtract(suf[blocks, 0][:, None, :], L1[:, :-1], out=V1[:, 1:])
    np.subtract(suf[blocks, 1][:, None, :], Lp[:, :-1], out=Vp[:, 1:])
    zsuf = np.stack([V1 @ z, Vp @ z], axis=-1) if z is not None else None
    return BlockForms(F_pre, _forms(V1, Vp), zpre, zsuf)


def _partial_sums(Q: FloatArray, order: IntArray, pc: FloatArray, block: int, blocks: IntArray
                  ) -> tuple[FloatArray, FloatArray]:
    """Inclusive partial sums of the sorted rows of ``Q`` (and ``pc``-weighted) within each block, (nb', b, r)."""
    m = order.shape[0]
    pos = blocks[:, None] * block + np.arange(block)  # (nb', b)
    valid = pos < m
    posc = np.minimum(pos, m - 1)
    L1 = np.take(Q, order[posc], axis=0)
    if not valid.all():
        L1 *= valid[:, :, None]
    Lp = L1 * np.where(valid, pc[posc], 0.0)[:, :, None]
    # running sums along the block (numpy accumulates sequentially: L[i] = L[i-1] + x[i])
    return np.cumsum(L1, axis=1), np.cumsum(Lp, axis=1)


def sums_at(Q: FloatArray, order: IntArray, pc: FloatArray, block: int, pre: FloatArray, suf: FloatArray,
            k: int, suffix: bool) -> FloatArray:
    r"""The vector sums ``(C_1, C_p)`` (2, r) over sorted positions [0, k) or, with ``suffix``, [k, m)."""
    beta = k // block
    rows = order[beta * block : k]
    part = np.stack([Q[rows].sum(axis=0), pc[beta * block : k] @ Q[rows]]) if rows.size else 0.0
    return suf[beta] - part if suffix else pre[beta] + part


def full_forms(Q: FloatArray, order: IntArray, pc: FloatArray, block: int = 16) -> tuple[FloatArray, FloatArray]:
    r"""Prefix and suffix forms at every position :math:`k = 0..m`, shape (m+1, 3) each.

    Small problems (:math:`mr \le` ``DIRECT_SIZE``) take the cumulative sums of the sorted rows
    directly (fewer, larger array operations); larger ones the blocked sums of
    :func:`knot_forms` and :func:`block_forms`.
    """
    m, r = Q.shape
    if m * r <= DIRECT_SIZE:
        return _direct_forms(Q, order, pc)
    F_kpre, F_ksuf, pre, suf = knot_forms(Q, order, pc, block)
    nb = F_kpre.shape[0] - 1
    forms = block_forms(Q, order, pc, block, np.arange(nb), pre, suf)
    F_pre = np.empty((m + 1, 3))
    F_pre[0] = 0.0
    F_pre[1:] = forms.pre.reshape(-1, 3)[:m]
    F_suf = np.empty((m + 1, 3))
    F_suf[:m] = forms.suf.reshape(-1, 3)[:m]
    F_suf[m] = 0.0
    return F_pre, F_suf


#: Below this many entries of the basis (m r) the forms come from plain cumulative sums.
DIRECT_SIZE = 50_000


def _direct_forms(Q: FloatArray, order: IntArray, pc: FloatArray) -> tuple[FloatArray, FloatArray]:
    m, r = Q.shape
    Y = np.empty((m, 2, r))
    np.take(Q, order, axis=0, out=Y[:, 0])
    np.multiply(Y[:, 0], pc[:, None], out=Y[:, 1])
    pre = np.zeros((m + 1, 2, r))
    np.cumsum(Y, axis=0, out=pre[1:])
    suf = np.zeros((m + 1, 2, r))
    np.cumsum(Y[::-1], axis=0, out=suf[m - 1 :: -1])
    return forms_of(pre), forms_of(suf)


def update_full_forms(F_pre: FloatArray, F_suf: FloatArray, order: IntArray, pc: FloatArray,
                      change: BasisChange) -> None:
    r"""The forms of :func:`full_forms` (given as rows, (3, m+1) each) after ``Q`` changed by ``change``, in place.

    Only the component of the sums along the changed direction moves: with :math:`z` the unit
    coordinates of the direction, :math:`C_1 = C_1^\perp + (C_1\cdot z)\,z` and
    :math:`C_1\cdot z = \sum_{i<k} q_{o_i} = a(k)` (``q = old``), so after the change
    :math:`|C_1|^2 \leftarrow |C_1|^2 - a^2 + a'^2`, :math:`C_1\cdot C_p \leftarrow C_1\cdot C_p - ab
    + a'b'`, :math:`|C_p|^2 \leftarrow |C_p|^2 - b^2 + b'^2`, with :math:`a' , b'` the prefix sums
    of ``new`` and :math:`b, b'` those weighted by :math:`p^c`; the same for the suffix sums. An
    appended direction is the case :math:`a = b = 0`. Four cumulative sums of length :math:`m`
    instead of a pass over ``Q`` (:math:`O(m)` instead of :math:`O(mr)`).
    """
    for vec, sign in ((change.old, -1.0), (change.new, 1.0)):
        if vec is None:
            continue
        m = vec.shape[0]
        rows = np.empty((2, m))
        np.take(vec, order, out=rows[0])
        np.multiply(rows[0], pc, out=rows[1])
        for F, sums in ((F_pre, _prefix_sums(rows)), (F_suf, _suffix_sums(rows))):
            a, b = sums
            F[0] += sign * (a * a)
            F[1] += sign * (a * b)
            F[2] += sign * (b * b)


def _prefix_sums(rows: FloatArray) -> FloatArray:
    out = np.zeros((rows.shape[0], rows.shape[1] + 1))
    np.cumsum(rows, axis=1, out=out[:, 1:])
    return out


def _suffix_sums(rows: FloatArray) -> FloatArray:
    m = rows.shape[1]
    out = np.zeros((rows.shape[0], m + 1))
    np.cumsum(rows[:, ::-1], axis=1, out=out[:, m - 1 :: -1])
    return out


# ------------------------------------------------------------------------------ the basis


class Extension(NamedTuple):
    r"""A new feature :math:`a` against the basis: :math:`Q^\top a`, :math:`|a_\perp|`, :math:`a_\perp\cdot y`.

    :math:`a_\perp = a - QQ^\top a`; ``perp`` holds it explicitly, or is None when
    :math:`|a_\perp|^2 = |a|^2 - |Q^\top a|^2` could be taken without cancellation (then the
    vector itself is formed only if the update is kept).
    """

    coef: FloatArray
    rho: float
    perp_y: float
    perp: FloatArray | None


class LeaveOneOut(NamedTuple):
    r"""How feature :math:`j` sits in the span: ``kind`` "essential" (``z`` set), "spare" or "unclear".

    ``z``: unit coordinates of :math:`q_j = Qz`, the direction only feature :math:`j` spans.
    """

    kind: str
    z: FloatArray | None = None


UNCLEAR = LeaveOneOut("unclear")


class BasisChange(NamedTuple):
    r"""How :meth:`FeatureBasis.replace` changed ``Q``: the unit direction ``old`` became ``new``.

    ``Q \leftarrow Q + (\text{new} - \text{old})z^\top`` for a unit :math:`z` (``old = Qz``), or,
    with ``old`` None, ``new`` appended as a column; both None: ``Q`` unchanged.
    """

    old: FloatArray | None
    new: FloatArray | None


class FeatureBasis:
    r"""Orthonormal basis of the span of the features :math:`A` (m x n) and their coefficients.

    Invariants: ``Q`` (m x r, C-contiguous) has orthonormal columns spanning the numerical range
    of :math:`A` (rank :math:`r`), :math:`A \approx QS` with ``S`` (r x n), and ``qty`` is
    :math:`Q^\top y`. ``reliable`` is false when a rank decision was not clear-cut (a singular
    value within a factor :data:`RANK_MARGIN` of the ``lstsq`` cut-off): the caller then uses the
    exact computations instead. ``resid`` bounds the norm of what the representation neglects
    (the residuals of the dependent columns).

    Rank decisions follow ``numpy.linalg.lstsq`` and :func:`plateau_lib._linalg.range_basis`:
    singular values below :math:`\max(m, n)\,\varepsilon\,\sigma_1` count as zero.
    """

    def __init__(self, A: FloatArray, y: FloatArray) -> None:
        self.m, self.n = A.shape
        self.y = y
        self.build(A)

    # ---------------------------------------------------------------- (re)building

    def build(self, A: FloatArray) -> None:
        """Pivoted QR of ``A``; the rank is the number of pivots above the cut-off, which must be clear-cut."""
        m, n = self.m, self.n
        self.reliable, self.resid = True, 0.0
        norms = np.sqrt(np.einsum("ij,ij->j", A, A))
        if norms.max(initial=0.0) == 0.0:
            self._set(np.zeros((m, 0)), np.zeros((0, n)))
            return
        Qf, Rf, piv = sla.qr(A, mode="economic", pivoting=True, check_finite=False)
        diag = np.abs(np.diag(Rf))
        cut = lstsq_cutoff(m, n) * diag[0]
        r = int(np.count_nonzero(diag > cut))
        self.resid = float(np.linalg.norm(Rf[r:, r:])) if r < min(m, n) else 0.0
        self.reliable = self.resid <= cut
        if r:
            Tinv = sla.lapack.dtrtri(Rf[:r, :r])[0]
            self.reliable &= 1.0 / float(np.linalg.norm(Tinv)) >= RANK_MARGIN * cut * math.sqrt(n)
        S = np.empty((r, n))
        S[:, piv] = Rf[:r]
        self._set(np.ascontiguousarray(Qf[:, :r]), S)

    def _set(self, Q: FloatArray, S: FloatArray) -> None:
        self.Q, self.S = Q, S
        self._q: tuple[FloatArray, FloatArray] | None = None  # (z, Qz) of the last q() since Q last changed
        self._y_perp: FloatArray | None = None  # y - Q Q^T y once asked for (perp_y_without), then kept
        self.qty = Q.T @ self.y
        self._derived = None

    @property
    def r(self) -> int:
        """Rank: number of basis vectors."""
        return self.Q.shape[1]

    # ---------------------------------------------------------------- leave one out

    def _derive(self):
        r"""Complete QR of :math:`S^\top = [V\ V_\perp][T; 0]` and the scales of the rank tests.

        With full column rank (:math:`r = n`) :math:`V_\perp` is empty and :math:`z_j \propto
        T^{-1}V_j^\top = S^{-\top}e_j`: an LU factorisation of :math:`S` replaces the QR.
        """
        if self._derived is None:
            S, r = self.S, self.r
            if r and r == self.n:
                colnorm = np.sqrt(np.einsum("ij,ij->j", S, S))
                self._derived = ("lu", sla.lu_factor(S, check_finite=False), colnorm)
                return self._derived
            if r:
                Qc, Rc = np.linalg.qr(S.T, mode="complete")
                T = Rc[:r]
                sigma_min_lo = 1.0 / float(np.linalg.norm(sla.lapack.dtrtri(T)[0]))
            else:
                Qc, T, sigma_min_lo = np.eye(self.n), np.zeros((0, 0)), 0.0
            colnorm = np.sqrt(np.einsum("ij,ij->j", S, S))
            self._derived = (Qc[:, :r], Qc[:, r:], T, sigma_min_lo, float(np.linalg.norm(S)), colnorm)
        return self._derived

    def leave_one_out(self, j: int) -> LeaveOneOut:
        r"""Classify feature ``j`` and give the coordinates of :math:`q_j` if it spans a direction of its own.

        :math:`S^\top = VT` (``V`` n x r orthonormal). The other features span all of
        :math:`\mathrm{span}(Q)` unless row :math:`j` of :math:`V` has norm 1 (leverage 1); the
        distance :math:`e_j = |V_{\perp,j}| = \sqrt{1 - |V_j|^2}` of that row from the unit sphere,
        times the singular values of :math:`T`, bounds the smallest singular value of
        :math:`S_{-j}` from both sides. ``"essential"``: that value is clearly below the ``lstsq``
        cut-off of :math:`A_{-j}`, so :math:`P_{-j} = QQ^\top - q_jq_j^\top` with
        :math:`q_j = Qz`, :math:`z \propto T^{-1}V_j^\top` (orthogonal to every other column of
        :math:`S`). ``"spare"``: clearly above, :math:`P_{-j} = QQ^\top`. Where the two bounds
        cannot tell, the singular values of :math:`S_{-j}` do (:meth:`_rank_without`).
        ``"unclear"``: neither, or the neglected residuals are not negligible at the scale of
        :math:`A_{-j}`.
        """
        derived = self._derive()
        r, n, m = self.r, self.n, self.m
        if r == 0:
            return LeaveOneOut("spare")
        if isinstance(derived[0], str):
            return self._leave_one_out_full_rank(j, derived[1], derived[2])
        V, Vp, T, sigma_min_lo, norm_S, colnorm = derived
        e = float(np.linalg.norm(Vp[j])) if Vp.shape[1] else 0.0
        others = np.delete(colnorm, j)
        cut = lstsq_cutoff(m, max(n - 1, 1))
        big = float(others.max(initial=0.0))
        if self.resid > cut * big:
            return UNCLEAR
        if big == 0.0:
            essential = colnorm[j] > 0
        elif (e + n * EPS) * norm_S <= cut * big:  # e computed to about n eps
            essential = True
        elif e * sigma_min_lo >= RANK_MARGIN * cut * float(np.linalg.norm(others)):
            essential = False
        else:
            kind = self._rank_without(j, cut)
            if kind is None:
                return UNCLEAR
            essential = kind == "essential"
        if not essential:
            return LeaveOneOut("spare")
        z = sla.solve_triangular(T, V[j], check_finite=False)
        nz = float(np.linalg.norm(z))
        if not (nz > 0 and math.isfinite(nz)):
            return UNCLEAR
        return LeaveOneOut("essential", z / nz)

    def _rank_without(self, j: int, cut: float) -> str | None:
        r"""Decide from the singular values of :math:`S_{-j}` when the bounds of :meth:`leave_one_out` cannot.

        :math:`A_{-j} = QS_{-j}` with ``Q`` orthonormal, so both have the same singular values up to
        the neglected residuals: the SVD of the small :math:`r \times (n-1)` matrix gives
        :math:`\sigma_1` and :math:`\sigma_r` of :math:`A_{-j}` to about :math:`\varepsilon\sigma_1`,
        for :math:`O(r^2n)` instead of the :math:`O(mn^2)` of the straightforward update.
        ``"essential"`` when :math:`\sigma_r` is :data:`SVD_RANK_MARGIN` times below the cut-off
        :math:`\max(m, n-1)\,\varepsilon\,\sigma_1`, ``"spare"`` when that factor above it, else None.
        """
        sv = np.linalg.svd(np.delete(self.S, j, axis=1), compute_uv=False)
        threshold = cut * float(sv[0])
        sigma_r = float(sv[self.r - 1])  # r < n here (r = n takes the full-rank path), so sv has r values
        if sigma_r >= SVD_RANK_MARGIN * threshold:
            return "spare"
        if SVD_RANK_MARGIN * sigma_r <= threshold:
            return "essential"
        return None

    def _leave_one_out_full_rank(self, j: int, lu, colnorm: FloatArray) -> LeaveOneOut:
        """Every feature is essential when the r = n features are independent: :math:`z = S^{-T}e_j`."""
        cut = lstsq_cutoff(self.m, max(self.n - 1, 1))
        if self.resid > cut * float(np.delete(colnorm, j).max(initial=0.0)):
            return UNCLEAR
        e_j = np.zeros(self.n)
        e_j[j] = 1.0
        z = sla.lu_solve(lu, e_j, trans=1, check_finite=False)
        nz = float(np.linalg.norm(z))
        if not (nz > 0 and math.isfinite(nz)):
            return UNCLEAR
        return LeaveOneOut("essential", z / nz)

    def q(self, loo: LeaveOneOut) -> FloatArray | None:
        """:math:`q_j = Qz` (one pass over ``Q``), or None; kept until ``Q`` changes, for :meth:`replace`."""
        if loo.z is None:
            return None
        q = self._q_of(loo.z)
        self._q = (loo.z, q)
        return q

    def perp_y_without(self, loo: LeaveOneOut) -> FloatArray:
        r""":math:`P_{-j}^\perp y`, the part of :math:`y` outside the span of the other features.

        :math:`P_{-j}^\perp = I - QQ^\top + q_jq_j^\top` (essential) or :math:`I - QQ^\top`
        (spare), so it is :math:`y_\perp + (z\cdot Q^\top y)\,q_j` with :math:`y_\perp = y -
        QQ^\top y`, which is kept across :meth:`replace` by :math:`O(m)` updates. It equals
        :math:`P_{-j}^\perp t` for every :math:`t = y - \sum_{l\ne j} c_lA_l`.
        """
        if self._y_perp is None:
            self._y_perp = self.y - self.Q @ self.qty
        if loo.z is None:
            return self._y_perp.copy()
        return self._y_perp + float(loo.z @ self.qty) * self.q(loo)

    def _q_of(self, z: FloatArray) -> FloatArray:
        """:math:`Qz`: the :meth:`q` computed for this very ``z`` if ``Q`` has not changed since, else a new pass."""
        if self._q is not None and self._q[0] is z:
            return self._q[1]
        return self.Q @ z

    @staticmethod
    def drop(g: FloatArray, loo: LeaveOneOut) -> FloatArray:
        r"""Coordinates :math:`g - z(z\cdot g)` of the projection onto the other features (:math:`P_{-j}`)."""
        return g if loo.z is None else g - loo.z * float(loo.z @ g)

    def target_coords(self, j: int, c: FloatArray) -> FloatArray:
        r""":math:`Q^\top t` for :math:`t = c_jA_j - r`, :math:`r = Ac - y`, from the coefficients.

        :math:`Q^\top t = c_jS_j - Sc + Q^\top y` (no pass over the data).
        """
        return c[j] * self.S[:, j] - self.S @ c + self.qty

    # ---------------------------------------------------------------- output weights

    def extension(self, a: FloatArray, coef: FloatArray | None = None) -> Extension:
        r"""A new feature ``a`` against ``Q`` (``coef`` = :math:`Q^\top a` if already known).

        :math:`|a_\perp|^2 = |a|^2 - |Q^\top a|^2` and :math:`a_\perp\cdot y = a\cdot y - (Q^\top
        a)\cdot(Q^\top y)` when that loses at most 4 digits; otherwise :math:`a_\perp` is formed
        by Gram-Schmidt twice.
        """
        if coef is None:
            coef = self.Q.T @ a
        a2 = float(a @ a)
        rho2 = a2 - float(coef @ coef)
        if rho2 >= 1e-4 * a2:
            return Extension(coef, math.sqrt(rho2), float(a @ self.y) - float(coef @ self.qty), None)
        return self._explicit(a, coef)

    def _explicit(self, a: FloatArray, coef: FloatArray) -> Extension:
        Q = self.Q
        perp = a - Q @ coef
        if float(perp @ perp) < 0.25 * float(a @ a):  # "twice is enough"
            extra = Q.T @ perp
            perp -= Q @ extra
            coef = coef + extra
        return Extension(coef, float(np.linalg.norm(perp)), float(perp @ self.y), perp)

    def _explicit_with_q(self, a: FloatArray, coef: FloatArray, z: FloatArray | None
                         ) -> tuple[Extension, FloatArray | None]:
        """:meth:`_explicit`, forming :math:`q = Qz` in the same pass over ``Q`` (one product with two columns)."""
        if z is None:
            return self._explicit(a, coef), None
        Y = self.Q @ np.column_stack([coef, z])
        perp = a - Y[:, 0]
        if float(perp @ perp) < 0.25 * float(a @ a):  # "twice is enough"
            extra = self.Q.T @ perp
            perp -= self.Q @ extra
            coef = coef + extra
        return Extension(coef, float(np.linalg.norm(perp)), float(perp @ self.y), perp), Y[:, 1].copy()

    def solve_replacing(self, j: int, ext: Extension) -> FloatArray:
        r"""Minimum-norm least-squares output weights when feature ``j`` is replaced by ``a``.

        ``ext`` is :meth:`extension` of ``a``. All features lie in :math:`\mathrm{span}(U)`,
        :math:`U = [Q, \hat a_\perp]` orthonormal; in those coordinates the new feature matrix is
        :math:`S' = U^\top A'` ((r+1) x n: ``S`` with column ``j`` replaced by
        :math:`(Q^\top a, |a_\perp|)`), so :math:`\arg\min|A'c - y|` of minimum norm is that of
        :math:`|S'c - U^\top y|`, solved by LAPACK ``gelsy`` with the ``lstsq`` cut-off of the
        m x n problem.
        """
        r = self.r
        S1 = np.zeros((r + 1, self.n))
        S1[:r] = self.S
        S1[:r, j] = ext.coef
        S1[r, j] = ext.rho
        rhs = np.append(self.qty, ext.perp_y / ext.rho if ext.rho > 0 else 0.0)
        return sla.lstsq(S1, rhs, cond=lstsq_cutoff(self.m, self.n), lapack_driver="gelsy",
                         check_finite=False)[0]

    # ---------------------------------------------------------------- updates

    def replace(self, j: int, loo: LeaveOneOut, ext: Extension, a: FloatArray) -> BasisChange | None:
        r"""Column ``j`` of :math:`A` becomes ``a`` (the other columns unchanged); returns how ``Q`` changed.

        ``ext`` is :meth:`extension` of ``a``. If the old column was ``"essential"``, the basis
        direction :math:`q_j = Qz` is replaced by the unit residual of ``a`` against the other
        features, :math:`\hat v \propto a_\perp + \gamma q_j` (:math:`\gamma = z\cdot Q^\top a`):
        :math:`Q \leftarrow Q + (\hat v - q_j)z^\top`, one rank-1 BLAS update in place, which keeps
        the columns orthonormal. Otherwise :math:`\hat a_\perp` is appended. A residual that is
        not clearly above the cut-off adds no direction (and one within a factor
        :data:`RANK_MARGIN` of it clears :attr:`reliable`).

        The returned :class:`BasisChange` says which unit direction of ``Q`` was replaced by which
        (``old`` None: one was appended; both None: ``Q`` is unchanged); ``None`` when ``Q`` changed
        otherwise (a direction removed by a reflection).
        """
        if loo.kind == "unclear":
            raise ValueError("replace needs a clear-cut classification; rebuild instead")
        q = None
        if ext.perp is None:
            ext, q = self._explicit_with_q(a, ext.coef, loo.z)
        coef, perp = ext.coef, ext.perp
        S = self.S
        S[:, j] = coef
        colnorm = np.sqrt(np.einsum("ij,ij->j", S, S))
        colnorm[j] = math.hypot(float(np.linalg.norm(coef)), ext.rho)
        cut = lstsq_cutoff(self.m, self.n) * float(colnorm.max(initial=0.0))
        if loo.z is not None:
            z = loo.z
            if q is None:
                q = self._q_of(z)
            self._q = None
            gamma = float(z @ coef)
            rho = math.hypot(ext.rho, gamma)
            if rho >= RANK_MARGIN * cut * math.sqrt(self.n):
                v = (perp + gamma * q) / rho
                sla.blas.dger(1.0, z, v - q, a=self.Q.T, overwrite_a=True)  # Q += (v - q) z^T, in place
                self.S = S - np.outer(z, z @ S)
                self.S[:, j] += rho * z
                qy = float(z @ self.qty)
                vy = (ext.perp_y + gamma * qy) / rho
                self.qty = self.qty + z * (vy - qy)
                if self._y_perp is not None:  # the projector gains v v^T and loses q q^T
                    self._y_perp += qy * q - vy * v
                self._derived = None
                return BasisChange(q, v)
            self._remove_direction(z)  # the new feature lies in the span of the others
            self._neglect(rho, cut)
            self._derived = None
            return None
        change = BasisChange(None, None)
        if ext.rho >= RANK_MARGIN * cut * math.sqrt(self.n):
            v = perp / ext.rho
            self.Q = np.ascontiguousarray(np.column_stack([self.Q, v]))
            self._q = None
            row = np.zeros((1, self.n))
            row[0, j] = ext.rho
            S = np.vstack([S, row])
            self.qty = np.append(self.qty, float(v @ self.y))
            if self._y_perp is not None:
                self._y_perp -= self.qty[-1] * v
            change = BasisChange(None, v)
        else:
            self._neglect(ext.rho, cut)
        self.S = S
        self._derived = None
        return change

    def _remove_direction(self, z: FloatArray) -> None:
        """Drop the basis direction :math:`Qz` (Householder reflection onto the last column, then drop it)."""
        r = self.r
        target = np.zeros(r)
        target[-1] = -1.0 if z[-1] >= 0 else 1.0
        u = z - target
        nu = float(np.linalg.norm(u))
        Q, S, qty = self.Q, self.S, self.qty
        if nu > 0:
            u /= nu
            Q = Q - np.outer(Q @ u, 2 * u)
            S = S - np.outer(2 * u, u @ S)
            qty = qty - 2 * u * float(u @ qty)
        self.Q, self.S, self.qty = np.ascontiguousarray(Q[:, :-1]), S[:-1], qty[:-1]
        self._q, self._y_perp = None, None

    def _neglect(self, rho: float, cut: float) -> None:
        self.resid = math.hypot(self.resid, rho)
        self.reliable &= self.resid <= cut


# ----------------------------------------------------------------------------- pattern solve


def frozen_pattern_lstsq(active: NDArray[np.bool_], Xt: FloatArray, y: FloatArray) -> FloatArray:
    r"""Minimum-norm least-squares :math:`u` (n x (d+1)) of :math:`\sum_j D_j \tilde X u_j \approx y`.

    The design matrix :math:`\Phi = [D_1\circ\tilde X, \dots, D_n\circ\tilde X]` (m x n(d+1)).
    Columns that vanish (neurons with no active point, or a coordinate that is zero on a neuron's
    active points) get :math:`u = 0`, as in the minimum-norm solution. If the rest has full rank
    and condition number at most :math:`10^5` (LAPACK ``dpocon`` on the normal equations), the
    solution is the Cholesky solve of :math:`\Phi^\top\Phi u = \Phi^\top y` refined by the residual
    (:math:`u \leftarrow u + (\Phi^\top\Phi)^{-1}\Phi^\top(y - \Phi u)`) until it settles, which
    is as accurate as a QR solve (error :math:`\varepsilon\,\kappa(\Phi)`) at a third of the cost;
    otherwise (rank deficiency, ill-conditioning) it is ``numpy.linalg.lstsq`` (SVD), whose
    cut-off decides the rank.
    """
    m, n = active.shape
    k = Xt.shape[1]
    Phi = np.empty((m, n, k))
    D = active.astype(np.float64)
    for a in range(k):
        np.multiply(D, Xt[:, a : a + 1], out=Phi[:, :, a])
    Phi = Phi.reshape(m, n * k)
    return _normal_equations_lstsq(Phi, y).reshape(n, k)


def _normal_equations_lstsq(Phi: FloatArray, y: FloatArray, max_cond: float = 1e5, steps: int = 8) -> FloatArray:
    r"""Least squares by refined normal equations when safe (see :func:`frozen_pattern_lstsq`), else ``lstsq``.

    Zero columns get a unit diagonal in :math:`\Phi^\top\Phi` (so their coefficient is exactly 0).
    The refinement stops when a correction is below :math:`\varepsilon\,\kappa` relative
    (:math:`\kappa` the condition estimate), the accuracy it can reach.
    """
    m, N = Phi.shape
    if m > N:
        G = Phi.T @ Phi
        zero = np.diag(G) == 0
        G[zero, zero] = 1.0
        factor, info = sla.lapack.dpotrf(G, lower=0)
        rcond = sla.lapack.dpocon(factor, float(np.abs(G).sum(axis=0).max()))[0] if info == 0 else 0.0
        if rcond * max_cond * max_cond >= 1.0:
            tol = 16 * EPS / math.sqrt(rcond)
            u = sla.lapack.dpotrs(factor, Phi.T @ y)[0]
            for _ in range(steps):
                delta = sla.lapack.dpotrs(factor, Phi.T @ (y - Phi @ u))[0]
                u += delta
                if float(np.linalg.norm(delta)) <= tol * float(np.linalg.norm(u)):
                    return u
    return np.linalg.lstsq(Phi, y, rcond=None)[0]
