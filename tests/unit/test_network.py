"""Network evaluation, loss, gradient, Jacobian, patterns and initialisation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_problem
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib import (
    ShallowReLU,
    activation_counts,
    activation_pattern,
    breakpoints_1d,
    gradient,
    init_network,
    jacobian,
    loss,
)


def direct_output(net: ShallowReLU, x: np.ndarray) -> float:
    """N(x) by an explicit loop over neurons (independent of the vectorised code)."""
    total = 0.0
    for j in range(net.n):
        z = sum(net.W[j, k] * x[k] for k in range(net.d)) + net.b[j]
        total += net.c[j] * (z if z > 0 else 0.0)
    return total


def direct_gradient(net: ShallowReLU, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient by explicit loops, flattened like ShallowReLU.to_vector."""
    m, n, d = X.shape[0], net.n, net.d
    gc, gW, gb = np.zeros(n), np.zeros((n, d)), np.zeros(n)
    for i in range(m):
        r = direct_output(net, X[i]) - y[i]
        for j in range(n):
            z = X[i] @ net.W[j] + net.b[j]
            if z > 0:
                gc[j] += r * z / m
                gW[j] += r * net.c[j] * X[i] / m
                gb[j] += r * net.c[j] / m
    return np.concatenate([gc, gW.ravel(), gb])


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_central_differences(d, seed):
    net, X, y = make_problem(30, 6, d, seed)
    theta = net.to_vector()
    g = gradient(net, X, y).to_vector()
    h = 1e-6
    fd = np.empty_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = h
        plus = loss(ShallowReLU.from_vector(theta + e, net.n, d), X, y)
        minus = loss(ShallowReLU.from_vector(theta - e, net.n, d), X, y)
        fd[k] = (plus - minus) / (2 * h)
    # Central differences are O(h^2) ~ 1e-12 accurate away from kinks; no data point
    # lies within h of a breakpoint for these random draws (checked below).
    assert np.min(np.abs(net.preactivations(X))) > 1e-4
    assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_loss_and_gradient_match_direct_evaluation(d):
    net, X, y = make_problem(17, 5, d, seed=3)
    outputs = np.array([direct_output(net, x) for x in X])
    assert_allclose(net(X), outputs, rtol=1e-13, atol=1e-15)
    assert_allclose(loss(net, X, y), np.sum((outputs - y) ** 2) / (2 * len(y)), rtol=1e-13)
    assert_allclose(gradient(net, X, y).to_vector(), direct_gradient(net, X, y), rtol=1e-12, atol=1e-15)


def test_relu_derivative_at_zero_is_zero():
    # One point exactly on the breakpoint: it neither activates nor contributes.
    net = ShallowReLU([2.0], [[1.0]], [0.0])
    X, y = np.array([[0.0], [1.0]]), np.array([1.0, 0.0])
    assert_array_equal(activation_pattern(net, X)[:, 0], [False, True])
    g = gradient(net, X, y)
    assert_allclose(g.b, [2.0 * (2.0 - 0.0) / 2])  # only x=1 contributes: c r / m


def test_jacobian_matches_central_differences():
    net, X, _ = make_problem(12, 4, 2, seed=5)
    theta, h = net.to_vector(), 1e-6
    J = jacobian(net, X)
    fd = np.column_stack([
        (ShallowReLU.from_vector(theta + h * e, 4, 2)(X) - ShallowReLU.from_vector(theta - h * e, 4, 2)(X)) / (2 * h)
        for e in np.eye(theta.size)
    ])
    assert_allclose(J, fd, rtol=1e-6, atol=1e-9)


def test_pattern_and_counts():
    net = ShallowReLU([1.0, -1.0], [[1.0], [-1.0]], [0.0, 0.5])
    X = np.array([[-1.0], [0.0], [0.5], [1.0]])
    D = activation_pattern(net, X)
    assert_array_equal(D, [[False, True], [False, True], [True, False], [True, False]])
    assert_array_equal(activation_counts(net, X), [2, 2])
    assert_allclose(breakpoints_1d(net), [0.0, 0.5])


widths = st.integers(1, 6)
dims = st.integers(1, 3)


