"""Chapter 3's showcase (plateau_lib.chapters.stationary_showcase): the seed search, the residuals before and
after the polish, the glued numbers."""

from __future__ import annotations

import pytest
from numpy.testing import assert_array_equal
from stationary_fixtures import SMALL

from plateau_lib.chapters.stationary_catalogue import (
    run_to_stationary_point,
)
from plateau_lib.chapters.stationary_showcase import first_polished_run, polish_scores, showcase_values
from plateau_lib.experiments import get_experiment
from plateau_lib.stationarity import (
    STATIONARITY_RTOL,
    polish_to_stationarity,
    stationarity_scores,
)
from plateau_lib.sweeps import SeedSearch


def test_first_polished_run_passes_over_rejected_seeds():
    # plateau_1d at width 3, 6000 steps: seed 1 is still sliding (rejected), seed 2 polishes
    search = first_polished_run("plateau_1d", 1, width=3, steps=6_000, gtol=1e-8)
    assert isinstance(search, SeedSearch) and search.found
    assert search.seed == 2 and search.tried == (1, 2) and search.value[1].accepted
    assert len(search.passed_over) == 1 and search.passed_over[0].startswith("rejected")
    direct = run_to_stationary_point("plateau_1d", 1, width=3, steps=6_000, gtol=1e-8)[1]
    assert not direct.accepted and direct.message == search.passed_over[0]
    lines = search.describe().splitlines()
    assert lines[0].startswith("seed 1: rejected") and lines[-1].endswith("showcased")


def test_first_polished_run_returns_the_start_seed_when_it_qualifies():
    search = first_polished_run("plateau_1d", 0, width=3, steps=6_000, gtol=1e-8)
    assert search.seed == 0 and search.tried == (0,) and search.passed_over == ()


def test_first_polished_run_fails_loudly_when_no_seed_qualifies():
    # seeds 3, 4, 5 at width 3 all end sliding within 6000 steps
    with pytest.raises(RuntimeError, match=r"no seed of 3\.\.5 .*seed 5: rejected"):
        first_polished_run("plateau_1d", 3, width=3, steps=6_000, gtol=1e-8, max_tries=3)
    with pytest.raises(ValueError, match="start_seed"):
        first_polished_run("plateau_1d", -1, steps=10, gtol=1e-8)
    with pytest.raises(ValueError, match="max_tries"):
        first_polished_run("plateau_1d", 0, steps=10, gtol=1e-8, max_tries=0)


def test_polish_scores(converged_run):
    X, y, result = converged_run
    polish = polish_to_stationarity(result.net, X, y)
    scores = polish_scores(result, polish, X, y)
    assert_array_equal(scores.before, stationarity_scores(result.net, X, y))
    assert_array_equal(scores.after, stationarity_scores(polish.net, X, y))
    assert_array_equal(scores.carrying_before, result.net.c != 0)
    assert_array_equal(scores.carrying, polish.net.c != 0)
    assert scores.max_before == scores.before[result.net.c != 0].max()
    assert scores.max_after <= STATIONARITY_RTOL < scores.max_before
    with pytest.raises(TypeError, match="polish"):
        polish_scores(result, None, X, y)


def test_showcase_values_of_a_search():
    search = first_polished_run("plateau_1d", 0, width=3, steps=6_000, gtol=1e-8)
    e = get_experiment("plateau_1d").with_changes(width=3)
    X, y = e.data()
    result, polish = search.value
    scores = polish_scores(result, polish, X, y)
    values = showcase_values(e, search, scores, quick=True, settings=SMALL)
    assert (values["show_seed"], values["show_passed"], values["n1"], values["m1"]) == (0, 0, 3, e.m)
    assert values["demo_steps"] == SMALL.budget(True) and values["gd_steps"] == result.nit
    assert values["show_S"] == len(polish.neurons) and 0 <= values["show_left"] <= values["show_S"]
    assert values["polished_max_score"] == scores.max_after <= STATIONARITY_RTOL
    assert values["lstar_show"] == polish.lstar and values["stat_tol"] == STATIONARITY_RTOL
    with pytest.raises(ValueError, match="search must have found a seed"):
        showcase_values(e, SeedSearch(None, None, (0,), ("rejected",)), scores, quick=True)
