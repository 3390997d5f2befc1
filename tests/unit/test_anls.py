"""ANLS (:mod:`plateau_lib.trainers.anls` and its neuron update and moves): the presets, the fast
sweep against a straightforward reference, monotone loss, the trainer contract.

The reference (``ref_*`` below) is the per-neuron computation written plainly: an orthonormal basis
of the other neurons' features from their SVD (:func:`plateau_lib._linalg.range_basis`), the
threshold search of :func:`threshold_gains` against it, the output weights from
``numpy.linalg.lstsq`` on the whole new feature matrix. The trainer's fast path (an updated QR
basis, pruned searches, an (r+1) x n least-squares problem) must make the same decisions and reach
the same losses up to round-off: ``ROUND_OFF`` relative (plus a tiny absolute part, a fraction of
the zero network's loss).
"""

from __future__ import annotations

import inspect
import math
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib._linalg import range_basis
from plateau_lib.experiments import get_experiment
from plateau_lib.network import (
    ShallowReLU,
    activation_counts,
    activation_pattern,
    augment,
    evaluate,
    init_network,
    loss,
)
from plateau_lib.result import TrainResult
from plateau_lib.trainers import _anls_linalg, anls, anls_moves, anls_neuron, anls_threshold
from plateau_lib.trainers.anls import PRESETS, preset_options, threshold_gains, train_anls
from plateau_lib.trainers.first_order import train_gd

#: Relative agreement of the fast path's losses with the reference's (round-off, amplified by the
#: conditioning of the least-squares problems; observed: below 1e-10).
ROUND_OFF = 1e-9


# ----------------------------------------------------------------------------- problems

VARIANTS = {
    "design": {"preset": "design"},
    "joint": {"preset": "design", "criterion": "joint"},
    "continuous-joint-solve": {"preset": "design", "criterion": "joint", "thresholds": "continuous",
                               "pattern_solve": True},
    "bounded": {"preset": "design", "bounded_moves": 2},
    "polish": {"preset": "design", "polish_steps": 5, "polish_lr": 0.05},
    "random-order": {"preset": "design", "order": "random", "rng": "seeded"},
    "largest-residual": {"preset": "design", "order": "largest_residual", "directions": "fit+current"},
    "pairs": {"preset": "design", "criterion": "joint", "pair_moves": 3, "pattern_solve": True},
    "default": {},
    "default-bounded": {"bounded_moves": 2},
}


def run(net, X, y, variant="design", seed=0, **overrides):
    options = dict(VARIANTS[variant])
    if options.get("rng") == "seeded":
        options["rng"] = np.random.default_rng(seed)
    return train_anls(net, X, y, **({"sweeps": 8} | options | overrides))


def problem(d=1, m=31, n=6, seed=0, scale=1e-3):
    rng = np.random.default_rng(seed)
    X = np.linspace(-1, 1, m)[:, None] if d == 1 else rng.uniform(-1, 1, (m, d))
    y = np.abs(X.sum(axis=1)) / np.sqrt(d) + 0.5 * np.sin(np.pi * X[:, -1])
    return init_network(n, d, scale=scale, rng=rng), X, y


def with_dead_and_duplicate(net: ShallowReLU, X) -> ShallowReLU:
    """Neuron 0 dead (its hyperplane beyond the data), neuron 2 a copy of neuron 1."""
    c, W, b = net.c.copy(), net.W.copy(), net.b.copy()
    d = W.shape[1]
    W[0], b[0] = np.ones(d) / np.sqrt(d), -10.0 * np.abs(X).max() * np.sqrt(d)
    c[2], W[2], b[2] = c[1], W[1], b[1]
    return ShallowReLU(c, W, b)


def assert_contract(res: TrainResult, net: ShallowReLU, X, y):
    k = len(res.steps)
    assert res.method == "anls"
    assert res.loss.shape == (k,) and res.counts.shape == (k, net.n) and res.params.shape == (k, net.size)
    assert res.steps[0] == 0 and np.all(np.diff(res.steps) > 0)
    assert_array_equal(res.params[0], net.to_vector())
    assert_array_equal(res.params[-1], res.net.to_vector())
    for i in range(k):
        net_i = res.net_at(i)
        assert_allclose(res.loss[i], loss(net_i, X, y), rtol=1e-12, atol=1e-300)
        assert_array_equal(res.counts[i], activation_counts(net_i, X))
    assert np.all(np.isin(res.pattern_changes, res.steps))
    assert res.nit == res.steps[-1]
    assert res.nfev == res.extra["nfev_per_sweep"][-1] and res.njev == res.extra["njev_per_sweep"][-1]
    assert len(res.extra["nfev_per_sweep"]) == res.nit + 1


def assert_monotone(res: TrainResult, X, y):
    """Recorded losses, recomputed from the stored parameters by ``evaluate``, never increase; kept
    updates strictly lower the loss."""
    recomputed = []
    for i in range(len(res.steps)):
        net_i = res.net_at(i)
        recomputed.append(evaluate(net_i.c, net_i.W, net_i.b, X, y).loss)
    assert_array_equal(recomputed, res.loss)
    assert np.all(np.diff(res.loss) <= 0), res.loss
    kept = res.extra["update_loss"][res.extra["update_accepted"]]
    assert np.all(np.diff(kept) < 0)  # every kept update lowered the loss
    assert kept.size == 0 or kept[0] < res.loss[0]


# ----------------------------------------------------------------------------- presets


