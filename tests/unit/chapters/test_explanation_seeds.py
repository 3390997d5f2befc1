"""Chapter 1's seed statistics (plateau_lib.chapters.explanation_seeds): plateau rows over seeds, the counts
of claims C1 and C2."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from explanation_stubs import stub_row, stub_study
from numpy.testing import assert_array_equal

from plateau_lib.chapters.explanation_seeds import (
    C1_DROP_FACTOR,
    SeedStatistics,
    SeedStudy,
    drop_counts,
    pattern_counts,
    plateau_statistics,
    seed_study,
)
from plateau_lib.chapters.page import rows_to_arrays


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


def test_drop_counts_per_seed():
    rows = [stub_row(0, drop=3.0), stub_row(0, drop=40.0), stub_row(1, drop=3.0), stub_row(1, exits=False, drop=5.0),
            stub_row(2, drop=C1_DROP_FACTOR * (1 - 1e-9))]
    counts = drop_counts(rows, [0, 1, 2, 3])  # seed 3: no plateau at all
    assert (counts.n_runs, counts.with_drop, counts.with_several, counts.most) == (4, 2, 1, 2)
    assert drop_counts([], []).n_runs == 0 and drop_counts([], [5]).with_drop == 0


def test_pattern_counts_separate_the_zero_network_and_final_stagnations():
    rows = [stub_row(0, n_sig=0), stub_row(0, within=False, gap=0.05), stub_row(1),
            stub_row(1, exits=False, within=False, gap=-0.2)]
    c = pattern_counts(rows)
    assert (c.exit, c.exit_within, c.exit_weighted, c.exit_weighted_within) == (3, 2, 2, 1)
    assert (c.final, c.final_within) == (1, 0)
    assert c.max_gap_exit == pytest.approx(0.05) and c.max_gap_final == pytest.approx(0.2)
    empty = pattern_counts([])
    assert empty.exit == 0 and np.isnan(empty.max_gap_exit) and np.isnan(empty.median_gap_exit)


def test_seed_statistics_settings():
    from plateau_lib.chapters.explanation_seeds import SEED_STATISTICS, SeedStatistics

    s = SeedStatistics(experiments=("plateau_1d",), seeds=(4,), quick_seeds=(2,))
    assert s.seed_list("plateau_1d", 3) == [3, 4, 5, 6]
    assert s.seed_list("plateau_1d", 3, quick=True) == [3, 4]
    assert len(SEED_STATISTICS.seed_list("plateau_2d", 0, quick=True)) < len(SEED_STATISTICS.seed_list("plateau_2d"))
    with pytest.raises(ValueError, match="name must be one of"):
        s.seed_list("plateau_2d")
    with pytest.raises(ValueError, match="one entry per experiment"):
        SeedStatistics(experiments=("plateau_1d",), seeds=(4, 5), quick_seeds=(2,))
    with pytest.raises(ValueError, match="seeds"):
        SeedStatistics(experiments=("plateau_1d",), seeds=(0,), quick_seeds=(2,))


def test_seed_study_counts_its_own_rows():
    settings = SeedStatistics(experiments=("plateau_1d",), seeds=(4,), quick_seeds=(1,))
    study = seed_study("plateau_1d", 2, quick=True, settings=settings, executor=ThreadPoolExecutor(1))
    assert isinstance(study, SeedStudy) and study.name == "plateau_1d" and study.seeds == (2,)
    assert study.rows == tuple(plateau_statistics("plateau_1d", [2], quick=True, executor=ThreadPoolExecutor(1)))
    assert study.drops == drop_counts(study.rows, [2]) and study.patterns == pattern_counts(study.rows)
    assert_array_equal(study.arrays["level"], [r.level for r in study.rows])
    with pytest.raises(TypeError, match="settings"):
        seed_study("plateau_1d", settings={"seeds": 3})
    with pytest.raises(ValueError, match="name must be one of"):
        seed_study("plateau_2d", settings=settings)


def test_study_exceptions_are_the_exits_that_change_pattern():
    rows = [stub_row(0), stub_row(1, within=False), stub_row(1, exits=False, within=False)]
    assert stub_study("x", rows, (0, 1)).exceptions == [(1, 0.0, 10.0)]
