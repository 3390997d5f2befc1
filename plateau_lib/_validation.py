"""Input checks shared by every public function.

Each check raises before any work starts and names the offending argument, so a
caller sees ``ValueError: X must be a 2-D array (m, d), got shape (5,)`` rather
than a broadcasting error deep inside a trainer.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_float_array(value: ArrayLike, name: str, ndim: int, *, allow_empty: bool = False) -> NDArray[np.float64]:
    """Return ``value`` as a finite float64 array with ``ndim`` dimensions (non-empty unless ``allow_empty``)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers: {err}") from None
    if arr.ndim != ndim:
        shape = {1: "(m,)", 2: "(m, d)"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must be a {ndim}-D array {shape}, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, found NaN or inf")
    return arr


def check_data(X: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate a data set: ``X`` is (m, d), ``y`` is (m,), both finite."""
    X = as_float_array(X, "X", 2)
    y = as_float_array(y, "y", 1)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of rows m, got X {X.shape} and y {y.shape}"
        )
    return X, y


def check_positive_int(value: object, name: str, *, allow_zero: bool = False) -> int:
    """Return ``value`` as an int, requiring it to be positive (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    low = 0 if allow_zero else 1
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def check_real(value: object, name: str, *, low: float, strict: bool, high: float | None = None) -> float:
    """Return ``value`` as a finite float with ``value > low`` (``>= low`` unless ``strict``) and ``< high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    bad_low = value <= low if strict else value < low
    bad_high = high is not None and value >= high
    if not np.isfinite(value) or bad_low or bad_high:
        rel = ">" if strict else ">="
        upper = f" and < {high}" if high is not None else ""
        raise ValueError(f"{name} must be finite and {rel} {low:g}{upper}, got {value}")
    return value


def check_positive_float(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, requiring it to be finite and positive (or >= 0)."""
    return check_real(value, name, low=0.0, strict=not allow_zero)


def check_time_limit(value: object) -> float | None:
    """Return a trainer's ``time_limit``: ``None`` (no limit) or positive finite seconds."""
    return None if value is None else check_positive_float(value, "time_limit")


def time_limit_message(time_limit: float) -> str:
    """The message of a run stopped by its ``time_limit``."""
    return f"reached time_limit={time_limit:g} s"


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """Require ``value`` to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)


def check_rng(rng: object, name: str = "rng") -> np.random.Generator:
    """Require an explicit ``numpy.random.Generator`` (no global random state)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    return rng