def test_presets_are_named_read_only_and_documented():
    assert {"joint", "design"} <= set(PRESETS)
    with pytest.raises(TypeError):
        PRESETS["fast"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        PRESETS["joint"]["pair_moves"] = 3  # type: ignore[index]
    for name in PRESETS:
        assert f'``"{name}"``' in anls.__doc__ and f'``"{name}"``' in train_anls.__doc__


def test_preset_options_resolve_the_thresholds_by_dimension():
    assert preset_options("joint", 1) == {"criterion": "joint", "thresholds": "continuous", "directions": "fit",
                                          "pattern_solve": True, "pattern_steps": 1, "pair_moves": 10}
    assert preset_options("joint", 3)["thresholds"] == "data"
    assert preset_options("joint", 2)["pattern_steps"] == preset_options("joint", 5)["pattern_steps"] == 4
    assert preset_options("design", 1) == {"criterion": "single", "thresholds": "data", "directions": "fit",
                                           "pattern_solve": False, "pattern_steps": 1, "pair_moves": 0}
    assert anls.ThresholdsByDimension is anls.ByDimension
    options = preset_options("joint", 2)
    options["pair_moves"] = 0  # a fresh dict: the preset itself is untouched
    assert preset_options("joint", 2)["pair_moves"] == 10
    with pytest.raises(ValueError, match="preset must be one of 'joint', 'design', got 'fast'"):
        preset_options("fast", 1)


@pytest.mark.parametrize(("steps", "kept", "expected"), [(1, 5, 1), (4, 5, 4), (4, 2, 3), (4, 0, 1)])
def test_pattern_steps_repeat_the_solve_up_to_the_first_not_kept(monkeypatch, steps, kept, expected):
    """Each sweep closes with at most ``pattern_steps`` frozen-pattern solves and stops after the first
    that is not kept; each solve is one least-squares solve (njev)."""
    net, X, y = problem(d=2, m=60, n=5)
    calls = []
    honest = anls._pattern_solve

    def counted(c, W, b, X, Xt, y, ev, counter):
        calls.append(len(calls))
        if len(calls) <= kept:
            return honest(c, W, b, X, Xt, y, ev, counter)
        honest(c.copy(), W.copy(), b.copy(), X, Xt, y, ev, counter)  # refused: the parameters stay
        return ev, False

    monkeypatch.setattr(anls, "_pattern_solve", counted)
    res = train_anls(net, X, y, sweeps=1, pattern_steps=steps, pair_moves=0)
    assert len(calls) == expected
    plain = train_anls(net, X, y, sweeps=1, pattern_solve=False, pair_moves=0)
    assert res.njev - plain.njev == expected


def test_more_pattern_steps_change_nothing_in_1d_by_default():
    """The 1-D default keeps one pattern solve a sweep: the same run as asking for it."""
    net, X, y = problem(d=1, m=41, n=5)
    same_run(train_anls(net, X, y, sweeps=6), train_anls(net, X, y, sweeps=6, pattern_steps=1))


def same_run(a: TrainResult, b: TrainResult) -> None:
    for attr in ("steps", "loss", "params", "pattern_changes", "flips"):
        assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert a.nfev == b.nfev and a.njev == b.njev and a.message == b.message
    for key in a.extra:
        assert_array_equal(a.extra[key], b.extra[key])


@pytest.mark.parametrize("d", [1, 2])
def test_the_default_is_the_joint_preset_resolved_by_dimension(d):
    net, X, y = problem(d=d, m=41 if d == 1 else 60, n=5)
    default = train_anls(net, X, y, sweeps=6)
    explicit = train_anls(net, X, y, sweeps=6, preset="design", **preset_options("joint", d))
    same_run(default, explicit)
    assert len(default.extra["update_loss"]) > 0


def test_the_design_preset_is_the_literal_reading():
    net, X, y = problem(d=2, m=60, n=5)
    same_run(train_anls(net, X, y, sweeps=6, preset="design"),
             train_anls(net, X, y, sweeps=6, preset="joint", criterion="single", thresholds="data",
                        directions="fit", pattern_solve=False, pair_moves=0))
    # the design preset is what the criterion/thresholds options alone gave before presets existed
    same_run(train_anls(net, X, y, sweeps=6, preset="design"),
             train_anls(net, X, y, sweeps=6, preset="design", criterion="single", thresholds="data"))


def test_an_explicit_option_overrides_the_preset():
    net, X, y = problem(d=1, m=41, n=5)
    joint_data = train_anls(net, X, y, sweeps=6, thresholds="data")
    same_run(joint_data, train_anls(net, X, y, sweeps=6, preset="design", criterion="joint", thresholds="data",
                                    pattern_solve=True, pair_moves=10))
    no_solve = train_anls(net, X, y, sweeps=6, pattern_solve=False, pair_moves=0)
    same_run(no_solve, train_anls(net, X, y, sweeps=6, preset="design", criterion="joint", thresholds="continuous"))


def test_bounded_moves_turn_the_presets_pair_moves_off():
    net, X, y = problem(d=1, m=41, n=5)
    same_run(train_anls(net, X, y, sweeps=4, bounded_moves=2),
             train_anls(net, X, y, sweeps=4, bounded_moves=2, pair_moves=0))
    with pytest.raises(ValueError, match="bounded_moves"):
        train_anls(net, X, y, sweeps=4, bounded_moves=2, pair_moves=1)


# ----------------------------------------------------------------------------- the reference


def ref_directions(W, j, t, active, X, keep_current):
    m, d = X.shape
    if d == 1:
        return [np.ones(1)]
    rows = active if active.sum() >= d + 1 else np.ones(m, dtype=bool)
    u = np.linalg.lstsq(augment(X)[rows], t[rows], rcond=None)[0][:d]
    out = [u / np.linalg.norm(u)] if np.linalg.norm(u) > 0 else []
    if (keep_current or not out) and np.linalg.norm(W[j]) > 0:
        out.append(W[j] / np.linalg.norm(W[j]))
    return out or [np.eye(d)[0]]


def ref_update(c, W, A, r, level, X, y, j, opts, *, accept=True):
    """One neuron update, written plainly: ``(kept, loss, (v, phi, c_new, r_new))`` or None."""
    m, d = X.shape
    t = c[j] * A[:, j] - r
    active = A[:, j] > 0
    B = range_basis(np.delete(A, j, axis=1)) if opts.joint else None
    best = None
    for w in ref_directions(W, j, t, active, X, opts.keep_current):
        p = X @ w
        cand = threshold_gains(p, t, thresholds="continuous" if opts.continuous else "data", basis=B)
        allowed = cand.gain > 0
        if opts.bounded_moves is not None:
            s_cur = int(np.sign(W[j] @ w)) if np.linalg.norm(W[j]) > 0 else 0
            if s_cur:
                allowed &= cand.s == s_cur
            allowed &= np.abs(cand.count - int(active.sum())) <= opts.bounded_moves
        if allowed.any():
            k = int(np.argmax(np.where(allowed, cand.gain, -np.inf)))
            if best is None or cand.gain[k] > best[0]:
                s, tau = float(cand.s[k]), float(cand.tau[k])
                best = (cand.gain[k], np.append(s * w, -s * tau), np.maximum(s * (p - tau), 0.0))
    if best is None:
        return None
    A_new = A.copy()
    A_new[:, j] = best[2]
    c_new = np.linalg.lstsq(A_new, y, rcond=None)[0]
    r_new = A_new @ c_new - y
    loss_new = float(r_new @ r_new) / (2 * m)
    return (loss_new < level * (1 - anls.ACCEPT_RTOL) or not accept), loss_new, (best[1], best[2], c_new, r_new)


def ref_apply(c, W, b, A, j, step):
    v, phi, c_new, r_new = step
    d = W.shape[1]
    W[j], b[j] = v[:d], v[d]
    c[:] = c_new
    A[:, j] = phi
    return r_new


def ref_pair_move(c, W, b, ev, level, X, y, opts):
    """The pair moves of the trainer, written plainly (same pairs, same order, same budget)."""
    A = np.maximum(ev.Z, 0.0)
    for j, k in anls.pair_order(A, y, anls.PAIR_BUDGET * c.shape[0]):
        c1, W1, b1, A1 = c.copy(), W.copy(), b.copy(), A.copy()
        c1[[j, k]], W1[[j, k]], b1[[j, k]], A1[:, [j, k]] = 0.0, 0.0, 0.0, 0.0
        r1 = A1 @ c1 - y
        loss1 = None
        for q in (j, k):
            out = ref_update(c1, W1, A1, r1, math.inf, X, y, q, opts, accept=False)
            if out is None:
                break
            r1, loss1 = ref_apply(c1, W1, b1, A1, q, out[2]), out[1]
        else:
            if loss1 < level * (1 - anls.ACCEPT_RTOL):
                anls.balance_neurons(c1, W1, b1)
                ev1 = evaluate(c1, W1, b1, X, y)
                if ev1.loss < ev.loss:
                    c[:], W[:], b[:] = c1, W1, b1
                    return ev1, (j, k)
    return ev, None


def ref_train(net, X, y, *, sweeps, opts, pattern_solve=False, pair_moves=0):
    """The trainer's sweeps (cyclic order), written plainly: per-update rows, pair moves and losses."""
    n, d = net.n, net.d
    m = X.shape[0]
    theta = net.to_vector()
    c, W, b = theta[:n], theta[n : n + n * d].reshape(n, d), theta[n + n * d :]
    ev = evaluate(c, W, b, X, y)
    level, rows, pairs, losses = ev.loss, [], [], [ev.loss]
    counter = anls._Counter()
    for sweep in range(1, sweeps + 1):
        A, r = np.maximum(ev.Z, 0.0), ev.r.copy()
        level = min(level, ev.loss)
        start, level0, first, changed = theta.copy(), level, len(rows), False
        for j in range(n):
            out = ref_update(c, W, A, r, level, X, y, j, opts)
            if out is None:
                continue
            rows.append((sweep, j, out[0], out[1]))
            if out[0]:
                r, level, changed = ref_apply(c, W, b, A, j, out[2]), out[1], True
        if changed:
            anls.balance_neurons(c, W, b)
            ev1 = evaluate(c, W, b, X, y)
            if ev1.loss < ev.loss:
                ev = ev1
            else:
                theta[:], level, changed = start, level0, False
                rows[first:] = [(s, j, False, x) for s, j, _, x in rows[first:]]
        if pattern_solve:
            ev, solved = anls._pattern_solve(c, W, b, X, augment(X), y, ev, counter)
            changed = changed or solved
        level = min(level, ev.loss)
        if not changed and len(pairs) < pair_moves:
            ev, pair = ref_pair_move(c, W, b, ev, level, X, y, opts)
            if pair is not None:
                pairs.append((sweep, *pair, ev.loss))
                changed = True
        losses.append(ev.loss)
        if not changed or ev.loss <= anls.EXACT_RTOL * float(y @ y) / (2 * m):
            break
    return rows, pairs, np.array(losses), theta


def options_of(**kwargs) -> anls._Options:
    o = {"thresholds": "data", "criterion": "single", "directions": "fit", "bounded_moves": None} | kwargs
    return anls._Options(o["thresholds"] == "continuous", o["criterion"] == "joint", o["directions"] == "fit+current",
                         o["bounded_moves"], anls.SEARCH_BLOCK)


def close(a, b, zero_loss, rtol=ROUND_OFF):
    return abs(a - b) <= rtol * abs(b) + 1e-13 * zero_loss


class Lockstep:
    """Runs the reference on the trainer's own state before every neuron update and pair-move scan.

    The fast path is forced at every size (``SMALL_WORK = 0``; by default problems as small as these
    are swept by the straightforward computation, which ``straightforward=True`` keeps).
    """

    def __init__(self, monkeypatch, straightforward=False):
        if not straightforward:
            monkeypatch.setattr(anls_neuron, "SMALL_WORK", 0)
        self.rows, self.pair_rows = [], []
        visit, pair_move = anls._visit, anls._pair_move

        def checked_visit(state, j):
            c, W, A, r = state.c.copy(), state.W.copy(), state.A.copy(), state.r.copy()
            ref = ref_update(c, W, A, r, state.level, state.X, state.y, j, state.opts)
            got = visit(state, j)
            self.rows.append((j, ref, got))
            return got

        def checked_pair_move(state, ev, out_of_time=None):
            c, W, b = state.c.copy(), state.W.copy(), state.b.copy()
            level = min(state.level, ev.loss)
            ref = ref_pair_move(c, W, b, ev, level, state.X, state.y, state.opts)
            got = pair_move(state, ev, out_of_time=out_of_time)
            self.pair_rows.append((ref[1], ref[0].loss, got[1], got[0].loss))
            return got

        monkeypatch.setattr(anls, "_visit", checked_visit)
        monkeypatch.setattr(anls, "_pair_move", checked_pair_move)

    def check(self, zero_loss, rtol=ROUND_OFF):
        assert self.rows
        for j, ref, got in self.rows:
            assert (ref is None) == (got is None), j
            if ref is not None:
                assert ref[0] == got[0], (j, ref[:2], got)
                assert close(got[2], ref[1], zero_loss, rtol), (j, ref[1], got[2])
        for ref_pair, ref_loss, got_pair, got_loss in self.pair_rows:
            assert ref_pair == got_pair
            assert close(got_loss, ref_loss, zero_loss, rtol)


LOCKSTEP_CASES = {
    "design": {"preset": "design"},
    "design-bounded": {"preset": "design", "bounded_moves": 3},
    "joint-data": {"preset": "design", "criterion": "joint"},
    "joint-continuous": {"preset": "design", "criterion": "joint", "thresholds": "continuous"},
    "joint-both-directions": {"preset": "design", "criterion": "joint", "directions": "fit+current"},
    "joint-bounded": {"preset": "design", "criterion": "joint", "bounded_moves": 4},
    "default": {},
}


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("case", list(LOCKSTEP_CASES))
def test_the_fast_sweep_makes_the_reference_decisions(monkeypatch, d, case):
    """Before every neuron update (and pair-move scan) the reference computes the update from the
    trainer's own state: same proposal kept or not, same loss up to round-off; with dead and
    duplicated neurons; data sets large enough for the pruned search (m >= 4 * 16)."""
    net, X, y = problem(d=d, m={1: 90, 2: 120, 3: 150}[d], n=7, seed=d, scale=0.5)
    net = with_dead_and_duplicate(net, X)
    lock = Lockstep(monkeypatch)
    res = train_anls(net, X, y, sweeps=5, **LOCKSTEP_CASES[case])
    lock.check(float(y @ y) / (2 * X.shape[0]))
    assert_monotone(res, X, y)


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("case", ["design-bounded", "default"])
def test_small_problems_take_the_straightforward_path_in_lockstep(monkeypatch, d, case):
    """Below ``SMALL_WORK`` the trainer itself computes updates the straightforward way."""
    net, X, y = problem(d=d, m=60, n=6, seed=d, scale=0.5)
    assert X.shape[0] * net.n**2 < anls.SMALL_WORK
    net = with_dead_and_duplicate(net, X)
    monkeypatch.setattr(_anls_linalg, "FeatureBasis", None)  # never built
    lock = Lockstep(monkeypatch, straightforward=True)
    res = train_anls(net, X, y, sweeps=5, **LOCKSTEP_CASES[case])
    lock.check(float(y @ y) / (2 * X.shape[0]))
    assert_monotone(res, X, y)


def test_the_pruned_search_and_the_exact_fallback_are_used(monkeypatch):
    """Near-dependent features (a neuron and a copy nudged by 1e-11) make rank decisions unclear:
    the trainer then computes those updates the straightforward way, still in lockstep with the
    reference; elsewhere it prunes. The least-squares problems have condition numbers near 1e11, so
    both computations of a loss are only accurate to about 1e-5 here (eps times the condition)."""
    net, X, y = problem(d=2, m=120, n=6, seed=3, scale=0.5)
    c, W, b = net.c.copy(), net.W.copy(), net.b.copy()
    W[4], b[4], c[4] = W[3] * (1 + 1e-11), b[3], c[3]
    calls = {"pruned": 0, "exact": 0}
    for name, key in (("_search_pruned", "pruned"), ("_visit_exact", "exact")):
        original = getattr(anls_neuron, name)

        def counted(*args, _original=original, _key=key, **kwargs):
            calls[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(anls_neuron, name, counted)
    lock = Lockstep(monkeypatch)
    res = train_anls(ShallowReLU(c, W, b), X, y, sweeps=3, preset="design", criterion="joint")
    lock.check(float(y @ y) / (2 * X.shape[0]), rtol=1e-3)
    assert calls["pruned"] > 0 and calls["exact"] > 0, calls
    assert_monotone(res, X, y)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("case", ["design", "design-solve-pairs"])
def test_in_1d_the_whole_run_is_the_references(case, fast, monkeypatch):
    """In 1-D the pattern of a neuron does not depend on round-off (a point at the threshold has
    pre-activation exactly 0), so whole runs agree: every update row, every pair move, every loss.

    Only with the single-neuron gain: the joint gain has exact ties whenever the other features span
    the affine functions (then relu(x - tau) and relu(tau - x) differ by an element of the span and
    score the same), which round-off breaks either way; both choices give the same loss, and the
    lockstep test above checks the joint criterion update by update.
    """
    exp = get_experiment("multi_plateau_1d")
    X, y = exp.data()
    net = with_dead_and_duplicate(exp.initial_network(7), X)
    options = {"design": {"preset": "design"},
               "design-solve-pairs": {"preset": "design", "pattern_solve": True, "pair_moves": 5}}[case]
    if fast:
        monkeypatch.setattr(anls_neuron, "SMALL_WORK", 0)
    res = train_anls(net, X, y, sweeps=25, **options)
    resolved = preset_options(options.get("preset", "joint"), 1) | {k: v for k, v in options.items() if k != "preset"}
    rows, pairs, losses, theta = ref_train(
        net, X, y, sweeps=25, opts=options_of(criterion=resolved["criterion"], thresholds=resolved["thresholds"]),
        pattern_solve=resolved["pattern_solve"], pair_moves=resolved["pair_moves"])
    zero_loss = float(y @ y) / (2 * X.shape[0])
    ex = res.extra
    assert_array_equal(ex["update_sweep"], [row[0] for row in rows])
    assert_array_equal(ex["update_neuron"], [row[1] for row in rows])
    assert_array_equal(ex["update_accepted"], [row[2] for row in rows])
    for got, ref in zip(ex["update_loss"], [row[3] for row in rows], strict=True):
        assert close(got, ref, zero_loss), (got, ref)
    assert_array_equal(ex["pair_moves"][:, :3], np.array(pairs, dtype=float).reshape(-1, 4)[:, :3])
    full = np.full(res.nit + 1, res.final_loss)
    full[res.steps] = res.loss
    assert len(losses) == res.nit + 1
    assert all(close(a, b, zero_loss) for a, b in zip(full, losses, strict=True))
    assert_monotone(res, X, y)


# ----------------------------------------------------------------------------- the trainer


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    m=st.integers(5, 30),
    n=st.integers(1, 6),
    d=st.integers(1, 3),
    scale=st.sampled_from([1e-3, 0.3, 2.0]),
    variant=st.sampled_from(list(VARIANTS)),
    fast=st.booleans(),
)
def test_loss_is_monotone_on_random_problems(seed, m, n, d, scale, variant, fast):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (m, d))
    y = rng.standard_normal(m)
    net = init_network(n, d, scale=scale, rng=rng)
    with pytest.MonkeyPatch.context() as patch:
        if fast:
            patch.setattr(anls, "SMALL_WORK", 0)
        res = run(net, X, y, variant, seed=seed, sweeps=4)
    assert_monotone(res, X, y)
    assert_contract(res, net, X, y)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("variant", ["design", "continuous-joint-solve", "default"])
