"""The ANLS benchmark (chapters.anls_benchmark): its results schema, the best-known cache, its command line."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plateau_lib.book import bench_cli, cli  # noqa: F401 (bench_cli registers the bench command)
from plateau_lib.chapters import anls_benchmark as benchmark
from plateau_lib.chapters.anls_benchmark import (
    PROBLEMS,
    BenchProblem,
    Budgets,
    Suite,
    compute_best_known,
    load_best_known,
    run_benchmark,
    write_results,
)

ROOT = Path(__file__).resolve().parents[3]

TINY = BenchProblem(name="tiny_bump", target="bump", m=21, d=1, width=4)
TINY_2D = BenchProblem(name="tiny_pyramid", target="pyramid_2d", m=16, d=2, width=3)
BUDGETS = Budgets(gd_steps=200, adam_steps=200, lbfgs_steps=30, lm_steps=15, anls_sweeps=3,
                  first_order_record_every=10)


@pytest.fixture(scope="module")
def best_known():
    doc = compute_best_known([TINY, TINY_2D], restarts=2, executor=1, progress=False)
    return doc


@pytest.fixture(scope="module")
def results(best_known):
    suite = Suite("test", (TINY, TINY_2D), (0, 1), BUDGETS)
    return suite, run_benchmark(suite, best_known["problems"], executor=1, progress=False)


def test_best_known_document(best_known):
    assert best_known["command"].startswith("python -m plateau_lib bench best-known")
    for p in (TINY, TINY_2D):
        e = best_known["problems"][p.name]
        assert e["best_known"] == min(e["lm_best"], e["anls_lm_best"])
        assert e["lm_restarts"] == e["anls_lm_restarts"] == 2
        assert e["zero_loss"] > 0
        assert ("lower_bound" in e) == (p.d == 1)
        if p.d == 1:
            assert e["lower_bound"] <= e["best_known"] * (1 + 1e-9)


def test_results_schema(results):
    suite, doc = results
    rows = doc["rows"]
    assert len(rows) == len(suite.problems) * len(suite.seeds) * len(suite.methods)
    for row in rows:
        for key in ("problem", "seed", "method", "final_loss", "initial_loss", "wall_time", "nfev", "njev",
                    "ratio_to_best", "time_to_2x", "evals_to_2x", "time_to_10x", "curve"):
            assert key in row, key
        assert row["final_loss"] <= row["initial_loss"] * (1 + 1e-12) or row["method"] == "adam"
        curve = row["curve"]
        assert len(curve["time"]) == len(curve["loss"]) == len(curve["evals"]) <= benchmark.CURVE_POINTS + 2
        assert curve["loss"][-1] == row["final_loss"]
        if row["d"] == 1:
            assert row["gap_to_lower_bound"] >= -1e-12
    # every method of one (problem, seed) started from the same network
    for p in suite.problems:
        for s in suite.seeds:
            initial = {r["initial_loss"] for r in rows if r["problem"] == p.name and r["seed"] == s
                       and r["method"] not in ("oga", "gd+anls")}
            assert len(initial) == 1
    assert len(doc["summary"]) == len(suite.problems) * len(suite.methods)
    assert {g["variant"] for g in doc["goals"]} == {"anls", "anls-joint"}
    for g in doc["goals"]:  # recomputed from the rows, by the goals' definitions
        sel = [r for r in rows if r["problem"] == g["problem"] and r["method"] == g["variant"]]
        ratio = float(np.median([r["ratio_to_best"] for r in sel]))
        assert g["median_ratio_to_best"] == pytest.approx(ratio, rel=1e-12)
        assert g["final_ok"] is (ratio <= g["factor"])
        assert g["speed_ok"] is (g["speedup"] >= g["required_speedup"])
        times = [r[f"time_to_{g['level']:g}x"] for r in sel]
        if all(math.isfinite(t) for t in times) and np.median(times) > 0:
            assert g["speedup"] == pytest.approx(g["best_peer_time_to_level"] / float(np.median(times)), rel=1e-12)
    assert len(doc["curves"]) == len(suite.problems) * len(suite.methods)


def test_results_are_written_as_json_and_csv(results, tmp_path):
    suite, doc = results
    paths = write_results(doc, tmp_path / "out")
    assert [p.name for p in paths] == ["bench_anls.json", "bench_anls.csv", "bench_anls_curves.csv"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)  # no temp files
    text = paths[0].read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert len(back["rows"]) == len(doc["rows"])
    table = list(csv.DictReader(io.StringIO(paths[1].read_text())))
    assert len(table) == len(doc["rows"])
    assert {"problem", "method", "seed", "final_loss", "time_to_2x", "evals_to_2x"} <= set(table[0])
    for row, back_row in zip(doc["rows"], table, strict=True):
        assert math.isclose(float(back_row["final_loss"]), row["final_loss"], rel_tol=1e-15)
    curves = list(csv.DictReader(io.StringIO(paths[2].read_text())))
    assert len(curves) == sum(len(r["curve"]["loss"]) for r in doc["rows"])


def test_committed_best_known_cache_covers_the_suite():
    entries = load_best_known(benchmark.BEST_KNOWN_PATH, PROBLEMS)
    doc = json.loads(benchmark.BEST_KNOWN_PATH.read_text())
    assert doc["command"].startswith(benchmark.BEST_KNOWN_COMMAND)
    for p in PROBLEMS:
        assert entries[p.name]["lm_restarts"] >= 100
        assert entries[p.name]["best_known"] <= entries[p.name]["lm_best"]


def test_stale_or_missing_cache_is_reported(tmp_path):
    with pytest.raises(benchmark.BestKnownError, match="no best-known cache"):
        load_best_known(tmp_path / "none.json", PROBLEMS)
    stale = {"problems": {p.name: {**p.key(), "width": p.width + 1} for p in PROBLEMS}}
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    with pytest.raises(benchmark.BestKnownError, match="stale"):
        load_best_known(tmp_path / "stale.json", PROBLEMS)


def test_suites_are_frozen():
    with pytest.raises(AttributeError):
        benchmark.FULL.seeds = (0,)
    assert len(benchmark.FULL.seeds) >= 10 and len(benchmark.FULL.problems) >= 5
    names = {p.name for p in benchmark.FULL.problems}
    assert {"plateau_1d", "multi_plateau_1d", "plateau_2d"} <= names


# ----------------------------------------------------------------------------- command line


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plateau_lib", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bench"], "required"),
        (["bench", "anls", "--bogus"], "unrecognized arguments"),
        (["bench", "anls", "--seeds", "0"], "--seeds"),
        (["bench", "anls", "--workers", "x"], "--workers"),
        (["bench", "anls", "no_such_problem"], "unknown problem(s) 'no_such_problem'"),
        (["bench", "anls", "--output", "README.md"], "--output must be a folder"),
        (["bench", "best-known", "--restarts", "-3"], "--restarts"),
        (["bench", "best-known", "--output", "benchmarks"], "--output must be a file path"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("python -m plateau_lib") and needle in lines[0]
    assert proc.stdout == ""


def test_missing_cache_is_one_line_and_exit_1(tmp_path):
    proc = run_cli("bench", "anls", "--quick", "--best-known", str(tmp_path / "none.json"),
                   "--output", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and "bench best-known" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_quick_run_from_the_command_line(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("bench", "anls", "--quick", "bump_1d", "--seeds", "1", "--workers", "1", "--no-progress",
                   "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    doc = json.loads((out / "bench_anls.json").read_text())
    assert doc["suite"]["name"] == "quick" and doc["suite"]["seeds"] == [0]
    assert {r["method"] for r in doc["rows"]} == set(benchmark.QUICK.methods)
    assert "| bump_1d | anls-joint |" in proc.stdout


def test_ctrl_c_writes_nothing(tmp_path, monkeypatch):
    def interrupted(task):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "run_task", interrupted)
    out = tmp_path / "out"
    status = cli.main(["bench", "anls", "--quick", "bump_1d", "--workers", "1", "--no-progress",
                       "--output", str(out)])
    assert status == 130
    assert not out.exists()
