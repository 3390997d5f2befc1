"""The stacked gradient descent: each run bit for bit the run train_gd makes alone.

The second implementation is train_gd itself, run once per network; every recorded array, the
final network and the stop (step, status, message) must be equal, not close: the stack is a way
of computing the same floating-point operations, nothing else.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plateau_lib import ShallowReLU, init_network
from plateau_lib.network import evaluate, split_params
from plateau_lib.trainers import stacked
from plateau_lib.trainers._gradient_norm import gradient_norm
from plateau_lib.trainers.first_order import train_gd
from plateau_lib.trainers.stacked import evaluate_stack, grad_norms, train_gd_stack

RECORDED = ("steps", "loss", "counts", "params", "pattern_changes", "flips")


def problem(m: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (m, d))
    return X, np.sin(np.pi * X.sum(axis=1))


def nets_of(n: int, d: int, scales, seed: int = 1) -> list[ShallowReLU]:
    rng = np.random.default_rng(seed)
    return [init_network(n, d, scale=s, rng=rng) for s in scales]


def assert_same_run(alone, together):
    for name in RECORDED:
        np.testing.assert_array_equal(getattr(together, name), getattr(alone, name), err_msg=name)
    np.testing.assert_array_equal(together.net.to_vector(), alone.net.to_vector())
    assert (together.nit, together.nfev, together.njev, together.status, together.message, together.method) == (
        alone.nit, alone.nfev, alone.njev, alone.status, alone.message, alone.method)
    assert len(together.times) == len(together.steps)


@pytest.mark.parametrize(("m", "n", "d"), [(41, 10, 1), (21, 4, 1), (60, 7, 2), (33, 12, 3), (9, 40, 1)])
def test_the_stacked_pass_is_each_networks_pass(m, n, d):
    X, y = problem(m, d)
    nets = nets_of(n, d, [1e-3, 0.3, 1.0, 2.0, 0.7])
    # one network with breakpoints exactly on data points (z = 0 there: relu'(0) = 0, not active)
    X[0] = 0.0
    nets[2] = nets[2].with_params(b=np.zeros(n))
    theta = np.stack([net.to_vector() for net in nets])
    ev = evaluate_stack(theta[:, :n], theta[:, n:n + n * d].reshape(-1, n, d), theta[:, n + n * d:], X, y)
    for k, net in enumerate(nets):
        alone = evaluate(*split_params(net.to_vector(), n, d), X, y)
        for name in ("active", "loss", "gc", "gW", "gb"):
            np.testing.assert_array_equal(getattr(ev, name)[k], getattr(alone, name), err_msg=name)
        assert grad_norms(ev)[k] == gradient_norm(alone)


@pytest.mark.parametrize(
    ("m", "n", "d", "options"),
    [
        (41, 10, 1, {"lr": 0.1, "steps": 600, "record_every": 10}),
        (41, 10, 1, {"lr": 0.1, "steps": 600, "record_every": 1}),
        (50, 6, 2, {"lr": 0.2, "steps": 400, "record_every": 7}),
        (30, 5, 3, {"lr": 0.1, "steps": 1, "record_every": 1}),
    ],
)
def test_each_run_is_the_run_alone(m, n, d, options):
    X, y = problem(m, d)
    nets = nets_of(n, d, [1e-3, 1e-2, 0.5, 1.0, 1.5])
    for alone, together in zip([train_gd(net, X, y, **options) for net in nets], train_gd_stack(nets, X, y, **options),
                               strict=True):
        assert_same_run(alone, together)


def test_runs_stop_on_their_own_at_the_gradient_tolerance():
    X, y = problem(41, 1)
    nets = nets_of(6, 1, [0.5, 1.0, 1.5, 0.8, 1.2, 2.0], seed=4)
    options = {"lr": 0.2, "steps": 3000, "record_every": 5, "gtol": 5e-3}
    alone = [train_gd(net, X, y, **options) for net in nets]
    stops = {r.nit for r in alone if r.status == "converged"}
    assert len(stops) >= 2 and any(r.status == "budget" for r in alone), "the case must stop runs at different steps"
    for a, t in zip(alone, train_gd_stack(nets, X, y, **options), strict=True):
        assert_same_run(a, t)


def test_a_diverging_run_fails_alone_and_the_others_go_on():
    X, y = problem(30, 1)
    nets = nets_of(5, 1, [0.5, 0.5, 0.5, 0.5])
    nets[1] = nets[1].with_params(c=nets[1].c * 1e60)  # its first step overflows
    nets[2] = nets[2].with_params(c=nets[2].c * 1e160)  # its loss overflows at once
    for gtol in (0.0, 1e-12):  # with a gradient tolerance, the failed runs must leave the stack too
        options = {"lr": 0.5, "steps": 200, "record_every": 3, "gtol": gtol}
        with np.errstate(over="ignore", invalid="ignore"):
            alone = [train_gd(net, X, y, **options) for net in nets]
            together = train_gd_stack(nets, X, y, **options)
        assert [(r.status, r.nit) for r in alone] == [("budget", 200), ("failed", 1), ("failed", 0), ("budget", 200)]
        for a, t in zip(alone, together, strict=True):
            assert_same_run(a, t)


def test_the_gradient_tolerance_stops_at_equality_and_zero_never_stops():
    """As train_gd: stop once ||grad|| <= gtol (equality included); gtol = 0 disables the test, even
    at an exactly zero gradient (a network whose neurons are all inactive on the data)."""
    X, y = problem(25, 1)
    nets = nets_of(4, 1, [0.5, 1.0])
    dead = nets[1].with_params(W=np.ones((4, 1)), b=-2.0 * np.ones(4))  # w x + b < 0 on [-1, 1]
    assert gradient_norm(evaluate(*split_params(dead.to_vector(), 4, 1), X, y)) == 0.0
    at_start = gradient_norm(evaluate(*split_params(nets[0].to_vector(), 4, 1), X, y))
    for gtol in (0.0, at_start):
        options = {"lr": 0.1, "steps": 30, "gtol": gtol}
        alone = [train_gd(net, X, y, **options) for net in (nets[0], dead)]
        assert [r.nit for r in alone] == ([30, 30] if gtol == 0 else [0, 0])
        for a, t in zip(alone, train_gd_stack([nets[0], dead], X, y, **options), strict=True):
            assert_same_run(a, t)


def test_ctrl_c_stops_every_run_at_the_current_step(monkeypatch):
    X, y = problem(20, 1)
    nets = nets_of(4, 1, [0.5, 1.0])
    calls = {"n": 0}
    real = stacked.evaluate_stack

    def interrupted_at_step_7(*args):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(stacked, "evaluate_stack", interrupted_at_step_7)
    results = train_gd_stack(nets, X, y, lr=0.1, steps=100)
    monkeypatch.setattr(stacked, "evaluate_stack", real)
    for net, result in zip(nets, results, strict=True):
        assert (result.status, result.nit, result.message) == ("interrupted", 7, "interrupted by the user at step 7")
        assert_same_run(train_gd(net, X, y, lr=0.1, steps=7),
                        dataclasses.replace(result, status="budget", message="reached steps=7"))


def test_progress_bar_only_when_asked(capsys):
    X, y = problem(20, 1)
    train_gd_stack(nets_of(4, 1, [1.0]), X, y, lr=0.1, steps=20)
    assert capsys.readouterr().err == ""
    train_gd_stack(nets_of(4, 1, [1.0]), X, y, lr=0.1, steps=20, progress=True)
    assert "gd:" in capsys.readouterr().err


def test_bad_input_is_named():
    X, y = problem(20, 1)
    nets = nets_of(4, 1, [1.0, 1.0])
    with pytest.raises(TypeError, match="nets"):
        train_gd_stack(nets[0], X, y, lr=0.1, steps=2)
    with pytest.raises(TypeError, match="nets"):
        train_gd_stack([], X, y, lr=0.1, steps=2)
    with pytest.raises(TypeError, match="got dict"):
        train_gd_stack({"a": nets[0]}, X, y, lr=0.1, steps=2)
    with pytest.raises(ValueError, match=r"nets must share one shape .* at index 1"):
        train_gd_stack([nets[0], nets_of(5, 1, [1.0])[0]], X, y, lr=0.1, steps=2)
    with pytest.raises(ValueError, match="X must have d = 2"):
        train_gd_stack(nets_of(4, 2, [1.0]), X, y, lr=0.1, steps=2)
    for name, value in (("lr", -0.1), ("steps", 0), ("record_every", 0), ("gtol", -1.0)):
        with pytest.raises(ValueError, match=f"^{name} must be"):
            train_gd_stack(nets, X, y, **({"lr": 0.1, "steps": 2} | {name: value}))