def test_anls_fits_in_several_dimensions(d, variant):
    net, X, y = problem(d=d, m={1: 41, 2: 60, 3: 80}[d], n=8)
    res = run(net, X, y, variant, sweeps=10)
    assert res.completed, res.message
    assert res.final_loss < 0.2 * res.loss[0], (res.loss[0], res.final_loss)
    assert_contract(res, net, X, y)


def test_balanced_scaling_after_updates():
    net, X, y = problem(n=5)
    res = run(net, X, y, "design")
    c, v = res.net.c, res.net.v
    on = c != 0
    assert on.any()
    assert_allclose(np.abs(c[on]), np.linalg.norm(v[on], axis=1), rtol=1e-12)


def test_pattern_changes_are_sweeps_whose_pattern_differs():
    net, X, y = problem(n=6)
    res = run(net, X, y, "joint", sweeps=6)
    patterns = [activation_pattern(res.net_at(i), X) for i in range(len(res.steps))]
    changed = [res.steps[i] for i in range(1, len(patterns)) if not np.array_equal(patterns[i], patterns[i - 1])]
    assert_array_equal(res.pattern_changes, changed)
    assert len(changed) > 0
    upd = res.extra
    rows = len(upd["update_sweep"])
    assert all(len(upd[key]) == rows for key in ("update_neuron", "update_accepted", "update_pattern_changed",
                                                  "update_loss"))
    assert set(upd["update_sweep"]) <= set(range(1, res.nit + 1))
    # a sweep whose pattern changed had a kept update that changed a neuron's column
    for s in res.pattern_changes:
        assert np.any(upd["update_pattern_changed"][upd["update_sweep"] == s])


