"""The committed race's results and Chapter 4's page of them (plateau_lib.chapters.anls_race_results):
staleness, curves, tables, sentences, the files found as package data, also from an installed wheel."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plateau_lib.chapters import anls_race as race
from plateau_lib.chapters import anls_race_results as results

ROOT = Path(__file__).resolve().parents[3]


def _page_doc() -> dict:
    """A hand-made race document: one tuning and one held-out problem, three methods, two seeds."""
    problems = [race.TUNING[0], race.HELD_OUT[0]]
    rows = []
    for p in problems:
        for method, events in (("anls", [(0.1, 4.0), (0.5, 1.0)]), ("lm", [(0.2, 3.0), (0.9, 1.5)]),
                               ("gd", [(0.3, 8.0)])):
            for seed in (0, 1):
                ev = events if p.role == "tuning" or method != "lm" else [(0.2, 0.8)]
                rows.append({"problem": p.name, "role": p.role, "d": p.d, "method": method, "seed": seed,
                             "budget": 1.0, "events": ev, "restarts": 2, "best": ev[-1][1], "best_restart": 1})
    best = race.best_known(problems, rows, [])
    for r in rows:
        ref = best[r["problem"]]["reference"]
        r["ratio_at_budget"] = r["best"] / ref
        r["time_to_2x"] = race.first_time_below(r["events"], 2 * ref)
    suite = race.RaceSuite("test", tuple(problems), (0, 1), methods=("anls", "lm", "gd"))
    doc = {"rows": rows, "best_known": best, "single_anls": {p.name: [1.0, 1.1] for p in problems},
           "suite": {**dataclasses.asdict(dataclasses.replace(suite, problems=())),
                     "problems": [dataclasses.asdict(p) for p in problems]},
           "step_sizes": {"gd": {"chosen": 0.1}, "adam": {"chosen": 0.01}}, "seconds": 120.0,
           "trainers_fingerprint": race.trainers_fingerprint()}
    doc["pivot"] = race.pivot(doc)
    doc["goals"] = race.race_goals(doc)
    return doc, suite


def test_page_helpers_report_what_the_rows_say():
    doc, suite = _page_doc()
    assert results.race_staleness(doc, suite) == []
    assert "fingerprint" in results.race_staleness({**doc, "trainers_fingerprint": "0"}, suite)[0]
    held = race.HELD_OUT[0].name
    # on the held-out problem LM (0.8) beats ANLS (1.0); on the tuning problem ANLS is best
    assert results.peer_wins(doc) == [(held, "lm", 1.0, 1.25)]
    wins = results.peer_wins_text(doc)
    assert f"`{held}`" in wins and "1 of 2 problems" in wins
    # what the budget bought: ANLS's first iteration ended at 0.5 s; the one event of LM is its start
    assert "ANLS: 2 run(s), the first iteration done after 0.5 s" in wins
    assert "lm: no iteration ended within the 1-s budget" in wins
    with pytest.raises(ValueError, match="problem, method"):
        results.run_cost(doc, held, "oga")
    c = results.race_curve(doc, race.TUNING[0].name, "anls")
    assert c["median"][-1] == 1.0 and np.isinf(c["median"][0])
    text = results.verdict_text(doc)
    assert "**Held-out problems:**" in text and "on 0 of 1 (0%" in text
    assert "**Tuning problems:**" in text and "on 1 of 1 (100%" in text
    values = results.race_values(doc)
    assert values["held_out_equal_ok"] == 0 and values["tuning_equal_ok"] == 1
    table = results.format_pivot(doc)
    assert f"| {held} | " in table and "**0.8**" not in table  # ratios, not losses
    assert f"| {held} | held-out |" in results.format_problems(doc)  # the facts of the problems apart
    assert "**1**" in table


@pytest.mark.parametrize("load, command", [(results.load_race, "python -m plateau_lib bench race"),
                                           (results.load_cost, "python -m benchmarks.bench_anls_cost")])
def test_a_missing_results_file_names_the_command_that_writes_it(tmp_path, load, command):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'none.json'}.*`{command}"):
        load(tmp_path / "none.json")


def test_held_out_versus_gd_sets_aside_problems_anls_never_iterated_on():
    doc, _ = _page_doc()
    held = race.HELD_OUT[0].name
    # ANLS (ratio 1.0) is below GD (8.0) on the held-out problem; the tuning problem is not counted
    assert results.held_out_vs_gd(doc) == results.HeldOutVsGd((held,), (), ())
    assert results.untested_text(results.held_out_vs_gd(doc)) == "No held-out problem was set aside."
    # one ANLS run that ended no iteration within the budget: the problem is set aside
    rows = [dict(r, events=r["events"][:1]) if (r["problem"], r["method"], r["seed"]) == (held, "anls", 1) else r
            for r in doc["rows"]]
    versus = results.held_out_vs_gd({**doc, "rows": rows})
    assert versus == results.HeldOutVsGd((), (), (held,))
    assert f"`{held}`" in results.untested_text(versus)
    # GD below ANLS: counted against ANLS
    rows = [dict(r, ratio_at_budget=0.5) if (r["problem"], r["method"]) == (held, "gd") else r for r in doc["rows"]]
    assert results.held_out_vs_gd({**doc, "rows": rows}) == results.HeldOutVsGd((), (held,), ())


def test_the_committed_results_are_package_data():
    assert results.RACE_PATH.parent == results.COST_PATH.parent == results.RESULTS_DIR
    assert results.RESULTS_DIR == Path(results.__file__).parent / "results"
    assert results.load_race()["suite"]["problems"] and results.load_cost()["goal"]["measured"]


@pytest.mark.slow
def test_an_installed_wheel_finds_chapter_4s_results(tmp_path):
    """A wheel (not an editable install) carries race.json and anls_cost.json, and the chapter's loaders find
    them in the installed package, outside the repository."""
    src, wheel_dir, target = tmp_path / "src", tmp_path / "wheel", tmp_path / "site"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):  # built from a copy, so the tree stays clean
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "plateau_lib", src / "plateau_lib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(wheel_dir), str(src)], check=True, capture_output=True, text=True)
    (wheel,) = wheel_dir.glob("plateau_lib-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, text=True)
    code = ("import plateau_lib.chapters.anls_race_results as r; "
            "print(r.__file__); print(len(r.load_race()['rows'])); print(r.cost_values(r.load_cost())['cost_goal_m'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                          capture_output=True, text=True, check=True)
    where, rows, goal_m = proc.stdout.split()
    assert Path(where).is_relative_to(target)
    assert int(rows) == len(results.load_race()["rows"]) and int(goal_m) == results.load_cost()["goal"]["m"]
