"""Chapter 1's glued numbers (plateau_lib.chapters.explanation_page): the showcased run's, the other
experiments', the seed statistics'."""

from __future__ import annotations

from dataclasses import replace

import pytest
from explanation_stubs import stub_row, stub_study

from plateau_lib.chapters.explanation_page import (
    OTHER_EXPERIMENTS,
    others_values,
    seed_values,
    shared_settings,
    showcase_values,
)
from plateau_lib.chapters.explanation_runs import PLATEAU_LEVEL_RESOLUTION, ExperimentRun, exception_sentence
from plateau_lib.experiments import get_experiment
from plateau_lib.patterns import default_min_dwell

pytest_plugins = ("explanation_fixtures",)  # the shared fixtures quick_run and measured


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
    study_1d = stub_study("plateau_1d", [stub_row(0, drop=3.0), stub_row(0, drop=40.0, within=False, gap=0.1),
                                     stub_row(1, exits=False, drop=1.0)], (0, 1))
    study_2d = stub_study("plateau_2d", [stub_row(0, n_sig=0)], (0, 1, 2))
    values = seed_values(study_1d, study_2d)
    assert (values["n_seeds"], values["n_seeds_2d"]) == (2, 3)
    assert (values["min_drop"], values["max_drop"]) == (3.0, 40.0)  # the final stagnation's factor is left out
    assert (values["n_exit"], values["exit_within"], values["n_final"]) == (2, 1, 1)
    assert values["several_1d"] == 1 and values["n_exit_weighted_2d"] == 0
    assert values["max_gap_exit"] == pytest.approx(0.1) and values["resolution"] == PLATEAU_LEVEL_RESOLUTION
    with pytest.raises(ValueError, match="study_1d must have at least one plateau followed by a drop"):
        seed_values(stub_study("plateau_1d", [stub_row(0, exits=False)], (0,)), study_2d)
    with pytest.raises(ValueError, match="study_1d"):
        seed_values(stub_study("plateau_1d", [], (0,)), study_2d)