def test_record_every_thins_the_history_but_keeps_every_change():
    net, X, y = problem(n=6)
    full = run(net, X, y, "polish", sweeps=9)
    thin = run(net, X, y, "polish", sweeps=9, record_every=4)
    assert_array_equal(thin.pattern_changes, full.pattern_changes)
    expected = np.union1d(np.union1d(full.steps[full.steps % 4 == 0], full.pattern_changes), [0, full.steps[-1]])
    assert_array_equal(thin.steps, expected)
    assert_array_equal(thin.loss, full.loss[np.searchsorted(full.steps, thin.steps)])


@pytest.mark.parametrize("variant", ["joint", "default"])
def test_fixed_point_stops_the_run(variant):
    net, X, y = problem(n=4)
    res = run(net, X, y, variant, sweeps=200)
    assert res.nit < 200 and "converged" in res.message
    again = run(res.net, X, y, variant, sweeps=3)
    assert again.nit == 1 and again.final_loss == res.final_loss  # a fixed point stays put


def test_bounded_moves_limit_the_change_of_the_active_count():
    X = np.linspace(-1, 1, 41)[:, None]
    y = np.maximum(X[:, 0] - 0.6, 0.0) * 3
    net = ShallowReLU([0.5], [[1.0]], [0.8])  # breakpoint at -0.8, target's at 0.6
    res = train_anls(net, X, y, sweeps=30, preset="design", bounded_moves=3)
    counts = res.counts[:, 0]
    assert np.all(np.abs(np.diff(counts)) <= 3 * np.diff(res.steps))
    assert counts[-1] < counts[0] - 10  # it did travel, 3 points at a time
    for preset in ("design", "joint"):
        free = train_anls(net, X, y, sweeps=1, preset=preset)
        assert free.final_loss < 1e-20  # the global search jumps there in one step


