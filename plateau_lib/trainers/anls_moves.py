r"""The moves of ANLS beyond the design: pair moves, the frozen-pattern solve and polishing.

None of them is part of the literal reading of the design (``DESIGN.md``); each is kept only if
it lowers the loss. *Pair moves* (:func:`_pair_move`, in the order of :func:`pair_order`) silence
two neurons and re-insert them one after the other, to leave a fixed point of the neuron
updates. The *pattern solve* (:func:`_pattern_solve`) solves the least-squares problem of the
frozen activation pattern for all inner and output weights at once. *Polishing*
(:func:`_polish`) takes a few gradient steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .._linalg import range_basis
from ..network import evaluate
from . import _anls_linalg as la
from .anls_neuron import ACCEPT_RTOL, _Counter, _propose, _State, balance_neurons, straightforward

FloatArray = NDArray[np.float64]

#: At most ``PAIR_BUDGET * n`` pairs are tried per scan of pair moves (each pair costs two
#: re-insertions, so a scan costs about as much as ``2 * PAIR_BUDGET`` sweeps' proposals).
PAIR_BUDGET = 5


def pair_order(A: FloatArray, y: FloatArray, budget: int) -> list[tuple[int, int]]:
    r"""The pairs a scan of pair moves tries, in order: at most ``budget`` of them.

    Two orders of the pairs :math:`(j, l)`, :math:`j < l`, taken alternately (each pair once):
    decreasing :math:`|\cos(A_j, A_l)|` (features that largely duplicate each other), and
    increasing least-squares cost of removing both, :math:`c_J^\top (\Sigma_{JJ})^+ c_J` with
    :math:`\Sigma = (A^\top A)^+`, :math:`c = A^+y`, :math:`J = \{j, l\}` (the least useful
    pairs). Ties by :math:`(j, l)`.
    """
    m, n = A.shape
    first, second = np.triu_indices(n, k=1)
    if first.size == 0:
        return []
    norms = np.sqrt(np.einsum("ij,ij->j", A, A))
    safe = np.where(norms > 0, norms, 1.0)
    cos = np.abs(A.T @ A) / np.outer(safe, safe)
    U, sv, Vt = np.linalg.svd(A, full_matrices=False)
    keep = sv > la.lstsq_cutoff(m, n) * sv[0] if sv[0] > 0 else np.zeros(sv.shape, dtype=bool)
    V = Vt[keep].T / sv[keep]
    sigma = V @ V.T  # (A^T A)^+
    cstar = V @ (U[:, keep].T @ y)
    M = np.stack([np.stack([sigma[first, first], sigma[first, second]], -1),
                  np.stack([sigma[first, second], sigma[second, second]], -1)], -2)
    cJ = np.stack([cstar[first], cstar[second]], -1)
    cost = np.einsum("pi,pij,pj->p", cJ, np.linalg.pinv(M), cJ)
    orders = [np.lexsort((second, first, -cos[first, second])), np.lexsort((second, first, cost))]
    out, seen = [], set()
    for i in np.stack(orders, axis=1).ravel():
        if int(i) not in seen:
            seen.add(int(i))
            out.append((int(first[i]), int(second[i])))
            if len(out) == budget:
                break
    return out


def _pair_move(state: _State, ev, out_of_time: Callable[[], bool] | None = None):
    """First pair (j, l) whose removal and greedy re-insertion lowers the loss; applied in place.

    Both neurons are silenced (:math:`c = 0`, :math:`v = 0`), then re-inserted one after the
    other by the same proposal as a neuron update, each followed by the output-weight re-solve.
    The pairs are tried in the order of :func:`pair_order`, at most ``PAIR_BUDGET * n`` of them.
    Returns the new evaluation and ``(j, l)``, or the old evaluation and ``None`` if no pair
    lowers the loss. ``out_of_time`` (the run's clock) is asked before each pair: when it says
    so, the scan ends there without a pair.
    """
    state.reset(ev)
    for j, k in pair_order(state.A, state.y, PAIR_BUDGET * state.n):
        if out_of_time is not None and out_of_time():
            break
        c1, W1, b1 = state.c.copy(), state.W.copy(), state.b.copy()
        c1[[j, k]], W1[[j, k]], b1[[j, k]] = 0.0, 0.0, 0.0
        A1 = state.A.copy()
        A1[:, [j, k]] = 0.0
        r1 = A1 @ c1 - state.y
        state.counter.nfev += 1
        trial = _State(c1, W1, b1, state.X, state.Xt, state.y, state.counter, state.opts,
                       A1, r1, float(r1 @ r1) / (2 * state.m), math.inf)
        if _reinsert(trial, j) and _reinsert(trial, k) and trial.loss < state.level * (1 - ACCEPT_RTOL):
            balance_neurons(trial.c, trial.W, trial.b)
            ev_new = evaluate(trial.c, trial.W, trial.b, state.X, state.y)
            state.counter.nfev += 1
            if ev_new.loss < ev.loss:
                state.c[:], state.W[:], state.b[:] = trial.c, trial.W, trial.b
                return ev_new, (j, k)
    return ev, None


def _reinsert(trial: _State, q: int) -> bool:
    """Insert neuron q of a trial state by the proposal and the re-solve, without the acceptance test."""
    A = trial.A
    t = trial.c[q] * A[:, q] - trial.r
    active = A[:, q] > 0
    exact = straightforward(trial)
    if not exact:
        basis = trial.get_basis()
        loo = basis.leave_one_out(q) if basis.reliable else la.UNCLEAR
        exact = loo.kind == "unclear"
    if exact:
        B = range_basis(np.delete(A, q, axis=1)) if trial.opts.joint else None
        proposal = _propose(trial, q, t, t, active, None, B)
    else:
        t_search = t - basis.Q @ basis.drop(basis.target_coords(q, trial.c), loo) if trial.opts.joint else t
        proposal = _propose(trial, q, t, t_search, active, loo, None)
    if proposal is None:
        return False
    trial.counter.njev += 1
    phi = proposal.phi
    if exact:
        A_new = A.copy()
        A_new[:, q] = phi
        c_new = np.linalg.lstsq(A_new, trial.y, rcond=None)[0]
    else:
        ext = basis.extension(phi, proposal.coef)
        c_new = basis.solve_replacing(q, ext)
    r_new, loss_new = trial.residual_with(q, phi, c_new)
    trial.commit(q, proposal.v, phi, c_new, r_new, loss_new)
    if exact:
        trial.basis = None
    else:
        basis.replace(q, loo, ext, phi)
        if not basis.reliable:
            trial.basis = None
    return True


# ----------------------------------------------------------------- pattern solve, polishing


def _pattern_solve(c, W, b, X, Xt, y, ev, counter: _Counter, halvings: int = 6):
    r"""Least squares on the active neurons with the pattern frozen (in place if it lowers the loss).

    With :math:`D` fixed the outputs are linear in :math:`u_j = c_j v_j`:
    :math:`N = \sum_j D_j\tilde X u_j`; solve for all :math:`u` by linear least squares
    (:func:`~plateau_lib.trainers._anls_linalg.frozen_pattern_lstsq`), map back with
    :math:`c_j = \pm\sqrt{|u_j|}`, :math:`v_j = u_j/c_j` (sign of :math:`c_j` kept, so :math:`v_j`
    keeps its side), and step from the old :math:`u` towards the new one, halving the step until
    the true loss (with the pattern the new parameters really have) decreases.
    """
    d = X.shape[1]
    u_new = la.frozen_pattern_lstsq(ev.active, Xt, y)
    counter.njev += 1
    v_old = np.column_stack([W, b])
    u_old = c[:, None] * v_old
    sign = np.sign(c)
    silent = sign == 0
    if silent.any():  # choose the side on which the neuron's active data stay active
        side = np.einsum("ij,ij->j", ev.active.astype(float), Xt @ u_new.T)
        sign[silent] = np.where(side[silent] < 0, -1.0, 1.0)
    beta = 1.0
    for _ in range(halvings):
        u = u_old + beta * (u_new - u_old)
        norm = np.sqrt(np.einsum("ij,ij->i", u, u))
        ok = norm > 0
        c1 = np.where(ok, sign * np.sqrt(norm), 0.0)
        v1 = np.where(ok[:, None], u / np.where(ok, c1, 1.0)[:, None], v_old)
        W1, b1 = v1[:, :d].copy(), v1[:, d].copy()
        e = evaluate(c1, W1, b1, X, y)
        counter.nfev += 1
        if e.loss < ev.loss * (1 - ACCEPT_RTOL):
            c[:], W[:], b[:] = c1, W1, b1
            return e, True
        beta /= 2
    return ev, False


def _polish(c, W, b, X, y, ev, steps: int, lr: float, counter: _Counter):
    """``steps`` GD steps from (c, W, b); kept (in place) only if they lower the loss."""
    c1, W1, b1 = c.copy(), W.copy(), b.copy()
    e = ev
    for _ in range(steps):
        c1 -= lr * e.gc
        W1 -= lr * e.gW
        b1 -= lr * e.gb
        e = evaluate(c1, W1, b1, X, y)
        counter.nfev += 1
        if not math.isfinite(e.loss):
            return ev, False
    if e.loss < ev.loss:
        c[:], W[:], b[:] = c1, W1, b1
        return e, True
    return ev, False
