"""The race at equal wall time (plateau_lib.chapters.anls_race): problems, restarts, bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plateau_lib.chapters import anls_race as race
from plateau_lib.chapters.anls_benchmark import PROBLEMS as BENCH_PROBLEMS
from plateau_lib.network import evaluate

STEPS = {"gd": 0.1, "adam": 1e-2}


def test_held_out_set_covers_what_the_issue_asks():
    held = race.HELD_OUT
    assert {p.role for p in held} == {"held-out"}
    for d in (1, 2, 3, 5):
        assert len({p.target for p in held if p.d == d}) >= 2, d
    assert min(p.m for p in held) == 40 and max(p.m for p in held) == 100_000
    assert min(p.width for p in held) == 6 and max(p.width for p in held) == 200
    assert any(p.noise > 0 for p in held) and all(p.points == "uniform" for p in held)
    assert not {p.name for p in held} & {p.name for p in race.TUNING}
    assert {p.target for p in held}.isdisjoint({p.target for p in BENCH_PROBLEMS})


def test_two_held_out_problems_are_larger_than_the_sixteen_before():
    """Issue 28: m = 10^5 in 1-D and m >= 2 10^4 with d >= 5, added after the 16 problems of before."""
    before, new = race.PROBLEMS[:16], race.HELD_OUT[10:]
    assert [p.name for p in new] == ["chirp_1d", "interact_6d"]
    assert all(p.m > max(q.m for q in before) for p in new)
    assert any(p.d == 1 and p.m >= 100_000 for p in new)
    assert any(p.d >= 5 and p.m >= 20_000 for p in new)
    assert all(p.target in race.HELD_OUT_TARGETS and p.budget > 0 for p in new)
    for p in new:
        X, y = p.data()
        assert X.shape == (p.m, p.d) and np.isfinite(y).all() and y.std() > 0.1


def test_tuning_problems_are_the_benchmark_problems():
    assert sorted(p.name for p in race.TUNING) == sorted(p.name for p in BENCH_PROBLEMS)
    for p in race.TUNING:
        b = next(q for q in BENCH_PROBLEMS if q.name == p.name)
        X, y = p.data()
        Xb, yb = b.data()
        np.testing.assert_array_equal(X, Xb)
        np.testing.assert_array_equal(y, yb)


def test_step_sizes_are_chosen_on_tuning_problems_only():
    with pytest.raises(ValueError, match="tuning problems only"):
        race.tune_step_sizes(race.HELD_OUT[:1], executor=1, progress=False)


def test_data_is_reproducible_and_noise_has_its_level():
    p = race.HELD_OUT[1]  # kinks_1d, noise 0.05, 80 points
    X1, y1 = p.data()
    X2, y2 = p.data()
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    clean = race.HELD_OUT_TARGETS[p.target][1](X1)
    residual = y1 - clean
    # sample standard deviation of m normal draws: relative standard error 1/sqrt(2(m-1))
    assert abs(residual.std(ddof=1) / p.noise - 1) < 4 / math.sqrt(2 * (p.m - 1))
    assert np.all(np.abs(X1) <= 1) and np.unique(X1).size == p.m


def test_restart_networks_cycle_the_schemes():
    p = race.TUNING[0]
    small, _ = race.restart_network(p, 0, 0)
    unit, _ = race.restart_network(p, 0, 1)
    brk, _ = race.restart_network(p, 0, 2)
    assert np.abs(small.to_vector()).max() < 1e-2 < np.abs(unit.to_vector()).max()
    t = -brk.b / brk.W[:, 0]
    assert np.all((t >= -1) & (t <= 1))
    again, _ = race.restart_network(p, 0, 1)
    np.testing.assert_array_equal(unit.to_vector(), again.to_vector())
    other, _ = race.restart_network(p, 1, 1)
    assert not np.array_equal(unit.to_vector(), other.to_vector())


def test_best_so_far_and_first_time_below():
    events = [(0.5, 4.0), (1.0, 2.0), (3.0, 1.0)]
    got = race.best_so_far(events, np.array([0.1, 0.5, 0.9, 1.0, 2.9, 3.5]))
    np.testing.assert_array_equal(got, [math.inf, 4.0, 4.0, 2.0, 2.0, 1.0])
    assert race.first_time_below(events, 2.0) == 1.0
    assert race.first_time_below(events, 1.5) == 3.0
    assert race.first_time_below(events, 0.5) == math.inf


@pytest.mark.parametrize("method", ["lm", "oga"])
def test_race_task_keeps_to_its_budget_and_records_real_losses(method):
    p = race.TUNING[0]
    task = race.RaceTask(p, method, 0, 0.5, STEPS)
    row = race.run_race_task(task)
    ev = np.array(row["events"])
    assert row["restarts"] >= 1 and ev.size
    assert np.all(np.diff(ev[:, 0]) >= 0) and np.all(np.diff(ev[:, 1]) < 0)
    assert ev[-1, 0] <= task.budget
    assert row["best"] <= ev[-1, 1] * (1 + race.EVENT_RTOL) and row["best"] <= ev[-1, 1]
    # every finished restart's final loss is at least the best so far
    finished = [r["final_loss"] for r in row["runs"] if not r["cut"]]
    assert all(v >= row["best"] for v in finished)
    # restarts are seeded by their key: a second task repeats the losses of the restarts both ran
    again = race.run_race_task(task)
    k = min(len(row["runs"]), len(again["runs"])) - 1
    both = [(a["final_loss"], b["final_loss"]) for a, b in zip(row["runs"][:k], again["runs"][:k], strict=True)]
    assert all(a == b for a, b in both)
    # runs are stopped by their time limit: none ends far past the budget (one iteration of
    # this small problem takes well under a tenth of the budget)
    assert max(r["end"] for r in row["runs"]) <= 1.1 * task.budget


@pytest.mark.parametrize("method", race.RACE_METHODS)
def test_a_budget_spent_before_a_restart_ends_the_task(method):
    """The time left is computed after drawing the restart; a spent budget ends the task instead
    of handing a trainer a non-positive time limit."""
    task = race.RaceTask(race.TUNING[0], method, 0, 1e-9, STEPS)
    row = race.run_race_task(task)
    assert row["restarts"] == 0 and row["best"] == math.inf and row["events"] == []


def test_best_known_takes_the_minimum_with_its_provenance():
    p = race.TUNING[3]  # bump_1d
    X, y = p.data()
    rows = [{"problem": p.name, "method": "lm", "seed": 0, "best": 2e-3, "best_restart": 4, "restarts": 9},
            {"problem": p.name, "method": "anls", "seed": 1, "best": 1e-3, "best_restart": 0, "restarts": 3}]
    extra = [(p.name, 5e-3, {"found_by": "dedicated restart", "method": "lm", "seed": 100_000, "restart": 0})]
    entry = race.best_known([p], rows, extra)[p.name]
    assert (entry["best_known"], entry["method"], entry["seed"], entry["restart"]) == (1e-3, "anls", 1, 0)
    assert entry["race_runs"] == 12 and entry["other_runs"] == 1
    assert entry["zero_loss"] == pytest.approx(float(y @ y) / (2 * p.m), rel=1e-15)
    # the lower bound of fact 5 is below every loss of a width-n network (here the best found)
    assert 0 <= entry["lower_bound"] <= entry["best_known"]
    better = [(p.name, 1e-4, {"found_by": "single run", "method": "anls", "seed": 2, "restart": 0})]
    assert race.best_known([p], rows, better)[p.name]["found_by"] == "single run"


def _doc(anls_t: float, peer_t: float, d: int = 1, singles=(2.6, 2.8, 3.0)) -> dict:
    rows = []
    for method, t, ratio in (("anls", anls_t, 1.0), ("lm", peer_t, 1.5), ("gd", math.inf, 9.0)):
        for seed in range(3):
            rows.append({"problem": "p", "role": "held-out", "method": method, "seed": seed,
                         "ratio_at_budget": ratio, "time_to_2x": t, "time_to_1.1x": t})
    doc = {"rows": rows, "best_known": {"p": {"d": d, "reference": 2.0}}, "single_anls": {"p": list(singles)}}
    doc["pivot"] = race.pivot(doc)
    return doc


def test_goals_arithmetic():
    g = race.race_goals(_doc(0.1, 2.0))[0]
    assert g["single_ratio"] == pytest.approx(2.8 / 2.0) and not g["single_ok"]
    assert race.race_goals(_doc(0.1, 2.0, singles=(2.0, 2.2, 9.0)))[0]["single_ok"]  # median 2.2: 1.1
    assert g["equal_time_ok"] and g["best_peer_at_budget"] == "lm"
    assert g["speedup_2x"] == pytest.approx(20.0) and g["speed_ok"]
    slow = race.race_goals(_doc(0.5, 2.0))[0]
    assert slow["speedup_2x"] == pytest.approx(4.0) and not slow["speed_ok"]
    high_d = race.race_goals(_doc(0.5, 2.0, d=3))[0]
    assert high_d["required_speedup"] == race.GOAL_SPEEDUP_HIGH_D and high_d["speed_ok"]
    summary = race.goal_summary([g, slow], "held-out")
    assert summary["problems"] == 2 and summary["equal_time_ok"] == 2 and summary["speed_ok"] == 1


def test_a_race_row_is_a_loss_of_the_network_it_reports():
    """The best-so-far is a loss some network really has: recompute LM's first restart."""
    p = race.TUNING[3]
    X, y = p.data()
    net, rng = race.restart_network(p, 0, 0)
    res = race.run_once("lm", p, net, X, y, rng, STEPS)
    c, W, b = res.net.c, res.net.W, res.net.b
    assert evaluate(c, W, b, X, y).loss == pytest.approx(res.final_loss, rel=1e-12)


def test_dedicated_restarts_cap_lm_on_large_problems():
    small, large = race.TUNING[0], race.HELD_OUT[3]  # 41 x 10 and 10^4 x 200
    tasks = race.dedicated_tasks([small, large], 2)
    assert [(t.problem.name, t.kind) for t in tasks] == [
        (small.name, "lm"), (small.name, "lm"), (small.name, "anls+lm"), (small.name, "anls+lm"),
        (large.name, "anls+lm"), (large.name, "anls+lm")]
    assert {t.lm_steps for t in tasks if t.problem is small} == {race.DEDICATED_LM_STEPS}
    assert {t.lm_steps for t in tasks if t.problem is large} == {race.DEDICATED_LM_STEPS_LARGE}