def test_deterministic_and_input_not_modified():
    net, X, y = problem(n=5)
    before = [net.c.copy(), net.W.copy(), net.b.copy(), X.copy(), y.copy()]
    r1 = run(net, X, y, "random-order", seed=3)
    r2 = run(net, X, y, "random-order", seed=3)
    same_run(r1, r2)
    for a, b in zip(before, [net.c, net.W, net.b, X, y], strict=True):
        assert_array_equal(a, b)


def test_counts_are_documented_ones():
    """nfev: the start, one per proposal, the evaluation closing each sweep that kept an update, the
    pattern-solve trials; njev: one per proposal plus the direction fits (d > 1) and pattern solves."""
    net, X, y = problem(d=1, n=5)
    res = train_anls(net, X, y, sweeps=4, preset="design")
    proposals = len(res.extra["update_loss"])
    kept_sweeps = len(set(res.extra["update_sweep"][res.extra["update_accepted"]]))
    assert res.nfev == 1 + proposals + kept_sweeps
    assert res.njev == proposals


def test_ctrl_c_returns_partial_result(monkeypatch):
    net, X, y = problem(n=6)
    calls = {"n": 0}
    original = anls._visit

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(anls, "_visit", interrupting)
    res = run(net, X, y, "design", sweeps=20)
    assert res.status == "interrupted" and "interrupted" in res.message
    assert_array_equal(res.params[-1], res.net.to_vector())
    assert res.final_loss <= res.loss[0]
    monkeypatch.undo()
    assert_allclose(res.final_loss, loss(res.net, X, y), rtol=1e-12)


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def no_work(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the inputs were validated")

    monkeypatch.setattr(anls, "evaluate", forbidden)
    monkeypatch.setattr(anls_threshold, "_threshold_gains", forbidden)
    monkeypatch.setattr(anls, "_visit", forbidden)


@pytest.mark.parametrize(
    ("changes", "exc", "match"),
    [
        ({"preset": "fast"}, ValueError, "preset must be one of 'joint', 'design', got 'fast'"),
        ({"preset": None}, ValueError, "preset must be one of 'joint', 'design'"),
        ({"sweeps": 0}, ValueError, "sweeps"),
        ({"sweeps": 2.5}, TypeError, "sweeps"),
        ({"bounded_moves": 0}, ValueError, "bounded_moves"),
        ({"bounded_moves": "3"}, TypeError, "bounded_moves"),
        ({"polish_steps": -1}, ValueError, "polish_steps"),
        ({"polish_lr": 0.0}, ValueError, "polish_lr"),
        ({"polish_lr": float("nan")}, ValueError, "polish_lr"),
        ({"order": "backwards"}, ValueError, "order"),
        ({"order": "random"}, TypeError, "rng"),
        ({"order": "random", "rng": 3}, TypeError, "rng"),
        ({"thresholds": "grid"}, ValueError, "thresholds"),
        ({"criterion": "both"}, ValueError, "criterion"),
        ({"directions": "random"}, ValueError, "directions"),
        ({"record_every": 0}, ValueError, "record_every"),
        ({"pair_moves": -1}, ValueError, "pair_moves"),
        ({"pattern_steps": 0}, ValueError, "pattern_steps"),
        ({"pattern_steps": 0, "pattern_solve": False}, ValueError, "pattern_steps"),
        ({"pattern_steps": 1.5}, TypeError, "pattern_steps"),
        ({"pair_moves": 2, "bounded_moves": 3}, ValueError, "bounded_moves"),
        ({"ftol": -0.1}, ValueError, "ftol"),
        ({"ftol": 1.0}, ValueError, "ftol must be below 1"),
        ({"ftol": float("nan")}, ValueError, "ftol"),
        ({"ftol": "0.1"}, TypeError, "ftol"),
        ({"X": np.zeros((31, 2))}, ValueError, "X must have d = 1 columns"),
        ({"X": np.zeros(31)}, ValueError, "X must be a 2-D array"),
        ({"y": np.zeros(30)}, ValueError, "X and y must have the same number of rows"),
        ({"y": np.full(31, np.inf)}, ValueError, "y must be finite"),
        ({"net": "net"}, TypeError, "net must be a ShallowReLU"),
    ],
)
def test_bad_input_rejected_naming_the_argument(changes, exc, match, no_work):
    net, X, y = problem()
    args = {"net": net, "X": X, "y": y, "sweeps": 3} | changes
    with pytest.raises(exc, match=match):
        train_anls(args.pop("net"), args.pop("X"), args.pop("y"), **args)


# ----------------------------------------------------------------------------- the plateau experiment


@pytest.fixture(scope="module")
def plateau_gd():
    """GD on the 1-D plateau experiment (2e4 steps of size 0.1 from N(0, 1e-3^2))."""
    exp = get_experiment("plateau_1d")
    X, y = exp.data()
    net = exp.initial_network()
    return exp, net, X, y, train_gd(net, X, y, lr=0.1, steps=20_000, record_every=1000)


JOINT_SOLVE = {"criterion": "joint", "thresholds": "continuous", "pattern_solve": True}


def test_anls_from_the_same_init_goes_far_below_gd(plateau_gd):
    exp, net, X, y, gd = plateau_gd
    design = train_anls(net, X, y, sweeps=10, preset="design")
    joint = train_anls(net, X, y, sweeps=10, preset="design", **JOINT_SOLVE)
    default = train_anls(net, X, y, sweeps=10)
    print(f"GD 2e4 steps: {gd.final_loss:.3g}; ANLS (design) {design.final_loss:.3g} after {design.nit} sweeps; "
          f"ANLS (joint) {joint.final_loss:.3g} after {joint.nit} sweeps; default {default.final_loss:.3g}")
    assert design.final_loss < gd.final_loss
    assert joint.final_loss < 0.05 * gd.final_loss
    assert default.final_loss <= joint.final_loss * (1 + 1e-9)


def test_anls_from_gds_final_network_lowers_the_loss(plateau_gd):
    exp, net, X, y, gd = plateau_gd
    for options in ({"preset": "design"}, {"preset": "design"} | JOINT_SOLVE, {}):
        res = train_anls(gd.net, X, y, sweeps=5, **options)
        print(f"ANLS {options} from GD's final network: {gd.final_loss:.3g} -> {res.final_loss:.3g}")
        assert res.final_loss < 0.5 * gd.final_loss


def test_pair_moves_leave_a_fixed_point_and_keep_the_loss_monotone():
    """Pair moves start only at a fixed point of the plain update, and only lower the loss.

    Which fixed point a run reaches, and whether a pair move improves on it, depends on roundoff
    (the OpenBLAS kernel): of seeds 1-6, runs 1 and 6 find a move with one kernel, 2 and 5 with
    another, 5 and 6 with a third. So the improvement is asserted over the seeds, each run's
    bookkeeping on every seed.
    """
    exp = get_experiment("multi_plateau_1d")
    X, y = exp.data()
    n_moves = 0
    for seed in range(1, 7):
        plain = train_anls(exp.initial_network(seed), X, y, sweeps=60, preset="design", **JOINT_SOLVE)
        paired = train_anls(exp.initial_network(seed), X, y, sweeps=60, preset="design", pair_moves=5, **JOINT_SOLVE)
        moves = paired.extra["pair_moves"]
        print(f"seed {seed}: without pair moves {plain.final_loss:.3g}, with {paired.final_loss:.3g} "
              f"({len(moves)} pair moves)")
        assert np.all(np.diff(paired.loss) <= 0)
        assert np.all(np.diff(moves[:, 3]) < 0)
        if "converged" in plain.message:  # the same sweeps up to the fixed point, then moves
            assert paired.final_loss <= plain.final_loss
            assert (paired.final_loss < plain.final_loss) == (len(moves) > 0)
        else:
            assert len(moves) == 0
        n_moves += len(moves)
    assert n_moves >= 1
    with pytest.raises(ValueError, match="bounded_moves"):
        train_anls(exp.initial_network(4), X, y, sweeps=2, pair_moves=1, bounded_moves=2)


def test_pair_order_alternates_duplicates_and_cheap_removals():
    x = np.linspace(-1, 1, 30)
    A = np.maximum(np.column_stack([x - 0.5, x - 0.49, -x, x + 0.9, 0 * x]), 0.0)
    y = A[:, 2] + A[:, 3]
    pairs = anls.pair_order(A, y, 100)
    assert len(pairs) == len(set(pairs)) == 10
    assert pairs[0] == (0, 1)  # nearly the same feature
    assert pairs[1][1] == 4 or pairs[1] == (0, 1)  # the dead feature and a useless one cost nothing to remove
    assert anls.pair_order(A, y, 3) == pairs[:3]


def test_exact_fit_stops_the_run():
    X = np.linspace(-1, 1, 21)[:, None]
    y = 2 * np.maximum(X[:, 0] - 0.3, 0) + np.maximum(-X[:, 0] - 0.5, 0)
    for options in ({"preset": "design", "criterion": "joint", "thresholds": "continuous"}, {}):
        res = train_anls(init_network(3, 1, scale=1e-3, rng=np.random.default_rng(0)), X, y, sweeps=50, **options)
        assert res.final_loss <= anls.EXACT_RTOL * (y @ y) / 42
        assert "round-off" in res.message and res.nit < 50


def test_module_namespace():
    assert isinstance(PRESETS, types.MappingProxyType)
    defaults = inspect.signature(anls.train_anls).parameters
    assert defaults["preset"].default == "joint"
    assert defaults["sweeps"].default == 50


def test_a_sweep_cut_by_the_time_limit_keeps_its_kept_updates(monkeypatch):
    """The limit is checked before each neuron: a cut sweep keeps the updates made so far (if they
    lowered the loss), counts as one sweep and reports the limit."""
    from plateau_lib.recording import Recorder

    net, X, y = problem(scale=1.0)
    checks = {"n": 0}

    def out_of_time(self) -> bool:
        checks["n"] += 1
        return checks["n"] > 3  # the first three neurons of sweep 1 are visited

    monkeypatch.setattr(Recorder, "out_of_time", out_of_time)
    cut = train_anls(net, X, y, sweeps=5, preset="design", time_limit=60.0)
    assert cut.status == "budget" and cut.nit == 1 and "time_limit=60 s in sweep 1" in cut.message
    assert set(cut.extra["update_neuron"]) <= {0, 1, 2}
    assert cut.extra["update_accepted"].any() and cut.final_loss < cut.loss[0]
    assert cut.final_loss == pytest.approx(loss(cut.net, X, y), rel=1e-12)


def test_the_clock_ends_a_scan_of_pair_moves(monkeypatch):
    """The limit is also checked before each pair of a scan: a scan cut by it ends the run with
    ``status="budget"`` (no fixed point is known), after at most the pairs tried before the limit."""
    from plateau_lib.recording import Recorder

    exp = get_experiment("plateau_1d")
    X, y = exp.data()
    net = exp.initial_network(0)
    free = train_anls(net, X, y)
    assert free.status == "converged" and len(free.extra["pair_moves"]) == 0  # a full scan found no pair
    scanning, tried = {"on": False, "asked": 0}, []
    honest_scan, honest_reinsert = anls._pair_move, anls_moves._reinsert

    def scan(state, ev, out_of_time=None):
        scanning["on"] = True
        return honest_scan(state, ev, out_of_time=out_of_time)

    def out_of_time(self) -> bool:
        if scanning["on"]:
            scanning["asked"] += 1
        return scanning["asked"] > 2  # two pairs are tried, then the clock has run out

    def reinsert(trial, q):
        tried.append(q)
        return honest_reinsert(trial, q)

    monkeypatch.setattr(anls, "_pair_move", scan)
    monkeypatch.setattr(anls_moves, "_reinsert", reinsert)
    monkeypatch.setattr(Recorder, "out_of_time", out_of_time)
    cut = train_anls(net, X, y, time_limit=60.0)
    assert cut.status == "budget" and "in the scan of pair moves after sweep" in cut.message, cut.message
    assert 0 < len(tried) <= 4  # at most two re-insertions per pair
    assert_array_equal(cut.loss, free.loss)


@pytest.mark.parametrize("d", [1, 2])
def test_one_neuron_finds_a_single_ramp_in_one_sweep(d):
    r"""A width-1 network: the joint search has no other feature (an empty basis). The target
    :math:`2\,\mathrm{relu}(u\cdot x - 0.1)`, :math:`|u| = 1`, is one neuron: the first sweep finds its
    direction, breakpoint and scale to round-off."""
    rng = np.random.default_rng(0)
    u = np.array([1.0]) if d == 1 else np.array([0.6, 0.8])
    X = np.linspace(-1, 1, 41)[:, None] if d == 1 else rng.uniform(-1, 1, (60, 2))
    y = 2 * np.maximum(X @ u - 0.1, 0.0)
    res = train_anls(init_network(1, d, scale=1e-3, rng=rng), X, y, sweeps=5)
    assert "round-off" in res.message and res.nit == 1
    scale = np.linalg.norm(res.net.W[0])
    assert_allclose(res.net.W[0] / scale, u, atol=1e-12)
    assert_allclose(-res.net.b[0] / scale, 0.1, atol=1e-12)
    assert_allclose(res.net.c[0] * scale, 2.0, rtol=1e-12)


def test_a_sweep_whose_evaluated_loss_does_not_drop_is_undone(monkeypatch):
    """The kept updates lower the loss as the sweep computes it; if the evaluation after balancing
    disagrees (round-off, next to an exact fit), the whole sweep is undone: the network is restored,
    its updates are marked not kept and the recorded loss does not rise. Injected here: balancing
    that triples the output weights."""
    exp = get_experiment("plateau_1d")
    X, y = exp.data()
    net = exp.initial_network(0)
    honest = train_anls(net, X, y, sweeps=1, preset="design")
    assert honest.extra["update_accepted"].any() and honest.final_loss < honest.loss[0]
    closed = []

    def spoiling_balance(c, W, b):
        closed.append(True)
        c *= 3.0

    monkeypatch.setattr(anls, "balance_neurons", spoiling_balance)
    res = train_anls(net, X, y, sweeps=3, preset="design")
    assert closed == [True]
    assert_array_equal(res.net.to_vector(), net.to_vector())
    assert len(res.extra["update_accepted"]) == net.n and not res.extra["update_accepted"].any()
    assert_array_equal(res.loss, res.loss[0])
    assert res.message.startswith("converged: sweep 1 changed nothing")


def _first_stall(losses, ftol: float) -> int | None:
    """The first sweep k at which the last FTOL_SWEEPS sweeps lowered the loss by at most ftol (relative)."""
    w = anls.FTOL_SWEEPS
    return next((k for k in range(w, len(losses)) if losses[k - w] - losses[k] <= ftol * losses[k - w]), None)


def test_a_crawling_run_stops_where_ftol_says():
    """``ftol`` ends the run at the first sweep where the last five sweeps together lowered the loss by at
    most ``ftol`` relative, and changes nothing before it: the run is the prefix of the run without the
    rule. On the 2-D plateau problem the loss crawls after a few tens of sweeps."""
    exp = get_experiment("plateau_2d")
    X, y = exp.data()
    net = exp.initial_network(0)
    free = train_anls(net, X, y, sweeps=60, pair_moves=0, ftol=0.0)
    assert free.status == "budget" and len(free.loss) == 61  # the rule off: the run uses its sweeps
    ftol = 1e-2
    k = _first_stall(free.loss, ftol)
    assert k is not None and anls.FTOL_SWEEPS < k < 60
    res = train_anls(net, X, y, sweeps=60, pair_moves=0, ftol=ftol)
    assert res.status == "converged"
    assert res.message.startswith(f"converged: sweeps {k - 4}-{k} lowered the loss by less than ftol=0.01")
    assert_array_equal(res.loss, free.loss[: k + 1])
    assert_array_equal(res.net.to_vector(), train_anls(net, X, y, sweeps=k, pair_moves=0, ftol=0.0).net.to_vector())


def test_a_stalled_run_tries_a_pair_move_before_it_stops(monkeypatch):
    """A stall counts as a fixed point for the pair moves: where one is left, it is tried first, and the
    run goes on if it helps (on this start the first pair move is kept at the first stall)."""
    exp = get_experiment("plateau_2d")
    X, y = exp.data()
    net = exp.initial_network(1)
    free = train_anls(net, X, y, sweeps=60, pair_moves=0, ftol=0.0)
    k = _first_stall(free.loss, 1e-2)
    tried = []
    honest = anls._pair_move

    def failing_pair_move(state, ev, out_of_time=None):
        tried.append(len(tried))
        return ev, None

    monkeypatch.setattr(anls, "_pair_move", failing_pair_move)
    res = train_anls(net, X, y, sweeps=60, pair_moves=3, ftol=1e-2)
    assert tried == [0] and len(res.loss) == k + 1 and res.message.endswith("did not help")
    monkeypatch.setattr(anls, "_pair_move", honest)
    moved = train_anls(net, X, y, sweeps=60, pair_moves=3, ftol=1e-2)
    assert len(moved.extra["pair_moves"]) >= 1 and moved.extra["pair_moves"][0, 0] == k
    assert len(moved.loss) > k + 1 and moved.final_loss < res.final_loss


def test_the_1d_forms_are_carried_over_kept_updates(monkeypatch):
    """In 1-D with continuous thresholds the forms of the basis follow each kept update by
    update_full_forms instead of being recomputed: after every carried update they equal the
    forms computed from scratch, and the sort of the projections is done once per state."""
    net, X, y = problem(d=1, m=400, n=12, seed=5, scale=0.5)
    monkeypatch.setattr(anls_neuron, "SMALL_WORK", 0)
    carried, sorts = [], []
    basis_changed, ordering = anls_neuron._State.basis_changed, anls_neuron._ordering

    def checked(state, change, before):
        basis_changed(state, change, before)
        cache = state._forms_cache
        if cache is not None and cache[0] == state.version and state.basis is not None:
            forms, search = cache[1], cache[2]
            F_pre, F_suf = _anls_linalg.full_forms(state.basis.Q, search.order, search.pc)
            scale = float(np.abs(F_pre).max())
            carried.append(max(np.abs(forms.F_pre - F_pre.T).max(), np.abs(forms.F_suf - F_suf.T).max()) / scale)

    def counted(p):
        sorts.append(p.shape)
        return ordering(p)

    monkeypatch.setattr(anls_neuron._State, "basis_changed", checked)
    monkeypatch.setattr(anls_neuron, "_ordering", counted)
    res = train_anls(net, X, y, sweeps=3, pair_moves=0)
    assert len(carried) >= 10 and max(carried) < 1e-12, (len(carried), max(carried, default=None))
    assert len(sorts) == 1, len(sorts)  # one state, one sort (pair moves off)
    assert_monotone(res, X, y)
