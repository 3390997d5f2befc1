r"""The threshold search of ANLS: the least-squares gain of every threshold of one neuron.

:func:`threshold_gains` scores every threshold :math:`\tau` and orientation :math:`s` of a
single ReLU :math:`\mathrm{relu}(s(p - \tau))` against a target by cumulative sums over the
sorted projections (its docstring derives the formulas); the private searches below pick the
best allowed candidate for :func:`~plateau_lib.trainers.anls.train_anls`, either by scoring
every candidate (:func:`_search_full`) or, for the joint gain with data thresholds, by exact
forms at every ``SEARCH_BLOCK``-th sorted position and certified bounds in between
(:func:`_search_pruned`), which makes the same choice as the full search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_float_array, check_choice
from . import _anls_linalg as la

FloatArray = NDArray[np.float64]

THRESHOLDS = ("data", "continuous")

#: Candidates whose :math:`\varphi\cdot P^\perp\varphi` is below this fraction of the size of the
#: terms it is computed from (cancellation in the cumulative sums) score zero.
CANCEL_RTOL = 1e-11
#: Sorted positions per block of the pruned threshold search (knots every ``SEARCH_BLOCK``).
SEARCH_BLOCK = 16


class ThresholdCandidates(NamedTuple):
    r"""All scored candidates of one threshold search (one row per candidate).

    ``tau`` thresholds, ``s`` orientations (:math:`\pm1`), ``gain`` the gains :math:`G(\tau, s)`,
    ``count`` the number of data points the candidate activates
    (:math:`\#\{i: s(p_i - \tau) > 0\}`).
    """

    tau: FloatArray
    s: NDArray[np.int64]
    gain: FloatArray
    count: NDArray[np.int64]


# ------------------------------------------------------------------------- threshold search


def threshold_gains(
    p: ArrayLike,
    t: ArrayLike,
    *,
    thresholds: str = "data",
    basis: ArrayLike | None = None,
) -> ThresholdCandidates:
    r"""Score every threshold of a single ReLU :math:`\varphi = \mathrm{relu}(s(p - \tau))` against ``t``.

    The gain of a candidate is the loss reduction (times :math:`2m`) of fitting ``t`` by a
    multiple of :math:`\varphi`, after projecting out ``basis`` (orthonormal columns :math:`B`,
    :math:`P^\perp = I - BB^\top`; no basis: :math:`P^\perp = I`):

    .. math::

        G(\tau, s) = \frac{(\varphi\cdot P^\perp t)^2}{\varphi\cdot P^\perp\varphi}
        = \max_{\gamma,\ \beta}\ \big(\|P^\perp t\|^2 - \|P^\perp(t - \gamma\varphi - B\beta)\|^2\big) .

    Derivation of the vectorised formulas. Sort :math:`p` increasingly. For :math:`s=+1` the
    active points (:math:`p_i > \tau`, strictly: :math:`\mathrm{relu}'(0) = 0`, and a point at
    :math:`\tau` has :math:`\varphi_i = 0` anyway) form a *suffix* of the sorted data, for
    :math:`s=-1` (:math:`p_i < \tau`) a *prefix*. On an active set :math:`S` with sums
    :math:`N = |S|`, :math:`P = \sum_S p_i`, :math:`Q = \sum_S p_i^2`,
    :math:`T = \sum_S t^\perp_i`, :math:`R = \sum_S p_i t^\perp_i`, and the basis sums
    :math:`b_1 = \sum_S B_{i,:}`, :math:`b_p = \sum_S p_i B_{i,:}`:

    .. math::

        \varphi\cdot t^\perp = \pm(R - \tau T), \qquad
        \varphi\cdot P^\perp\varphi = (Q - 2\tau P + \tau^2 N)
        - (|b_p|^2 - 2\tau\, b_p\cdot b_1 + \tau^2 |b_1|^2) ,

    so the cumulative sums of :math:`(1, p, p^2, t^\perp, p\,t^\perp)` and the three quadratic
    forms :math:`|b_1|^2, b_1\cdot b_p, |b_p|^2` of every prefix and suffix
    (``plateau_lib.trainers._anls_linalg.full_forms``) give all candidates at once. Ties in
    :math:`p` are handled by evaluating each distinct value once, with the whole block of equal
    values on the inactive side.

    ``thresholds="data"``: :math:`\tau` at every distinct data value (both orientations).
    ``thresholds="continuous"``: the exact maximum over all real :math:`\tau`. Between two
    consecutive distinct values the active set is fixed and :math:`G` is a ratio
    :math:`(R - \tau T)^2 / (Q' - 2\tau P' + \tau^2 N')` whose only interior critical points are
    its zero and its maximiser

    .. math::

        \tau^* = \frac{T Q' - R P'}{T P' - R N'}
        \qquad (Q' = Q - |b_p|^2,\ P' = P - b_p\cdot b_1,\ N' = N - |b_1|^2),

    the threshold of the least-squares fit :math:`t^\perp \approx \alpha P^\perp p + \beta P^\perp 1`
    on :math:`S` (:math:`\tau^* = -\beta/\alpha`). So the maximum on the closed interval is at
    :math:`\tau^*` clipped into it or at an end point; the candidates are the data values plus
    the clipped :math:`\tau^*` of every interval, including the two outer intervals (all data
    active), which are cut at one data span beyond the extreme values (their far ends are
    candidates too).

    Parameters
    ----------
    p : array_like, shape (m,)
        Projections :math:`p_i = w\cdot x_i`.
    t : array_like, shape (m,)
        Target to fit.
    thresholds : {"data", "continuous"}
        Candidate set (see above).
    basis : array_like, shape (m, k), optional
        Orthonormal columns to project out (``criterion="joint"`` of :func:`train_anls`).

    Returns
    -------
    ThresholdCandidates
        Every candidate with its gain. Candidates whose denominator vanishes to round-off (no
        active point, or :math:`\varphi` in the span of ``basis``) have gain 0.

    Notes
    -----
    Accuracy. The sums are taken in coordinates centred at the midrange of :math:`p`, prefix
    sums accumulated from the left and suffix sums from the right, so the relative error of a
    gain is about :math:`\varepsilon\,(\sum_S p_i^2 + N\tau^2)/\varphi\cdot P^\perp\varphi`
    (centred :math:`p, \tau`): round-off level unless all active points sit very close to
    :math:`\tau`. Candidates for which that ratio exceeds :math:`10^{11}` score 0 (a steep
    neuron fitting a point next to its threshold; :func:`train_anls` re-evaluates the loss of
    the chosen candidate exactly in any case).
    """
    p = as_float_array(p, "p", 1)
    t = as_float_array(t, "t", 1)
    if p.shape != t.shape:
        raise ValueError(f"p and t must have the same length m, got {p.shape[0]} and {t.shape[0]}")
    thresholds = check_choice(thresholds, "thresholds", THRESHOLDS)
    B = None
    if basis is not None:
        B = as_float_array(basis, "basis", 2)
        if B.shape[0] != p.shape[0]:
            raise ValueError(f"basis must have m = {p.shape[0]} rows, got shape {B.shape}")
    return _threshold_gains(p, t, B, thresholds == "continuous")


def _threshold_gains(p: FloatArray, t: FloatArray, B: FloatArray | None, continuous: bool) -> ThresholdCandidates:
    """All candidates of :func:`threshold_gains`, with the basis forms of every prefix and suffix."""
    if B is not None and B.shape[1] > 0:
        t = t - B @ (B.T @ t)
    else:
        B = None
    search = _Sorted(p, t)
    forms = None
    if B is not None:
        forms = _FullForms(*la.full_forms(np.ascontiguousarray(B), search.order, search.pc))
    groups = search.groups(continuous, forms)
    scored = [search.score(g, forms) for g in groups]
    return ThresholdCandidates(np.concatenate([g.tau for g in groups]), np.concatenate([g.s for g in groups]),
                               np.concatenate([s[0] for s in scored]), np.concatenate([s[1] for s in scored]))


class _Group(NamedTuple):
    """Candidates sharing an orientation and a kind of active set (prefix or suffix of the sorted data)."""

    pos: NDArray[np.int64]  # sums over sorted positions [pos, m) (suffix) or [0, pos) (prefix)
    suffix: bool
    tau_c: FloatArray  # thresholds, centred
    tau: FloatArray  # thresholds, uncentred (exactly the data values where they are data values)
    s: NDArray[np.int64]


class _FullForms:
    """Basis forms at every prefix and suffix (given as (m+1, 3); served as (3, len) rows)."""

    def __init__(self, F_pre: FloatArray, F_suf: FloatArray) -> None:
        self.F_pre, self.F_suf = np.ascontiguousarray(F_pre.T), np.ascontiguousarray(F_suf.T)

    def __call__(self, pos: NDArray[np.int64], suffix: bool) -> FloatArray:
        return np.take(self.F_suf if suffix else self.F_pre, pos, axis=1)


class _Ordering(NamedTuple):
    r"""The part of a threshold search that depends on the projections :math:`p` only.

    ``order`` sorts :math:`p` (stably), ``pc`` the sorted values centred at their midrange
    ``centre``; ``C3``/``R3`` the prefix and suffix sums of :math:`(1, p^c, (p^c)^2)` (as
    :class:`_Sorted`'s first three rows; None when :class:`_Sorted` sums them with its own
    rows); ``start``/``end`` the sorted positions of each distinct value (first, one past the
    last), ``u`` the distinct values and ``uc`` them centred.
    """

    p: FloatArray
    order: NDArray[np.int64]
    centre: float
    pc: FloatArray
    C3: FloatArray | None
    R3: FloatArray | None
    start: NDArray[np.int64]
    end: NDArray[np.int64]
    u: FloatArray
    uc: FloatArray


def _ordering(p: FloatArray, sums: bool = True) -> _Ordering:
    """Sort, centre and sum the projections ``p`` (:class:`_Ordering`; ``sums=False``: ``C3``, ``R3`` left None)."""
    m = p.shape[0]
    order = np.argsort(p)  # the stable order whenever the values are distinct (the permutation is then unique)
    ps = p[order]
    if m > 1 and not (ps[1:] > ps[:-1]).all():  # ties (or NaN): the stable sort decides their order
        order = np.argsort(p, kind="stable")
        ps = p[order]
    centre = 0.5 * (ps[0] + ps[-1])
    pc = ps - centre
    C3 = R3 = None
    if sums:
        rows = np.empty((3, m))
        _power_rows(pc, rows)
        C3, R3 = _both_sums(rows)
    first = np.ones(m, dtype=bool)
    first[1:] = ps[1:] > ps[:-1]
    start = np.flatnonzero(first)
    u = ps[start]
    return _Ordering(p, order, centre, pc, C3, R3, start, np.append(start[1:], m), u, u - centre)


def _power_rows(pc: FloatArray, rows: FloatArray) -> None:
    """Rows 0-2 of ``rows`` become :math:`(1, p^c, (p^c)^2)`."""
    rows[0], rows[1] = 1.0, pc
    np.multiply(pc, pc, out=rows[2])


def _both_sums(rows: FloatArray, C: FloatArray | None = None, R: FloatArray | None = None
               ) -> tuple[FloatArray, FloatArray]:
    """Prefix sums ``C[:, k]`` (first k columns) and suffix sums ``R[:, k]`` (from column k on) of ``rows``."""
    k, m = rows.shape
    if C is None:
        C, R = np.zeros((k, m + 1)), np.zeros((k, m + 1))
    np.cumsum(rows, axis=1, out=C[:, 1:])
    np.cumsum(rows[:, ::-1], axis=1, out=R[:, m - 1 :: -1])
    return C, R


class _Sorted:
    r"""One threshold search: the data sorted by :math:`p`, centred, and their cumulative sums.

    Columns of the sums: :math:`(1, p^c, (p^c)^2, t, p^c t)` and, with a vector ``q`` whose
    direction is added back to the projection (:math:`P^\perp = I - QQ^\top + qq^\top`),
    :math:`(q, p^c q)`, one row each. ``C[:, k]`` sums the first ``k`` sorted points,
    ``R[:, k]`` the points from position ``k`` on, each accumulated from its own end. The part
    that depends on :math:`p` only (``ordering``, :func:`_ordering`) can be passed in: in 1-D
    every neuron projects the data the same way and shares it.
    """

    def __init__(self, p: FloatArray, t: FloatArray, q: FloatArray | None = None,
                 ordering: _Ordering | None = None) -> None:
        o = _ordering(p, sums=False) if ordering is None else ordering
        m = p.shape[0]
        self.m, self.order, self.centre, self.pc = m, o.order, o.centre, o.pc
        self.start, self.end, self.u, self.uc = o.start, o.end, o.u, o.uc
        order, pc = o.order, o.pc
        k = 5 if q is None else 7
        own = 3 if o.C3 is None else 0  # rows of (1, p, p^2) summed here (one cumsum per direction for all rows)
        rows = np.empty((k - 3 + own, m))
        if own:
            _power_rows(pc, rows)
        np.take(t, order, out=rows[own])
        np.multiply(pc, rows[own], out=rows[own + 1])
        if q is not None:
            np.take(q, order, out=rows[own + 2])
            np.multiply(pc, rows[own + 2], out=rows[own + 3])
        self.C, self.R = np.empty((k, m + 1)), np.empty((k, m + 1))
        if not own:
            self.C[:3], self.R[:3] = o.C3, o.R3
        self.C[3 - own :, 0] = 0.0
        self.R[3 - own :, m] = 0.0
        _both_sums(rows, self.C[3 - own :], self.R[3 - own :])
        self.has_q = q is not None
        self.distinct = self.u.shape[0] == m  # then start = 0..m-1 and end = 1..m
        self._memo: dict = {}

    def sums(self, pos: NDArray[np.int64], suffix: bool) -> FloatArray:
        """The sums (rows) over the suffixes from, or prefixes up to, sorted positions ``pos`` (read only).

        At the starts or ends of the distinct values, a view when the values are distinct (the
        positions are then consecutive) and computed once per search.
        """
        M = self.R if suffix else self.C
        at = self._at(pos)
        if at is None:
            return np.take(M, pos, axis=1)
        key = ("sums", suffix, at)
        if key not in self._memo:
            self._memo[key] = (M[:, at : at + self.m] if self.distinct else np.take(M, pos, axis=1))
        return self._memo[key]

    def _at(self, pos: NDArray[np.int64]) -> int | None:
        """0 if ``pos`` is ``start``, 1 if it is ``end`` (the first position of its view), else None."""
        if pos is self.start:
            return 0
        if pos is self.end:
            return 1
        return None

    def sums_and_forms(self, pos: NDArray[np.int64], suffix: bool, forms: Callable | None
                       ) -> tuple[FloatArray, FloatArray | None]:
        """:meth:`sums` and the effective forms at ``pos`` (computed once per search at the starts and ends)."""
        at = self._at(pos)
        key = ("forms", suffix, at, id(forms))
        if at is not None and key in self._memo:
            return self._memo[key]
        S = self.sums(pos, suffix)
        if forms is None:
            F = None
        elif at is not None and self.distinct and isinstance(forms, _FullForms):
            F = (forms.F_suf if suffix else forms.F_pre)[:, at : at + self.m]
        else:
            F = forms(pos, suffix)
        out = (S, self.effective_forms(S, F))
        if at is not None:
            self._memo[key] = out
        return out

    def effective_forms(self, S: FloatArray, F: FloatArray | None) -> FloatArray | None:
        r"""Forms of :math:`P = QQ^\top - qq^\top`: the basis forms minus those of :math:`q` (columns 5, 6 of ``S``)."""
        if F is None or not self.has_q:
            return F
        return _minus_q(F, S[5], S[6])

    def data_groups(self) -> list[_Group]:
        """Thresholds at the distinct data values: s = +1 (suffix after the block), s = -1 (prefix before it)."""
        k = self.u.shape[0]
        return [_Group(self.end, True, self.uc, self.u, np.ones(k, dtype=np.int64)),
                _Group(self.start, False, self.uc, self.u, -np.ones(k, dtype=np.int64))]

    def groups(self, continuous: bool, forms: Callable | None) -> list[_Group]:
        groups = self.data_groups()
        if not continuous:
            return groups
        uc = self.uc
        span = uc[-1] - uc[0] if uc[-1] > uc[0] else 1.0
        below = np.append(uc[0] - span, uc[:-1])  # interval k = [below_k, u_k], active: p >= u_k
        above = np.append(uc[1:], uc[-1] + span)  # interval k = [u_k, above_k], active: p <= u_k
        k = uc.shape[0]
        for pos, suffix, lo, hi, s in ((self.start, True, below, uc, 1), (self.end, False, uc, above, -1)):
            S, E = self.sums_and_forms(pos, suffix, forms)
            tau_c = _interior(S, E, lo, hi)
            groups.append(_Group(pos, suffix, tau_c, tau_c + self.centre, np.full(k, s, dtype=np.int64)))
        zero = np.zeros(1, dtype=np.int64)  # the far ends of the two outer intervals (all data active)
        for tau_c, s in ((below[:1], 1), (above[-1:], -1)):
            groups.append(_Group(zero, True, tau_c, tau_c + self.centre, np.array([s], dtype=np.int64)))
        return groups

    def score(self, g: _Group, forms: Callable | None) -> tuple[FloatArray, NDArray[np.int64]]:
        """Gains and active counts of a group."""
        S, E = self.sums_and_forms(g.pos, g.suffix, forms)
        return _gain(S, E, g.tau_c), np.rint(S[0]).astype(np.int64)


def _minus_q(F: FloatArray, q1: FloatArray, qp: FloatArray) -> FloatArray:
    """Forms (rows) minus those of :math:`q` with sums ``q1``, ``qp`` (one new array, no temporaries)."""
    out = np.empty((3,) + q1.shape)
    np.multiply(q1, q1, out=out[0])
    np.multiply(q1, qp, out=out[1])
    np.multiply(qp, qp, out=out[2])
    return np.subtract(F, out, out=out)


def _gain(S: FloatArray, E: FloatArray | None, tau: FloatArray) -> FloatArray:
    """Gains from the sums ``S`` (N, P, Q, T, R, ...) and the projected-out forms ``E``, guarded."""
    N, P, Q, T, R = S[:5]
    num = R - tau * T
    den = Q - 2 * tau * P + tau * tau * N
    scale = Q + tau * tau * N
    if E is not None:
        den = den - (E[2] - 2 * tau * E[1] + tau * tau * E[0])
    ok = den > CANCEL_RTOL * scale
    return np.where(ok, num * num / np.where(ok, den, 1.0), 0.0)


def _interior(S: FloatArray, E: FloatArray | None, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Clipped maximiser tau* of the gain on each interval [lo, hi] (centred)."""
    N, P, Q, T, R = S[:5]
    if E is not None:
        N, P, Q = N - E[0], P - E[1], Q - E[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = (T * Q - R * P) / (T * P - R * N)
    tau = np.where(np.isfinite(tau), tau, lo)
    return np.clip(tau, lo, hi)


# ------------------------------------------------------------------ the trainer's searches


class _Choice(NamedTuple):
    """The best allowed candidate of a search (its group's kind of active set and sorted position too)."""

    s: int
    tau: float
    gain: float
    count: int
    tau_c: float
    pos: int
    suffix: bool


def _allowed(s: NDArray[np.int64], count: NDArray[np.int64], rule: tuple[int, int, int] | None) -> NDArray[np.bool_]:
    """Candidates a bounded move may take: rule = (current orientation or 0, current count, bound)."""
    if rule is None:
        return np.ones(s.shape, dtype=bool)
    s_cur, n_cur, bound = rule
    ok = np.abs(count - n_cur) <= bound
    if s_cur != 0:
        ok &= s == s_cur
    return ok


def _pick(groups: list[_Group], gains: list[FloatArray], counts: list[NDArray[np.int64]], rule) -> _Choice | None:
    """First candidate of maximal gain among the allowed ones with positive gain (as ``np.argmax``)."""
    return _pick_flat(groups, np.concatenate([g.s for g in groups]), np.concatenate(gains), np.concatenate(counts),
                      rule)


def _pick_flat(groups: list[_Group], s: NDArray[np.int64], gain: FloatArray, count: NDArray[np.int64],
               rule) -> _Choice | None:
    """:func:`_pick` with the groups' orientations, gains and counts already concatenated."""
    allowed = (gain > 0) & _allowed(s, count, rule)
    if not allowed.any():
        return None
    k = int(np.argmax(np.where(allowed, gain, -np.inf)))
    offsets = np.cumsum([0] + [g.s.shape[0] for g in groups])
    gi = int(np.searchsorted(offsets, k, side="right")) - 1
    g, i = groups[gi], k - int(offsets[gi])
    return _Choice(int(s[k]), float(g.tau[i]), float(gain[k]), int(count[k]), float(g.tau_c[i]),
                   int(g.pos[i]) if g.pos.size else -1, g.suffix)


def _search_full(search: _Sorted, continuous: bool, forms: Callable | None, rule) -> _Choice | None:
    """Every candidate scored (the single criterion, continuous thresholds, small problems)."""
    groups = search.groups(continuous, forms)
    scored = [search.score(g, forms) for g in groups]
    return _pick(groups, [x[0] for x in scored], [x[1] for x in scored], rule)


def _search_pruned(search: _Sorted, Q: FloatArray, z: FloatArray | None, rule, block: int
                   ) -> tuple[_Choice, FloatArray] | None:
    r"""The best data threshold of the joint criterion, with the basis forms evaluated only where needed.

    The projector is :math:`P = Q(I - zz^\top)Q^\top` (no ``z``: :math:`QQ^\top`). The forms are
    exact at the knots :math:`\kappa_\beta = \min(\beta b, m)`
    (:func:`~plateau_lib.trainers._anls_linalg.knot_forms`). A candidate :math:`\varphi` with
    threshold :math:`\tau` and active set between two knots is compared with the truncated linear
    functions :math:`\psi = s(p - \tau)` on the knots' prefix (suffix): the projection being a
    contraction, :math:`|P^\perp\varphi| \ge |P^\perp\psi| - |\varphi - \psi|`, where
    :math:`|P^\perp\psi|^2` is exact from the knot's forms and :math:`|\varphi-\psi|^2` is a sum
    over the points between. So :math:`G \le (\varphi\cdot t^\perp)^2 / (|P^\perp\psi| -
    |\varphi-\psi|)^2`. Blocks holding an allowed candidate whose bound reaches the best exact
    gain at a knot are evaluated exactly (:func:`~plateau_lib.trainers._anls_linalg.block_forms`);
    every other candidate is certified to be worse, so the choice is that of the full search.
    Returns the choice and :math:`Q^\top\varphi` of the chosen candidate.
    """
    m, order, pc = search.m, search.order, search.pc
    F_kpre, F_ksuf, pre, suf = la.knot_forms(Q, order, pc, block)
    F_kpre, F_ksuf = F_kpre.T, F_ksuf.T  # rows
    if z is not None:  # forms of Q(I - zz^T)Q^T at the knots
        F_kpre = _minus_q(F_kpre, pre[:, 0] @ z, pre[:, 1] @ z)
        F_ksuf = _minus_q(F_ksuf, suf[:, 0] @ z, suf[:, 1] @ z)
    nk = pre.shape[0]
    knots = np.minimum(np.arange(nk) * block, m)
    # Both groups (s = +1: suffixes, then s = -1: prefixes) in one pass: the candidates concatenated,
    # the per-knot tables stacked [suffix; prefix] and indexed with an offset of nk for the prefixes.
    groups = search.data_groups()
    k0 = groups[0].pos.shape[0]
    pos = np.concatenate([g.pos for g in groups])
    tau_c = np.concatenate([g.tau_c for g in groups])
    S = np.concatenate([search.sums(g.pos, g.suffix) for g in groups], axis=1)
    count = np.rint(S[0]).astype(np.int64)
    s_all = np.concatenate([g.s for g in groups])
    allowed = _allowed(s_all, count, rule)
    at_knot = (pos % block == 0) | (pos == m)
    beta = pos // block
    row = beta.copy()
    row[k0:] += nk
    gain = np.full(pos.shape, -np.inf)
    best = 0.0
    if at_knot.any():
        F = np.take(np.concatenate([F_ksuf, F_kpre], axis=1), row[at_knot], axis=1)
        gain[at_knot] = g_knot = _gain(S[:, at_knot], F, tau_c[at_knot])
        ok = allowed[at_knot] & (g_knot > 0)
        if ok.any():
            best = float(g_knot[ok].max())
    inside = allowed & ~at_knot
    blocks = np.zeros(0, dtype=np.int64)
    if inside.any():
        table = np.concatenate([_knot_table(search, knots, F_ksuf, True), _knot_table(search, knots, F_kpre, False)],
                               axis=1)
        ub = _gain_bound(search, tau_c[inside], pos[inside], beta[inside], S[:, inside], table, knots, row[inside])
        blocks = np.unique(beta[inside][ub >= best * (1 - 1e-6)])
    if blocks.size:
        _exact_in_blocks(search, Q, z, block, blocks, pre, suf, (k0, pos, tau_c, S, at_knot, beta, gain))
    choice = _pick_flat(groups, s_all, gain, count, rule)
    if choice is None:
        return None
    V = la.sums_at(Q, order, pc, block, pre, suf, choice.pos, choice.suffix)
    return choice, choice.s * (V[1] - choice.tau_c * V[0])


def _exact_in_blocks(search: _Sorted, Q, z, block: int, blocks, pre, suf, cand) -> None:
    """Exact gains of every candidate in the given blocks (written into the candidates' gain array).

    ``cand`` = (k0, pos, tau_c, S, at_knot, beta, gain) of :func:`_search_pruned`: the first ``k0``
    candidates are suffixes (forms from position ``pos`` on), the others prefixes (up to ``pos``).
    """
    k0, pos, tau_c, S, at_knot, beta, gain = cand
    forms = la.block_forms(Q, search.order, search.pc, block, blocks, pre, suf, z)
    where = np.full(pre.shape[0], -1)
    where[blocks] = np.arange(blocks.size)
    sel = ~at_knot & (where[beta] >= 0)
    if not sel.any():
        return
    idx = np.flatnonzero(sel)
    prefix = idx >= k0
    b_idx = where[beta[idx]]
    iota = pos[idx] - beta[idx] * block - prefix  # a prefix up to pos ends at sorted position pos - 1
    F = np.where(prefix[:, None], forms.pre[b_idx, iota], forms.suf[b_idx, iota]).T
    if z is not None:
        zq = np.where(prefix[:, None], forms.z_pre[b_idx, iota], forms.z_suf[b_idx, iota])
        F = _minus_q(F, zq[:, 0], zq[:, 1])
    gain[idx] = _gain(S[:, idx], F, tau_c[idx])


def _knot_table(search: _Sorted, knots, F: FloatArray, suffix: bool) -> FloatArray:
    r"""Per knot (rows), :math:`|P^\perp\psi|^2 = a_0 - 2a_1\tau + a_2\tau^2` and its scale.

    Columns :math:`(a_0, a_1, a_2, Q, N)`; the scale of the terms is :math:`Q + N\tau^2`.
    """
    N, P, Q2 = search.sums(knots, suffix)[:3]
    return np.stack([Q2 - F[2], P - F[1], N - F[0], Q2, N])


def _gain_bound(search: _Sorted, tau, pos, beta, S, table, knots, rows=None) -> FloatArray:
    """Upper bounds of the gains of candidates (centred ``tau``, positions ``pos``) from the two knots around each.

    ``table`` holds a column per knot (:func:`_knot_table`); ``rows`` (default ``beta``) are the
    columns of each candidate's first knot when several tables are stacked side by side.
    """
    num = S[4] - tau * S[3]
    tau2 = tau * tau
    C3 = search.C[:3]
    whole = C3[:, search.m]
    slack = 1e-12 * (whole[2] + tau2 * whole[0])
    Cpos = np.take(C3, pos, axis=1)
    lower = np.zeros(pos.shape)
    rows = beta if rows is None else rows
    for kb, kt in ((beta, rows), (beta + 1, rows + 1)):
        a = np.take(table, kt, axis=1)
        den = a[0] - 2 * tau * a[1] + tau2 * a[2] - 1e-10 * (a[3] + tau2 * a[4])
        D = np.take(C3, knots[kb], axis=1) - Cpos  # sums over the points between knot and candidate, up to sign
        delta2 = np.abs(D[2] - 2 * tau * D[1] + tau2 * D[0]) * (1 + 1e-8) + slack
        np.maximum(lower, np.sqrt(np.maximum(den, 0.0)) - np.sqrt(delta2), out=lower)
    with np.errstate(divide="ignore"):
        return np.where(lower > 0, num * num / np.where(lower > 0, lower * lower, 1.0), np.inf)
