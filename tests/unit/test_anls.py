"""ANLS: the vectorised threshold search against brute force, monotone loss, the trainer contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.experiments import get_experiment
from plateau_lib.network import ShallowReLU, activation_counts, activation_pattern, init_network, loss
from plateau_lib.result import TrainResult
from plateau_lib.trainers import anls
from plateau_lib.trainers.anls import threshold_gains, train_anls
from plateau_lib.trainers.first_order import train_gd

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
    grid_best = max(brute_gain(p, t, tau, s, B) for tau in np.concatenate([taus, p]) for s in (1, -1))
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


# ----------------------------------------------------------------------------- the trainer

VARIANTS = {
    "design": {},
    "joint": {"criterion": "joint"},
    "continuous-joint-solve": {"criterion": "joint", "thresholds": "continuous", "pattern_solve": True},
    "bounded": {"bounded_moves": 2},
    "polish": {"polish_steps": 5, "polish_lr": 0.05},
    "random-order": {"order": "random", "rng": "seeded"},
    "largest-residual": {"order": "largest_residual", "directions": "fit+current"},
    "pairs": {"criterion": "joint", "pair_moves": 3, "pattern_solve": True},
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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    m=st.integers(5, 30),
    n=st.integers(1, 6),
    d=st.integers(1, 3),
    scale=st.sampled_from([1e-3, 0.3, 2.0]),
    variant=st.sampled_from(list(VARIANTS)),
)
def test_loss_is_monotone_on_random_problems(seed, m, n, d, scale, variant):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (m, d))
    y = rng.standard_normal(m)
    net = init_network(n, d, scale=scale, rng=rng)
    res = run(net, X, y, variant, seed=seed, sweeps=4)
    assert np.all(np.diff(res.loss) <= 0), res.loss
    kept = res.extra["update_loss"][res.extra["update_accepted"]]
    assert np.all(np.diff(kept) < 0)  # every kept update lowered the loss
    assert kept.size == 0 or kept[0] < res.loss[0]
    assert_contract(res, net, X, y)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("variant", ["design", "continuous-joint-solve"])
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


def test_fixed_point_stops_the_run():
    net, X, y = problem(n=4)
    res = run(net, X, y, "joint", sweeps=200)
    assert res.nit < 200 and "converged" in res.message
    again = train_anls(res.net, X, y, sweeps=3, criterion="joint")
    assert again.nit == 1 and again.final_loss == res.final_loss  # a fixed point stays put


def test_bounded_moves_limit_the_change_of_the_active_count():
    X = np.linspace(-1, 1, 41)[:, None]
    y = np.maximum(X[:, 0] - 0.6, 0.0) * 3
    net = ShallowReLU([0.5], [[1.0]], [0.8])  # breakpoint at -0.8, target's at 0.6
    res = train_anls(net, X, y, sweeps=30, bounded_moves=3)
    counts = res.counts[:, 0]
    assert np.all(np.abs(np.diff(counts)) <= 3 * np.diff(res.steps))
    assert counts[-1] < counts[0] - 10  # it did travel, 3 points at a time
    free = train_anls(net, X, y, sweeps=1)
    assert free.final_loss < 1e-20  # the global search jumps there in one step


def test_deterministic_and_input_not_modified():
    net, X, y = problem(n=5)
    before = [net.c.copy(), net.W.copy(), net.b.copy(), X.copy(), y.copy()]
    r1 = run(net, X, y, "random-order", seed=3)
    r2 = run(net, X, y, "random-order", seed=3)
    for attr in ("steps", "loss", "params", "pattern_changes", "flips"):
        assert_array_equal(getattr(r1, attr), getattr(r2, attr))
    for key in r1.extra:
        assert_array_equal(r1.extra[key], r2.extra[key])
    for a, b in zip(before, [net.c, net.W, net.b, X, y], strict=True):
        assert_array_equal(a, b)


def test_ctrl_c_returns_partial_result(monkeypatch):
    net, X, y = problem(n=6)
    calls = {"n": 0}
    original = anls.evaluate

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(anls, "evaluate", interrupting)
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
    monkeypatch.setattr(anls, "_threshold_gains", forbidden)


@pytest.mark.parametrize(
    ("changes", "exc", "match"),
    [
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


def test_anls_from_the_same_init_goes_far_below_gd(plateau_gd):
    exp, net, X, y, gd = plateau_gd
    design = train_anls(net, X, y, sweeps=10)
    joint = train_anls(net, X, y, sweeps=10, criterion="joint", thresholds="continuous", pattern_solve=True)
    print(f"GD 2e4 steps: {gd.final_loss:.3g}; ANLS (design) {design.final_loss:.3g} after {design.nit} sweeps; "
          f"ANLS (joint) {joint.final_loss:.3g} after {joint.nit} sweeps")
    assert design.final_loss < gd.final_loss
    assert joint.final_loss < 0.05 * gd.final_loss


def test_anls_from_gds_final_network_lowers_the_loss(plateau_gd):
    exp, net, X, y, gd = plateau_gd
    for options in ({}, {"criterion": "joint", "thresholds": "continuous", "pattern_solve": True}):
        res = train_anls(gd.net, X, y, sweeps=5, **options)
        print(f"ANLS {options} from GD's final network: {gd.final_loss:.3g} -> {res.final_loss:.3g}")
        assert res.final_loss < 0.5 * gd.final_loss


def test_pair_moves_leave_a_fixed_point_and_keep_the_loss_monotone():
    exp = get_experiment("multi_plateau_1d")
    X, y = exp.data()
    options = {"criterion": "joint", "thresholds": "continuous", "pattern_solve": True}
    plain = train_anls(exp.initial_network(7), X, y, sweeps=60, **options)
    paired = train_anls(exp.initial_network(7), X, y, sweeps=60, pair_moves=5, **options)
    assert "converged" in plain.message
    moves = paired.extra["pair_moves"]
    print(f"without pair moves {plain.final_loss:.3g}, with {paired.final_loss:.3g} ({len(moves)} pair moves)")
    assert len(moves) >= 1 and paired.final_loss < plain.final_loss
    assert np.all(np.diff(paired.loss) <= 0)
    assert np.all(np.diff(moves[:, 3]) < 0)
    with pytest.raises(ValueError, match="bounded_moves"):
        train_anls(exp.initial_network(4), X, y, sweeps=2, pair_moves=1, bounded_moves=2)


def test_exact_fit_stops_the_run():
    X = np.linspace(-1, 1, 21)[:, None]
    y = 2 * np.maximum(X[:, 0] - 0.3, 0) + np.maximum(-X[:, 0] - 0.5, 0)
    res = train_anls(init_network(3, 1, scale=1e-3, rng=np.random.default_rng(0)), X, y, sweeps=50,
                     criterion="joint", thresholds="continuous")
    assert res.final_loss <= anls.EXACT_RTOL * (y @ y) / 42
    assert "round-off" in res.message and res.nit < 50
