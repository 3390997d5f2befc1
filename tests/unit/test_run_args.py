"""The shared argument check of the iterative trainers (plateau_lib/trainers/_run_args.py)."""
import numpy as np
import pytest

from plateau_lib.network import ShallowReLU
from plateau_lib.trainers._run_args import RunArgs, check_run_args


def _problem():
    rng = np.random.default_rng(0)
    net = ShallowReLU(rng.normal(size=3), rng.normal(size=(3, 1)), rng.normal(size=3))
    X = np.linspace(-1, 1, 5)[:, None]
    return net, X, np.sin(X[:, 0])


def test_returns_the_checked_arguments_by_name():
    net, X, y = _problem()
    args = check_run_args(net, X.tolist(), y.tolist(), 7, 2, 1.5)
    assert isinstance(args, RunArgs)
    assert (args.steps, args.record_every, args.time_limit) == (7, 2, 1.5)
    assert args.X.dtype == np.float64 and args.X.shape == (5, 1)
    np.testing.assert_array_equal(args.y, y)
    assert check_run_args(net, X, y, 1, 1, None).time_limit is None


@pytest.mark.parametrize(("steps", "record_every", "time_limit", "name"), [
    (0, 1, None, "steps"), (1.5, 1, None, "steps"), (3, 0, None, "record_every"), (3, 1, -1.0, "time_limit"),
])
def test_bad_budgets_are_named(steps, record_every, time_limit, name):
    net, X, y = _problem()
    with pytest.raises((TypeError, ValueError), match=name):
        check_run_args(net, X, y, steps, record_every, time_limit)


def test_bad_data_is_caught_before_the_budget():
    net, X, y = _problem()
    with pytest.raises((TypeError, ValueError), match="y"):
        check_run_args(net, X, y[:3], 0, 1, None)
