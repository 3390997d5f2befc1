"""The orthogonal greedy algorithm: exact on sums of few ReLUs it can identify, greedy choice
against brute force, orthogonality of the residual, the trainer contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.network import activation_counts, loss
from plateau_lib.trainers import greedy
from plateau_lib.trainers.greedy import train_oga


def relu(z):
    return np.maximum(z, 0.0)


def grid_1d(m=41):
    return np.linspace(-1, 1, m)[:, None]


def brute_best(X, r, directions):
    """max over the dictionary of <g, r>^2, g = phi/|phi|, thresholds at the data."""
    best = 0.0
    for w in directions:
        p = X @ w
        for tau in np.unique(p):
            for s in (1, -1):
                phi = relu(s * (p - tau))
                if phi @ phi > 0:
                    best = max(best, (phi @ r) ** 2 / (phi @ phi))
    return best


def test_one_relu_is_found_in_one_step_1d():
    X = grid_1d()
    y = 1.3 * relu(-(X[:, 0] - 0.25))  # orientation -1, breakpoint at a data point
    res = train_oga(X, y, width=3)
    assert res.loss[1] < 1e-28 * res.loss[0]
    assert "stopped after 1 neuron(s)" in res.message
    assert_allclose(-res.net.b[0] / res.net.W[0, 0], 0.25, rtol=1e-12)


def test_one_relu_is_found_in_one_step_2d():
    rng_data = np.random.default_rng(1)
    X = rng_data.uniform(-1, 1, (120, 2))
    directions = np.random.default_rng(7).standard_normal((16, 2))
    w = directions[5] / np.linalg.norm(directions[5])
    y = 0.8 * relu(X @ w - (X @ w)[3])
    res = train_oga(X, y, width=4, rng=np.random.default_rng(7), n_directions=16)
    assert res.loss[1] < 1e-28 * res.loss[0]
    assert_allclose(res.extra["directions"][5], w)


def test_sum_of_relus_with_disjoint_supports_is_exact_in_as_many_steps():
    """Disjoint supports make the elements orthogonal: each greedy step picks one of them."""
    X = grid_1d()
    x = X[:, 0]
    y = 2.0 * relu(x - 0.5) - 1.5 * relu(-(x + 0.5)) + 0.0 * x
    res = train_oga(X, y, width=2)
    assert res.final_loss < 1e-28 * res.loss[0]
    breakpoints = np.sort(-res.net.b / res.net.W[:, 0])
    assert_allclose(breakpoints, [-0.5, 0.5], atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), m=st.integers(3, 15))
def test_any_data_are_fitted_within_m_steps(seed, m):
    """The dictionary spans R^m (relu(x - x_k) and relu(x_k - x) for the sorted data), and an
    orthogonal greedy step never repeats an element, so at most m steps fit the data exactly."""
    X = np.sort(np.random.default_rng(seed).uniform(-1, 1, m))[:, None]
    y = np.random.default_rng(seed + 1).standard_normal(m)
    res = train_oga(X, y, width=m)
    assert res.final_loss <= 1e-20 * max(res.loss[0], 1e-300) + 1e-28


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), d=st.integers(1, 3))
def test_greedy_choice_and_orthogonal_residual(seed, d):
    rng = np.random.default_rng(seed)
    m = 25
    X = rng.uniform(-1, 1, (m, d))
    y = np.sin(3 * X.sum(axis=1)) + rng.standard_normal(m) * 0.1
    res = train_oga(X, y, width=5, rng=np.random.default_rng(seed), n_directions=6)
    directions = res.extra["directions"]
    assert np.all(np.diff(res.loss) <= 1e-15 * res.loss[0])  # projection onto a growing span
    for k in range(1, len(res.steps)):
        prev, cur = res.net_at(k - 1), res.net_at(k)
        r_prev = y - prev(X)
        # the chosen element is the best of the whole dictionary for the previous residual
        v = cur.v[k - 1]
        phi = relu(X @ v[:d] + v[d])
        chosen = (phi @ r_prev) ** 2 / (phi @ phi)
        assert_allclose(chosen, brute_best(X, r_prev, directions), rtol=1e-9)
        # the new residual is orthogonal to every chosen neuron's activation
        A = relu(X @ cur.W[:k].T + cur.b[:k])
        r = y - cur(X)
        assert np.all(np.abs(A.T @ r) <= 1e-9 * (np.linalg.norm(A, axis=0) * np.linalg.norm(y) + 1e-300))


def test_contract():
    X = grid_1d(31)
    y = np.sin(np.pi * X[:, 0])
    res = train_oga(X, y, width=6)
    k = len(res.steps)
    assert res.method == "oga" and res.status == "budget"
    assert_array_equal(res.steps, np.arange(k))
    assert res.params.shape == (k, 6 * 3) and res.counts.shape == (k, 6)
    assert_array_equal(res.params[0], 0.0)
    assert_allclose(res.loss[0], y @ y / (2 * 31))
    for i in range(k):
        net_i = res.net_at(i)
        assert_allclose(res.loss[i], loss(net_i, X, y), rtol=1e-12)
        assert_array_equal(res.counts[i], activation_counts(net_i, X))
        assert np.all(net_i.c[i:] == 0) and np.all(net_i.W[i:] == 0) and np.all(net_i.b[i:] == 0)
    on = res.net.c != 0
    assert_allclose(np.abs(res.net.c[on]), np.linalg.norm(res.net.v[on], axis=1), rtol=1e-12)
    assert res.nfev == k and res.njev == k - 1 == res.nit
    again = train_oga(X, y, width=6, record_every=4)
    assert_array_equal(again.params[-1], res.params[-1])


def test_ctrl_c_returns_partial_result(monkeypatch):
    X = grid_1d(31)
    y = np.sin(np.pi * X[:, 0])
    calls = {"n": 0}
    original = greedy.evaluate

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(greedy, "evaluate", interrupting)
    res = train_oga(X, y, width=10)
    assert res.status == "interrupted" and "interrupted" in res.message
    assert_array_equal(res.params[-1], res.net.to_vector())
    assert res.final_loss <= res.loss[0]


@pytest.mark.parametrize(
    ("changes", "exc", "match"),
    [
        ({"width": 0}, ValueError, "width"),
        ({"width": 2.0}, TypeError, "width"),
        ({"n_directions": 0}, ValueError, "n_directions"),
        ({"record_every": -1}, ValueError, "record_every"),
        ({"rng": 5}, TypeError, "rng"),
        ({"X": np.zeros((31, 2))}, TypeError, "rng"),  # d > 1 needs a Generator
        ({"X": np.zeros(31)}, ValueError, "X must be a 2-D array"),
        ({"y": np.zeros(3)}, ValueError, "X and y must have the same number of rows"),
        ({"X": np.full((31, 1), np.nan)}, ValueError, "X must be finite"),
    ],
)
def test_bad_input_rejected_naming_the_argument(changes, exc, match, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the inputs were validated")

    monkeypatch.setattr(greedy, "evaluate", forbidden)
    args = {"X": grid_1d(31), "y": np.zeros(31), "width": 3} | changes
    with pytest.raises(exc, match=match):
        train_oga(args.pop("X"), args.pop("y"), **args)
