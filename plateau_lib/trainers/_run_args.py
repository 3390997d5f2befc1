"""The arguments every iterative trainer shares, checked once and returned by name."""
from __future__ import annotations

from typing import NamedTuple

from numpy.typing import ArrayLike

from .._validation import check_positive_int, check_time_limit
from ..network import FloatArray, ShallowReLU, check_problem


class RunArgs(NamedTuple):
    """A trainer's checked problem and budget.

    Attributes
    ----------
    net : ShallowReLU
        The initial network.
    X : ndarray, shape (m, d)
        Sample points, as floats.
    y : ndarray, shape (m,)
        Target values, as floats.
    steps : int
        The step (or iteration) budget, at least 1.
    record_every : int
        Record every this many steps, at least 1.
    time_limit : float or None
        Wall-clock budget in seconds, ``None`` for no limit.
    """

    net: ShallowReLU
    X: FloatArray
    y: FloatArray
    steps: int
    record_every: int
    time_limit: float | None


def check_run_args(net: object, X: ArrayLike, y: ArrayLike, steps: object, record_every: object,
                   time_limit: object) -> RunArgs:
    """Check the arguments every iterative trainer takes, before any work starts.

    Raises
    ------
    TypeError, ValueError
        Naming the argument and what was expected (:func:`~plateau_lib.network.check_problem`
        for ``net``, ``X`` and ``y``; a positive int for ``steps`` and ``record_every``; ``None``
        or a positive number for ``time_limit``).
    """
    net, X, y = check_problem(net, X, y)
    return RunArgs(net, X, y, check_positive_int(steps, "steps"), check_positive_int(record_every, "record_every"),
                   check_time_limit(time_limit))
