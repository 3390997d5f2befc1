"""Studies: plateau rows of a run and their statistics over seeds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from plateau_lib.chapters.explanation import (
    C1_DROP_FACTOR,
    PLATEAU_LEVEL_RESOLUTION,
    PlateauRow,
    drop_counts,
    exception_sentence,
    pattern_counts,
    plateau_rows,
    plateau_statistics,
    rows_to_arrays,
    weighted_changes,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.patterns import detect_plateaus, plateau_index
from plateau_lib.theory import local_ls_level, significant_neurons


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


def _row(seed: int, *, exits: bool = True, drop: float = 3.0, n_sig: int = 2, within: bool = True,
         gap: float = 0.0) -> PlateauRow:
    return PlateauRow(seed=seed, start=0.0, end=10.0, level=1.0, lstar=1.0 - gap, gap=gap, n_significant=n_sig,
                      within=within, within_all=within, coverage=1.0, raw_changes=0, filtered_changes=0,
                      exits=exits, index=0, weighted_changes=0 if within else 1, drop_factor=drop)


def test_drop_factors_chain_the_levels(quick_run):
    e, X, y, result = quick_run
    rows = plateau_rows(result, X, y, seed=e.seed)
    after = [r.level for r in rows[1:]] + [result.final_loss]
    assert [r.drop_factor for r in rows] == pytest.approx([r.level / a for r, a in zip(rows, after, strict=True)])
    assert rows[0].drop_factor > C1_DROP_FACTOR  # the saddle of the zero network is left by a real drop


def test_drop_counts_per_seed():
    rows = [_row(0, drop=3.0), _row(0, drop=40.0), _row(1, drop=3.0), _row(1, exits=False, drop=5.0),
            _row(2, drop=C1_DROP_FACTOR * (1 - 1e-9))]
    counts = drop_counts(rows, [0, 1, 2, 3])  # seed 3: no plateau at all
    assert (counts.n_runs, counts.with_drop, counts.with_several, counts.most) == (4, 2, 1, 2)
    assert drop_counts([], []).n_runs == 0 and drop_counts([], [5]).with_drop == 0


def test_pattern_counts_separate_the_zero_network_and_final_stagnations():
    rows = [_row(0, n_sig=0), _row(0, within=False, gap=0.05), _row(1), _row(1, exits=False, within=False, gap=-0.2)]
    c = pattern_counts(rows)
    assert (c.exit, c.exit_within, c.exit_weighted, c.exit_weighted_within) == (3, 2, 2, 1)
    assert (c.final, c.final_within) == (1, 0)
    assert c.max_gap_exit == pytest.approx(0.05) and c.max_gap_final == pytest.approx(0.2)
    empty = pattern_counts([])
    assert empty.exit == 0 and np.isnan(empty.max_gap_exit) and np.isnan(empty.median_gap_exit)


def test_weighted_changes_see_a_weight_carrying_neuron_only(quick_run):
    e, X, y, result = quick_run
    second = detect_plateaus(result.steps, result.loss)[1]
    assert len(weighted_changes(result, X, y, second)) == 0
    net = result.net_at(plateau_index(result, second))
    carrying = significant_neurons(net, X, y)
    idle = sorted(set(range(net.n)) - set(carrying))
    step = int(second.middle)
    # a settled switch of one entry of a weight-carrying neuron mid-plateau must be seen ...
    moved = replace(result, flips=np.vstack([result.flips, [[step, 0, carrying[0]]]]))
    assert weighted_changes(moved, X, y, second).tolist() == [step]
    # ... one of a neuron that carries no weight is C2's proviso and is not ...
    if idle:
        quiet = replace(result, flips=np.vstack([result.flips, [[step, 0, idle[0]]]]))
        assert len(weighted_changes(quiet, X, y, second)) == 0
    # ... nor is a switch in the plateau's outer margin, where the loss still settles
    edge = int(second.start + 0.05 * second.length)
    settling = replace(result, flips=np.vstack([result.flips, [[edge, 0, carrying[0]]]]))
    assert len(weighted_changes(settling, X, y, second)) == 0


def test_exception_sentence_names_the_first_exception():
    assert "every detected plateau keeps" in exception_sentence([_row(0)], "x")
    assert "every detected plateau keeps" in exception_sentence([], "x")
    text = exception_sentence([_row(0), _row(0, within=False, gap=0.5), _row(0, exits=False, within=False)], "x")
    assert "2 of 3 plateaus do not" in text and "followed by a drop" in text and "0.5000" in text


def test_seed_statistics_settings():
    from plateau_lib.chapters.explanation import SEED_STATISTICS, SeedStatistics

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
