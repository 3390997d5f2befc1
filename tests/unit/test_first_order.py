"""Gradient descent and Adam step by step against a second implementation of their update rules.

The reference steps below use only the public :func:`~plateau_lib.network.gradient` and the
formulas of the docstrings (Kingma & Ba's Adam with bias correction); the trainers record the
parameters at every step, which must agree with the reference to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from plateau_lib.network import ShallowReLU, evaluate, gradient, init_network
from plateau_lib.trainers.first_order import train_adam, train_gd

STEPS = 25


def problem(seed: int = 3):
    X = np.linspace(-1.0, 1.0, 17)[:, None]
    y = np.abs(X[:, 0]) - 0.3 * X[:, 0]
    return init_network(5, 1, scale=0.8, rng=np.random.default_rng(seed)), X, y


def reference_gd(net: ShallowReLU, X, y, lr: float, steps: int) -> np.ndarray:
    theta = net.to_vector()
    out = [theta]
    for _ in range(steps):
        g = gradient(ShallowReLU.from_vector(theta, net.n, net.d), X, y).to_vector()
        theta = theta - lr * g
        out.append(theta)
    return np.array(out)


def reference_adam(net: ShallowReLU, X, y, lr: float, steps: int, beta1: float, beta2: float,
                   eps: float) -> np.ndarray:
    theta = net.to_vector()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    out = [theta]
    for t in range(1, steps + 1):
        g = gradient(ShallowReLU.from_vector(theta, net.n, net.d), X, y).to_vector()
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return np.array(out)


def test_gd_is_theta_minus_lr_times_the_gradient():
    net, X, y = problem()
    res = train_gd(net, X, y, lr=0.07, steps=STEPS)
    assert_allclose(res.params, reference_gd(net, X, y, 0.07, STEPS), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("options", [{}, {"betas": (0.5, 0.75), "eps": 0.3}, {"betas": (0.0, 0.0), "eps": 1e-3}],
                         ids=["defaults", "other", "zero-betas"])
def test_adam_is_kingma_and_ba_with_bias_correction(options):
    """The defaults are the paper's (0.9, 0.999, 1e-8); other betas and eps move every term."""
    net, X, y = problem()
    beta1, beta2 = options.get("betas", (0.9, 0.999))
    eps = options.get("eps", 1e-8)
    res = train_adam(net, X, y, lr=0.03, steps=STEPS, **options)
    expected = reference_adam(net, X, y, 0.03, STEPS, beta1, beta2, eps)
    assert_allclose(res.params, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("betas", [(1.0, 0.5), (0.5, 1.0), (-0.1, 0.5), (0.5, -0.1)])
def test_adam_refuses_betas_outside_the_unit_interval(betas):
    net, X, y = problem()
    with pytest.raises(ValueError, match=r"betas must lie in \[0, 1\)"):
        train_adam(net, X, y, lr=0.01, steps=1, betas=betas)


@pytest.mark.parametrize("trainer", [train_gd, train_adam])
@pytest.mark.parametrize("value", [0.0, -1.0])
def test_a_bad_step_size_is_named(trainer, value):
    net, X, y = problem()
    with pytest.raises(ValueError, match=r"^lr must be"):
        trainer(net, X, y, lr=value, steps=1)


def test_adam_names_a_bad_eps():
    net, X, y = problem()
    with pytest.raises(ValueError, match=r"^eps must be"):
        train_adam(net, X, y, lr=0.01, steps=1, eps=0.0)


def _stationary_problem():
    """y = 0 and a network whose output is 0 everywhere: the gradient is exactly zero."""
    X = np.linspace(-1.0, 1.0, 9)[:, None]
    net = ShallowReLU(np.zeros(3), np.array([[1.0], [-1.0], [0.5]]), np.array([0.1, 0.2, -0.3]))
    return net, X, np.zeros(9)


@pytest.mark.parametrize("trainer", [train_gd, train_adam])
def test_gtol_zero_never_stops_even_at_a_zero_gradient(trainer):
    net, X, y = _stationary_problem()
    res = trainer(net, X, y, lr=0.1, steps=7)
    assert res.status == "budget" and res.nit == 7


@pytest.mark.parametrize("trainer", [train_gd, train_adam])
def test_gtol_stops_when_the_gradient_norm_reaches_it_with_equality(trainer):
    """Stop once ||grad L||_2 <= gtol: gtol set to the initial gradient's norm stops at step 0."""
    net, X, y = problem()
    ev = evaluate(net.c, net.W, net.b, X, y)
    norm = float(np.sqrt(ev.gc @ ev.gc + np.sum(ev.gW**2) + ev.gb @ ev.gb))
    assert norm == pytest.approx(np.linalg.norm(gradient(net, X, y).to_vector()), rel=1e-14)
    at = trainer(net, X, y, lr=0.01, steps=5, gtol=norm)
    assert at.status == "converged" and at.nit == 0
    below = trainer(net, X, y, lr=0.01, steps=5, gtol=np.nextafter(norm, 0.0))
    assert below.nit > 0


@pytest.mark.parametrize("trainer", [train_gd, train_adam])
def test_the_progress_bar_shows_only_when_asked(trainer, capsys):
    net, X, y = problem()
    trainer(net, X, y, lr=0.01, steps=STEPS)
    assert capsys.readouterr().err == ""
    trainer(net, X, y, lr=0.01, steps=STEPS, progress=True)
    err = capsys.readouterr().err
    name = "gd" if trainer is train_gd else "adam"
    assert f"{name}:" in err and f"/{STEPS}" in err


@pytest.mark.parametrize("trainer", [train_gd, train_adam])
def test_one_loss_and_gradient_evaluation_per_step_and_one_at_the_end(trainer):
    net, X, y = problem()
    res = trainer(net, X, y, lr=0.01, steps=STEPS)
    assert res.nit == STEPS and res.nfev == res.njev == STEPS + 1


@pytest.mark.parametrize("trainer", [train_gd, train_adam])
def test_a_non_finite_loss_fails_the_run_naming_the_step(trainer):
    """Targets of 1e155: the squared residual overflows float64 at once, so the run stops at step 0."""
    net, X, y = problem()
    with np.errstate(over="ignore"):
        res = trainer(net, X, np.full_like(y, 1e155), lr=0.01, steps=10)
    assert res.status == "failed" and res.nit == 0
    assert res.message == "loss became non-finite at step 0 (step size too large?)"
    assert res.loss[-1] == np.inf


@pytest.mark.parametrize("name", ["steps", "record_every"])
@pytest.mark.parametrize("trainer", [train_gd, train_adam])
def test_a_bad_count_is_named(trainer, name):
    net, X, y = problem()
    options = {"steps": 3, name: 0}
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        trainer(net, X, y, lr=0.01, **options)


@pytest.mark.parametrize("trainer", [train_gd, train_adam])
def test_a_negative_gtol_is_named(trainer):
    net, X, y = problem()
    with pytest.raises(ValueError, match=r"^gtol must be"):
        trainer(net, X, y, lr=0.01, steps=3, gtol=-1.0)
