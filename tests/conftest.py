"""Shared fixtures: small seeded problems."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_lib import init_network


def make_problem(m: int, n: int, d: int, seed: int, scale: float = 1.0):
    """A random network and data set (X, y) with seeded draws."""
    rng = np.random.default_rng(seed)
    net = init_network(n, d, scale=scale, rng=rng)
    X = rng.uniform(-1, 1, (m, d))
    y = np.sin(np.pi * X.sum(axis=1))
    return net, X, y


@pytest.fixture
def problem_1d():
    return make_problem(41, 10, 1, seed=0)
