"""The sweep-parts benchmark: the profile is split along the call graph, the block sums are the sorted
blocks' sums, a quick measurement reports every part, and a bad argument exits 2."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_sweep_parts as bench  # noqa: E402
from plateau_lib.trainers import anls_moves, anls_threshold  # noqa: E402


class FakeStats:
    """What split_profile reads of a pstats.Stats: func -> (cc, nc, tottime, cumtime, callers)."""

    def __init__(self, stats: dict) -> None:
        self.stats = stats


def test_own_time_goes_to_the_enclosing_part_split_by_caller():
    sort = bench._key(anls_threshold._Sorted.__init__)
    solve = bench._key(anls_moves._pattern_solve)
    root = ("loop.py", 1, "run")
    helper = ("~", 0, "<built-in method numpy.cumsum>")
    stats = FakeStats({
        root: (1, 1, 0.2, 9.0, {}),
        sort: (1, 1, 0.5, 1.5, {root: (1, 1, 0.5, 1.5)}),
        solve: (1, 1, 0.7, 3.7, {root: (1, 1, 0.7, 3.7)}),
        helper: (2, 2, 4.0, 4.0, {sort: (1, 1, 1.0, 1.0), solve: (1, 1, 3.0, 3.0)}),
    })
    parts = bench.split_profile(stats)
    assert parts == pytest.approx({"sort + prefix sums": 1.5, "pattern solve": 3.7, bench.SET_UP: 0.2})


@pytest.mark.parametrize("m", [16, 35, 1000])
def test_block_sums_are_the_sums_of_the_sorted_blocks(m):
    rng = np.random.default_rng(m)
    p = rng.standard_normal(m)
    order = np.argsort(p, kind="stable")
    Q = rng.standard_normal((m, 3))
    sums = bench._block_sums(order, p[order], m) @ Q
    starts = np.arange(0, m, bench.BLOCK)
    K = len(starts)
    assert sums.shape == (2 * K, 3)
    np.testing.assert_allclose(sums[:K], np.add.reduceat(Q[order], starts, axis=0), rtol=1e-12)
    np.testing.assert_allclose(sums[K:], np.add.reduceat(Q[order] * p[order][:, None], starts, axis=0), rtol=1e-12)


def test_a_quick_measurement_reports_every_part_and_the_table():
    row = bench.measure(300, 6, 2, repeats=1)
    assert row["gd_100_steps_s"] > 0 and row["sweep_s"] > 0 and row["floor_s"] > 0
    assert set(row["part_shares"]) == {*bench.PARTS, bench.SET_UP}
    assert sum(row["part_shares"].values()) == pytest.approx(1.0)
    table = bench.markdown([row])
    assert "| **one sweep (/ 100 GD)** |" in table and "| pattern solve |" in table


def test_a_bad_argument_exits_2(capsys):
    with pytest.raises(SystemExit) as err:
        bench.main(["--repeats", "0"])
    assert err.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
