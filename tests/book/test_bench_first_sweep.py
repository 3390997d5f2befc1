"""The first-sweep benchmark: it times both runs from the same network, and a bad argument exits 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_first_sweep as bench  # noqa: E402
from plateau_lib.chapters.anls_race import PROBLEMS, restart_network  # noqa: E402
from plateau_lib.trainers import train_anls  # noqa: E402


def test_one_line_per_pair_with_the_sweep_of_that_restart(capsys):
    assert bench.main(["tanh_step_1d:0", "kinks_1d:2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["problem"], r["restart"]) for r in rows] == [("tanh_step_1d", 0), ("kinks_1d", 2)]
    for row in rows:
        p = next(q for q in PROBLEMS if q.name == row["problem"])
        X, y = p.data()
        net, _ = restart_network(p, 0, row["restart"])
        assert row["loss"] == train_anls(net, X, y, sweeps=1).loss[-1]  # from the untouched initial network
        assert row["ratio"] == pytest.approx(row["sweep"] / row["gd100"])


@pytest.mark.parametrize(("arg", "named"), [("nope:0", "unknown problem 'nope'"),
                                             ("kinks_1d:x", "non-negative integer"), ("kinks_1d", "integer")])
def test_a_bad_pair_prints_one_line_and_exits_2(arg, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main([arg])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]
