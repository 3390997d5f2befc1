r"""Target functions and data grids used by the named experiments.

Every target maps an (m, d) array to (m,) values; every grid is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ._validation import check_choice, check_positive_int

FloatArray = NDArray[np.float64]


def _sawtooth(X: FloatArray) -> FloatArray:
    """Triangle wave with period 1 on [-1, 1]: kinks at every multiple of 1/2."""
    x = X[:, 0]
    return 2 * np.abs(2 * (x - np.floor(x + 0.5))) - 1


#: Registry of targets: name -> (input dimension, function of X, LaTeX formula).
TARGETS: dict[str, tuple[int, Callable[[FloatArray], FloatArray], str]] = {
    "sin_pi": (1, lambda X: np.sin(np.pi * X[:, 0]), r"\sin(\pi x)"),
    "sin_2pi": (1, lambda X: np.sin(2 * np.pi * X[:, 0]), r"\sin(2\pi x)"),
    "sin_3pi": (1, lambda X: np.sin(3 * np.pi * X[:, 0]), r"\sin(3\pi x)"),
    "sawtooth": (1, _sawtooth, r"\text{triangle wave of period } 1"),
    "abs": (1, lambda X: np.abs(X[:, 0]), r"|x|"),
    "bump": (1, lambda X: np.exp(-8 * X[:, 0] ** 2), r"e^{-8x^2}"),
    "ridge_2d": (
        2,
        lambda X: np.abs(X[:, 0] + 0.5 * X[:, 1]) + 0.5 * np.sin(np.pi * X[:, 1]),
        r"|x_1 + x_2/2| + \tfrac12\sin(\pi x_2)",
    ),
    "pyramid_2d": (2, lambda X: 1 - np.max(np.abs(X), axis=1), r"1 - \max(|x_1|, |x_2|)"),
}


def target_values(name: str, X: FloatArray) -> FloatArray:
    """Evaluate the target ``name`` at the rows of ``X``."""
    name = check_choice(name, "target", tuple(TARGETS))
    d, fn, _ = TARGETS[name]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (m, {d}) for target {name!r}, got {X.shape}")
    return fn(X)


def target_latex(name: str) -> str:
    """LaTeX formula of the target ``name``."""
    return TARGETS[check_choice(name, "target", tuple(TARGETS))][2]


def grid(m: int, d: int, lo: float = -1.0, hi: float = 1.0) -> FloatArray:
    """Equispaced grid on ``[lo, hi]^d`` with ``m`` points (``m`` must be a d-th power)."""
    m, d = check_positive_int(m, "m"), check_positive_int(d, "d")
    k = round(m ** (1 / d))
    if k**d != m:
        raise ValueError(f"m must be a perfect {d}-th power for a {d}-D grid, got m = {m}")
    axes = np.meshgrid(*([np.linspace(lo, hi, k)] * d), indexing="ij")
    return np.column_stack([a.ravel() for a in axes])
