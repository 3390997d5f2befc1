"""Flicker filter, pattern segments, plateau detection and their relation (claim C2)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from plateau_lib.network import activation_counts, init_network
from plateau_lib.patterns import (
    Plateau,
    Segment,
    debounce_flips,
    default_min_dwell,
    detect_plateaus,
    filtered_changes,
    match_plateaus,
    nearest_record,
    pattern_segments,
    plateau_index,
    plateau_network,
    plateau_pattern,
    raw_segments,
    relate,
)
from plateau_lib.theory import significant_neurons
from plateau_lib.trainers.first_order import train_gd

# ----------------------------------------------------------------------------------
# the flicker filter on synthetic flips
# ----------------------------------------------------------------------------------


def entry_flips(steps, i=0, j=0):
    steps = np.asarray(steps, dtype=np.int64)
    return np.column_stack([steps, np.full(len(steps), i), np.full(len(steps), j)])


def test_pure_flicker_never_registers():
    flips = entry_flips(np.arange(10, 50))  # 40 toggles, every step, back to the start value
    assert debounce_flips(flips, last_step=100, min_dwell=5).shape == (0, 3)
    # flicker with runs of up to 4 steps, still shorter than the dwell
    rng = np.random.default_rng(0)
    steps = 10 + np.cumsum(rng.integers(1, 5, 200))
    steps = steps[: 2 * (len(steps) // 2)]
    assert debounce_flips(entry_flips(steps), last_step=int(steps[-1]) + 100, min_dwell=5).shape == (0, 3)


def test_genuine_switch_registers_once_at_its_step():
    out = debounce_flips(entry_flips([30]), last_step=100, min_dwell=5)
    assert_array_equal(out, [[30, 0, 0]])
    # switch and switch back, both stable
    out = debounce_flips(entry_flips([30, 60]), last_step=100, min_dwell=5)
    assert_array_equal(out, [[30, 0, 0], [60, 0, 0]])
    # a brief excursion back to the old value does not undo the switch
    out = debounce_flips(entry_flips([30, 60, 62]), last_step=100, min_dwell=5)
    assert_array_equal(out, [[30, 0, 0]])


def test_flicker_then_switch_dates_the_change_to_the_settled_run():
    toggles = np.arange(10, 51)  # 41 toggles: ends in the new value from step 50 on
    out = debounce_flips(entry_flips(toggles), last_step=200, min_dwell=5)
    assert_array_equal(out, [[50, 0, 0]])


def test_unconfirmed_switch_at_the_end_is_not_reported():
    assert debounce_flips(entry_flips([98]), last_step=100, min_dwell=5).shape == (0, 3)
    assert_array_equal(debounce_flips(entry_flips([96]), last_step=100, min_dwell=5), [[96, 0, 0]])


def test_entries_are_independent_and_neurons_restrict():
    flips = np.concatenate([entry_flips([30], 0, 0), entry_flips(np.arange(10, 40), 1, 0), entry_flips([70], 2, 1)])
    out = debounce_flips(flips, last_step=100, min_dwell=5)
    assert_array_equal(out, [[30, 0, 0], [70, 2, 1]])
    assert_array_equal(debounce_flips(flips, last_step=100, min_dwell=5, neurons=[1]), [[70, 2, 1]])
    assert_array_equal(debounce_flips(flips, last_step=100, min_dwell=5, neurons=np.array([True, False])), [[30, 0, 0]])


def reference_debounce(toggles: list[int], last_step: int, min_dwell: int) -> list[int]:
    """Step-by-step simulation of the rule for one entry (independent of the vectorised code)."""
    raw = np.zeros(last_step + 1, dtype=int)
    for s in toggles:
        raw[s:] ^= 1
    filtered, out = 0, []
    for s in range(1, last_step + 1):
        run_start = raw[s] != raw[s - 1]
        if run_start and s + min_dwell - 1 <= last_step and np.all(raw[s : s + min_dwell] == raw[s]):
            if raw[s] != filtered:
                out.append(s)
                filtered = raw[s]
    return out


@settings(max_examples=60, deadline=None)
@given(
    toggles=st.lists(st.integers(1, 120), max_size=40, unique=True),
    min_dwell=st.integers(1, 12),
    extra=st.integers(0, 20),
)
def test_debounce_matches_a_step_by_step_simulation(toggles, min_dwell, extra):
    toggles = sorted(toggles)
    last = 120 + extra
    out = debounce_flips(entry_flips(toggles).reshape(-1, 3), last_step=last, min_dwell=min_dwell)
    assert out[:, 0].tolist() == reference_debounce(toggles, last, min_dwell)
    if min_dwell == 1:  # no filtering at all
        assert out[:, 0].tolist() == toggles


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(st.lists(st.integers(1, 60), max_size=12, unique=True), min_size=1, max_size=4),
    min_dwell=st.integers(1, 8),
    extra=st.integers(0, 5),
)
def test_debounce_of_several_entries_is_each_entry_alone(entries, min_dwell, extra):
    """Entries (i, j) = (k % 2, k // 2), given in shuffled order: each is filtered on its own."""
    last = 60 + extra
    flips = np.concatenate([entry_flips(sorted(t), k % 2, k // 2).reshape(-1, 3) for k, t in enumerate(entries)])
    flips = flips[np.random.default_rng(len(flips)).permutation(len(flips))]
    out = debounce_flips(flips, last_step=last, min_dwell=min_dwell)
    want = sorted((s, k % 2, k // 2) for k, t in enumerate(entries)
                  for s in reference_debounce(sorted(t), last, min_dwell))
    assert [tuple(row) for row in out.tolist()] == want


def test_debounce_boundaries_of_the_record_and_of_the_neurons():
    # the last run is confirmed only with min_dwell steps up to last_step inclusive
    assert debounce_flips(entry_flips([96]), last_step=100, min_dwell=5).tolist() == [[96, 0, 0]]
    assert debounce_flips(entry_flips([97]), last_step=100, min_dwell=5).shape == (0, 3)
    # a record of one step (last_step 0) and a network of width 0 are valid
    assert debounce_flips(np.zeros((0, 3), dtype=int), last_step=0, min_dwell=1).shape == (0, 3)
    assert debounce_flips(np.zeros((0, 3), dtype=int), last_step=5, min_dwell=1, neurons=[], n=0).shape == (0, 3)
    # no flips and no width: nothing to check the neurons against, and nothing to filter
    assert debounce_flips(np.zeros((0, 3), dtype=int), last_step=5, min_dwell=1, neurons=[0]).shape == (0, 3)


def test_debounce_rejects_bad_input():
    good = entry_flips([3])
    with pytest.raises(ValueError, match="min_dwell"):
        debounce_flips(good, last_step=10, min_dwell=0)
    with pytest.raises(TypeError, match="min_dwell"):
        debounce_flips(good, last_step=10, min_dwell=2.5)
    with pytest.raises(ValueError, match="last_step"):
        debounce_flips(good, last_step=2, min_dwell=1)
    with pytest.raises(ValueError, match="flips"):
        debounce_flips(np.zeros((3, 2), dtype=int), last_step=10, min_dwell=1)
    with pytest.raises(TypeError, match="flips"):
        debounce_flips(np.zeros((3, 3)), last_step=10, min_dwell=1)
    with pytest.raises(ValueError, match="flips"):
        debounce_flips(np.array([[3, 0, 0], [3, 0, 0]]), last_step=10, min_dwell=1)
    with pytest.raises(ValueError, match="must not repeat a row"):  # apart, among rows that share two of three
        debounce_flips(np.array([[3, 1, 2], [3, 1, 0], [4, 1, 2], [3, 0, 2], [3, 1, 2]]), last_step=10, min_dwell=1)
    distinct = np.array([[3, 1, 2], [3, 1, 0], [4, 1, 2], [3, 0, 2]])  # each pair differs in one place
    assert len(debounce_flips(distinct, last_step=10, min_dwell=1)) == len(distinct)
    with pytest.raises(ValueError, match="neurons"):
        debounce_flips(good, last_step=10, min_dwell=1, neurons=[5], n=2)


def test_default_dwell():
    assert default_min_dwell(20000) == 200
    assert default_min_dwell(8000) == 80
    assert default_min_dwell(0) == 1


# ----------------------------------------------------------------------------------
# plateau detection on synthetic loss curves
# ----------------------------------------------------------------------------------


def synthetic_curve(
    *, T=20000, every=10, L0=1.0, A=0.1, B=1e-3, t_s=100, t_d=2000, tau1=20.0, tau2=200.0
):
    """Flat at L0 until t_s, exponential decay to A, flat, exponential drop at t_d to B, flat."""
    t = np.arange(0, T + 1, every)
    L = np.full(t.shape, L0, dtype=float)
    mid = t >= t_s
    L[mid] = A + (L0 - A) * np.exp(-(t[mid] - t_s) / tau1)
    LA = A + (L0 - A) * np.exp(-(t_d - t_s) / tau1)
    late = t >= t_d
    L[late] = B + (LA - B) * np.exp(-(t[late] - t_d) / tau2)
    return t, L


def test_detects_the_flats_and_not_the_drops():
    t, L = synthetic_curve()
    plateaus = detect_plateaus(t, L)
    assert len(plateaus) == 3, plateaus
    saddle, first, last = plateaus
    assert saddle.start == 0 and saddle.end >= 100 and saddle.level == pytest.approx(1.0, rel=0.01)
    assert first.level == pytest.approx(0.1, rel=0.01) and first.start <= 400 and first.end >= 2000
    assert last.level == pytest.approx(1e-3, rel=0.01) and last.start <= 4000 and last.end == 20000
    for p in plateaus:
        inside = (t >= p.start) & (t <= p.end)
        assert L[inside].max() / L[inside].min() < 1.2  # the drops (factors 10 and 100) are outside
        assert p.span >= 2 and isinstance(p.start, int) and isinstance(p.end, int)


def test_a_power_law_decay_is_not_a_plateau_but_a_slow_one_is():
    t = np.arange(10, 10001, 10)
    assert detect_plateaus(t, t**-1.0) == []  # slope -1: progress
    assert detect_plateaus(t, t**-0.2) == []  # slope -0.2: still above the tolerance 0.1
    (p,) = detect_plateaus(t, t**-0.05)  # slope -0.05: a decade of loss takes 20 decades of time
    assert p.start == 10 and p.end == 10000


def test_short_records_give_no_plateau():
    assert detect_plateaus([0, 1], [1.0, 1.0]) == []
    assert detect_plateaus([0, 5, 6], [1.0, 1.0, 1.0]) == []  # no doubling inside the record


@settings(max_examples=40, deadline=None)
@given(
    t_s=st.integers(20, 200),
    A=st.floats(0.02, 0.5),
    B=st.floats(1e-4, 0.5),
    t_d=st.integers(1000, 5000),
    tau2=st.floats(20.0, 400.0),
    loss_scale=st.floats(1e-6, 1e6),
    time_scale=st.integers(1, 1000),
)
def test_plateaus_are_invariant_under_scaling_loss_and_time(t_s, A, B, t_d, tau2, loss_scale, time_scale):
    t, L = synthetic_curve(T=12000, A=A, B=B * A, t_s=t_s, t_d=t_d, tau2=tau2)
    base = detect_plateaus(t, L)
    scaled = detect_plateaus(t * time_scale, L * loss_scale)
    assert len(base) == len(scaled)
    for p, q in zip(base, scaled, strict=True):
        assert q.start == p.start * time_scale and q.end == p.end * time_scale
        assert q.span == pytest.approx(p.span, rel=1e-12)
        assert q.level == pytest.approx(p.level * loss_scale, rel=1e-12)
        assert q.rel_change == pytest.approx(p.rel_change, rel=1e-9, abs=1e-12)
    # continuous times: a float rescaling by a power of two is exact
    halved = detect_plateaus(t / 2.0, L)
    assert [(p.start, p.end) for p in halved] == [(p.start / 2, p.end / 2) for p in base]


def test_detect_plateaus_rejects_bad_input():
    t, L = np.arange(10), np.ones(10)
    with pytest.raises(ValueError, match="strictly increasing"):
        detect_plateaus(t[::-1], L)
    with pytest.raises(ValueError, match="strictly increasing"):
        detect_plateaus([0, 1, 1, 2], [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="loss must be > 0"):
        detect_plateaus(t, np.r_[L[:-1], 0.0])
    with pytest.raises(ValueError, match="loss must be > 0"):
        detect_plateaus(t, -L)
    with pytest.raises(ValueError, match="same length"):
        detect_plateaus(t, L[:-1])
    with pytest.raises(ValueError, match="steps must be >= 0"):
        detect_plateaus(t - 1, L)
    with pytest.raises(ValueError, match="loss must be finite"):
        detect_plateaus(t, np.r_[L[:-1], np.nan])
    with pytest.raises(ValueError, match="steps must be a 1-D"):
        detect_plateaus(t[:, None], L)
    with pytest.raises(TypeError, match="loss"):
        detect_plateaus(t, "loss")
    with pytest.raises(ValueError, match="window"):
        detect_plateaus(t, L, window=1.0)
    with pytest.raises(ValueError, match="slope_tol"):
        detect_plateaus(t, L, slope_tol=-0.1)
    with pytest.raises(ValueError, match="min_span"):
        detect_plateaus(t, L, min_span=0.5)
    with pytest.raises(TypeError, match="min_span"):
        detect_plateaus(t, L, min_span="2")


# ----------------------------------------------------------------------------------
# relating plateaus and segments (synthetic)
# ----------------------------------------------------------------------------------


def test_relate_on_hand_made_segments():
    segs = [Segment(0, 100, (1,), 0), Segment(100, 105, (2,), 0), Segment(105, 1001, (3,), 7)]
    p = Plateau(start=102, end=1000, span=1000 / 102, level=1.0, rel_change=0.0)
    (m,) = relate([p], segs, raw_changes=[50, 103, 104, 500])
    assert m.segment_index == 2 and m.segment.start == 105
    assert m.coverage == pytest.approx((1000 - 105) / (1000 - 102))
    assert m.changes_inside == 1 and m.within and m.raw_changes_inside == 3
    (strict,) = relate([p], segs, edge_tol=0.0)
    assert not strict.within
    with pytest.raises(ValueError, match="consecutive"):
        relate([p], [segs[0], segs[2]])
    with pytest.raises(ValueError, match="edge_tol"):
        relate([p], segs, edge_tol=0.5)
    with pytest.raises(TypeError, match="plateaus"):
        relate(p, segs)
    with pytest.raises(ValueError, match="segments"):
        relate([p], [])


# ----------------------------------------------------------------------------------
# a real gradient-descent run (the book's 1-D plateau setting, shortened)
# ----------------------------------------------------------------------------------

X1 = np.linspace(-1, 1, 41)[:, None]
Y1 = np.sin(np.pi * X1[:, 0])


@pytest.fixture(scope="module")
def gd_run():
    net = init_network(10, 1, scale=1e-3, rng=np.random.default_rng(3))
    return train_gd(net, X1, Y1, lr=0.1, steps=8000, record_every=10)


def test_segments_partition_the_run(gd_run):
    last = int(gd_run.steps[-1])
    for segs in (pattern_segments(gd_run), raw_segments(gd_run), pattern_segments(gd_run, neurons=[])):
        assert segs[0].start == 0 and segs[-1].end == last + 1
        assert all(a.end == b.start for a, b in zip(segs[:-1], segs[1:], strict=True))
        assert all(s.length >= 1 for s in segs)
    assert len(pattern_segments(gd_run, neurons=[])) == 1
    raw = raw_segments(gd_run)
    assert [s.start for s in raw[1:]] == gd_run.pattern_changes.tolist()
    assert all(s.raw_changes == 0 for s in raw)
    assert raw == pattern_segments(gd_run, min_dwell=1)
    filt = pattern_segments(gd_run)
    assert sum(s.raw_changes for s in filt) + len(filt) - 1 == len(gd_run.pattern_changes)
    assert set(filtered_changes(gd_run).tolist()) <= set(gd_run.pattern_changes.tolist())


def _longest_plateau_after_the_start(run):
    """The run's longest plateau that is not the initial one (chosen by a rule, not by its level)."""
    return max((p for p in detect_plateaus(run.steps, run.loss) if p.start > 0), key=lambda p: p.length)


def test_the_plateau_lies_in_one_filtered_segment(gd_run):
    p = _longest_plateau_after_the_start(gd_run)
    print(f"plateau [{p.start}, {p.end}] span {p.span:.2f} level {p.level:.5f} rel change {p.rel_change:+.3f}")
    assert 200 <= p.start <= 500 and 2000 <= p.end <= 3500 and p.span >= 4
    assert abs(p.rel_change) < 0.2
    (m,) = relate([p], pattern_segments(gd_run), raw_changes=gd_run.pattern_changes)
    print(
        f"filtered: segment [{m.segment.start}, {m.segment.end}) covers {m.coverage:.3f} of it, "
        f"{m.changes_inside} filtered changes inside (all in its first "
        f"{(m.segment.start - p.start) / p.length:.1%}); raw changes inside: {m.raw_changes_inside}"
    )
    assert m.within and m.coverage > 0.9
    assert m.raw_changes_inside > 1000  # the raw bookkeeping flickers throughout
    (raw_m,) = relate([p], raw_segments(gd_run))
    assert not raw_m.within and raw_m.coverage < 0.1
    # with the weight-carrying neurons only, the same verdict
    (sig,) = [m for m in match_plateaus(gd_run, X1, Y1) if m.plateau == p]
    assert sig.within and sig.coverage > 0.9 and sig.neurons is not None


def test_network_and_pattern_at_a_plateau(gd_run):
    p = _longest_plateau_after_the_start(gd_run)
    k = plateau_index(gd_run, p)
    assert abs(gd_run.steps[k] - p.middle) <= 10
    net = plateau_network(gd_run, p)
    assert_array_equal(net.to_vector(), gd_run.params[k])
    D = plateau_pattern(gd_run, p, X1)
    assert_array_equal(D.sum(axis=0), gd_run.counts[k])
    assert_array_equal(activation_counts(net, X1), gd_run.counts[k])


def test_result_helpers_reject_bad_input(gd_run):
    with pytest.raises(TypeError, match="result"):
        pattern_segments("run")
    with pytest.raises(TypeError, match="result"):
        raw_segments(None)
    with pytest.raises(ValueError, match="min_dwell"):
        pattern_segments(gd_run, min_dwell=0)
    with pytest.raises(ValueError, match="neurons"):
        pattern_segments(gd_run, neurons=[10])
    with pytest.raises(ValueError, match="neurons"):
        filtered_changes(gd_run, neurons=np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="neurons"):
        filtered_changes(gd_run, neurons=3)
    with pytest.raises(TypeError, match="neurons"):
        filtered_changes(gd_run, neurons=[0.5])
    with pytest.raises(TypeError, match="plateau"):
        plateau_network(gd_run, (0, 10))
    far = Plateau(start=10**6, end=2 * 10**6, span=2.0, level=1.0, rel_change=0.0)
    with pytest.raises(ValueError, match="outside"):
        plateau_index(gd_run, far)


# ----------------------------------------------------------------------------------
# second implementations: every rule of the module written again as plain loops
# ----------------------------------------------------------------------------------


def loop_plateaus(t, L, slope_tol=0.1, window=2.0, min_span=2.0):
    """detect_plateaus's rule, point by point: flat windows, merged while they share points."""
    t, logL = [float(v) for v in t], [math.log(v) for v in L]
    positive = [k for k in range(len(t)) if t[k] > 0]
    if len(positive) < 2:
        return []
    flat = []
    for k in positive:
        if t[k] * window > t[-1]:
            continue
        last = next(i for i in range(len(t)) if t[i] >= t[k] * window)
        first = 0 if (t[0] == 0 and k == positive[0]) else k
        values = logL[first : last + 1]
        if max(values) - min(values) <= slope_tol * math.log(window):
            flat.append((first, last))
    out = []
    for first, last in flat:
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    plateaus = []
    for a, b in out:
        span = t[b] / (t[a] if t[a] > 0 else t[positive[0]])
        if span >= min_span:
            level = float(np.median(L[a : b + 1]))
            plateaus.append(Plateau(t[a], t[b], span, level, (L[b] - L[a]) / L[a]))
    return plateaus


@settings(max_examples=80, deadline=None)
@given(
    drops=st.lists(st.floats(-0.3, 0.3), min_size=2, max_size=60),
    gaps=st.lists(st.integers(1, 5), min_size=60, max_size=60),
    start_at_zero=st.booleans(),
    slope_tol=st.sampled_from([0.05, 0.1, 0.3]),
    window=st.sampled_from([1.5, 2.0, 3.0]),
    min_span=st.sampled_from([1.0, 2.0, 4.0]),
)
def test_detect_plateaus_equals_the_rule_written_as_loops(drops, gaps, start_at_zero, slope_tol, window, min_span):
    t = np.cumsum(gaps[: len(drops)]).astype(float) - (gaps[0] if start_at_zero else 0)
    L = np.exp(np.cumsum(np.where(np.abs(drops) < 0.1, 0.0, drops)))  # flat stretches and jumps
    got = detect_plateaus(t, L, slope_tol=slope_tol, window=window, min_span=min_span)
    want = loop_plateaus(t, L, slope_tol, window, min_span)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.start, g.end) == (w.start, w.end)
        assert g.span == pytest.approx(w.span) and g.level == pytest.approx(w.level)
        assert g.rel_change == pytest.approx(w.rel_change)


def test_detect_plateaus_at_the_smallest_record_and_span():
    # two positive times, a span of exactly min_span: the smallest plateau there is
    assert detect_plateaus([0, 1, 2], [1.0, 1.0, 1.0]) == [Plateau(0, 2, 2.0, 1.0, 0.0)]
    assert detect_plateaus([0, 1, 2], [1.0, 1.0, 1.0], min_span=2.5) == []
    # times below 1: only ratios of times enter
    (p,) = detect_plateaus([0.0, 0.25, 0.5, 1.0], [2.0, 2.0, 2.0, 2.0])
    assert (p.start, p.end, p.span) == (0.0, 1.0, 4.0)
    # a plateau from 0 is measured from the first positive time: span 4 / 1
    (q,) = detect_plateaus([0, 1, 2, 3, 4], [1.0, 1.01, 1.02, 1.0, 1.01])
    assert q.span == 4.0 and q.level == 1.01 and q.rel_change == pytest.approx(0.01)


def brute_nearest(steps, t):
    """Index of the nearest of ``steps`` to ``t``, ties to the earlier one."""
    distance = np.abs(np.asarray(steps, dtype=float) - t)
    return int(np.flatnonzero(distance == distance.min())[0])


@pytest.fixture(scope="module")
def sparse_run():
    """Records every 7 steps, at every pattern change and at the last step 100: uneven gaps, ties at half steps."""
    net = init_network(4, 1, scale=0.5, rng=np.random.default_rng(1))
    return train_gd(net, X1, Y1, lr=0.1, steps=100, record_every=7)


def test_nearest_record_and_plateau_index_agree_with_brute_force(sparse_run):
    steps = sparse_run.steps
    assert steps[-1] == 100 and len(np.unique(np.diff(steps))) > 2
    for t in np.arange(-3.0, 104.0, 0.5):
        assert nearest_record(sparse_run, t) == brute_nearest(steps, t), t
    for a, b in [(0, 0), (0, 7), (3, 4), (10, 60), (99, 100), (0, 100)]:
        p = Plateau(start=a, end=b, span=2.0, level=1.0, rel_change=0.0)
        assert plateau_index(sparse_run, p) == brute_nearest(steps, (a + b) / 2)
    for a, b in [(-2, 0), (100, 102)]:
        with pytest.raises(ValueError, match="outside"):
            plateau_index(sparse_run, Plateau(start=a, end=b, span=2.0, level=1.0, rel_change=0.0))
    with pytest.raises(TypeError, match="result"):
        nearest_record("run", 3.0)


@pytest.mark.parametrize("min_dwell", [1, 3, 50])
def test_segments_equal_their_definition(gd_run, min_dwell):
    last = int(gd_run.steps[-1])
    changes = filtered_changes(gd_run, min_dwell=min_dwell).tolist()
    bounds = [0, *changes, last + 1]
    want = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        k = brute_nearest(gd_run.steps, (start + end - 1) / 2)
        inside = sum(start < c < end for c in gd_run.pattern_changes.tolist())
        want.append(Segment(start, end, tuple(gd_run.counts[k].tolist()), inside))
    assert pattern_segments(gd_run, min_dwell=min_dwell) == want
    if min_dwell == 1:
        assert raw_segments(gd_run) == want


def loop_relate(p, segments, edge_tol, raw):
    """relate's verdicts, counted one segment and one boundary at a time."""
    overlaps = [max(0.0, min(s.end, p.end) - max(s.start, p.start)) for s in segments]
    if p.end > p.start:
        best = overlaps.index(max(overlaps))
        coverage = overlaps[best] / (p.end - p.start)
    else:
        best = max(k for k, s in enumerate(segments) if s.start <= p.start)
        coverage = 1.0 if segments[best].start <= p.start < segments[best].end else 0.0
    boundaries = [s.start for s in segments[1:]]
    margin = edge_tol * (p.end - p.start)
    return (
        best,
        min(coverage, 1.0),
        sum(p.start < b <= p.end for b in boundaries),
        not any(p.start + margin < b <= p.end - margin for b in boundaries),
        sum(p.start < r <= p.end for r in raw),
    )


@settings(max_examples=80, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 199), max_size=8, unique=True),
    ends=st.lists(st.integers(0, 199), min_size=2, max_size=2),
    edge_tol=st.sampled_from([0.0, 0.1, 0.25, 0.49]),
    raw=st.lists(st.integers(1, 199), max_size=12),
)
def test_relate_equals_its_definition_counted_by_hand(cuts, ends, edge_tol, raw):
    bounds = [0, *sorted(cuts), 200]
    segments = [Segment(a, b, (0,), 0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    a, b = sorted(ends)
    p = Plateau(start=a, end=b, span=2.0, level=1.0, rel_change=0.0)
    (m,) = relate([p], segments, edge_tol=edge_tol, raw_changes=raw)
    best, coverage, inside, within, raw_inside = loop_relate(p, segments, edge_tol, raw)
    assert m.segment_index == best and m.segment == segments[best]
    assert m.coverage == pytest.approx(coverage) and m.changes_inside == inside
    assert m.within == within and m.raw_changes_inside == raw_inside
    assert relate([p], segments)[0].raw_changes_inside is None


def test_a_one_step_plateau_is_covered_by_the_segment_holding_it():
    segments = [Segment(0, 10, (1,), 0), Segment(10, 20, (2,), 0)]
    for step, index in [(0, 0), (9, 0), (10, 1), (19, 1)]:
        (m,) = relate([Plateau(step, step, 1.0, 1.0, 0.0)], segments)
        assert (m.segment_index, m.coverage, m.changes_inside, m.within) == (index, 1.0, 0, True)
    (m,) = relate([Plateau(20, 20, 1.0, 1.0, 0.0)], segments)  # past the last segment
    assert m.segment_index == 1 and m.coverage == 0.0


def test_match_plateaus_is_detect_then_relate(gd_run):
    plateaus = detect_plateaus(gd_run.steps, gd_run.loss)
    assert len(plateaus) >= 2
    every = match_plateaus(gd_run, X1, Y1, rel_tol=None, min_dwell=5)
    want = relate(plateaus, pattern_segments(gd_run, min_dwell=5), raw_changes=gd_run.pattern_changes)
    assert [m.neurons for m in every] == [tuple(range(gd_run.net.n))] * len(plateaus)
    assert [dataclasses.replace(m, neurons=None) for m in every] == want
    weighted = match_plateaus(gd_run, X1, Y1, rel_tol=0.05, edge_tol=0.2)
    for m, p in zip(weighted, plateaus, strict=True):
        S = significant_neurons(plateau_network(gd_run, p), X1, Y1, 0.05)
        (want,) = relate([p], pattern_segments(gd_run, neurons=S), edge_tol=0.2, raw_changes=gd_run.pattern_changes)
        assert m.neurons == tuple(S) and dataclasses.replace(m, neurons=None) == want
    with pytest.raises(ValueError, match="rel_tol"):
        match_plateaus(gd_run, X1, Y1, rel_tol=-1.0)
    assert match_plateaus(gd_run, X1, Y1, min_span=1e6) == []


def test_debounce_keeps_flips_at_the_last_step_and_sorts_by_step_then_entry():
    # a flip at the last step itself is allowed (and, unconfirmed, not reported unless min_dwell is 1)
    assert_array_equal(debounce_flips(entry_flips([10]), last_step=10, min_dwell=1), [[10, 0, 0]])
    assert debounce_flips(entry_flips([10]), last_step=10, min_dwell=2).dtype == np.int64
    flips = np.concatenate([entry_flips([40], 2, 1), entry_flips([20], 1, 0), entry_flips([20], 0, 1),
                            entry_flips([5, 40], 0, 0)])
    out = debounce_flips(flips, last_step=100, min_dwell=3)
    assert_array_equal(out, [[5, 0, 0], [20, 0, 1], [20, 1, 0], [40, 0, 0], [40, 2, 1]])
    assert out.dtype == np.int64
    # neurons with n given, flips of an absent neuron index rejected, empty results typed
    assert_array_equal(debounce_flips(flips, last_step=100, min_dwell=3, neurons=[1], n=3), [[20, 0, 1], [40, 2, 1]])
    with pytest.raises(ValueError, match="n=1 is smaller"):
        debounce_flips(flips, last_step=100, min_dwell=3, neurons=[0], n=1)
    empty = debounce_flips(np.zeros((0, 3), dtype=int), last_step=100, min_dwell=3, neurons=[0], n=2)
    assert empty.shape == (0, 3) and empty.dtype == np.int64
    assert debounce_flips(flips, last_step=100, min_dwell=3, neurons=[]).dtype == np.int64


def test_final_plateau_reaches_as_far_as_the_windows_of_a_sparse_record():
    """With records at 0, 10, ..., 990 and 998 (as a flow's last integrator steps fall), no window
    ends at 998 (none starts in (495, 499]); a history flat since step 100 still ends on its plateau."""
    from plateau_lib.patterns import final_plateau

    steps = np.append(np.arange(0, 1000, 10), 998)
    flat = np.where(steps < 100, 1.0, 0.25)
    assert detect_plateaus(steps, flat)[-1].end < 998
    assert final_plateau(steps, flat) == detect_plateaus(steps, flat)[-1]
    falling = 1.0 / (1.0 + steps)
    assert final_plateau(steps, falling) is None
    early = np.where(steps < 100, 0.25, 0.25 / (1.0 + steps - 100))  # flat at first, then falling
    assert detect_plateaus(steps, early) and final_plateau(steps, early) is None
