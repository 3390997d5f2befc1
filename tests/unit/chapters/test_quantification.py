"""Chapter 2's tools: fixed-pattern runs and bounds, balance drift, escape rates, sliding, the regime sweep.

Tolerances: exact identities are checked to roundoff (~1e-12 on O(1) data); statements about
an integrated flow to its tolerance; each stated at the test.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import sin_problem
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.chapters.quantification import (
    REGIME_SWEEP,
    RegimeSweep,
    count_directions,
    final_sliding_state,
    fit_exit_times,
    regime_arrays,
    regime_run,
    regime_runs,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.fixed_pattern import (
    breakpoint_history,
    rate_history,
    sliding_phases,
    weighted_phases,
)
from plateau_lib.theory import kernel_lambda, significant_neurons
from plateau_lib.trainers import train_flow, train_gd

# --------------------------------------------------------------------------- fixed-pattern flow


# --------------------------------------------------------------------------- fact 1: history and bounds


# --------------------------------------------------------------------------- fact 2


# --------------------------------------------------------------------------- fact 3


# --------------------------------------------------------------------------- sliding


def test_gd_on_plateau_1d_seed_0_ends_sliding_at_the_pinned_level():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    result = experiment.run(0, steps=3000, record_every=1)
    phases = weighted_phases(result, X, y, sliding_phases(result))
    i_pin = point_nearest_a_breakpoint(result.net, X, y)
    assert phases and all(p.i == i_pin for p in phases if p.end >= 2900)
    state = final_sliding_state(result, X, y, phases)
    assert state is not None and {i for i, _ in state.pins} == {i_pin}
    # the pinned level lies above both neighbours' levels, by far more than round-off, and
    # the loss is nearer to it than to either of them
    assert state.lstar_on < state.lstar_off < state.pinned
    assert 0 < state.level_error < 1e-6 * (state.pinned - state.lstar_off)
    assert abs(state.loss - state.pinned) < (state.pinned - state.lstar_off) / 2
    bp = breakpoint_history(result, [j for _, j in state.pins])
    assert np.all(np.abs(bp[-50:] - X[i_pin, 0]) < 5e-3)


def point_nearest_a_breakpoint(net, X, y):
    """The data point nearest to a breakpoint -b_j/w_j of a weight-carrying neuron (1-D input).

    Found from the geometry alone, independently of the toggle counting of ``sliding_phases``.
    """
    weighted = significant_neurons(net, X, y)
    distance = np.abs(X[:, :1] + net.b[weighted][None, :] / net.W[weighted, 0][None, :])
    return int(np.unravel_index(distance.argmin(), distance.shape)[0])


# --------------------------------------------------------------------------- pinned level


# --------------------------------------------------------------------------- the sweep


def test_regime_sweep_settings_validate():
    assert REGIME_SWEEP.base == "plateau_1d" and len(REGIME_SWEEP.scales) >= 7
    assert REGIME_SWEEP.seed_list(quick=True, offset=2) == [2, 3, 4, 5, 6]
    assert REGIME_SWEEP.experiment(1e-4).init_scale == 1e-4
    grid = REGIME_SWEEP.step_grid(quick=True)
    assert grid[0] == 0 and grid[-1] == get_experiment("plateau_1d").quick_steps and np.all(np.diff(grid) > 0)
    with pytest.raises(ValueError, match="unknown experiment"):
        RegimeSweep(base="nope")
    with pytest.raises(ValueError, match="scales"):
        RegimeSweep(scales=(1.0,))
    with pytest.raises(ValueError, match="exit_fraction"):
        RegimeSweep(exit_fraction=1.5)


def test_regime_run_and_exit_fit_on_a_small_sweep():
    settings_ = RegimeSweep(scales=(1e-2, 1e-4, 1e-6), seeds=(3,), quick_seeds=1)
    rows = [regime_run((settings_, s, 3, True)) for s in settings_.scales]
    cols = regime_arrays(rows)
    assert cols["grid_loss"].shape == (3, len(settings_.step_grid(True)))
    assert np.all(np.diff(cols["exit_time"]) > 0)  # smaller scale, later exit
    fit = fit_exit_times(settings_, rows)
    assert_array_equal(fit.scales, [1e-2, 1e-4, 1e-6])
    assert abs(fit.ratio - 1) <= fit.rtol  # GD's prediction, told apart from the flow's
    assert abs(fit.flow_ratio - 1) >= fit.rtol
    with pytest.raises(TypeError, match="settings"):
        regime_run(("x", 1.0, 0, True))
    # the same rows from one stack of runs (wall times apart)
    together = regime_arrays(regime_runs([(settings_, s, 3, True) for s in settings_.scales]))
    for key, value in cols.items():
        if key != "wall_time":
            assert_array_equal(together[key], value, err_msg=key)
    with pytest.raises(ValueError, match="share quick"):
        regime_runs([(settings_, 1e-2, 3, True), (settings_, 1e-2, 3, False)])


def test_exit_fit_tolerance_is_half_the_gap_between_the_predictions():
    from plateau_lib.chapters.quantification import ExitFit
    from plateau_lib.fixed_pattern import predicted_exit_slope

    rate, lr = 0.25, 0.1
    gd = predicted_exit_slope(rate, lr)
    fit = ExitFit(np.array([1e-2, 1e-4]), np.array([10.0, 30.0]), gd, 0.0, gd, rate)
    flow = 1 / rate
    assert fit.flow_slope == flow and fit.ratio == 1.0
    assert fit.rtol == pytest.approx(abs(flow - gd) / (2 * gd), rel=1e-14) and gd > flow
    # a slope halfway between the predictions is at the edge of both
    middle = dataclasses.replace(fit, slope=(gd + flow) / 2)
    assert abs(middle.ratio - 1) == pytest.approx(middle.rtol, rel=1e-12)
    assert fit.resolution(lr) == pytest.approx(2 * lr / 20.0)
    with pytest.raises(ValueError, match="lr"):
        fit.resolution(0.0)


def test_count_directions():
    V = np.array([[1.0, 0.0], [2.0, 0.01], [0.0, 1.0], [0.0, 0.0], [-1.0, 0.0]])
    assert count_directions(V) == 3
    assert count_directions(np.zeros((0, 2))) == 0
    with pytest.raises(ValueError, match="2-D"):
        count_directions(np.ones(3))


# --------------------------------------------------------------------------- fact 1: round-off floor and checks


@pytest.fixture(scope="module")
def short_flow():
    """A short gradient flow of plateau_1d (seed 5) that leaves the first plateau, and its segments."""
    from plateau_lib.chapters.quantification import flow_segments

    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    flow = train_flow(experiment.initial_network(5), X, y, t_end=60.0, rtol=1e-10)
    return flow, X, y, flow_segments(flow, X, y, min_duration=1.0)


def test_flow_segments_summary_and_showcase_on_a_short_flow(short_flow):
    from plateau_lib.chapters.quantification import showcase_segment, summarize_segments

    flow, _, _, segs = short_flow
    assert segs
    for s in segs:
        assert s.check.holds
        assert set(s.history.S) <= set(s.exact_history.S)
        assert s.exact == (s.history is s.exact_history)
        assert s.exact or s.contribution > 0
    summary = summarize_segments(segs, flow.extra["t"])
    assert summary.n == len(segs) == summary.n_exact + summary.n_inexact == summary.n_hold
    k = showcase_segment(segs)
    assert k is not None and 0 <= k < len(segs)
    assert showcase_segment([]) is None
    empty = summarize_segments([], flow.extra["t"])
    assert empty.n == 0 and math.isnan(empty.max_floored_ratio) and math.isnan(empty.inexact_until)


def test_find_sliding_showcase_reuses_rows_and_reports_an_empty_search():
    from dataclasses import replace

    from plateau_lib.chapters.quantification import find_sliding_showcase

    settings = RegimeSweep(name="tiny_showcase", scales=(1e-3, 1e-4), seeds=(0,), quick_seeds=1)
    row = regime_run((settings, 1e-3, 0, True))
    sliding = replace(row, end_sliding=True)
    found = find_sliding_showcase(settings, 1e-3, 0, quick=True, rows=[sliding])
    assert found.value is sliding and found.seed == 0 and found.tried == (0,)
    still = replace(row, end_sliding=False)
    none = find_sliding_showcase(settings, 1e-3, 0, quick=True, rows=[still], max_seeds=1)
    assert not none.found and none.value is None and none.tried == (0,)
    assert none.passed_over == ("does not end sliding",)
    with pytest.raises(TypeError, match="RegimeSweep"):
        find_sliding_showcase("sweep", 1e-3, 0)


# --------------------------------------------------------------------------- the chapter's hidden computations


def test_segment_helpers_describe_ratios_and_failures(short_flow):
    from dataclasses import replace

    from plateau_lib.chapters.quantification import (
        describe_segments,
        describe_summary,
        failed_segments,
        segment_ratios,
        summarize_segments,
        summary_values,
    )

    flow, _, _, segs = short_flow
    t = flow.extra["t"]
    ratios = segment_ratios(segs)
    assert ratios.shape == (len(segs),)
    h = segs[0].history
    assert ratios[0] == np.max(h.excess[1:] / h.flow_bound()[1:])
    assert segment_ratios([]).shape == (0,)
    assert failed_segments(segs, t) == {}
    broken = replace(segs[-1], check=replace(segs[-1].check, holds=False))
    assert failed_segments([*segs[:-1], broken], t) == {float(t[broken.a]): broken.check}
    lines = describe_segments(segs, t).splitlines()
    assert len(lines) == len(segs) and all(line.startswith("t ") and ": exact " in line for line in lines)
    summary = summarize_segments(segs, t)
    assert describe_summary(summary).startswith(f"{summary.n_hold} of {summary.n} segments")
    values = summary_values(summary, np.ones(5))
    assert values["inexact_text"].startswith("On every segment") == (summary.n_inexact == 0)
    assert values["n_segments"] == summary.n and values["max_ratio"] == summary.max_floored_ratio
    assert values["n_exact"] + values["n_inexact"] == values["n_segments"]


def test_showcase_rule_names_the_group_the_segment_came_from(short_flow):
    from dataclasses import replace

    from plateau_lib.chapters.quantification import showcase_rule

    segment = short_flow[3][0]
    changed = replace(segment, exact=True, run=replace(segment.run, changed_at=1.0))
    assert showcase_rule(changed) == "among the segments that end in a pattern change"
    unchanged = replace(changed, run=replace(segment.run, changed_at=None))
    assert showcase_rule(unchanged).startswith("(no such segment ends in a pattern change")
    assert "every neuron with an active point" in showcase_rule(replace(changed, exact=False))
    with pytest.raises(TypeError, match="segment"):
        showcase_rule("segment")


def test_lambda_agreement_compares_with_the_smallest_positive_eigenvalue(short_flow):
    from plateau_lib.chapters.quantification import lambda_agreement

    _, X, _, segs = short_flow
    s = segs[0]
    h, run = s.exact_history, s.exact_run
    # with a stride longer than the history only the first time is compared
    first = abs(h.lam[0] - kernel_lambda(run.net_at(0), X, h.S)) / h.lam[0]
    assert lambda_agreement(s, X, every=len(h.t)) == first
    assert lambda_agreement(s, X, every=1) >= first
    with pytest.raises(ValueError, match="every"):
        lambda_agreement(s, X, every=0)


def test_gd_on_segment_satisfies_its_euler_bound_and_the_slack_shrinks_with_the_step(short_flow):
    from plateau_lib.chapters.quantification import gd_on_segment, showcase_segment, showcase_values

    flow, X, y, segs = short_flow
    t = flow.extra["t"]
    shown = segs[showcase_segment(segs)]
    fine = gd_on_segment(flow, X, y, shown, lr=0.02, extra_steps=100)
    coarse = gd_on_segment(flow, X, y, shown, lr=0.1, extra_steps=10)
    assert fine.steps == len(fine.run.t) >= 2 and fine.history.S == shown.exact_history.S
    # at most round(duration / lr) + extra_steps steps are run
    assert fine.steps <= round((t[shown.b] - t[shown.a]) / 0.02) + 101
    assert fine.check().holds and coarse.check().holds
    assert 0 <= fine.slack < coarse.slack  # the eta^2 remainder per step: O(eta) over a time
    assert fine.max_ratio == pytest.approx(1 + fine.slack, rel=1e-15)
    assert fine.describe().startswith(f"GD (lr 0.02): {fine.steps} steps")
    values = showcase_values(flow, X, shown, fine, coarse)
    assert values["seg_t0"] == float(t[shown.a]) and values["seg_t1"] == float(t[shown.b])
    assert values["gd_steps"] == fine.steps and values["flow_steps"] == flow.nit
    assert values["gd_slack"] == fine.slack and values["gd_slack_01"] == coarse.slack
    with pytest.raises(ValueError, match="lr"):
        gd_on_segment(flow, X, y, shown, lr=-0.1, extra_steps=0)
    with pytest.raises(TypeError, match="segment"):
        gd_on_segment(flow, X, y, "shown", lr=0.1, extra_steps=0)
    gd_run = train_gd(get_experiment("plateau_1d").initial_network(5), X, y, lr=0.1, steps=5)
    with pytest.raises(TypeError, match="flow"):
        gd_on_segment(gd_run, X, y, shown, lr=0.1, extra_steps=0)


def test_inexact_sentence():
    from dataclasses import replace

    from plateau_lib.chapters.quantification import SegmentSummary, inexact_sentence

    nan = math.nan
    silent = SegmentSummary(3, 3, 0, 3, 1.0, 1.0, 1.0, 0, 5.0, 1e-16, 1e-9, nan, nan, nan, nan, nan, 0)
    assert inexact_sentence(silent, np.ones(4)) == "On every segment of this run the neurons outside S are silent."
    active = replace(silent, n_inexact=2, inexact_until=41.7, inexact_contribution=3e-4, inexact_delta=2e-3,
                     inexact_projected_ratio=0.5, n_inexact_beyond=0)
    text = inexact_sentence(active, 2 * np.ones(4))
    assert text.startswith("In the other 2 segment(s) (the last ending at t = 42)")
    assert "RMS at most 3.0e-04 (the targets' RMS is 2.00)" in text and text.endswith("0 of these segments exceed it.")


def test_flow_balances_stay_within_the_integrators_allowance(short_flow):
    from plateau_lib.chapters.quantification import flow_balances
    from plateau_lib.theory import conserved_quantities

    flow = short_flow[0]
    balances = flow_balances(flow, rtol=1e-10)
    n = flow.net.n
    assert balances.change.shape == (len(flow.extra["t"]), n)
    assert_array_equal(balances.change[0], np.zeros(n))
    assert_allclose(balances.change[-1], conserved_quantities(flow.net) - conserved_quantities(flow.net_at(0)))
    assert balances.allowed == 2e-10 * flow.nit * np.max(np.sum(flow.params**2, axis=1))
    assert 0 < balances.drift <= balances.allowed  # fact 2, up to the integrator's error
    with pytest.raises(ValueError, match="rtol"):
        flow_balances(flow, rtol=0.0)


def test_flow_plateau_level_finds_the_first_plateau_after_the_escape():
    from plateau_lib.chapters.quantification import flow_plateau_level
    from plateau_lib.theory import lstar_of_network

    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    flow = train_flow(experiment.initial_network(0), X, y, t_end=400.0, rtol=1e-8)
    level = flow_plateau_level(flow, X, y)
    t = flow.extra["t"]
    middle = flow.net_at(int(np.argmin(np.abs(t - level.plateau.middle))))
    assert significant_neurons(middle, X, y) and level.lstar == lstar_of_network(middle, X, y)
    assert level.gap == abs(level.plateau.level - level.lstar) / level.lstar
    assert level.plateau.start > 0  # not the first plateau, which starts with the run
    # on the first plateau no neuron carries weight: no such plateau
    early = train_flow(experiment.initial_network(0), X, y, t_end=20.0, rtol=1e-8)
    with pytest.raises(ValueError, match="no plateau"):
        flow_plateau_level(early, X, y)


def test_gd_balance_drift_scales_like_the_step_squared():
    from plateau_lib.chapters.quantification import drift_values, gd_balance_drift

    net, X, y = sin_problem(1)
    drift = gd_balance_drift(net, X, y, lrs=[0.1, 0.05, 0.025], duration=5.0)
    assert_array_equal(drift.lr, [0.1, 0.05, 0.025])
    assert_array_equal(drift.per_step, [r.per_step for r in drift.runs])
    assert drift.slope == pytest.approx(2.0, abs=0.2) and drift.identity < 1e-12
    values = drift_values(drift)
    assert values["drift_time"] == 5.0 and values["drift_lr_min"] == 0.025 and values["drift_lr_max"] == 0.1
    assert values["drift_total_01"] == drift.runs[0].drift and values["drift_slope"] == drift.slope
    with pytest.raises(ValueError, match="duration"):
        gd_balance_drift(net, X, y, lrs=[0.1], duration=0.0)


def test_rate_values():
    from plateau_lib.chapters.quantification import FlowBalances, PlateauLevel, rate_values
    from plateau_lib.patterns import Plateau

    level = PlateauLevel(Plateau(10.0, 30.0, 3.0, 0.11, -0.01), 0.1)
    assert level.gap == pytest.approx(0.1)
    balances = FlowBalances(np.array([[0.0, 0.0], [1e-12, -3e-12]]), 1e-9, 10.0)
    assert balances.drift == 3e-12
    values = rate_values([0.0, 0.5, 0.1, 2.0], level, balances)
    assert values == dict(lam_median=0.5, lam_min=0.1, lam_max=2.0, p2_start=10.0, p2_end=30.0, p2_gap=level.gap,
                          flow_balance_drift=3e-12, flow_drift_allowed=1e-9, flow_drift_allowed_rate=1e-10)


def test_settings_run_and_exit_values():
    from plateau_lib.chapters.quantification import ExitFit, exit_values, run_values, settings_values
    from plateau_lib.fixed_pattern import EscapeDirection

    settings = settings_values(REGIME_SWEEP, quick=True)
    assert settings["scales_text"] == "10^0, 10^-1, 10^-2, 10^-3, 10^-4, 10^-5, 10^-6"
    assert settings["n_sweep_seeds"] == REGIME_SWEEP.quick_seeds
    assert settings["sweep_steps"] == get_experiment("plateau_1d").quick_steps
    with pytest.raises(TypeError, match="settings"):
        settings_values("regime_1d", quick=True)
    experiment = get_experiment("plateau_1d")
    run = run_values(experiment, [3.0, -4.0], t_end=12.5, flow_rtol=1e-10)
    assert run["y_rms"] == pytest.approx(np.sqrt(12.5)) and run["t_end"] == 12.5
    assert (run["m1"], run["n1"], run["alpha1"]) == (experiment.m, experiment.width, experiment.init_scale)
    fit = ExitFit(np.array([1e-2, 1e-4]), np.array([10.0, 30.0]), 4.0, -8.0, 4.1, 0.25)
    X = np.array([[0.0], [0.5], [1.0]])
    values = exit_values(fit, EscapeDirection(0.25, 1.0, -0.5, 0.5, 1), X, lr=0.1)
    assert values["escape_where"] == "a data point"
    assert values["discretisation_factor"] == pytest.approx(0.025 / math.log1p(0.025))
    assert values["decade_cost"] == pytest.approx(4.0 * math.log(10))
    assert values["fit_span"] == 20.0 and values["slope_resolution"] == pytest.approx(0.01)
    assert values["slope_ratio"] == fit.ratio and values["fit_alpha_max"] == 1e-2
    between = exit_values(fit, EscapeDirection(0.25, 1.0, -0.3, 0.3, 1), X, lr=0.1)
    assert between["escape_where"] == "between data points"


def synthetic_cols():
    """Columns of a hand-made sweep: scales 1, 1e-2, 1e-3, two seeds each (as regime_arrays makes them)."""
    nan = math.nan
    grid_loss = np.array([[1.0, 0.5, 0.05, 0.01]] * 2 + [[1.0, 1.0, 0.08, 0.05]] * 2 + [[1.0, 1.0, 1.0, 0.5]] * 2)
    return {
        "scale": np.array([1.0, 1.0, 1e-2, 1e-2, 1e-3, 1e-3]),
        "seed": np.array([0, 1, 0, 1, 0, 1]),
        "zero_level": np.ones(6),
        "initial_loss": np.array([2.0, 4.0, 1.0, 1.0, 1.0, 1.0]),
        "final_loss": np.array([0.01, 0.02, 0.05, 0.5, 0.03, 0.2]),
        "exit_time": np.array([0.0, 0.0, 2.0, 2.0, 3.0, 3.0]),
        "plateau_time": np.array([1.0, 2.0, 10.0, 99.0, 20.0, 98.0]),
        "final_plateau_start": np.full(6, nan),
        "n_plateaus": np.array([0, 1, 2, 1, 3, 2]),
        "raw_changes": np.array([5, 7, 9, 11, 13, 15]),
        "filtered_changes": np.array([1, 3, 4, 6, 8, 10]),
        "movement": np.array([0.2, 0.4, 10.0, 20.0, 100.0, 300.0]),
        "n_directions": np.array([5, 6, 4, 1, 3, 2]),
        "grid_loss": grid_loss,
        "sliding_steps": np.array([0, 50, 100, 0, 25, 75]),
        "budget": np.full(6, 100),
        "end_sliding": np.array([False, True, True, False, False, True]),
        "tail_change": np.array([0.0, 1e-6, 1e-3, 0.0, 0.0, 1e-7]),
        "end_loss": np.array([nan, 0.0201, 0.05, nan, nan, 0.2]),
        "end_pinned": np.array([nan, 0.02, 0.049, nan, nan, 0.2]),
        "end_lstar_off": np.array([nan, 0.019, 0.048, nan, nan, 0.19]),
        "end_lstar_on": np.array([nan, 0.018, 0.047, nan, nan, 0.18]),
        "end_level_error": np.array([nan, 1e-18, 1e-18, nan, nan, 1e-18]),
    }


def test_stalls_and_descending_plateau_times_on_a_synthetic_sweep():
    from plateau_lib.chapters.quantification import ExitFit, descending_plateau_times, stall_values, stalled

    cols = synthetic_cols()
    assert_array_equal(stalled(cols), [False, False, False, True, False, True])
    descending = descending_plateau_times(cols, [1e-2, 1e-3])
    assert_array_equal(descending.median_times, [10.0, 20.0]) and descending.missing == []
    assert descending.per_decade == pytest.approx(10.0)
    stuck = descending_plateau_times({**cols, "final_loss": np.ones(6)}, [1e-2, 1e-3])
    assert stuck.missing == [1e-2, 1e-3] and np.all(np.isnan(stuck.median_times))
    fit = ExitFit(np.array([1e-2, 1e-3]), np.array([2.0, 3.0]), 1.0 / math.log(10), 0.0, 0.5, 2.0)
    values = stall_values(cols, fit, descending)
    assert values["n_stall_all"] == 2 and values["n_stuck"] == 2 and values["n_adaptive"] == 4
    assert values["frac_stuck"] == 0.5 and values["stall_one_plateau"] == 1
    assert values["later_vs_first"] == pytest.approx(10.0)  # a decade costs 1 in fact 3 here
    assert values["free_pt_fit_max"] == 10.0 and values["free_pt_smallest"] == 20.0
    assert values["final_adaptive_free"] == pytest.approx(0.04) and values["stuck_dirs_max"] == 2
    assert values["other_dirs_median"] == 4.5


def test_tenth_times_and_the_lazy_and_adaptive_ends():
    from plateau_lib.chapters.quantification import lazy_adaptive_values, tenth_times

    cols = synthetic_cols()
    grid_t = np.array([0.0, 1.0, 2.0, 3.0])
    tenth = tenth_times(cols, grid_t)
    assert_array_equal(tenth[:4], [2.0, 2.0, 2.0, 2.0]) and np.all(np.isnan(tenth[4:]))
    values = lazy_adaptive_values(cols, grid_t)
    assert values["lazy_alpha"] == 1.0 and values["smallest_alpha"] == 1e-3
    assert values["lazy_initial_ratio"] == 3.0 and values["plateau_time_lazy"] == 1.5
    assert values["filt_lazy"] == 2.0 and values["filt_adaptive"] == 9.0
    assert values["tenth_lazy"] == 2.0 and values["tenth_lazy_n"] == 2
    assert math.isnan(values["tenth_adaptive"]) and values["tenth_adaptive_n"] == 0
    assert values["movement_adaptive"] == 200.0 and values["final_lazy"] == pytest.approx(0.015)


def test_sliding_statistics_on_a_synthetic_sweep():
    from plateau_lib.chapters.quantification import (
        end_sliding_sentence,
        sliding_fraction,
        sliding_statistics,
        sliding_sweep_values,
    )

    cols = synthetic_cols()
    assert_array_equal(sliding_fraction(cols), [0.0, 0.5, 1.0, 0.0, 0.25, 0.75])
    stats = sliding_statistics(cols, 1e-3)
    assert_array_equal(stats.base, [False] * 4 + [True] * 2)
    assert_array_equal(stats.at_rest, [False, True, False, False, False, True])
    assert stats.end_gap_min == pytest.approx(0.0) and stats.end_gap_rest_max == pytest.approx(0.005)
    # In half gaps to the neighbouring level (0.02 - 0.019)/(2 * 0.02) = 0.025: run 1 is 0.005 above.
    assert stats.rest_ratio == pytest.approx(0.005 / 0.025) and stats.below_ratio == pytest.approx(0.0)
    assert stats.search_miss(3) == 0.125  # one of the two base runs ends sliding
    assert stats.describe().startswith("runs ending while sliding: 3; smallest")
    text = end_sliding_sentence(stats)
    assert text.startswith("3 of the 6 runs end while sliding (1 of the 2 runs of plateau_1d)")
    assert "The 2 of them that have come to rest" in text
    values = sliding_sweep_values(stats)
    assert values["end_1d"] == 1 and values["end_rest_1d"] == 1 and values["n_1d_runs"] == 2
    assert values["slide_frac_1d_median"] == 0.5 and values["slide_frac_all"] == pytest.approx(2.5 / 6)
    assert values["n_runs"] == 6 and values["n_end_sliding"] == 3 and values["n_end_rest"] == 2
    none = sliding_statistics({**cols, "end_sliding": np.zeros(6, bool)}, 1e-3)
    assert math.isnan(none.end_gap_min) and math.isnan(none.end_gap_rest_max)
    assert math.isnan(none.below_ratio) and math.isnan(none.rest_ratio) and none.n_same_level == 0
    same = sliding_statistics({**cols, "end_lstar_off": cols["end_pinned"], "end_lstar_on": cols["end_pinned"]}, 1e-3)
    assert same.n_same_level == 3 and math.isnan(same.rest_ratio)  # no run at rest has a distinct neighbour
    assert end_sliding_sentence(none) == "No run of the sweep ends while sliding."


def test_sliding_tolerance_is_half_the_gap_to_the_nearer_distinct_neighbour():
    from plateau_lib.chapters.quantification import sliding_statistics, sliding_tolerance

    for off, on in [(0.019, 0.018), (0.018, 0.019)]:
        tol, distinct = sliding_tolerance(0.02, off, on, 1e-18)
        assert tol == pytest.approx(0.025) and distinct
    tol, distinct = sliding_tolerance([1.0, 2.0], [0.5, 1.0], [0.0, 1.5], [1e-16, 1e-16])
    assert_allclose(tol, [0.25, 0.125]) and distinct.all()
    # A neighbour within round-off of the pinned level gives the same level: the other one counts.
    tol, distinct = sliding_tolerance(0.02, 0.02 - 1e-19, 0.018, 1e-18)
    assert tol == pytest.approx(0.05) and distinct
    # Neither distinct: the tolerance is the round-off bound, relative.
    tol, distinct = sliding_tolerance(0.02, 0.02, 0.02 - 1e-19, 1e-18)
    assert tol == pytest.approx(5e-17) and not distinct
    # A run that went down to its neighbour's level (0.048 against pinned 0.049, half gap 1/98)
    # is a full gap below, two half gaps: the check (at least -1) fails on it.
    cols = synthetic_cols()
    cols["end_loss"] = cols["end_loss"].copy()
    cols["end_loss"][2] = 0.048
    assert sliding_statistics(cols, 1e-3).below_ratio == pytest.approx(-2.0)


def test_sweep_figures_carry_the_arrays_they_draw():
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.quantification import (
        DrawnFigure,
        ExitFit,
        draw_lazy_adaptive,
        draw_scale_summary,
        draw_sliding_statistics,
    )

    cols = synthetic_cols()
    fit = ExitFit(np.array([1e-2, 1e-3]), np.array([2.0, 3.0]), 0.4, 0.2, 0.45, 2.0)
    lazy = draw_lazy_adaptive(cols, fit, np.arange(4.0), exit_fraction=0.9)
    summary = draw_scale_summary(cols)
    sliding = draw_sliding_statistics(cols)
    none = draw_sliding_statistics({**cols, "end_sliding": np.zeros(6, bool)})
    for drawn in (lazy, summary, sliding, none):
        assert isinstance(drawn, DrawnFigure) and drawn.unchecked == {}
        plt.close(drawn.fig)
    assert set(lazy.data) == {"grid_t", "grid_loss", "scale", "seed", "exit_time", "fit_scales",
                              "fit_median_times", "slope"}
    assert_array_equal(lazy.data["slope"], [0.4, 0.45])
    assert list(summary.data) == ["scale", "seed", "raw_changes", "filtered_changes", "plateau_time",
                                  "final_loss", "final_plateau_start"]
    assert summary.data["plateau_time"] is cols["plateau_time"]
    assert list(sliding.data) == ["scale", "seed", "sliding_fraction", "end_sliding", "end_loss", "end_pinned",
                                  "end_lstar_off", "end_lstar_on"]


def regime_row(seed, tail_change):
    """A RegimeRow with only ``seed`` and ``tail_change`` meaningful (the rest is placeholder)."""
    from plateau_lib.chapters.quantification import RegimeRow

    return RegimeRow(1e-3, seed, 0.1, 3000, 1.0, 0.1, 1.0, 1.0, 1.0, 1, 1.0, 1, 1, 0.0, 1.0, 0, True,
                     0.1, 0.1, 0.1, 0.1, 1e-18, tail_change, 1, np.zeros(2))


def test_sliding_showcase_of_plateau_1d_seed_0():
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.quantification import (
        draw_sliding,
        shown_sentence,
        sliding_showcase,
        sliding_showcase_values,
        sliding_statistics,
    )
    from plateau_lib.sweeps import SeedSearch

    experiment = get_experiment("plateau_1d").with_changes(quick_steps=3000)  # ends sliding (test above)
    X, y = experiment.data()
    slide = sliding_showcase(experiment, regime_row(0, 1e-7), X, y, quick=True)
    i_pin = point_nearest_a_breakpoint(slide.run.net, X, y)
    assert {i for i, _ in slide.state.pins} == {i_pin} and slide.x_pin == X[i_pin, 0]
    assert slide.pinned_neurons == tuple(sorted({j for _, j in slide.state.pins}))
    assert slide.last_phase.i == i_pin and slide.last_phase.end >= 2900
    assert slide.at_rest and slide.distinct and slide.gap <= slide.tolerance
    assert slide.tolerance == pytest.approx((slide.state.pinned - slide.state.lstar_off) / (2 * slide.state.pinned))
    assert slide.above == pytest.approx((slide.state.loss - slide.state.pinned) / slide.state.pinned)
    assert 0 < slide.oscillation < 1e-3
    assert slide.describe().startswith("seed 0: pins") and slide.describe_gaps().startswith("shown: gap")
    assert shown_sentence(slide).startswith("This run has come to rest")
    moving = sliding_showcase(experiment, regime_row(0, 2e-3), X, y, quick=True)
    assert not moving.at_rest and "its loss still fell by 2.0e-03" in shown_sentence(moving)
    drawn = draw_sliding(slide)
    plt.close(drawn.fig)
    assert list(drawn.data) == ["step", "loss", "levels", "window_step", "breakpoint_offset"]
    assert_allclose(drawn.data["levels"], [slide.state.pinned, slide.state.lstar_off, slide.state.lstar_on])
    stats = sliding_statistics({**synthetic_cols(), "scale": np.full(6, 1e-3)}, 1e-3)
    search = SeedSearch(0, slide.row, (0,), ())
    values = sliding_showcase_values(slide, search, stats)
    assert values["slide_seed"] == 0 and values["showcase_tried"] == 1 and values["x_pin"] == slide.x_pin
    assert values["on_below"] == slide.state.lstar_off - slide.state.lstar_on
    with pytest.raises(ValueError, match="row"):  # still on the first plateau: no sliding end
        sliding_showcase(experiment.with_changes(quick_steps=50), regime_row(0, 0.0), X, y, quick=True)
    with pytest.raises(TypeError, match="row"):
        sliding_showcase(experiment, "row", X, y)


def test_flow_figures_carry_the_arrays_they_draw(short_flow):
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.quantification import (
        draw_fixed_pattern_bound,
        draw_rate_and_balance,
        flow_balances,
        gd_balance_drift,
        gd_on_segment,
        segment_ratios,
    )

    flow, X, y, segs = short_flow
    shown = segs[0]
    gd = gd_on_segment(flow, X, y, shown, lr=0.05, extra_steps=0)
    bound = draw_fixed_pattern_bound(segs, shown, gd)
    plt.close(bound.fig)
    assert bound.data == {}  # the flow's arrays amplify round-off: none is compared
    assert list(bound.unchecked) == ["t", "excess", "projected", "lam", "bound", "gd_t", "gd_excess", "gd_bound",
                                     "gd_flow_bound", "segment_ratios"]
    assert_array_equal(bound.unchecked["bound"], shown.exact_history.flow_bound())
    assert_array_equal(bound.unchecked["segment_ratios"], segment_ratios(segs))
    net, Xs, ys = sin_problem(1)
    drift = gd_balance_drift(net, Xs, ys, lrs=[0.1, 0.05], duration=2.0)
    lam = rate_history(flow, X, y)
    rate = draw_rate_and_balance(flow, lam, flow_balances(flow, rtol=1e-10), drift)
    plt.close(rate.fig)
    assert list(rate.data) == ["drift_lr", "drift_per_step"] and list(rate.unchecked) == [
        "t", "loss", "lam", "balance_change"]
    assert_array_equal(rate.unchecked["lam"], lam)
