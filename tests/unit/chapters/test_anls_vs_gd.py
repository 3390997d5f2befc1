"""Chapter 4's race in iterations: gradient descent against ANLS from the same network, over seeds; its page."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.chapters import anls_from_stationary as from_stationary
from plateau_lib.chapters import anls_sweep as sweep_study
from plateau_lib.chapters import anls_variants as variants
from plateau_lib.chapters import anls_vs_gd as vs_gd
from plateau_lib.chapters.anls_sweep import one_sweep, plateau_choice_text, sweep_text
from plateau_lib.chapters.anls_variants import VariantSettings, variant_study
from plateau_lib.chapters.anls_vs_gd import (
    FAR_FEWER,
    ExitRow,
    ExitSettings,
    IterationLead,
    c5_verdict,
    exit_row,
    exit_study,
    exit_summary,
    exits_text,
    first_reach,
    gd_vs_anls,
    iteration_lead,
    race_text,
    race_time_text,
    showcase_plateau,
    steps_to_reach,
)
from plateau_lib.chapters.page import run_line
from plateau_lib.experiments import get_experiment
from plateau_lib.network import loss
from plateau_lib.trainers.anls import FTOL, FTOL_SWEEPS, train_anls

pytest_plugins = ("anls_fixtures",)  # the shared fixtures race_quick, rest, variant_rows


def test_first_reach():
    e = get_experiment("plateau_1d")
    X, y = e.data()
    res = train_anls(e.initial_network(), X, y, sweeps=5)
    assert first_reach(res, res.loss[0]) == 0
    k = first_reach(res, res.final_loss)
    assert k is not None and res.loss[k] <= res.final_loss and (k == 0 or res.loss[k - 1] > res.final_loss)
    assert first_reach(res, res.final_loss / 2) is None
    with pytest.raises(ValueError, match="level must be finite"):
        first_reach(res, math.nan)
    with pytest.raises(TypeError, match="result must be a TrainResult"):
        first_reach("run", 1.0)




def test_gd_vs_anls_share_the_initial_network(race_quick):
    r = race_quick
    e = get_experiment("plateau_1d")
    assert r.seed == e.seed and r.experiment == "plateau_1d"
    assert_array_equal(r.gd.params[0], r.anls.params[0])
    assert_array_equal(r.initial.to_vector(), e.initial_network(e.seed).to_vector())
    assert r.gd.nit == e.quick_steps
    assert np.all(np.diff(r.anls.loss) <= 0)
    X, y = e.data()
    assert r.lower_bound <= r.anls.final_loss and r.lower_bound <= r.gd.final_loss
    k = r.anls_sweeps_to_gd
    assert k is not None and r.anls.loss[k] <= r.gd.final_loss
    assert r.anls_nfev_to_gd == r.anls.extra["nfev_per_sweep"][k]
    assert math.isfinite(r.anls_time_to_gd)
    assert r.plateau_steps() == pytest.approx(sum(p.end - p.start for p in r.plateaus))
    # the claim of the chapter holds in quick mode too
    assert r.anls.final_loss < r.gd.final_loss and k <= FAR_FEWER * r.gd.nit
    assert loss(r.anls.net, X, y) == pytest.approx(r.anls.final_loss, rel=1e-12)


def test_steps_to_reach(race_quick):
    gd = race_quick.gd
    assert steps_to_reach(gd, gd.loss[0]) == 0
    k = steps_to_reach(gd, gd.final_loss)
    assert k is not None and gd.loss[gd.steps == k][0] <= gd.final_loss
    assert steps_to_reach(gd, gd.final_loss / 2) is None
    # counted from a later recorded step: the rest of the same run
    start = int(gd.steps[len(gd.steps) // 2])
    level = float(gd.loss[-5])
    assert steps_to_reach(gd, level, start) == steps_to_reach(gd, level) - start
    with pytest.raises(ValueError, match="start must be a recorded step"):
        steps_to_reach(gd, level, -1)
    with pytest.raises(ValueError, match="level must be finite"):
        steps_to_reach(gd, math.inf)


def test_iteration_lead_and_its_threshold(race_quick):
    gd, anls = race_quick.gd, race_quick.anls
    lead = iteration_lead(gd, anls)
    assert lead.sweeps >= 1 and lead.loss == anls.loss[anls.steps == lead.sweeps][0]
    assert lead.gd_budget == gd.nit
    for k, level in zip(anls.steps[1:], anls.loss[1:], strict=True):
        other = IterationLead(int(k), float(level), steps_to_reach(gd, level), gd.nit)
        assert other.ratio <= lead.ratio
    assert lead.orders_fewer(FAR_FEWER)
    # never reached within the budget counts as more than the budget
    never = IterationLead(sweeps=2, loss=0.0, gd_steps=None, gd_budget=99)
    assert not never.reached and never.steps_needed == 100 and never.ratio == 50.0
    assert never.orders_fewer(0.02) and not never.orders_fewer(0.019)
    # a "sweep" that only gets where gradient descent gets in 50 steps is rejected by the check
    slow = replace(anls, steps=np.array([0, 1]), loss=np.array([gd.loss[0], float(gd.loss[gd.steps == 50][0])]))
    slow_lead = iteration_lead(gd, slow)
    assert slow_lead.gd_steps is not None and slow_lead.gd_steps <= 50
    assert not slow_lead.orders_fewer(FAR_FEWER)
    with pytest.raises(ValueError, match="at least one sweep"):
        iteration_lead(gd, replace(anls, steps=anls.steps[:1], loss=anls.loss[:1]))


def _lead(loss_k, steps, sweeps=1, budget=1000):
    return IterationLead(sweeps=sweeps, loss=loss_k, gd_steps=steps, gd_budget=budget)


def test_exit_summary_counts_and_causes():
    rows = [
        ExitRow(seed=0, gd_final=1.0, plateau_level=5.0, sweep=_lead(0.5, None), race=_lead(0.4, None),
                anls_final=0.4),
        ExitRow(seed=1, gd_final=2.0, plateau_level=5.0, sweep=_lead(3.0, 200), race=_lead(1.5, 300),
                anls_final=1.5),
        ExitRow(seed=2, gd_final=0.5, plateau_level=5.0, sweep=_lead(0.6, 50), race=_lead(0.7, 500),
                anls_final=0.7),
    ]
    s = exit_summary(rows, 0.01)
    assert (s.runs, s.sweep_leads, s.race_leads) == (3, 2, 3)
    assert (s.sweep_below_gd, s.anls_below_gd) == (1, 2)
    assert s.above_seeds == (1, 2) and s.not_leading_seeds == (2,)
    assert s.sweep_loss_median == 0.6 and s.gd_final_median == 1.0
    assert (s.above_weak, s.above_low) == (1, 1)  # seed 1: weak sweep; seed 2: low GD
    assert s.min_sweep_ratio == 50 and s.min_race_ratio == 300
    text = exits_text(s)
    assert "2 of the 3 seeds one sweep" in text and "fails on 1 seed 2" in text
    assert "do not hold on every seed" in text and "Of the 2 seeds where" in text
    assert "not on every one" in c5_verdict(s)
    good = exit_summary(rows[:1], 0.01)
    assert good.above_seeds == () and good.not_leading_seeds == ()
    text = exits_text(good)
    assert "holds on every seed measured" in text and "hold on every seed too" in text and "Of the" not in text
    assert c5_verdict(good) == "ANLS leaves the plateau within one sweep on all 1 seeds measured above"
    with pytest.raises(ValueError, match="at least one run"):
        exit_summary([])
    with pytest.raises(ValueError, match="fraction"):
        exit_summary(rows, 0.0)


def test_exit_study_first_row_is_the_showcase(race_quick):
    settings = ExitSettings(seeds=2, quick_seeds=1)
    rows = exit_study(settings, quick=True, executor=ThreadPoolExecutor(1))
    assert len(rows) == 1 and rows[0].seed == get_experiment("plateau_1d").seed
    assert rows[0] == exit_row(race_quick)
    with pytest.raises(ValueError, match="1-D"):
        ExitSettings(experiment="plateau_2d")
    with pytest.raises(TypeError, match="ExitSettings"):
        exit_study(VariantSettings())


def test_showcase_plateau_rule(race_quick):
    rows = race_quick.plateaus
    chosen = showcase_plateau(rows)
    eligible = [r for r in rows if r.exits and r.start > 0]
    assert chosen.end - chosen.start == max(r.end - r.start for r in eligible)
    with pytest.raises(ValueError, match="at least one plateau"):
        showcase_plateau([])


def test_studies_validate_their_arguments():
    with pytest.raises(ValueError, match="unknown experiment"):
        gd_vs_anls("nowhere")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        gd_vs_anls("plateau_1d", -1)
    with pytest.raises(ValueError, match="sweeps"):
        gd_vs_anls("plateau_1d", sweeps=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        variant_study(seed=1.5)


def test_markdown_tables():
    rows = [ExitRow(seed=3, gd_final=1.0, plateau_level=5.0, sweep=_lead(0.5, None, budget=700),
                    race=_lead(0.4, 2000, sweeps=2), anls_final=0.4)]
    table = vs_gd.exits_table(rows).splitlines()
    assert len(table) == 3 and table[2].startswith("| 3 | 1.00e+00 | 5.0000 | 5.00e-01 | > 700 | 2: 4.00e-01 | 2000 |")
    summary = [{"problem": "p", "variant": "global", "final_median": 0.5, "final_q25": 0.25, "final_q75": 0.75,
                "ratio_median": 12.34, "sweeps_median": 7.0, "nfev_median": 70.0}]
    assert variants.variants_table(summary).splitlines()[2] == (
        "| `p` | global | 5.00e-01 [2.50e-01, 7.50e-01] | 12.3 | 7 | 70 |")


def test_reports_follow_the_runs(race_quick, rest):
    X, y = get_experiment("plateau_1d").data()
    p = showcase_plateau(race_quick.plateaus)
    sweep = one_sweep(race_quick.gd.net_at(p.index), X, y)
    step = int(race_quick.gd.steps[p.index])
    lead = iteration_lead(race_quick.gd, sweep.result, step)
    lines = sweep_study.sweep_report(race_quick, p, sweep, lead).splitlines()
    assert lines[0] == run_line(race_quick.gd) and lines[3].startswith(f"loss: {sweep.start_loss:.5f} before")
    assert f"network at step {step}," in lines[1] and lines[2].endswith(f"the trainer did the same: {sweep.agrees}")
    assert lines[-1].startswith(f"GD from step {step} needs {vs_gd.gd_needs_text(lead)} steps")
    lines = vs_gd.race_report(race_quick, iteration_lead(race_quick.gd, race_quick.anls)).splitlines()
    assert len(lines) == 3 + len(race_quick.plateaus) and lines[0] == run_line(race_quick.anls)
    assert f"at sweep {race_quick.anls_sweeps_to_gd} " in lines[2]
    assert all(line.startswith("GD plateau steps") for line in lines[3:])
    # two seeds passed over before the chosen one: numbered from the first seed tried
    searched = replace(rest, seed=rest.seed + 2, passed_over=("rejected (a)", "rejected (b)"))
    lines = searched.describe().splitlines()
    assert lines[:2] == [f"seed {rest.seed}: polish rejected (a) -> passed over",
                         f"seed {rest.seed + 1}: polish rejected (b) -> passed over"]
    assert lines[2] == f"seed {rest.seed + 2}: polish {rest.polish.message}"
    assert lines[4:] == [run_line(r, k) for k, r in rest.runs.items()]


def test_figure_data_of_the_race_and_the_sweep(race_quick, rest):
    X, y = get_experiment("plateau_1d").data()
    sweep = one_sweep(race_quick.gd.net_at(showcase_plateau(race_quick.plateaus).index), X, y)
    data = sweep_study.sweep_figure_data(sweep)
    assert list(data.arrays) == ["x", "target", "tau", "s", "gain", "chosen", "update_neuron", "update_loss",
                                 "start_loss"]
    assert list(data.unchecked) == ["update_accepted"] and data.timing == {}
    assert data.arrays["chosen"] == sweep.search.chosen
    data = vs_gd.gd_vs_anls_figure_data(race_quick)
    every = get_experiment("plateau_1d").record_every
    assert np.all(data.arrays["gd_step"] % every == 0) and data.arrays["gd_step"][0] == 0
    assert_array_equal(data.timing["gd_loss"], data.arrays["gd_loss"])
    assert len(data.timing["gd_time"]) == len(data.arrays["gd_step"])
    assert {f"plateau_{k}" for k in ("start", "end", "level")} <= set(data.arrays)
    assert list(data.unchecked) == ["anls_counts"]
    data = from_stationary.from_stationary_figure_data(rest, X)
    assert list(data.arrays) == ["x", "start", "anls_design_net", "anls_net", "anls_design_loss", "anls_loss"]
    assert_allclose(data.arrays["start"], rest.start(X))
    with pytest.raises(ValueError, match=r"X must be an \(m, 1\) array"):
        from_stationary.from_stationary_figure_data(rest, X[:, 0])


def test_glued_numbers(race_quick, rest):
    assert vs_gd.chapter_constants({"pair_moves": 7}) == {
        "anls_budget": vs_gd.SWEEPS, "far_fewer": FAR_FEWER, "far_fewer_steps": 100, "goal_factor": vs_gd.GOAL_FACTOR,
        "goal_speedup": vs_gd.GOAL_SPEEDUP, "goal_level": vs_gd.GOAL_LEVEL, "pair_moves": 7,
        "ftol": FTOL, "ftol_sweeps": FTOL_SWEEPS, "pattern_steps_more": 4}
    with pytest.raises(ValueError, match="joint_options must have the keys pair_moves"):
        vs_gd.chapter_constants({})
    X, y = get_experiment("plateau_1d").data()
    p = showcase_plateau(race_quick.plateaus)
    sweep = one_sweep(race_quick.gd.net_at(p.index), X, y)
    v = sweep_study.sweep_values(race_quick, p, sweep)
    assert (v["m1"], v["n1"], v["run_seed"]) == (len(y), race_quick.initial.n, race_quick.seed)
    assert v["chosen_tau"] == sweep.search.tau and v["chosen_s"] in ("+1", "-1")
    assert v["chosen_side"] == ("to its right" if v["chosen_s"] == "+1" else "to its left")
    assert v["sweep_end"] <= v["sweep_first"] <= v["sweep_start"]
    v = vs_gd.gd_vs_anls_values(race_quick)
    assert v["anls_lb_factor"] * race_quick.lower_bound == pytest.approx(v["anls_final"])
    assert v["gd_n_plateaus"] == len(race_quick.plateaus) and v["gd_steps"] == race_quick.gd.nit
    rows = [ExitRow(seed=s, gd_final=1.0, plateau_level=5.0, sweep=_lead(0.5, None), race=_lead(0.4, None),
                    anls_final=0.4) for s in (4, 5, 6)]
    assert vs_gd.exit_values(rows) == {"exit_runs": 3, "exit_first": 4, "exit_last": 6}
    with pytest.raises(ValueError, match="rows must hold"):
        vs_gd.exit_values([])
    v = from_stationary.stationary_values(rest, 1e-5)
    assert v["stat_anls"] == rest.runs["anls-design"].final_loss and v["stat_joint_lb"] == v["stat_joint"] / 1e-5
    assert v["stat_anls_factor"] > 1 and v["stat_passed"] == len(rest.passed_over)
    with pytest.raises(ValueError, match="rest.runs must have the keys anls-design, anls; missing: anls-design"):
        from_stationary.stationary_values(replace(rest, runs={"anls": rest.runs["anls"]}), 1e-5)
    v = variants.variant_values(VariantSettings(), quick=True)
    assert v["var_seeds"] == VariantSettings().quick_seeds and v["n_multi"] == get_experiment("multi_plateau_1d").width
    with pytest.raises(TypeError, match="settings must be a VariantSettings"):
        variants.variant_values(ExitSettings(), quick=True)


def test_sentences_follow_the_numbers(race_quick):
    below, above = _lead(0.5, None, budget=300), _lead(2.0, 1234)
    assert sweep_text(below, 1.0, 400).startswith("below") and "300 steps it has left" in sweep_text(below, 1.0, 400)
    assert sweep_text(above, 1.0, 400).startswith("above") and "needs 1234 steps" in sweep_text(above, 1.0, 400)
    p = showcase_plateau(race_quick.plateaus)
    assert plateau_choice_text(p) == "the longest plateau it leaves"
    assert "does not leave" in plateau_choice_text(replace(p, exits=False))
    text = race_text(race_quick, iteration_lead(race_quick.gd, race_quick.anls))
    assert "every one of these plateaus" in text and "times below gradient descent's final loss" in text
    # the same race against a gradient descent that ends lower than ANLS
    low = replace(race_quick.gd, loss=np.minimum(race_quick.gd.loss, race_quick.anls.final_loss / 2))
    low_plateau = replace(race_quick.plateaus[-1], level=race_quick.anls.final_loss / 2)
    race_low = replace(race_quick, gd=low, plateaus=[*race_quick.plateaus, low_plateau])
    text = race_text(race_low, iteration_lead(low, race_quick.anls))
    assert "never below gradient descent's final loss" in text and "times above gradient descent's" in text
    assert "never below the one at" in text
    assert "in all" in race_time_text(race_low) and "to get below" in race_time_text(race_quick)


def test_gd_needs_text():
    assert vs_gd.gd_needs_text(_lead(0.5, 1234)) == "1234"
    assert vs_gd.gd_needs_text(_lead(0.5, None, budget=300)) == "more than 300"
