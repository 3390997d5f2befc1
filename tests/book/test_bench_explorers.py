"""The explorer benchmark: what it times and its command line (no timing is asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_explorers  # noqa: E402
from plateau_lib.chapters.explorers import anls_explorer, gd_explorer  # noqa: E402


def test_time_moves_leaves_the_explorer_where_the_moves_end():
    moves = (("width", 4), ("seed", 2))
    row = bench_explorers.time_moves(lambda: gd_explorer(steps=500), moves, repeats=1)
    assert row["samples"] == 2
    assert 0 < row["update_s"] <= row["max_update_s"] and row["training_s"] > 0
    assert row["ratio"] == row["update_s"] / row["training_s"]


def test_moves_are_valid_controls_and_return_to_the_defaults():
    explorer = gd_explorer(steps=500)
    defaults = explorer.settings
    for field, value in bench_explorers.MOVES:
        explorer.update(**{field: value})
    assert explorer.settings == defaults


def test_bad_argument_is_one_line_and_status_2(capsys):
    assert bench_explorers.main(["--repeats", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--repeats" in err[0]


def test_json_output(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_explorers, "MOVES", (("width", 3),))
    monkeypatch.setattr(bench_explorers, "gd_explorer", lambda: gd_explorer(steps=300))
    monkeypatch.setattr(bench_explorers, "anls_explorer", lambda: anls_explorer(steps=300, sweeps=2))
    out = tmp_path / "explorers.json"
    assert bench_explorers.main(["--repeats", "1", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["results"]) == {"gd", "anls"} and doc["moves"] == [["width", 3]]
