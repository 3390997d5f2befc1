"""Studies: plateau rows of a run and their statistics over seeds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from plateau_lib.experiments import get_experiment
from plateau_lib.studies import PLATEAU_LEVEL_RESOLUTION, plateau_rows, plateau_statistics, rows_to_arrays
from plateau_lib.theory import local_ls_level


@pytest.fixture(scope="module")
def quick_run():
    e = get_experiment("plateau_1d")
    X, y = e.data()
    return e, X, y, e.run(quick=True)


def test_rows_of_the_plateau_experiment(quick_run):
    e, X, y, result = quick_run
    rows = plateau_rows(result, X, y, seed=e.seed)
    assert len(rows) >= 2
    first, second = rows[0], rows[1]
    # first plateau: the zero network's saddle, no neuron carries weight, L* = |y|^2 / (2m)
    assert first.start == 0 and first.n_significant == 0 and first.exits
    assert first.lstar == pytest.approx(y @ y / (2 * len(y)), rel=1e-12)
    # second plateau: a fixed pattern, its loss at L*(D, S) of that pattern
    assert second.within and second.exits and second.n_significant >= 2
    assert abs(second.gap) < PLATEAU_LEVEL_RESOLUTION
    assert second.raw_changes > 100 * max(second.filtered_changes, 1)  # flicker absorbed by the filter
    D = result.net_at(second.index).preactivations(X) > 0
    assert local_ls_level(X, y, D) <= second.lstar + 1e-15  # all neurons span at least as much


def test_statistics_are_the_same_in_any_executor():
    serial = plateau_statistics("plateau_1d", [0, 1], quick=True, executor=ThreadPoolExecutor(1))
    pooled = plateau_statistics("plateau_1d", [0, 1], quick=True)
    assert serial == pooled
    cols = rows_to_arrays(pooled)
    assert set(cols["seed"]) == {0, 1}
    assert cols["level"].dtype == np.float64 and cols["within"].dtype == np.bool_


def test_statistics_reject_unknown_experiment():
    with pytest.raises(ValueError, match="unknown experiment"):
        plateau_statistics("nope", [0])


def test_rows_to_arrays_of_nothing():
    assert rows_to_arrays([]) == {}
