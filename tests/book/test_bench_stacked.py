"""The stacked-GD benchmark: it checks bitwise equality before timing, reports a ratio, and a bad
argument exits 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_stacked  # noqa: E402


def test_measure_times_both_ways_and_reports_their_ratio():
    row = bench_stacked.measure("plateau_1d", 3, steps=40, repeats=1)
    assert row["one_at_a_time_s"] > 0 and row["stacked_s"] > 0
    assert row["ratio"] == row["one_at_a_time_s"] / row["stacked_s"]


def test_a_stack_that_differs_from_the_runs_alone_fails_the_check(monkeypatch):
    nets, X, y, options = bench_stacked._setup("plateau_1d", 2)
    real = bench_stacked.train_gd_stack
    monkeypatch.setattr(bench_stacked, "train_gd_stack", lambda nets, *a, **k: real(nets[::-1], *a, **k))
    with pytest.raises(AssertionError):
        bench_stacked._check_equal(nets, X, y, options, 30)


@pytest.mark.parametrize("args", [["--steps", "0"], ["--repeats", "-1"], ["--steps", "x"]])
def test_a_bad_argument_exits_2(args, capsys):
    with pytest.raises(SystemExit) as info:
        bench_stacked.main(args)
    assert info.value.code == 2 and "error" in capsys.readouterr().err
