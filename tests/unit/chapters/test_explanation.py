"""Studies: plateau rows of a run and their statistics over seeds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from plateau_lib.chapters.explanation import (
    C1_DROP_FACTOR,
    OTHER_EXPERIMENTS,
    PLATEAU_LEVEL_RESOLUTION,
    ExperimentRun,
    PlateauRow,
    SeedStatistics,
    SeedStudy,
    describe_plateaus,
    drop_counts,
    exception_sentence,
    measure_run,
    others_values,
    pattern_counts,
    plateau_rows,
    plateau_snapshots,
    plateau_statistics,
    plateau_table,
    rows_to_arrays,
    seed_study,
    seed_values,
    shared_settings,
    showcase_values,
    weighted_changes,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.patterns import default_min_dwell, detect_plateaus, pattern_segments, plateau_index
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


# --------------------------------------------------------------------------- the chapter's runs


@pytest.fixture(scope="module")
def measured(quick_run):
    e, _, _, result = quick_run
    return measure_run(e, result, seed=e.seed)


def test_measure_run_bundles_rows_and_segments(quick_run, measured):
    e, X, y, result = quick_run
    assert isinstance(measured, ExperimentRun) and measured.experiment is e and measured.result is result
    assert_array_equal(measured.X, X) and assert_array_equal(measured.y, y)
    assert measured.rows == tuple(plateau_rows(result, X, y, seed=e.seed))
    assert measured.segments == tuple(pattern_segments(result))
    assert_array_equal(measured.segment_starts, [s.start for s in measured.segments])


def test_recorded_arrays_follow_the_recording_stride(quick_run, measured):
    e, _, _, result = quick_run
    on_grid = result.steps % e.record_every == 0
    assert 0 < on_grid.sum() < len(result.steps)  # the trainer also records off the stride
    assert (measured.recorded_steps % e.record_every == 0).all()
    assert_array_equal(measured.recorded_steps, result.steps[on_grid])
    assert_array_equal(measured.recorded_loss, result.loss[on_grid])
    assert measured.recorded_counts.shape == (on_grid.sum(), e.width)


def test_plateau_arrays_are_prefixed_columns(measured):
    cols = rows_to_arrays(measured.rows)
    arrays = measured.plateau_arrays("x_plateau_")
    assert sorted(arrays) == sorted(f"x_plateau_{k}" for k in cols)
    assert_array_equal(arrays["x_plateau_level"], cols["level"])
    with pytest.raises(TypeError, match="prefix"):
        measured.plateau_arrays(3)


def test_measure_run_validates(quick_run):
    e, _, _, result = quick_run
    with pytest.raises(TypeError, match="experiment"):
        measure_run("plateau_1d", result, seed=0)
    with pytest.raises(ValueError, match="result must be a completed run"):
        measure_run(e, replace(result, status="interrupted", message="stopped by hand"), seed=0)


def test_plateau_table_has_one_line_per_plateau():
    rows = [_row(0), _row(0, within=False, gap=0.5)]
    lines = plateau_table(rows).splitlines()
    assert len(lines) == 2 + len(rows) and lines[1].startswith("|---|")
    assert lines[2].endswith("| yes | yes |") and lines[3].endswith("| no | no |")
    assert "| 0 to 10 | 1.00000 | 0.50000 | 2 | 0 | 1 |" in lines[3]
    assert plateau_table([]).count("\n") == 1


def test_describe_plateaus():
    text = describe_plateaus([_row(0), _row(0, within=False, gap=0.25)])
    lines = text.splitlines()
    assert len(lines) == 2 and all(line.startswith("  plateau 0-10: level 1.00000") for line in lines)
    assert lines[1].endswith("L*(D,S) 0.75000, |S| = 2, changes of S inside 1, constant: False")
    assert describe_plateaus([]) == ""


def test_plateau_snapshots(measured):
    result, rows = measured.result, measured.rows
    nets, titles = plateau_snapshots(measured)
    assert len(nets) == len(titles) == len(rows) + 2
    assert titles[0] == "start" and titles[-1] == "end"
    middle = int((rows[0].start + rows[0].end) / 2)
    assert titles[1] == f"plateau 1 (step {middle})"
    assert_array_equal(nets[0].c, result.net_at(0).c) and assert_array_equal(nets[-1].W, result.net.W)
    assert_array_equal(nets[2].W, result.net_at(rows[1].index).W)
    nets2, titles2 = plateau_snapshots(measured, start=False, steps=False)
    assert titles2 == [f"plateau {k + 1}" for k in range(len(rows))] + ["end"] and len(nets2) == len(rows) + 1


# --------------------------------------------------------------------------- seed statistics and glued numbers


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


def _study(name: str, rows: list[PlateauRow], seeds: tuple[int, ...]) -> SeedStudy:
    return SeedStudy(name, seeds, tuple(rows), drop_counts(rows, seeds), pattern_counts(rows))


def test_study_exceptions_are_the_exits_that_change_pattern():
    rows = [_row(0), _row(1, within=False), _row(1, exits=False, within=False)]
    assert _study("x", rows, (0, 1)).exceptions == [(1, 0.0, 10.0)]


def test_showcase_values(quick_run, measured):
    e, _, _, result = quick_run
    values = showcase_values(measured)
    assert values["m1"] == e.m and values["n1"] == e.width and values["lr1"] == e.options["lr"]
    assert values["steps1"] == result.nit and values["raw_changes1"] == len(result.pattern_changes)
    assert values["dwell1"] == default_min_dwell(int(result.steps[-1]))
    assert values["filtered_changes1"] == len(measured.segments) - 1
    assert values["lstar_first"] == measured.rows[0].lstar
    with pytest.raises(ValueError, match="at least one detected plateau"):
        showcase_values(replace(measured, rows=()))


def _fake_runs(measured: ExperimentRun, **changes) -> dict[str, ExperimentRun]:
    runs = {name: replace(measured, experiment=get_experiment(name)) for name in OTHER_EXPERIMENTS}
    if changes:
        run = runs["plateau_2d"]
        runs["plateau_2d"] = replace(run, experiment=run.experiment.with_changes(**changes))
    return runs


def test_others_values_need_one_scale_and_one_step(measured):
    runs = _fake_runs(measured)
    assert shared_settings(runs.values()) == {(get_experiment("plateau_2d").init_scale,
                                               get_experiment("plateau_2d").options["lr"])}
    values = others_values(runs)
    assert values["n_2d"] == get_experiment("plateau_2d").width and values["m_multi"] == get_experiment(
        "multi_plateau_1d").m
    assert values["sentence_2d"] == exception_sentence(measured.rows, "plateau_2d")
    changed = _fake_runs(measured, init_scale=0.5)
    assert len(shared_settings(changed.values())) == 2
    with pytest.raises(ValueError, match="one initial scale and one step size"):
        others_values(changed)
    with pytest.raises(ValueError, match="missing \\['plateau_2d'\\]"):
        others_values({"multi_plateau_1d": runs["multi_plateau_1d"]})


def test_seed_values():
    study_1d = _study("plateau_1d", [_row(0, drop=3.0), _row(0, drop=40.0, within=False, gap=0.1),
                                     _row(1, exits=False, drop=1.0)], (0, 1))
    study_2d = _study("plateau_2d", [_row(0, n_sig=0)], (0, 1, 2))
    values = seed_values(study_1d, study_2d)
    assert (values["n_seeds"], values["n_seeds_2d"]) == (2, 3)
    assert (values["min_drop"], values["max_drop"]) == (3.0, 40.0)  # the final stagnation's factor is left out
    assert (values["n_exit"], values["exit_within"], values["n_final"]) == (2, 1, 1)
    assert values["several_1d"] == 1 and values["n_exit_weighted_2d"] == 0
    assert values["max_gap_exit"] == pytest.approx(0.1) and values["resolution"] == PLATEAU_LEVEL_RESOLUTION
    with pytest.raises(ValueError, match="study_1d must have at least one plateau followed by a drop"):
        seed_values(_study("plateau_1d", [_row(0, exits=False)], (0,)), study_2d)
    with pytest.raises(ValueError, match="study_1d"):
        seed_values(_study("plateau_1d", [], (0,)), study_2d)


def test_leading_neurons_are_those_of_largest_output_largest_first():
    from plateau_lib.chapters.explanation import leading_neurons
    from plateau_lib.network import ShallowReLU
    from plateau_lib.theory import neuron_contributions

    net = ShallowReLU(np.array([0.1, -3.0, 1.0, 0.0]), np.array([[1.0], [1.0], [-1.0], [1.0]]),
                      np.array([0.0, 0.0, 0.0, 0.0]))
    X = np.linspace(-1, 1, 11)[:, None]
    assert leading_neurons(net, X, k=2) == [1, 2]
    assert leading_neurons(net, X, k=10) == list(np.argsort(-neuron_contributions(net, X), kind="stable"))
    with pytest.raises(ValueError):
        leading_neurons(net, X, k=0)
