"""Fact 1 on a gradient-flow run (plateau_lib.chapters.quantification_segments): segments, their summary,
gradient descent on one, the page's numbers and figure.

Tolerances: exact identities to round-off; statements about an integrated flow to its tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from plateau_lib.experiments import get_experiment
from plateau_lib.theory import kernel_lambda
from plateau_lib.trainers import train_gd

pytest_plugins = ("quantification_fixtures",)  # the shared fixture short_flow


def test_flow_segments_summary_and_showcase_on_a_short_flow(short_flow):
    from plateau_lib.chapters.quantification_segments import showcase_segment, summarize_segments

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


def test_segment_helpers_describe_ratios_and_failures(short_flow):
    from dataclasses import replace

    from plateau_lib.chapters.quantification_segments import (
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

    from plateau_lib.chapters.quantification_segments import showcase_rule

    segment = short_flow[3][0]
    changed = replace(segment, exact=True, run=replace(segment.run, changed_at=1.0))
    assert showcase_rule(changed) == "among the segments that end in a pattern change"
    unchanged = replace(changed, run=replace(segment.run, changed_at=None))
    assert showcase_rule(unchanged).startswith("(no such segment ends in a pattern change")
    assert "every neuron with an active point" in showcase_rule(replace(changed, exact=False))
    with pytest.raises(TypeError, match="segment"):
        showcase_rule("segment")


def test_lambda_agreement_compares_with_the_smallest_positive_eigenvalue(short_flow):
    from plateau_lib.chapters.quantification_segments import lambda_agreement

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
    from plateau_lib.chapters.quantification_segments import gd_on_segment, showcase_segment, showcase_values

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

    from plateau_lib.chapters.quantification_segments import SegmentSummary, inexact_sentence

    nan = math.nan
    silent = SegmentSummary(3, 3, 0, 3, 1.0, 1.0, 1.0, 0, 5.0, 1e-16, 1e-9, nan, nan, nan, nan, nan, 0)
    assert inexact_sentence(silent, np.ones(4)) == "On every segment of this run the neurons outside S are silent."
    active = replace(silent, n_inexact=2, inexact_until=41.7, inexact_contribution=3e-4, inexact_delta=2e-3,
                     inexact_projected_ratio=0.5, n_inexact_beyond=0)
    text = inexact_sentence(active, 2 * np.ones(4))
    assert text.startswith("In the other 2 segment(s) (the last ending at t = 42)")
    assert "RMS at most 3.0e-04 (the targets' RMS is 2.00)" in text and text.endswith("0 of these segments exceed it.")


def test_fixed_pattern_bound_figure_carries_the_arrays_it_draws(short_flow):
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.quantification_segments import draw_fixed_pattern_bound, gd_on_segment, segment_ratios

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
