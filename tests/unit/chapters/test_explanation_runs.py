"""Chapter 1's runs (plateau_lib.chapters.explanation_runs): the plateau rows of a run, the run measured, what
the page shows of it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from explanation_stubs import stub_row
from numpy.testing import assert_array_equal

from plateau_lib.chapters.explanation_runs import (
    PLATEAU_LEVEL_RESOLUTION,
    ExperimentRun,
    describe_plateaus,
    exception_sentence,
    measure_run,
    plateau_rows,
    plateau_snapshots,
    plateau_table,
    weighted_changes,
)
from plateau_lib.chapters.explanation_seeds import C1_DROP_FACTOR
from plateau_lib.chapters.page import rows_to_arrays
from plateau_lib.patterns import detect_plateaus, pattern_segments, plateau_index
from plateau_lib.theory import local_ls_level, significant_neurons

pytest_plugins = ("explanation_fixtures",)  # the shared fixtures quick_run and measured


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


def test_drop_factors_chain_the_levels(quick_run):
    e, X, y, result = quick_run
    rows = plateau_rows(result, X, y, seed=e.seed)
    after = [r.level for r in rows[1:]] + [result.final_loss]
    assert [r.drop_factor for r in rows] == pytest.approx([r.level / a for r, a in zip(rows, after, strict=True)])
    assert rows[0].drop_factor > C1_DROP_FACTOR  # the saddle of the zero network is left by a real drop


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
    assert "every detected plateau keeps" in exception_sentence([stub_row(0)], "x")
    assert "every detected plateau keeps" in exception_sentence([], "x")
    text = exception_sentence([stub_row(0), stub_row(0, within=False, gap=0.5), stub_row(0, exits=False, within=False)],
                              "x")
    assert "2 of 3 plateaus do not" in text and "followed by a drop" in text and "0.5000" in text


def test_measure_run_bundles_rows_and_segments(quick_run, measured):
    e, X, y, result = quick_run
    assert isinstance(measured, ExperimentRun) and measured.experiment is e and measured.result is result
    assert_array_equal(measured.X, X)
    assert_array_equal(measured.y, y)
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
    rows = [stub_row(0), stub_row(0, within=False, gap=0.5)]
    lines = plateau_table(rows).splitlines()
    assert len(lines) == 2 + len(rows) and lines[1].startswith("|---|")
    assert lines[2].endswith("| yes | yes |") and lines[3].endswith("| no | no |")
    assert "| 0 to 10 | 1.00000 | 0.50000 | 2 | 0 | 1 |" in lines[3]
    assert plateau_table([]).count("\n") == 1


def test_describe_plateaus():
    text = describe_plateaus([stub_row(0), stub_row(0, within=False, gap=0.25)])
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


def test_leading_neurons_are_those_of_largest_output_largest_first():
    from plateau_lib.chapters.explanation_runs import leading_neurons
    from plateau_lib.network import ShallowReLU
    from plateau_lib.theory import neuron_contributions

    net = ShallowReLU(np.array([0.1, -3.0, 1.0, 0.0]), np.array([[1.0], [1.0], [-1.0], [1.0]]),
                      np.array([0.0, 0.0, 0.0, 0.0]))
    X = np.linspace(-1, 1, 11)[:, None]
    assert leading_neurons(net, X, k=2) == [1, 2]
    assert leading_neurons(net, X, k=10) == list(np.argsort(-neuron_contributions(net, X), kind="stable"))
    with pytest.raises(ValueError):
        leading_neurons(net, X, k=0)
