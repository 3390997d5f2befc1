r"""One neuron's update in an ANLS sweep: the state a sweep keeps, the proposal and its acceptance.

:func:`_visit` computes the target of neuron :math:`j` (what the other neurons leave of
:math:`y`), proposes the best new neuron by the threshold search
(:mod:`plateau_lib.trainers.anls_threshold`) over the candidate directions, re-solves all
output weights and keeps the change only if the loss drops below the lowest loss reached so far
(by more than :data:`ACCEPT_RTOL`). The fast path works in the coordinates of the feature basis
(``plateau_lib.trainers._anls_linalg.FeatureBasis``); problems below :data:`SMALL_WORK` and
updates whose rank decisions are not clear-cut take the straightforward computation
(:func:`_visit_exact`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from .._linalg import range_basis
from . import _anls_linalg as la
from .anls_threshold import (
    CANCEL_RTOL,
    _Choice,
    _FullForms,
    _Ordering,
    _ordering,
    _search_full,
    _search_pruned,
    _Sorted,
)

FloatArray = NDArray[np.float64]

#: A kept update must lower the loss by more than this relative amount.
ACCEPT_RTOL = 1e-12
#: Problems with :math:`mn^2` below this are swept by the straightforward computation (the SVD
#: basis of the other features, ``numpy.linalg.lstsq``): at that size it is the faster one.
SMALL_WORK = 500_000


def straightforward(state: _State) -> bool:
    """Whether the problem is small enough (:data:`SMALL_WORK`) for the straightforward computation."""
    return state.m * state.n * state.n < SMALL_WORK


def balance_neurons(c: FloatArray, W: FloatArray, b: FloatArray) -> None:
    r"""Rescale in place so that :math:`|c_l| = |v_l|` wherever :math:`c_l \ne 0` and :math:`v_l \ne 0`."""
    norm_v = np.sqrt(np.einsum("ij,ij->i", W, W) + b * b)
    ok = (c != 0) & (norm_v > 0)
    kappa = np.ones_like(c)
    kappa[ok] = np.sqrt(np.abs(c[ok]) / norm_v[ok])
    W *= kappa[:, None]
    b *= kappa
    c /= kappa


class _Counter:
    def __init__(self) -> None:
        self.nfev = 0
        self.njev = 0


class _Options(NamedTuple):
    continuous: bool
    joint: bool
    keep_current: bool
    bounded_moves: int | None
    block: int


class _State:
    r"""The network being trained and what a sweep keeps about it.

    ``A`` (features, m x n), ``r`` (residual) and ``loss`` belong to the current ``c, W, b``: at
    the start of a sweep they are those of :func:`~plateau_lib.network.evaluate`; a kept update
    of neuron :math:`j` replaces column :math:`j` and all of ``c`` (the other neurons keep their
    inner weights until the sweep ends and balances them). ``basis`` is a
    :class:`~plateau_lib.trainers._anls_linalg.FeatureBasis` of ``A``, built when first needed.
    """

    def __init__(self, c, W, b, X, Xt, y, counter: _Counter, opts: _Options, A=None, r=None, loss=None,
                 level=math.inf) -> None:
        self.c, self.W, self.b, self.X, self.Xt, self.y = c, W, b, X, Xt, y
        self.m, self.d = X.shape
        self.n = c.shape[0]
        self.counter, self.opts = counter, opts
        self.basis: la.FeatureBasis | None = None
        self.version = 0  # changes whenever A does (keys the 1-D cache of basis forms)
        self._forms_cache: tuple[int, _FullForms, _Sorted] | None = None
        self._ordering: _Ordering | None = None  # the 1-D sort, the same for every neuron
        self.A, self.r, self.loss = A, r, loss
        self.level = level  # a kept update must lower the loss below this (the lowest loss reached so far)

    def reset(self, ev) -> None:
        """Take the features, residual and loss of an evaluation of the current parameters."""
        if self.A is None or self.A.shape != ev.Z.shape:
            self.A = np.empty_like(ev.Z)
        np.fmax(ev.Z, 0.0, out=self.A)
        self.r, self.loss = ev.r.copy(), ev.loss
        self.level = min(self.level, ev.loss)
        self.basis = None
        self.version += 1

    def get_basis(self) -> la.FeatureBasis:
        if self.basis is None:
            self.basis = la.FeatureBasis(self.A, self.y)
        return self.basis

    def residual_with(self, j: int, a: FloatArray, c_new: FloatArray, old: FloatArray | None = None
                      ) -> tuple[FloatArray, float]:
        """Residual and loss when column j (``old``, if given) becomes ``a`` and the output weights ``c_new``."""
        self.counter.nfev += 1
        r = self.A @ c_new
        r += c_new[j] * (a - (self.A[:, j] if old is None else old))
        r -= self.y
        return r, float(r @ r) / (2 * self.m)

    def commit(self, j: int, v: FloatArray, a: FloatArray, c_new: FloatArray, r: FloatArray, loss: float) -> None:
        """Neuron j becomes ``v`` (feature ``a``), the output weights ``c_new``."""
        self.W[j], self.b[j] = v[: self.d], v[self.d]
        self.c[:] = c_new
        self.A[:, j] = a
        self.r, self.loss = r, loss
        self.level = min(self.level, loss)
        self.version += 1

    def sorted(self, p: FloatArray, t: FloatArray, q: FloatArray | None = None) -> _Sorted:
        """The threshold search of ``p`` against ``t``; in 1-D the sort of ``p`` is done once per state."""
        if self.d != 1:
            return _Sorted(p, t, q)
        if self._ordering is None or not np.array_equal(self._ordering.p, p):
            self._ordering = _ordering(p)
        return _Sorted(p, t, q, self._ordering)

    def forms_1d(self, search: _Sorted) -> _FullForms:
        """Basis forms for the 1-D search, whose sorted order is the same for every neuron."""
        if self._forms_cache is None or self._forms_cache[0] != self.version:
            Q = self.get_basis().Q
            self._forms_cache = (self.version, _FullForms(*la.full_forms(Q, search.order, search.pc)), search)
        return self._forms_cache[1]

    def basis_changed(self, change: la.BasisChange | None, before: int) -> None:
        r"""Carry the 1-D forms over a change of the basis (made while ``version`` went from ``before``).

        The forms follow the change of :math:`Q` by :func:`~plateau_lib.trainers._anls_linalg.update_full_forms`
        (:math:`O(m)`) instead of being recomputed (:math:`O(mr)`); ``None`` (or forms not current at
        ``before``) leaves them to be recomputed when next needed.
        """
        cache = self._forms_cache
        if change is None or cache is None or cache[0] != before or self.basis is None:
            return
        forms, search = cache[1], cache[2]
        la.update_full_forms(forms.F_pre, forms.F_suf, search.order, search.pc, change)
        self._forms_cache = (self.version, forms, search)


def _directions(state: _State, j: int, t: FloatArray, active: NDArray[np.bool_]) -> list[FloatArray]:
    """Candidate unit directions of neuron j: the least-squares fit of t on its active data (and its own)."""
    m, d = state.m, state.d
    if d == 1:
        return [np.ones(1)]
    wj = state.W[j]
    norm_wj = float(np.linalg.norm(wj))
    rows = active if active.sum() >= d + 1 else np.ones(m, dtype=bool)
    u = np.linalg.lstsq(state.Xt[rows], t[rows], rcond=None)[0][:d]
    state.counter.njev += 1
    norm_u = float(np.linalg.norm(u))
    out = []
    if norm_u > 0 and np.isfinite(norm_u):
        out.append(u / norm_u)
    if (state.opts.keep_current or not out) and norm_wj > 0:
        out.append(wj / norm_wj)
    if not out:
        out.append(np.eye(d)[0])
    return out


def _move_rule(state: _State, j: int, w: FloatArray, active: NDArray[np.bool_]) -> tuple[int, int, int] | None:
    bound = state.opts.bounded_moves
    if bound is None:
        return None
    wj = state.W[j]
    s_cur = int(np.sign(wj @ w)) if float(np.linalg.norm(wj)) > 0 else 0
    return (s_cur, int(active.sum()), bound)


class _Proposal(NamedTuple):
    """A proposed neuron: ``v = (s w, -s tau)``, its gain, its feature and (fast joint search) ``Q^T phi``."""

    v: FloatArray
    gain: float
    phi: FloatArray
    coef: FloatArray | None


def _propose(state: _State, j: int, t: FloatArray, t_search: FloatArray, active: NDArray[np.bool_],
             loo: la.LeaveOneOut | None, B: FloatArray | None) -> _Proposal | None:
    """Best new neuron j over the candidate directions, or None if there is no candidate.

    ``loo`` set: the fast joint search (``state.basis`` and the leave-one-out direction); ``B``
    set: the straightforward joint search against the orthonormal basis ``B`` of the other
    features; neither (or the single criterion): no basis.
    """
    best: _Proposal | None = None
    for w in _directions(state, j, t, active):
        p = state.X @ w
        rule = _move_rule(state, j, w, active)
        found = _search_one(state, p, t_search, loo, B, rule)
        if found is None:
            continue
        choice, coef = found
        if best is None or choice.gain > best.gain:
            s, tau = float(choice.s), choice.tau
            best = _Proposal(np.append(s * w, -s * tau), choice.gain, np.maximum(s * (p - tau), 0.0), coef)
    return best


def _search_one(state: _State, p: FloatArray, t: FloatArray, loo, B, rule) -> tuple[_Choice, FloatArray | None] | None:
    opts = state.opts
    if not opts.joint:
        choice = _search_full(state.sorted(p, t), opts.continuous, None, rule)
        return None if choice is None else (choice, None)
    if loo is None:  # the straightforward search
        search = state.sorted(p, t - B @ (B.T @ t) if B.shape[1] else t)
        forms = _FullForms(*la.full_forms(np.ascontiguousarray(B), search.order, search.pc)) if B.shape[1] else None
        choice = _search_full(search, opts.continuous, forms, rule)
        return None if choice is None else (choice, None)
    basis = state.basis
    Q = basis.Q
    if Q.shape[1] == 0:
        choice = _search_full(state.sorted(p, t), opts.continuous, None, rule)
        return None if choice is None else (choice, None)
    if opts.continuous or state.m < 4 * opts.block:
        search = state.sorted(p, t, basis.q(loo))
        if opts.continuous and state.d == 1:
            forms = state.forms_1d(search)
        else:
            forms = _FullForms(*la.full_forms(Q, search.order, search.pc))
        choice = _search_full(search, opts.continuous, forms, rule)
        return None if choice is None else (choice, None)
    return _search_pruned(state.sorted(p, t), Q, loo.z, rule, opts.block)


def _visit(state: _State, j: int) -> tuple[bool, bool, float] | None:
    """Propose a new neuron j and keep it if it lowers the loss: ``(kept, column changed, loss)``, or None."""
    A = state.A
    a_old = A[:, j].copy()  # the column, read once (a strided read of A)
    t = state.c[j] * a_old - state.r  # y - sum_{l != j} c_l A_l
    active = a_old > 0
    if straightforward(state):
        return _visit_exact(state, j, t, active)
    basis = state.get_basis()
    loo = basis.leave_one_out(j) if basis.reliable else la.UNCLEAR
    if loo.kind == "unclear":
        return _visit_exact(state, j, t, active)
    joint = state.opts.joint
    if joint and state.opts.continuous and state.d == 1 and basis.r:
        t_perp = basis.perp_y_without(loo)  # = P_{-j}^perp t, from the kept y - QQ^T y and q = Qz (O(m))
    else:
        g = basis.drop(basis.target_coords(j, state.c), loo)  # coordinates of P_{-j} t
        t_perp = t - basis.Q @ g
    proposal = _propose(state, j, t, t_perp if joint else t, active, loo, None)
    if proposal is None:
        return None
    counter = state.counter
    counter.njev += 1
    phi = proposal.phi
    coef = proposal.coef if proposal.coef is not None else basis.Q.T @ phi
    gain = proposal.gain
    if not joint:  # the joint gain of the chosen candidate
        kept = basis.drop(coef, loo)
        den = float(phi @ phi) - float(kept @ kept)
        num = float(phi @ t_perp)
        gain = num * num / den if den > CANCEL_RTOL * float(phi @ phi) else 0.0
    t2 = float(t_perp @ t_perp)
    estimate = max(t2 - gain, 0.0) / (2 * state.m)
    threshold = state.level * (1 - ACCEPT_RTOL)
    if estimate >= threshold + 1e-8 * max(state.loss, t2 / (2 * state.m)):
        counter.nfev += 1
        return False, False, estimate  # clearly no better: rejected without forming the new network
    ext = basis.extension(phi, coef)
    c_new = basis.solve_replacing(j, ext)
    r_new, loss_new = state.residual_with(j, phi, c_new, a_old)
    if not loss_new < threshold:
        return False, False, loss_new
    col_changed = not np.array_equal(phi > 0, active)
    before = state.version
    state.commit(j, proposal.v, phi, c_new, r_new, loss_new)
    change = basis.replace(j, loo, ext, phi)
    if not basis.reliable:
        state.basis = None
    state.basis_changed(change, before)
    return True, col_changed, loss_new


def _visit_exact(state: _State, j: int, t: FloatArray, active) -> tuple[bool, bool, float] | None:
    """The straightforward update (range basis of the other features, full ``lstsq``), for unclear ranks."""
    A = state.A
    B = range_basis(np.delete(A, j, axis=1)) if state.opts.joint else None
    proposal = _propose(state, j, t, t, active, None, B)
    if proposal is None:
        return None
    state.counter.njev += 1
    A_new = A.copy()
    A_new[:, j] = proposal.phi
    c_new = np.linalg.lstsq(A_new, state.y, rcond=None)[0]
    r_new, loss_new = state.residual_with(j, proposal.phi, c_new)
    if not loss_new < state.level * (1 - ACCEPT_RTOL):
        return False, False, loss_new
    col_changed = not np.array_equal(proposal.phi > 0, active)
    state.commit(j, proposal.v, proposal.phi, c_new, r_new, loss_new)
    state.basis = None
    return True, col_changed, loss_new
