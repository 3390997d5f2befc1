"""Flicker filter, pattern segments, plateau detection and their relation (claim C2)."""

from __future__ import annotations

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
    pattern_segments,
    plateau_index,
    plateau_network,
    plateau_pattern,
    raw_segments,
    relate,
)
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
