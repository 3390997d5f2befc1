"""Chapter 3's catalogues (plateau_lib.chapters.stationary_catalogue): the settings, the runs to stationary
points, the rows, the gap bound, the checks over rows.

Tolerances: identities exact in real arithmetic are checked to 1e-10 (relative or on O(1)
data), stationarity after the polish to the library's STATIONARITY_RTOL = 1e-10 (round-off is
~1e-16), and gradient-descent statements to what the stopping rule guarantees, stated at each test.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import grid_1d, net_1d
from numpy.testing import assert_array_equal
from stationary_fixtures import SMALL, checked_rows

from plateau_lib.chapters.page import rows_to_arrays
from plateau_lib.chapters.stationary_catalogue import (
    CATALOGUE_1D,
    CATALOGUE_2D,
    POLISH_DEMO,
    CatalogueRow,
    CatalogueSettings,
    _catalogue_rows,
    gap_bound,
    gd_end_stationarity,
    run_to_stationary_point,
    stationary_catalogue,
    worst_polished_stationarity,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.lower_bound import segmentation_lower_bound
from plateau_lib.network import ShallowReLU, loss
from plateau_lib.stationarity import (
    max_stationarity,
    polish_to_stationarity,
)


def test_gap_bound_holds_on_a_converged_run(converged_run):
    X, y, result = converged_run
    p = polish_to_stationarity(result.net, X, y)
    bound = gap_bound(result.net, X, y, p.neurons)
    assert 0 <= result.final_loss - p.lstar <= bound * (1 + 1e-6) + 1e-15
    assert gap_bound(p.net, X, y, p.neurons) < 1e-20


def test_catalogue_rows_and_executors():
    pooled = stationary_catalogue(SMALL, seed=0)
    serial = stationary_catalogue(SMALL, seed=0, executor=ThreadPoolExecutor(1))
    for key, value in rows_to_arrays(pooled).items():  # same numbers in any executor (NaN == NaN here)
        assert_array_equal(value, rows_to_arrays(serial)[key], err_msg=key)
    assert [(r.width, r.seed) for r in pooled] == [(3, 0), (3, 1), (5, 0), (5, 1)]
    with pytest.raises(ValueError, match="share settings and quick"):
        _catalogue_rows([(SMALL, 3, 0, False), (SMALL, 3, 0, True)])
    X, y = get_experiment("plateau_1d").data()
    for r in pooled:
        assert isinstance(r, CatalogueRow)
        assert r.lower_bound == pytest.approx(segmentation_lower_bound(X, y, r.width + 1))
        assert r.lower_bound <= r.loss and r.lower_bound <= r.polished_loss
        if r.converged:
            assert r.grad_norm <= SMALL.gtol and abs(r.rel_gap) <= SMALL.loss_rtol
        if r.polished:
            # the acceptance rule's score, and the same score through another code path
            assert r.polished_stationarity_cs == pytest.approx(r.polished_stationarity, rel=1e-6, abs=1e-14)
            assert r.polished_stationarity_cs <= SMALL.stationarity_rtol and r.pattern_flips == 0
            assert r.polished_loss == pytest.approx(r.lstar, rel=1e-10)
            assert r.n_cells == r.n_determined + r.n_outside + r.n_shared and r.rule_agrees
        else:
            assert r.n_cells == -1
    cols = rows_to_arrays(pooled)
    assert cols["loss"].dtype == np.float64 and cols["polished"].dtype == np.bool_


def test_catalogue_row_matches_a_direct_run():
    row = stationary_catalogue(SMALL, seed=1, quick=True, executor=ThreadPoolExecutor(1))[0]
    result, polish = run_to_stationary_point("plateau_1d", 1, width=3, steps=6_000, gtol=SMALL.gtol)
    assert row.loss == result.final_loss and row.nit == result.nit and row.polished == polish.accepted
    X, y = get_experiment("plateau_1d").data()
    assert row.loss == pytest.approx(loss(result.net, X, y), rel=1e-12)


def test_catalogue_settings():
    assert CATALOGUE_1D.widths == (3, 5, 10, 20) and CATALOGUE_1D.n_seeds(False) >= 10
    assert 3 <= CATALOGUE_1D.n_seeds(True) < CATALOGUE_1D.n_seeds(False) and CATALOGUE_2D.experiment == "plateau_2d"
    assert POLISH_DEMO.budget(True) == POLISH_DEMO.budget(False)
    with pytest.raises(ValueError, match="unknown experiment"):
        CatalogueSettings(experiment="nope")
    with pytest.raises(TypeError, match="widths"):
        CatalogueSettings(widths=[3, 5])
    with pytest.raises(ValueError, match="gtol"):
        CatalogueSettings(gtol=0.0)
    with pytest.raises(ValueError, match="seeds"):
        CatalogueSettings(seeds=0)
    with pytest.raises(TypeError, match="settings"):
        stationary_catalogue({"widths": (3,)})
    with pytest.raises(ValueError, match="seed"):
        stationary_catalogue(SMALL, seed=-1)


def test_run_to_stationary_point_validates():
    with pytest.raises(ValueError, match="unknown experiment"):
        run_to_stationary_point("nope", 0, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="width"):
        run_to_stationary_point("plateau_1d", 0, width=0, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="steps"):
        run_to_stationary_point("plateau_1d", 0, steps=0, gtol=1e-8)
    with pytest.raises(ValueError, match="stationarity_rtol"):
        run_to_stationary_point("plateau_1d", 0, steps=10, gtol=1e-8, stationarity_rtol=0.0)
    with pytest.raises(ValueError, match="rel_tol"):
        run_to_stationary_point("plateau_1d", 0, steps=10, gtol=1e-8, rel_tol=-1.0)


def test_worst_values_over_rows():
    rows = checked_rows()
    X = grid_1d()
    y = np.sin(np.pi * X[:, 0])
    zero = ShallowReLU(np.zeros(2), np.ones((2, 1)), np.zeros(2))  # no neuron with c_j != 0: score 0
    assert worst_polished_stationarity(rows, SimpleNamespace(accepted=True, net=zero), X, y) == 1e-12
    moving = net_1d([-0.5, 0.3], [1, -1], [1.0, 0.5])  # far from stationary: its own score wins
    expected = max_stationarity(moving, X, y)
    assert expected > 1e-3
    got = worst_polished_stationarity(rows, SimpleNamespace(accepted=True, net=moving), X, y)
    assert got == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="showcase must be an accepted polish"):
        worst_polished_stationarity(rows, SimpleNamespace(accepted=False, net=zero, message="moved"), X, y)
    assert gd_end_stationarity(rows) == 1e-8  # the polished rows only
