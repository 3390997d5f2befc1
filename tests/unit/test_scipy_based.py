"""How the scipy-based trainers (plateau_lib.trainers.scipy_based) drive scipy and report what it did.

The optimisers are wrapped by spies that call the real scipy function and record what they were
asked and what they answered, or replaced by stubs that return a chosen ``OptimizeResult``: the
result must then carry the documented defaults, scipy's counts and messages, and the documented
mapping from scipy's status to ours. Nothing is cached across tests (a module-level cache would
hide changes to the trainers from later tests).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from numpy.testing import assert_array_equal
from scipy.optimize import OptimizeResult

from plateau_lib.network import init_network, loss
from plateau_lib.trainers import scipy_based
from plateau_lib.trainers.scipy_based import train_lbfgs, train_lm

EPS = float(np.finfo(float).eps)


def problem(seed: int = 4, m: int = 21, n: int = 4):
    """sin(pi x) on m equispaced points and a seeded width-n network."""
    X = np.linspace(-1.0, 1.0, m)[:, None]
    y = np.sin(np.pi * X[:, 0])
    return init_network(n, 1, scale=0.5, rng=np.random.default_rng(seed)), X, y


def spy(monkeypatch, name: str) -> list[dict]:
    """Wrap ``scipy.optimize.<name>``: record its arguments, call counts and result."""
    real = getattr(scipy.optimize, name)
    calls: list[dict] = []

    def wrapped(fun, x0, **kwargs):
        record = {"kwargs": dict(kwargs), "fun": 0, "jac_ok": 0}

        def counted_fun(theta):
            out = fun(theta)
            record["fun"] += 1
            return out

        if callable(kwargs.get("jac")):
            jac = kwargs["jac"]

            def counted_jac(theta):
                out = jac(theta)
                record["jac_ok"] += 1  # only the calls that returned
                return out

            kwargs["jac"] = counted_jac
        calls.append(record)
        record["result"] = real(counted_fun, x0, **kwargs)
        return record["result"]

    monkeypatch.setattr(scipy.optimize, name, wrapped)
    return calls


class FakeBar:
    """Stands in for the progress bar; remembers how it was made and advanced."""

    made: list[FakeBar] = []

    def __init__(self, total, desc, enabled):
        self.total, self.desc, self.enabled, self.updates = total, desc, enabled, []
        FakeBar.made.append(self)

    def update(self, k):
        self.updates.append(k)

    def close(self):
        pass


# ------------------------------------------------------------------------------------- L-BFGS


def test_lbfgs_passes_the_documented_options_to_scipy(monkeypatch):
    net, X, y = problem()
    calls = spy(monkeypatch, "minimize")
    res = train_lbfgs(net, X, y, steps=7, gtol=1e-7)
    assert calls[0]["kwargs"]["options"] == {"maxfun": 700, "maxiter": 7, "gtol": 1e-7}  # maxfun = 100 steps
    res = train_lbfgs(net, X, y, steps=7, ftol=0.0, maxcor=3, maxls=5, maxfun=40)
    assert calls[1]["kwargs"]["options"] == {"maxfun": 40, "maxiter": 7, "gtol": 1e-10, "ftol": 0.0, "maxcor": 3,
                                             "maxls": 5}
    train_lbfgs(net, X, y, steps=7, ftol=1e-3)
    assert calls[2]["kwargs"]["options"]["ftol"] == 1e-3
    scipy_res = calls[1]["result"]
    assert (res.nfev, res.njev) == (int(scipy_res.nfev), int(scipy_res.nfev))


@pytest.mark.parametrize("value", [-1.0, np.nan, "1e-3"])
def test_lbfgs_rejects_a_bad_ftol_naming_it(value):
    net, X, y = problem()
    with pytest.raises((ValueError, TypeError), match="ftol"):
        train_lbfgs(net, X, y, steps=3, ftol=value)


@pytest.mark.parametrize("trainer", ["lbfgs", "lm-trf", "lm-minpack"])
def test_records_every_step_and_shows_no_bar_by_default(trainer, monkeypatch):
    """Defaults: ``record_every=1`` (every iteration recorded) and no progress bar."""
    FakeBar.made = []
    monkeypatch.setattr(scipy_based, "progress_bar", FakeBar)
    net, X, y = problem()
    if trainer == "lbfgs":
        res = train_lbfgs(net, X, y, steps=6, gtol=0.0)
    else:
        res = train_lm(net, X, y, steps=6, algorithm=trainer.removeprefix("lm-").replace("minpack", "lm"))
    assert_array_equal(res.steps, np.arange(res.steps[-1] + 1))
    (bar,) = FakeBar.made
    assert bar.enabled is False and bar.total == 6
    assert bar.desc == ("lbfgs" if trainer == "lbfgs" else trainer)
    assert bar.updates == [1] * int(res.steps[-1])  # one unit per iteration


def test_the_progress_bar_is_shown_when_asked(capsys):
    net, X, y = problem()
    train_lbfgs(net, X, y, steps=4, gtol=0.0, progress=True)
    train_lm(net, X, y, steps=4, progress=True)
    err = capsys.readouterr().err
    assert "lbfgs" in err and "lm-trf" in err and "/4" in err
    train_lbfgs(net, X, y, steps=4, gtol=0.0)
    train_lm(net, X, y, steps=4)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("success", "status", "steps", "expected", "message"),
    [
        (True, 0, 10, "converged", "stub says"),
        (True, 0, 2, "converged", "stub says"),  # converged at the budget: still scipy's message
        (False, 1, 10, "budget", "stub says"),
        (False, 1, 2, "budget", "reached steps=2"),
        (False, 2, 10, "stalled", "stub says"),
        (False, 2, 2, "stalled", "stub says"),
    ],
)
def test_lbfgs_maps_scipys_status_and_ends_with_the_returned_parameters(monkeypatch, success, status, steps,
                                                                        expected, message):
    """A stub L-BFGS takes two iterations and returns a third point: that point is one step later."""
    net, X, y = problem()
    theta0 = net.to_vector()
    points = [theta0 + 0.01 * k for k in (1, 2, 3)]

    def stub(fun, x0, method, jac, callback, options):
        assert method == "L-BFGS-B" and jac is True
        for x in points[:2]:
            fun(x)
            callback(OptimizeResult(x=x.copy(), fun=fun(x)[0]))
        return OptimizeResult(x=points[2], success=success, status=status, message="stub says", nit=2, nfev=5)

    monkeypatch.setattr(scipy.optimize, "minimize", stub)
    res = train_lbfgs(net, X, y, steps=steps)
    assert (res.status, res.message) == (expected, message)
    assert_array_equal(res.steps, [0, 1, 2, 3])
    assert_array_equal(res.params, np.array([theta0, *points]))
    assert res.final_loss == pytest.approx(loss(res.net, X, y), rel=1e-14)
    assert (res.nfev, res.njev) == (5, 5)


# --------------------------------------------------------------------------- least squares


@pytest.mark.parametrize("algorithm", ["trf", "dogbox", "lm"])
def test_least_squares_gets_the_method_tolerances_and_default_budget(monkeypatch, algorithm):
    """The result names the method asked for, "lm", and the algorithm in its extras."""
    net, X, y = problem()
    calls = spy(monkeypatch, "least_squares")
    res = train_lm(net, X, y, steps=5, algorithm=algorithm, ftol=1e-9, xtol=1e-8, gtol=1e-7)
    assert res.method == "lm" and res.extra == {"algorithm": algorithm}
    kwargs = calls[0]["kwargs"]
    assert kwargs["method"] == algorithm
    assert (kwargs["ftol"], kwargs["xtol"], kwargs["gtol"], kwargs["max_nfev"]) == (1e-9, 1e-8, 1e-7, 600)
    if algorithm == "lm":  # MINPACK's counter is a C int
        train_lm(net, X, y, steps=5, algorithm="lm", max_nfev=2**40)
        assert calls[1]["kwargs"]["max_nfev"] == 2**31 - 1


def test_minpack_accepts_tolerances_of_exactly_machine_epsilon_and_as_many_points_as_parameters():
    net, X, y = problem(m=12, n=4)  # n(d + 2) = 12 parameters
    assert net.size == X.shape[0]
    res = train_lm(net, X, y, steps=2, algorithm="lm", ftol=EPS, xtol=EPS, gtol=EPS)
    assert res.steps[-1] >= 1


@pytest.mark.parametrize("name", ["ftol", "xtol", "gtol"])
def test_least_squares_rejects_a_negative_tolerance_naming_it(name):
    net, X, y = problem()
    with pytest.raises(ValueError, match=name):
        train_lm(net, X, y, steps=2, **{name: -1.0})


@pytest.mark.parametrize("steps", [2, 4])
def test_minpack_budget_reports_the_evaluations_made(monkeypatch, steps):
    """A run cut by the step budget reports the residual and Jacobian evaluations it made, and
    every recorded step of MINPACK is an accepted update (new parameters)."""
    net, X, y = problem()
    calls = spy(monkeypatch, "least_squares")
    res = train_lm(net, X, y, steps=steps, algorithm="lm")
    assert res.status == "budget" and res.steps[-1] == steps
    assert (res.nfev, res.njev) == (calls[0]["fun"], calls[0]["jac_ok"])
    assert np.all(np.any(np.diff(res.params, axis=0) != 0, axis=1))


def test_minpack_run_to_convergence_records_its_final_update(monkeypatch):
    net, X, y = problem()
    calls = spy(monkeypatch, "least_squares")
    res = train_lm(net, X, y, steps=500, algorithm="lm", ftol=1e-4, xtol=1e-4, gtol=1e-4)
    scipy_res = calls[0]["result"]
    assert res.status == "converged" and res.message == str(scipy_res.message)
    assert_array_equal(res.params[-1], scipy_res.x)
    assert res.final_loss == pytest.approx(loss(res.net, X, y), rel=1e-14)
    assert np.all(np.any(np.diff(res.params, axis=0) != 0, axis=1))
    assert res.nfev == int(scipy_res.nfev)
    assert res.njev == (int(scipy_res.njev) if scipy_res.njev is not None else calls[0]["jac_ok"])


def test_trf_reports_scipys_counts(monkeypatch):
    net, X, y = problem()
    calls = spy(monkeypatch, "least_squares")
    res = train_lm(net, X, y, steps=30, max_nfev=5)
    scipy_res = calls[0]["result"]
    assert (res.nfev, res.njev) == (int(scipy_res.nfev), int(scipy_res.njev))
    assert res.status == "budget" and res.message == "reached max_nfev=5 residual evaluations"


@pytest.mark.parametrize(
    ("status", "success", "njev", "expected", "message"),
    [
        (1, True, 7, "converged", "stub says"),
        (2, True, None, "converged", "stub says"),
        (-1, False, 7, "failed", "stub says"),
        (0, False, None, "budget", "reached max_nfev=600 residual evaluations"),
        (-2, False, 7, "budget", "reached steps=5"),
    ],
)
def test_least_squares_maps_scipys_status(monkeypatch, status, success, njev, expected, message):
    """A stub least_squares takes two iterations and returns a third point, one step later."""
    net, X, y = problem()
    theta0 = net.to_vector()
    points = [theta0 + 0.01 * k for k in (1, 2, 3)]

    def stub(fun, x0, jac, method, callback, **kwargs):
        for x in points[:2]:
            fun(x)
            jac(x)
            callback(OptimizeResult(x=x.copy()))
        return OptimizeResult(x=points[2], status=status, success=success, message="stub says", nfev=9, njev=njev)

    monkeypatch.setattr(scipy.optimize, "least_squares", stub)
    res = train_lm(net, X, y, steps=5)
    assert (res.status, res.message) == (expected, message)
    assert (res.nfev, res.njev) == (9, 7 if njev is not None else 2)  # else the Jacobians requested
    assert_array_equal(res.steps, [0, 1, 2, 3])
    assert_array_equal(res.params, np.array([theta0, *points]))


@pytest.mark.parametrize("trainer", ["lbfgs", "lm-trf", "lm-minpack"])
def test_the_cache_never_evaluates_the_same_parameters_twice_in_a_row(monkeypatch, trainer):
    """The one-entry cache: consecutive network evaluations are at different parameters."""
    seen: list[np.ndarray] = []
    real = scipy_based.evaluate

    def counted(c, W, b, X, y):
        seen.append(np.concatenate([c, W.ravel(), b]))
        return real(c, W, b, X, y)

    monkeypatch.setattr(scipy_based, "evaluate", counted)
    net, X, y = problem()
    if trainer == "lbfgs":
        train_lbfgs(net, X, y, steps=8)
    else:
        train_lm(net, X, y, steps=8, algorithm="trf" if trainer == "lm-trf" else "lm")
    assert len(seen) > 3
    assert all(not np.array_equal(a, b) for a, b in zip(seen, seen[1:], strict=False))
