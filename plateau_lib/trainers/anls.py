r"""Active Neuron Least Squares (ANLS): choose each neuron's activation pattern by least squares.

The paper (Ainsworth & Shin) defines ANLS by its principle: every step adjusts the activation
pattern *explicitly*, by least squares on the active neurons. :func:`train_anls` is the
companion's concrete reading of that principle: one sweep visits the neurons in turn, and for
each chooses its direction, threshold and orientation by the least-squares gain
:math:`G(\tau, s)` (:func:`threshold_gains`), re-solves all output weights, and keeps the change
only if the loss drops, so the loss never increases. The step-by-step algorithm, every option,
and what is recorded are in the book's *Design notes* (:doc:`/book/design`, section
"Active Neuron Least Squares").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._linalg import range_basis
from .._validation import as_float_array, check_choice, check_positive_float, check_positive_int, check_rng
from ..network import ShallowReLU, augment, check_problem, evaluate, split_params
from ..recording import Recorder
from ..result import BUDGET, CONVERGED, FAILED, INTERRUPTED, TrainResult
from ._progress import progress_bar

FloatArray = NDArray[np.float64]

ORDERS = ("cyclic", "random", "largest_residual")
THRESHOLDS = ("data", "continuous")
CRITERIA = ("single", "joint")
DIRECTIONS = ("fit", "fit+current")

#: A kept update must lower the loss by more than this relative amount.
ACCEPT_RTOL = 1e-12
#: The run stops once the loss is below this fraction of the zero network's loss (an exact fit).
EXACT_RTOL = 1e-28
#: Candidates whose :math:`\varphi\cdot P^\perp\varphi` is below this fraction of the size of the
#: terms it is computed from (cancellation in the cumulative sums) score zero.
CANCEL_RTOL = 1e-11


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
        \varphi\cdot P^\perp\varphi = (Q - 2\tau P + \tau^2 N) - |b_p - \tau b_1|^2 ,

    so suffix and prefix cumulative sums of :math:`(1, p, p^2, t^\perp, p\,t^\perp, B, pB)` give
    all candidates at once. Ties in :math:`p` are handled by evaluating each distinct value once,
    with the whole block of equal values on the inactive side.

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
    m = p.shape[0]
    order = np.argsort(p, kind="stable")
    ps = p[order]
    if B is not None and B.shape[1] > 0:
        t = t - B @ (B.T @ t)
        Bs = B[order]
    else:
        Bs = None
    ts = t[order]
    # Work in coordinates centred at the midrange (|p| <= half the span) and keep prefix sums
    # (C[k]: the first k sorted points) and suffix sums (R[k]: the points from position k on)
    # separately, each accumulated from its own end, so that a short prefix or suffix is not
    # computed as the difference of two long sums.
    centre = 0.5 * (ps[0] + ps[-1])
    pc = ps - centre
    cols = np.column_stack([np.ones(m), pc, pc * pc, ts, pc * ts])
    if Bs is not None:
        cols = np.hstack([cols, Bs, pc[:, None] * Bs])
    C = np.zeros((m + 1, cols.shape[1]))
    np.cumsum(cols, axis=0, out=C[1:])
    R = np.zeros((m + 1, cols.shape[1]))
    np.cumsum(cols[::-1], axis=0, out=R[m - 1 :: -1])
    first = np.ones(m, dtype=bool)
    first[1:] = ps[1:] > ps[:-1]
    start = np.flatnonzero(first)  # first sorted position of each distinct value
    end = np.append(start[1:], m)  # one past its last position
    u = ps[start]  # distinct values, increasing
    uc = u - centre

    def sums(lo: NDArray[np.int64] | None, hi: NDArray[np.int64] | None):
        """Sums over the sorted positions [lo, m) (suffix) or [0, hi) (prefix)."""
        S = R[lo] if hi is None else C[hi]
        return S[:, :5], (S[:, 5:] if Bs is not None else None)

    def gain(S, SB, tau):
        N, P, Q, T, R = S.T
        num = R - tau * T
        den = Q - 2 * tau * P + tau * tau * N
        scale = Q + tau * tau * N
        if SB is not None:
            k = SB.shape[1] // 2
            proj = SB[:, k:] - tau[:, None] * SB[:, :k]
            den = den - np.einsum("ij,ij->i", proj, proj)
        ok = den > CANCEL_RTOL * scale
        return np.where(ok, num * num / np.where(ok, den, 1.0), 0.0), N

    def interior(S, SB, lo_edge, hi_edge):
        """Clipped maximiser tau* of the gain on each interval [lo_edge, hi_edge]."""
        N, P, Q, T, R = S.T
        if SB is not None:
            k = SB.shape[1] // 2
            b1, bp = SB[:, :k], SB[:, k:]
            Q = Q - np.einsum("ij,ij->i", bp, bp)
            P = P - np.einsum("ij,ij->i", bp, b1)
            N = N - np.einsum("ij,ij->i", b1, b1)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = (T * Q - R * P) / (T * P - R * N)
        tau = np.where(np.isfinite(tau), tau, lo_edge)
        return np.clip(tau, lo_edge, hi_edge)

    taus, signs, gains, counts = [], [], [], []

    def add(S, SB, tau_c, s, tau=None):
        """Score thresholds ``tau_c`` (centred coordinates); ``tau``: the same, uncentred, if known exactly."""
        g, N = gain(S, SB, tau_c)
        taus.append(tau_c + centre if tau is None else tau)
        signs.append(np.full(tau_c.shape, s, dtype=np.int64))
        gains.append(g)
        counts.append(np.rint(N).astype(np.int64))

    # s = +1, tau at each distinct value: active suffix after the block of that value.
    S, SB = sums(end, None)
    add(S, SB, uc, +1, u)
    # s = -1, tau at each distinct value: active prefix before the block.
    S, SB = sums(None, start)
    add(S, SB, uc, -1, u)
    if continuous:
        span = uc[-1] - uc[0] if uc[-1] > uc[0] else 1.0
        below = np.append(uc[0] - span, uc[:-1])  # interval k = [below_k, u_k], active: p >= u_k
        S, SB = sums(start, None)
        add(S, SB, interior(S, SB, below, uc), +1)
        above = np.append(uc[1:], uc[-1] + span)  # interval k = [u_k, above_k], active: p <= u_k
        S, SB = sums(None, end)
        add(S, SB, interior(S, SB, uc, above), -1)
        # the far ends of the two outer intervals (all data active)
        S, SB = sums(np.zeros(1, dtype=np.int64), None)
        add(S, SB, below[:1], +1)
        add(S, SB, above[-1:], -1)
    return ThresholdCandidates(np.concatenate(taus), np.concatenate(signs), np.concatenate(gains),
                               np.concatenate(counts))


# ------------------------------------------------------------------------------ the trainer


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


def _propose(
    j: int,
    c: FloatArray,
    W: FloatArray,
    b: FloatArray,
    ev,
    X: FloatArray,
    Xt: FloatArray,
    *,
    continuous: bool,
    joint: bool,
    keep_current: bool,
    bounded_moves: int | None,
    counter: _Counter,
) -> tuple[FloatArray, float] | None:
    """Best new (w_j, b_j) for neuron j as ``(v, gain)``, or None if there is no candidate."""
    m, d = X.shape
    A = np.maximum(ev.Z, 0.0)
    t = c[j] * A[:, j] - ev.r  # y - sum_{l != j} c_l A_l
    active = ev.active[:, j]
    wj = W[j]
    norm_wj = float(np.linalg.norm(wj))
    if d == 1:
        directions = [np.ones(1)]
    else:
        rows = active if active.sum() >= d + 1 else np.ones(m, dtype=bool)
        u = np.linalg.lstsq(Xt[rows], t[rows], rcond=None)[0][:d]
        counter.njev += 1
        norm_u = float(np.linalg.norm(u))
        directions = []
        if norm_u > 0 and np.isfinite(norm_u):
            directions.append(u / norm_u)
        if (keep_current or not directions) and norm_wj > 0:
            directions.append(wj / norm_wj)
        if not directions:
            directions.append(np.eye(d)[0])
    B = range_basis(np.delete(A, j, axis=1)) if joint else None
    best: tuple[FloatArray, float] | None = None
    for w in directions:
        p = X @ w
        cand = _threshold_gains(p, t, B, continuous)
        allowed = cand.gain > 0
        if bounded_moves is not None:
            s_cur = int(np.sign(wj @ w)) if norm_wj > 0 else 0
            if s_cur != 0:
                allowed &= cand.s == s_cur
            allowed &= np.abs(cand.count - int(active.sum())) <= bounded_moves
        if not allowed.any():
            continue
        k = int(np.argmax(np.where(allowed, cand.gain, -np.inf)))
        if best is None or cand.gain[k] > best[1]:
            s, tau = float(cand.s[k]), float(cand.tau[k])
            best = (np.append(s * w, -s * tau), float(cand.gain[k]))
    return best


def train_anls(
    net: ShallowReLU,
    X: ArrayLike,
    y: ArrayLike,
    *,
    sweeps: int,
    bounded_moves: int | None = None,
    polish_steps: int = 0,
    polish_lr: float = 0.1,
    order: str = "cyclic",
    rng: np.random.Generator | None = None,
    thresholds: str = "data",
    criterion: str = "single",
    directions: str = "fit",
    pattern_solve: bool = False,
    pair_moves: int = 0,
    record_every: int = 1,
    progress: bool = False,
) -> TrainResult:
    r"""Train by Active Neuron Least Squares (the companion's reading; see the module docstring).

    Parameters
    ----------
    net : ShallowReLU
        Initial network (not modified).
    X : array_like, shape (m, d)
    y : array_like, shape (m,)
    sweeps : int
        Maximal number of sweeps (each visits every neuron once).
    bounded_moves : int, optional
        Largest change of a neuron's active count per update (same orientation only);
        ``None``: global search over all thresholds and both orientations.
    polish_steps : int
        Gradient-descent steps after each sweep (0: none), kept only if they lower the loss.
    polish_lr : float
        Step size of the polishing steps.
    order : {"cyclic", "random", "largest_residual"}
        Order of the neurons within a sweep: ``0..n-1``; a fresh permutation from ``rng`` each
        sweep; or decreasing :math:`\sum_i D_{ij} r_i^2` (the residual a neuron sees) at the
        start of the sweep, ties by index.
    rng : numpy.random.Generator, optional
        Required for ``order="random"`` (and only used there).
    thresholds : {"data", "continuous"}
        Threshold candidates: the data projections, or the exact optimum over all real
        thresholds (:func:`threshold_gains`).
    criterion : {"single", "joint"}
        Gain of a candidate: the fit of the target by the new neuron alone, or with all other
        output weights re-fitted too (exactly the loss reduction of the update).
    directions : {"fit", "fit+current"}
        Candidate directions for ``d > 1``: the least-squares direction, or that and the
        neuron's current direction (the better is used). Ignored in 1-D.
    pattern_solve : bool
        End each sweep with the least-squares solve on the frozen pattern (module docstring).
    pair_moves : int
        At most this many pair moves, tried when a sweep changes nothing (module docstring);
        0 disables them. Not combinable with ``bounded_moves``.
    record_every : int
        Record every this many sweeps (and every sweep whose pattern changed).
    progress : bool
        Show a progress bar over the sweeps.

    Returns
    -------
    TrainResult
        ``method="anls"``; ``steps`` are sweep indices; the loss is non-increasing; see the
        module docstring for ``pattern_changes``, ``nfev``, ``njev`` and ``extra``. Ctrl-C ends
        the run after the current neuron update and returns the state so far
        (``status="interrupted"``).
    """
    net, X, y = check_problem(net, X, y)
    sweeps = check_positive_int(sweeps, "sweeps")
    if bounded_moves is not None:
        bounded_moves = check_positive_int(bounded_moves, "bounded_moves")
    polish_steps = check_positive_int(polish_steps, "polish_steps", allow_zero=True)
    polish_lr = check_positive_float(polish_lr, "polish_lr")
    order = check_choice(order, "order", ORDERS)
    if order == "random":
        rng = check_rng(rng)
    elif rng is not None:
        rng = check_rng(rng)
    thresholds = check_choice(thresholds, "thresholds", THRESHOLDS)
    criterion = check_choice(criterion, "criterion", CRITERIA)
    directions = check_choice(directions, "directions", DIRECTIONS)
    pair_moves = check_positive_int(pair_moves, "pair_moves", allow_zero=True)
    if pair_moves and bounded_moves is not None:
        raise ValueError("pair_moves re-insert neurons anywhere: they cannot be combined with bounded_moves")
    record_every = check_positive_int(record_every, "record_every")

    n, d = net.n, net.d
    m = X.shape[0]
    Xt = augment(X)
    theta = net.to_vector()
    c, W, b = split_params(theta, n, d)
    counter = _Counter()
    rec = Recorder(record_every, n, d)
    ev = evaluate(c, W, b, X, y)
    counter.nfev += 1
    rec.observe(0, ev.active, ev.loss, theta)
    zero_loss = float(y @ y) / (2 * m)
    updates: list[tuple[int, int, bool, bool, float]] = []
    pairs: list[tuple[int, int, int, float]] = []
    nfev_sweep, njev_sweep = [counter.nfev], [counter.njev]
    message, status, k = f"reached sweeps={sweeps}", BUDGET, 0
    options = {
        "continuous": thresholds == "continuous",
        "joint": criterion == "joint",
        "keep_current": directions == "fit+current",
        "bounded_moves": bounded_moves,
        "counter": counter,
    }
    bar = progress_bar(sweeps, "anls", progress)
    try:
        while k < sweeps and math.isfinite(ev.loss):
            changed = False
            for j in _neuron_order(order, ev, n, rng):
                proposal = _propose(j, c, W, b, ev, X, Xt, **options)
                if proposal is None:
                    continue
                v, _ = proposal
                c_new, W_new, b_new = c.copy(), W.copy(), b.copy()
                W_new[j], b_new[j] = v[:d], v[d]
                A_new = np.maximum(X @ W_new.T + b_new, 0.0)
                c_new[:] = np.linalg.lstsq(A_new, y, rcond=None)[0]
                counter.njev += 1
                balance_neurons(c_new, W_new, b_new)
                ev_new = evaluate(c_new, W_new, b_new, X, y)
                counter.nfev += 1
                accepted = bool(ev_new.loss < ev.loss * (1 - ACCEPT_RTOL))
                col_changed = accepted and not np.array_equal(ev_new.active[:, j], ev.active[:, j])
                updates.append((k + 1, j, accepted, col_changed, ev_new.loss))
                if accepted:
                    c[:], W[:], b[:] = c_new, W_new, b_new
                    ev, changed = ev_new, True
            if pattern_solve:
                ev, solved = _pattern_solve(c, W, b, X, Xt, y, ev, counter)
                changed = changed or solved
            if polish_steps:
                ev, polished = _polish(c, W, b, X, y, ev, polish_steps, polish_lr, counter)
                changed = changed or polished
            if not changed and len(pairs) < pair_moves:
                ev, pair = _pair_move(c, W, b, ev, X, Xt, y, options)
                if pair is not None:
                    pairs.append((k + 1, *pair, ev.loss))
                    changed = True
            k += 1
            rec.observe(k, ev.active, ev.loss, theta)
            nfev_sweep.append(counter.nfev)
            njev_sweep.append(counter.njev)
            bar.update(1)
            if not changed:
                message, status = f"converged: sweep {k} changed nothing (a fixed point of the update)", CONVERGED
                break
            if ev.loss <= EXACT_RTOL * zero_loss:
                message, status = f"fitted the data to round-off after sweep {k}", CONVERGED
                break
    except KeyboardInterrupt:
        message, status = f"interrupted by the user in sweep {k + 1}", INTERRUPTED
        ev = evaluate(c, W, b, X, y)
    finally:
        bar.close()
    if not math.isfinite(ev.loss):
        message, status = f"loss became non-finite in sweep {k}", FAILED
    rows = np.array(updates, dtype=np.float64).reshape(-1, 5)
    extra = {
        "update_sweep": rows[:, 0].astype(np.int64),
        "update_neuron": rows[:, 1].astype(np.int64),
        "update_accepted": rows[:, 2].astype(bool),
        "update_pattern_changed": rows[:, 3].astype(bool),
        "update_loss": rows[:, 4],
        "pair_moves": np.array(pairs, dtype=np.float64).reshape(-1, 4),
        "nfev_per_sweep": np.asarray(nfev_sweep, dtype=np.int64),
        "njev_per_sweep": np.asarray(njev_sweep, dtype=np.int64),
    }
    return rec.finish(k, ev.active, ev.loss, theta, method="anls", nfev=counter.nfev, njev=counter.njev,
                      status=status, message=message, extra=extra)


def _pair_move(c, W, b, ev, X, Xt, y, options: dict):
    """First pair (j, k) whose removal and greedy re-insertion lowers the loss; applied in place.

    Both neurons are silenced (:math:`c = 0`, :math:`v = 0`), then re-inserted one after the
    other by the same proposal as a neuron update (step 2-3 of the module docstring), each
    followed by the output-weight re-solve. Returns the new evaluation and ``(j, k)``, or the old
    evaluation and ``None`` if no pair lowers the loss.
    """
    counter: _Counter = options["counter"]
    n, d = W.shape
    for j in range(n):
        for k in range(j + 1, n):
            c1, W1, b1 = c.copy(), W.copy(), b.copy()
            c1[[j, k]], W1[[j, k]], b1[[j, k]] = 0.0, 0.0, 0.0
            e = evaluate(c1, W1, b1, X, y)
            counter.nfev += 1
            for q in (j, k):
                proposal = _propose(q, c1, W1, b1, e, X, Xt, **options)
                if proposal is None:
                    break
                W1[q], b1[q] = proposal[0][:d], proposal[0][d]
                c1[:] = np.linalg.lstsq(np.maximum(X @ W1.T + b1, 0.0), y, rcond=None)[0]
                counter.njev += 1
                balance_neurons(c1, W1, b1)
                e = evaluate(c1, W1, b1, X, y)
                counter.nfev += 1
            else:
                if e.loss < ev.loss * (1 - ACCEPT_RTOL):
                    c[:], W[:], b[:] = c1, W1, b1
                    return e, (j, k)
    return ev, None


def _neuron_order(order: str, ev, n: int, rng: np.random.Generator | None) -> list[int]:
    if order == "cyclic":
        return list(range(n))
    if order == "random":
        return [int(j) for j in rng.permutation(n)]
    seen = (ev.r * ev.r) @ ev.active  # sum_i D_ij r_i^2
    return [int(j) for j in np.lexsort((np.arange(n), -seen))]


def _pattern_solve(c, W, b, X, Xt, y, ev, counter: _Counter, halvings: int = 6):
    r"""Least squares on the active neurons with the pattern frozen (in place if it lowers the loss).

    With :math:`D` fixed the outputs are linear in :math:`u_j = c_j v_j`:
    :math:`N = \sum_j D_j\tilde X u_j`; solve for all :math:`u` by linear least squares, map back
    with :math:`c_j = \pm\sqrt{|u_j|}`, :math:`v_j = u_j/c_j` (sign of :math:`c_j` kept, so
    :math:`v_j` keeps its side), and step from the old :math:`u` towards the new one, halving the
    step until the true loss (with the pattern the new parameters really have) decreases.
    """
    m, n = ev.active.shape
    d = X.shape[1]
    Phi = (ev.active[:, :, None] * Xt[:, None, :]).reshape(m, n * (d + 1))
    u_new = np.linalg.lstsq(Phi, y, rcond=None)[0].reshape(n, d + 1)
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

