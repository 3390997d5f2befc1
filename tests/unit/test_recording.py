"""The recorder against its definition, computed by brute force from the sequence of patterns it saw.

The recorder defers the flips and counts of pattern changes to blocks of :data:`CHUNK` changes;
the tests also run with blocks of one and two changes, so that every block boundary is crossed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from plateau_lib import recording
from plateau_lib.recording import Recorder


def brute_force(patterns, every):
    """What the recorder must return for the patterns seen at steps 0, 1, ..., by its definition."""
    changes, flips, records = [], [], []
    for step, pattern in enumerate(patterns):
        changed = step > 0 and not np.array_equal(pattern, patterns[step - 1])
        if changed:
            changes.append(step)
            flips += [(step, i, j) for i, j in np.argwhere(pattern != patterns[step - 1])]
        if step == 0 or changed or step % every == 0 or step == len(patterns) - 1:
            records.append(step)
    counts = [patterns[s].sum(axis=0) for s in records]
    return changes, np.array(flips, dtype=np.int64).reshape(-1, 3), records, np.array(counts, dtype=np.int64)


def record(patterns, every):
    """Feed the patterns to a recorder as a trainer does (``theta`` encodes the step) and finish."""
    m, n = patterns[0].shape
    rec = Recorder(every, n, 1)
    for step, pattern in enumerate(patterns[:-1]):
        rec.observe(step, pattern, float(step), np.full(3 * n, float(step)))
    last = len(patterns) - 1
    return rec.finish(last, patterns[-1], float(last), np.full(3 * n, float(last)),
                      method="test", nfev=0, njev=0, status="budget", message="")


def check_against_brute_force(patterns, every):
    changes, flips, records, counts = brute_force(patterns, every)
    result = record(patterns, every)
    assert_array_equal(result.pattern_changes, changes)
    assert_array_equal(result.flips, flips)
    assert result.flips.dtype == np.int64 and result.counts.dtype == np.int64
    assert_array_equal(result.steps, records)
    assert_array_equal(result.counts, counts)
    assert_array_equal(result.loss, records)  # the loss and parameters of the recorded steps
    assert_array_equal(result.params[:, 0], records)


@st.composite
def pattern_runs(draw):
    """Sequences of boolean patterns where runs repeat a pattern and changes flip a few entries."""
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pattern = rng.random((m, n)) < 0.5
    patterns = []
    for _ in range(draw(st.integers(1, 40))):
        if rng.random() < 0.5:
            pattern = pattern ^ (rng.random((m, n)) < 0.3)
        patterns.append(pattern.copy())
    return patterns


@pytest.mark.parametrize("chunk", [1, 2, recording.CHUNK])
@given(patterns=pattern_runs(), every=st.integers(1, 5))
def test_changes_flips_records_and_counts_are_their_definitions(chunk, patterns, every):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recording, "CHUNK", chunk)
        check_against_brute_force(patterns, every)


@pytest.mark.parametrize("chunk", [1, 3])
def test_a_change_at_every_step_across_many_blocks(monkeypatch, chunk):
    """Each step flips one entry (i, j) = divmod(step, n): the flips name every one of them."""
    monkeypatch.setattr(recording, "CHUNK", chunk)
    m, n, steps = 3, 2, 20
    patterns = [np.zeros((m, n), dtype=bool)]
    for step in range(1, steps):
        pattern = patterns[-1].copy()
        i, j = divmod(step % (m * n), n)
        pattern[i, j] ^= True
        patterns.append(pattern)
    result = record(patterns, every=1000)
    assert_array_equal(result.pattern_changes, np.arange(1, steps))
    assert_array_equal(result.flips[:, 0], np.arange(1, steps))
    assert_array_equal(result.flips[:, 1:], [divmod(s % (m * n), n) for s in range(1, steps)])
    check_against_brute_force(patterns, 1000)


def test_an_unchanged_pattern_is_recorded_on_the_stride_only():
    patterns = [np.eye(3, 2, dtype=bool)] * 10
    result = record(patterns, every=4)
    assert_array_equal(result.steps, [0, 4, 8, 9])
    assert result.pattern_changes.size == 0 and result.flips.shape == (0, 3)
    assert_array_equal(result.counts, np.ones((4, 2)))


@pytest.mark.parametrize("bad", [np.zeros((3, 3), dtype=bool), np.zeros((3, 2)), np.zeros(6, dtype=bool)],
                         ids=["shape", "dtype", "ndim"])
def test_a_pattern_of_another_shape_or_type_is_refused(bad):
    rec = Recorder(1, 2, 1)
    rec.observe(0, np.zeros((3, 2), dtype=bool), 0.0, np.zeros(6))
    with pytest.raises(ValueError, match=r"active must be a boolean array of shape \(3, 2\)"):
        rec.observe(1, bad, 0.0, np.zeros(6))


def test_a_first_pattern_that_is_not_a_boolean_matrix_is_refused():
    with pytest.raises(ValueError, match="active must be a 2-D boolean array"):
        Recorder(1, 2, 1).observe(0, np.zeros(6, dtype=bool), 0.0, np.zeros(6))