@settings(max_examples=40, deadline=None)
@given(n=widths, d=dims, m=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_shapes(n, d, m, seed):
    rng = np.random.default_rng(seed)
    net = init_network(n, d, scale=1.0, rng=rng)
    X, y = rng.standard_normal((m, d)), rng.standard_normal(m)
    assert net(X).shape == (m,)
    assert activation_pattern(net, X).shape == (m, n)
    g = gradient(net, X, y)
    assert (g.c.shape, g.W.shape, g.b.shape) == ((n,), (n, d), (n,))
    assert jacobian(net, X).shape == (m, n * (d + 2))
    assert_array_equal(ShallowReLU.from_vector(net.to_vector(), n, d).to_vector(), net.to_vector())


@settings(max_examples=40, deadline=None)
@given(n=widths, d=dims, seed=st.integers(0, 2**32 - 1), logk=st.floats(-3, 3))
def test_rescaling_invariance(n, d, seed, logk):
    """c_j -> k c_j, v_j -> v_j / k (k > 0) leaves outputs and pattern unchanged."""
    rng = np.random.default_rng(seed)
    net = init_network(n, d, scale=1.0, rng=rng)
    k = np.exp(logk) * rng.uniform(0.5, 2.0, n)
    scaled = ShallowReLU(net.c * k, net.W / k[:, None], net.b / k)
    X = rng.standard_normal((15, d))
    assert_allclose(scaled(X), net(X), rtol=1e-10, atol=1e-12)
    assert_array_equal(activation_pattern(scaled, X), activation_pattern(net, X))


def test_network_is_immutable():
    net, X, y = make_problem(10, 3, 1, seed=0)
    with pytest.raises(ValueError):
        net.c[0] = 5.0
    c = np.ones(2)
    other = ShallowReLU(c, np.ones((2, 1)), np.zeros(2))
    c[0] = 7.0
    assert other.c[0] == 1.0


@pytest.mark.parametrize("scheme", ["normal", "lazy", "uniform_breakpoints"])
def test_init_schemes_are_seeded_and_shaped(scheme):
    a = init_network(8, 1, scale=0.5, rng=np.random.default_rng(4), scheme=scheme)
    b = init_network(8, 1, scale=0.5, rng=np.random.default_rng(4), scheme=scheme)
    assert_array_equal(a.to_vector(), b.to_vector())
    assert a.W.shape == (8, 1)


def test_uniform_breakpoints_lie_in_range():
    net = init_network(50, 1, scale=2.0, rng=np.random.default_rng(0), scheme="uniform_breakpoints",
                       x_range=(-1.0, 3.0))
    t = breakpoints_1d(net)
    assert np.all((t >= -1.0) & (t <= 3.0))
    assert_allclose(np.abs(net.W[:, 0]), 2.0)


def test_small_scale_normal_init():
    net = init_network(1000, 2, scale=1e-3, rng=np.random.default_rng(0))
    assert_allclose(np.std(net.to_vector()), 1e-3, rtol=0.05)


# ---- bad input: each raises before any work and names the argument ----

@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"n": 0}, ValueError, "n"),
        ({"n": 2.5}, TypeError, "n"),
        ({"d": 0}, ValueError, "d"),
        ({"scale": 0.0}, ValueError, "scale"),
        ({"scale": -1.0}, ValueError, "scale"),
        ({"scale": np.nan}, ValueError, "scale"),
        ({"scheme": "xavier"}, ValueError, "scheme"),
        ({"rng": 0}, TypeError, "rng"),
        ({"d": 2, "scheme": "uniform_breakpoints"}, ValueError, "d = 1"),
        ({"scheme": "uniform_breakpoints", "x_range": (1.0, -1.0)}, ValueError, "x_range"),
    ],
)
def test_init_rejects_bad_input(kwargs, exc, word):
    args = {"n": 3, "d": 1, "scale": 1.0, "rng": np.random.default_rng(0)} | kwargs
    n, d = args.pop("n"), args.pop("d")
    with pytest.raises(exc, match=word):
        init_network(n, d, **args)


@pytest.mark.parametrize(
    ("c", "W", "b", "word"),
    [
        (np.ones(2), np.ones((3, 1)), np.ones(2), "width n"),
        (np.ones((2, 1)), np.ones((2, 1)), np.ones(2), "c must be a 1-D"),
        (np.ones(2), np.ones(2), np.ones(2), "W must be a 2-D"),
        (np.array([1.0, np.nan]), np.ones((2, 1)), np.ones(2), "c must be finite"),
        (np.ones(2), np.ones((2, 1)), np.array([np.inf, 0.0]), "b must be finite"),
        ("ab", np.ones((2, 1)), np.ones(2), "c must be an array"),
    ],
)
def test_network_rejects_bad_parameters(c, W, b, word):
    with pytest.raises((ValueError, TypeError), match=word):
        ShallowReLU(c, W, b)


@pytest.mark.parametrize(
    ("X", "y", "word"),
    [
        (np.ones(5), np.ones(5), "X must be a 2-D"),
        (np.ones((5, 2)), np.ones(5), "d = 1 columns"),
        (np.ones((5, 1)), np.ones(4), "same number of rows"),
        (np.ones((5, 1)), np.ones((5, 1)), "y must be a 1-D"),
        (np.full((5, 1), np.nan), np.ones(5), "X must be finite"),
        (np.ones((5, 1)), np.array([0, 0, np.inf, 0, 0]), "y must be finite"),
        (np.ones((0, 1)), np.ones(0), "X must not be empty"),
    ],
)
def test_loss_and_gradient_reject_bad_data(X, y, word):
    net = ShallowReLU(np.ones(2), np.ones((2, 1)), np.zeros(2))
    for fn in (loss, gradient):
        with pytest.raises(ValueError, match=word):
            fn(net, X, y)


def test_functions_reject_non_network():
    with pytest.raises(TypeError, match="net must be a ShallowReLU"):
        loss({"c": 1}, np.ones((2, 1)), np.ones(2))
    with pytest.raises(TypeError, match="net must be a ShallowReLU"):
        activation_pattern(None, np.ones((2, 1)))
