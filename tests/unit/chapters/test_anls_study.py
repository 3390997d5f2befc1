"""Chapter 4's studies: the threshold picture, GD against ANLS, ANLS from a stationary point, the
variants, and reading the benchmark's results (including the committed full run).

Tolerances: the picture must reproduce the trainer's choice exactly (the same candidates, the same
argmax), checked to 1e-12 relative; sums recomputed in another order to 1e-10.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.chapters import anls as ch
from plateau_lib.chapters import anls_benchmark as benchmark
from plateau_lib.chapters.anls import (
    FAR_FEWER,
    VARIANT_NAMES,
    BenchmarkEntry,
    ExitRow,
    ExitSettings,
    IterationLead,
    VariantSettings,
    anls_from_stationary,
    anls_joint_options,
    benchmark_entries,
    benchmark_goals,
    benchmark_schema,
    benchmark_staleness,
    c5_verdict,
    check_benchmark,
    exit_row,
    exit_study,
    exit_summary,
    exits_text,
    first_reach,
    gd_vs_anls,
    is_peer,
    iteration_lead,
    load_benchmark,
    lower_median,
    one_sweep,
    peer_wins,
    plateau_choice_text,
    problem_curves,
    race_text,
    race_time_text,
    showcase_plateau,
    steps_to_reach,
    sweep_text,
    threshold_search,
    variant_study,
    variant_summary,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.network import ShallowReLU, loss
from plateau_lib.trainers.anls import train_anls

#: The committed full benchmark run the chapter reads in full mode.
CACHED = benchmark.RESULTS_PATH
SEEDS = st.integers(0, 2**32 - 1)


def random_1d(seed: int, m: int = 25, n: int = 4, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(-1, 1, m))[:, None]
    y = np.sin(3 * X[:, 0]) + 0.3 * rng.standard_normal(m)
    c, W, b = rng.standard_normal(n), rng.standard_normal((n, 1)), rng.standard_normal(n)
    net = ShallowReLU(scale * c, scale * W, scale * b)
    return net, X, y


# --------------------------------------------------------------------------- small helpers


def test_lower_median():
    assert lower_median([3.0, 1.0, 2.0]) == 2.0
    assert lower_median([1.0, 2.0, 3.0, 4.0]) == 2.5
    # with an infinite value the lower median: finite iff at least half are finite
    assert lower_median([1.0, 2.0, math.inf, math.inf]) == 2.0
    assert lower_median([1.0, math.inf, math.inf, math.inf]) == math.inf
    with pytest.raises(ValueError, match="empty"):
        lower_median([])
    with pytest.raises(ValueError, match="NaN"):
        lower_median([1.0, math.nan])


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


# --------------------------------------------------------------------------- the threshold picture


def test_threshold_search_scores_every_candidate_by_hand():
    net, X, y = random_1d(3)
    s = threshold_search(net, X, y, 2)
    A = np.maximum(net.preactivations(X), 0.0)
    others = A @ net.c - net.c[2] * A[:, 2]
    assert_allclose(s.target, y - others, atol=1e-12)
    x = X[:, 0]
    for tau, sign, gain, count in zip(*s.candidates, strict=True):
        phi = np.maximum(sign * (x - tau), 0.0)
        assert count == int((sign * (x - tau) > 0).sum())
        expected = (phi @ s.target) ** 2 / (phi @ phi) if phi @ phi > 0 else 0.0
        assert gain == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert s.gain == s.candidates.gain.max()
    # the fit is the least-squares multiple of the chosen activation
    phi = np.maximum(s.s * (x - s.tau), 0.0)
    r = s.target - s.fit(x)
    assert abs(phi @ r) <= 1e-10 * np.linalg.norm(phi) * np.linalg.norm(s.target)
    assert np.sum(s.target**2) - np.sum(r**2) == pytest.approx(s.gain, rel=1e-10)
    # the current neuron's gain is scale-free
    assert s.current_tau == pytest.approx(-net.b[2] / net.W[2, 0])
    assert s.current_s == int(np.sign(net.W[2, 0]))
    scaled = net.with_params(W=net.W * 3.0, b=net.b * 3.0, c=net.c / 3.0)
    assert threshold_search(scaled, X, y, 2).current_gain == pytest.approx(s.current_gain, rel=1e-12)


def test_threshold_search_validates():
    net, X, y = random_1d(0)
    with pytest.raises(ValueError, match="neuron must be an integer in"):
        threshold_search(net, X, y, 4)
    with pytest.raises(ValueError, match="neuron must be an integer in"):
        threshold_search(net, X, y, True)
    net2 = ShallowReLU(np.ones(2), np.ones((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="net must be 1-D"):
        threshold_search(net2, np.zeros((5, 2)), np.ones(5), 0)
    with pytest.raises(ValueError, match="positive gain"):
        threshold_search(net.with_params(c=np.zeros(4)), X, np.zeros(len(y)), 0)


@given(SEEDS)
@settings(max_examples=30, deadline=None)
def test_the_picture_is_what_the_trainer_does(seed):
    """Whenever the trainer keeps the first update of a sweep, it is the pictured candidate."""
    net, X, y = random_1d(seed, scale=0.3)
    anatomy = one_sweep(net, X, y)
    ex = anatomy.result.extra
    if ex["update_neuron"].size and ex["update_neuron"][0] == 0 and ex["update_accepted"][0]:
        assert anatomy.agrees
    else:
        assert not anatomy.agrees
    kept = anatomy.kept_loss()
    assert np.all(np.diff(np.r_[anatomy.start_loss, kept]) <= 0)
    assert kept[-1] == pytest.approx(anatomy.result.final_loss, rel=1e-12)


@pytest.fixture(scope="module")
def race_quick():
    return gd_vs_anls("plateau_1d", quick=True)


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


def test_exit_study_first_row_is_the_showcase(race_quick):
    settings = ExitSettings(seeds=2, quick_seeds=1)
    rows = exit_study(settings, quick=True, executor=ThreadPoolExecutor(1))
    assert len(rows) == 1 and rows[0].seed == get_experiment("plateau_1d").seed
    assert rows[0] == exit_row(race_quick)
    with pytest.raises(ValueError, match="1-D"):
        ExitSettings(experiment="plateau_2d")
    with pytest.raises(TypeError, match="ExitSettings"):
        exit_study(VariantSettings())


def test_one_sweep_from_the_plateau(race_quick):
    X, y = get_experiment("plateau_1d").data()
    p = showcase_plateau(race_quick.plateaus)
    assert p.exits and p.start > 0
    anatomy = one_sweep(race_quick.gd.net_at(p.index), X, y)
    assert anatomy.agrees
    # a neuron with no active data (no gradient) is revived by the search
    assert anatomy.search.current_count == 0 and anatomy.search.count > 0
    assert anatomy.result.final_loss < anatomy.start_loss


def test_showcase_plateau_rule(race_quick):
    rows = race_quick.plateaus
    chosen = showcase_plateau(rows)
    eligible = [r for r in rows if r.exits and r.start > 0]
    assert chosen.end - chosen.start == max(r.end - r.start for r in eligible)
    with pytest.raises(ValueError, match="at least one plateau"):
        showcase_plateau([])


@pytest.fixture(scope="module")
def rest():
    """ANLS (the design's options and `anls-joint`) from the stationary point of the showcase seed."""
    return anls_from_stationary("plateau_1d", variants={"anls-design": {}, "anls": anls_joint_options(1)}, sweeps=10)


def test_anls_from_stationary_point(rest):
    assert rest.polish.accepted
    X, y = get_experiment("plateau_1d").data()
    assert rest.start_loss == pytest.approx(loss(rest.start, X, y), rel=1e-12)
    for res in rest.runs.values():
        assert res.loss[0] == pytest.approx(rest.start_loss, rel=1e-12)
        assert np.all(np.diff(res.loss) <= 0)
        assert res.final_loss < rest.start_loss
    with pytest.raises(ValueError, match="variants must name"):
        anls_from_stationary(variants={})
    with pytest.raises(ValueError, match="seed must be"):
        anls_from_stationary(seed=-1)


def test_anls_from_stationary_reports_its_search():
    """The start is chosen by first_polished_run's rule (tested in test_stationary.py): one seed that
    does not polish within a tiny budget raises, listing why."""
    with pytest.raises(RuntimeError, match=r"no seed of 9\.\.9 .*seed 9: rejected"):
        anls_from_stationary("plateau_1d", 9, sweeps=1, steps=2_000, max_tries=1)


# --------------------------------------------------------------------------- variants


def test_variant_settings_and_options():
    s = VariantSettings()
    design = {"preset": "design"}  # the variants are the design's reading
    assert s.options("global", "plateau_1d") == design
    assert s.options("bounded", "plateau_1d") == {**design, "bounded_moves": s.bounded_moves}
    lr = get_experiment("multi_plateau_1d").options["lr"]
    assert s.options("bounded+polish", "multi_plateau_1d") == {**design, "bounded_moves": s.bounded_moves,
                                                                "polish_steps": s.polish_steps, "polish_lr": lr}
    with pytest.raises(ValueError, match="variant must be one of"):
        s.options("joint", "plateau_1d")
    with pytest.raises(ValueError, match="1-D experiments"):
        VariantSettings(problems=("plateau_2d",))
    with pytest.raises(ValueError, match="seeds"):
        VariantSettings(seeds=0)
    with pytest.raises(TypeError, match="problems must be"):
        VariantSettings(problems=["plateau_1d"])
    assert s.n_seeds(True) == s.quick_seeds and s.n_seeds(False) == s.seeds


def test_variant_study_rows():
    settings_ = VariantSettings(problems=("plateau_1d",), seeds=3, quick_seeds=2, sweeps=6)
    with ThreadPoolExecutor(2) as pool:
        rows = variant_study(settings_, quick=True, seed=1, executor=pool)
    assert [(r.variant, r.seed) for r in rows] == [(v, s) for v in VARIANT_NAMES for s in (1, 2)]
    e = get_experiment("plateau_1d")
    X, y = e.data()
    for r in rows:
        assert len(r.curve) == settings_.sweeps + 1
        assert np.all(np.diff(r.curve) <= 0) and r.curve[-1] == r.final_loss
        assert r.ratio_to_lower_bound == pytest.approx(r.final_loss / r.lower_bound)
        assert r.final_loss >= r.lower_bound
        res = train_anls(e.initial_network(r.seed), X, y, sweeps=6, **settings_.options(r.variant, "plateau_1d"))
        assert res.final_loss == r.final_loss
    summary = variant_summary(rows)
    assert [(s["problem"], s["variant"]) for s in summary] == [("plateau_1d", v) for v in VARIANT_NAMES]
    for s in summary:
        finals = [r.final_loss for r in rows if r.variant == s["variant"]]
        assert s["final_median"] == pytest.approx(np.median(finals)) and s["seeds"] == 2
        assert s["curve_median"].shape == (settings_.sweeps + 1,)
    with pytest.raises(TypeError, match="settings must be a VariantSettings"):
        variant_study("fast")


# --------------------------------------------------------------------------- benchmark results


TINY_BUDGETS = benchmark.Budgets(gd_steps=60, adam_steps=60, lbfgs_steps=10, lm_steps=5, anls_sweeps=3,
                                  first_order_record_every=10)


@pytest.fixture(scope="module")
def rerun():
    """The benchmark's quick suite (its problems, methods and levels) at tiny budgets and one seed."""
    quick = benchmark.QUICK
    suite = benchmark.Suite("tiny", quick.problems, (0,), TINY_BUDGETS, quick.levels, quick.methods)
    best = benchmark.load_best_known(benchmark.BEST_KNOWN_PATH, suite.problems)
    return suite, benchmark.run_benchmark(suite, best, workers=1, progress=False)


def test_entries_and_goals_agree_with_the_benchmark(rerun, tmp_path):
    suite, doc = rerun
    benchmark.write_results(doc, tmp_path)
    loaded = load_benchmark(tmp_path / "bench_anls.json")
    # inf (never reached) is written as null and read back as inf
    assert any(math.isinf(r["time_to_2x"]) for r in loaded["rows"])
    for d in (doc, loaded):
        entries = benchmark_entries(d, level=2.0)
        summary = {(s["problem"], s["method"]): s for s in d["summary"]}
        assert len(entries) == len(summary)
        for e in entries:
            s = summary[(e.problem, e.method)]
            assert e.ratio_to_best == pytest.approx(s["ratio_to_best_median"], rel=1e-12)
            assert e.final_median == pytest.approx(s["final_loss_median"], rel=1e-12)
            t = s["time_to_2x_median"]
            assert e.time_to_level == (math.inf if t is None else pytest.approx(t, rel=1e-12))
            assert e.reached == s["reached_2x"]
            assert math.isnan(e.ratio_to_lower_bound) == (d["best_known"][e.problem].get("lower_bound") is None)
        mine = benchmark_goals(d)
        theirs = benchmark.goals(doc["rows"], suite)
        assert len(mine) == len(theirs)
        for g, h in zip(mine, theirs, strict=True):
            assert (g.problem, g.variant, g.final_ok, g.speed_ok) == (h["problem"], h["variant"], h["final_ok"],
                                                                     h["speed_ok"])
            assert g.ratio_to_best == pytest.approx(h["median_ratio_to_best"], rel=1e-12)
            assert g.best_peer_time == h["best_peer_time_to_level"]
            assert g.best_peer == h["best_peer"]
    with pytest.raises(ValueError, match="not one of the benchmark's levels"):
        benchmark_entries(doc, level=3.0)
    curves = problem_curves(doc, suite.problems[0].name)
    assert set(curves) == set(suite.methods)
    with pytest.raises(ValueError, match="no curves"):
        problem_curves(doc, "nowhere")


def test_peer_wins_and_peers():
    assert [m for m in benchmark.FULL.methods if is_peer(m)] == ["gd", "adam", "lbfgs", "lm", "oga"]

    def entry(method, final, t):
        return BenchmarkEntry("p", method, 3, final, final, final, final, math.nan, t, 3, 1.0, 2.0)

    entries = [entry("anls", 1.0, 0.5), entry("gd", 2.0, math.inf), entry("lm", 0.5, 0.1), entry("oga", 1.0, 0.5)]
    assert peer_wins(entries, "anls") == [("p", "lm", "final loss"), ("p", "lm", "time to level")]
    with pytest.raises(ValueError, match="not a method"):
        peer_wins(entries, "anls-joint")


def test_check_benchmark_rejects_other_documents():
    with pytest.raises(TypeError, match="doc must be a dict"):
        check_benchmark([1, 2])
    with pytest.raises(ValueError, match="missing"):
        check_benchmark({"rows": []})


def test_load_benchmark_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="bench anls --output"):
        load_benchmark(tmp_path / "none.json")


# ---------------------------------------------------------- the committed full run the chapter reads


@pytest.fixture(scope="module")
def cached():
    if not CACHED.exists():
        pytest.fail(f"{CACHED} is missing: run `python -m plateau_lib bench anls --output benchmarks/results`")
    return load_benchmark(CACHED)


def test_cached_results_match_a_rerun_schema(cached, rerun):
    """The committed table has the columns, methods, problems and levels a fresh run produces."""
    _, doc = rerun
    mine, fresh = benchmark_schema(cached), benchmark_schema(doc)
    for key in fresh:
        if key != "seeds":
            assert mine[key] == fresh[key], key
    assert mine["problems"] == [p.name for p in benchmark.FULL.problems]
    assert mine["methods"] == list(benchmark.FULL.methods)


def full_suite_staleness(doc):
    full = benchmark.FULL
    return benchmark_staleness(
        doc, seeds=full.seeds, budgets=asdict(full.budgets), methods=full.methods,
        problems=[p.name for p in full.problems],
        best_known=benchmark.load_best_known(benchmark.BEST_KNOWN_PATH, full.problems))


def test_cached_results_are_the_full_suite(cached):
    """At least 10 seeds, recorded in the suite and present for every problem and method; the current full
    budgets, methods, problems and best-known losses (otherwise: regenerate with the documented command)."""
    seeds = cached["suite"]["seeds"]
    assert len(seeds) >= 10
    assert benchmark_schema(cached)["seeds"] == seeds
    assert cached["suite"]["name"] == "full"
    assert full_suite_staleness(cached) == []
    runs = {(r["problem"], r["method"], r["seed"]) for r in cached["rows"]}
    assert len(runs) == len(cached["rows"]) == len(benchmark.FULL.problems) * len(benchmark.FULL.methods) * len(seeds)


def test_staleness_is_detected(cached):
    doc = json.loads(json.dumps(cached, default=float))
    doc["suite"]["budgets"]["gd_steps"] += 1
    doc["suite"]["seeds"] = doc["suite"]["seeds"][:-1]
    first = doc["suite"]["problems"][0]["name"]
    doc["best_known"][first]["best_known"] *= 2
    lines = full_suite_staleness(doc)
    assert len(lines) == 3
    assert lines[0].startswith("seeds") and lines[1].startswith("budgets") and first in lines[2]


def test_studies_validate_their_arguments():
    with pytest.raises(ValueError, match="unknown experiment"):
        gd_vs_anls("nowhere")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        gd_vs_anls("plateau_1d", -1)
    with pytest.raises(ValueError, match="sweeps"):
        gd_vs_anls("plateau_1d", sweeps=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        variant_study(seed=1.5)


# --------------------------------------------------------------------------- the chapter's page
# (reports, tables, figure data, glued numbers and sentences: ``ch.<name>``)


def _entry(problem, method, final, ratio, t=math.inf, lb=math.nan):
    return BenchmarkEntry(problem, method, 2, final, final, final, ratio, lb, t, 0 if math.isinf(t) else 2, 1.0, 2.0)


def _goal(problem, variant, ratio, t, peer_t, factor_ok=None, speed_ok=None):
    speedup = peer_t / t if math.isfinite(t) and math.isfinite(peer_t) else (math.inf if math.isfinite(t) else 0.0)
    return ch.GoalVerdict(problem, variant, ratio, ratio <= ch.GOAL_FACTOR if factor_ok is None else factor_ok, t,
                          "lm", peer_t, math.isfinite(peer_t), speedup,
                          speedup >= ch.GOAL_SPEEDUP if speed_ok is None else speed_ok,
                          ch.GOAL_FACTOR, ch.GOAL_SPEEDUP, ch.GOAL_LEVEL)


METHODS = ("gd", "adam", "lbfgs", "lm", "oga", "anls", "anls-joint", "gd+anls")


def _doc(problems=(("a", 1), ("b", 2)), best_2d=1e-30):
    """A minimal benchmark document: the suite, best-known losses, one row per problem."""
    return {
        "suite": {"problems": [{"name": p, "d": d} for p, d in problems], "seeds": [0], "levels": [2.0],
                  "methods": list(METHODS)},
        "best_known": {p: {"best_known": best_2d, "reference": 1.0} for p, d in problems if d == 2},
        "rows": [{"problem": p, "method": "gd", "d": d} for p, d in problems],
        "summary": [], "curves": [], "goals": [],
    }


def _variant_rows(finals):
    """Variant rows from ``{(problem, variant, seed): final_loss}`` (lower bound 1, curves of two sweeps)."""
    return [ch.VariantRow(problem=p, variant=v, seed=k, final_loss=f, lower_bound=1.0, ratio_to_lower_bound=f,
                          sweeps=2, nfev=5, njev=0, pattern_changes=1, converged=True, wall_time=0.1,
                          curve=(2 * f, 1.5 * f, f))
            for (p, v, k), f in finals.items()]


def test_method_key_and_gd_needs_text():
    assert ch.method_key("gd+anls") == "gd_anls" and ch.method_key("anls-joint") == "anls_joint"
    assert ch.gd_needs_text(_lead(0.5, 1234)) == "1234"
    assert ch.gd_needs_text(_lead(0.5, None, budget=300)) == "more than 300"


def test_reports_follow_the_runs(race_quick, rest):
    X, y = get_experiment("plateau_1d").data()
    p = showcase_plateau(race_quick.plateaus)
    sweep = one_sweep(race_quick.gd.net_at(p.index), X, y)
    step = int(race_quick.gd.steps[p.index])
    lead = iteration_lead(race_quick.gd, sweep.result, step)
    lines = ch.sweep_report(race_quick, p, sweep, lead).splitlines()
    assert lines[0] == repr(race_quick.gd) and lines[3].startswith(f"loss: {sweep.start_loss:.5f} before")
    assert f"network at step {step}," in lines[1] and lines[2].endswith(f"the trainer did the same: {sweep.agrees}")
    assert lines[-1].startswith(f"GD from step {step} needs {lead.gd_steps} steps")
    lines = ch.race_report(race_quick, iteration_lead(race_quick.gd, race_quick.anls)).splitlines()
    assert len(lines) == 3 + len(race_quick.plateaus) and lines[0] == repr(race_quick.anls)
    assert f"at sweep {race_quick.anls_sweeps_to_gd} " in lines[2]
    assert all(line.startswith("GD plateau steps") for line in lines[3:])
    # two seeds passed over before the chosen one: numbered from the first seed tried
    searched = replace(rest, seed=rest.seed + 2, passed_over=("rejected (a)", "rejected (b)"))
    lines = searched.describe().splitlines()
    assert lines[:2] == [f"seed {rest.seed}: polish rejected (a) -> passed over",
                         f"seed {rest.seed + 1}: polish rejected (b) -> passed over"]
    assert lines[2] == f"seed {rest.seed + 2}: polish {rest.polish.message}"
    assert lines[4:] == [f"{k}: {r!r}" for k, r in rest.runs.items()]


def test_loss_histories_and_their_largest_rise(race_quick, rest):
    X, y = get_experiment("plateau_1d").data()
    sweep = one_sweep(race_quick.gd.net_at(showcase_plateau(race_quick.plateaus).index), X, y)
    rows = _variant_rows({("plateau_1d", "global", 0): 0.5, ("plateau_1d", "bounded", 0): 0.7})
    histories = ch.anls_loss_histories(race_quick, sweep, rest, rows)
    assert len(histories) == 3 + len(rest.runs) + len(rows)
    assert_array_equal(histories[0], race_quick.anls.loss)
    assert ch.largest_rise(histories) <= 0.0
    assert ch.largest_rise([[3.0, 2.0, 2.0], [1.0, 1.5, 1.0]]) == 0.5
    assert ch.largest_rise([[1.0], [2.0, 1.0]]) == 0.0
    with pytest.raises(ValueError, match="histories must hold"):
        ch.largest_rise([])


def test_markdown_tables():
    rows = [ExitRow(seed=3, gd_final=1.0, plateau_level=5.0, sweep=_lead(0.5, None, budget=700),
                    race=_lead(0.4, 2000, sweeps=2), anls_final=0.4)]
    table = ch.exits_table(rows).splitlines()
    assert len(table) == 3 and table[2].startswith("| 3 | 1.00e+00 | 5.0000 | 5.00e-01 | > 700 | 2: 4.00e-01 | 2000 |")
    summary = [{"problem": "p", "variant": "global", "final_median": 0.5, "final_q25": 0.25, "final_q75": 0.75,
                "ratio_median": 12.34, "sweeps_median": 7.0, "nfev_median": 70.0}]
    assert ch.variants_table(summary).splitlines()[2] == (
        "| `p` | global | 5.00e-01 [2.50e-01, 7.50e-01] | 12.3 | 7 | 70 |")
    table = ch.benchmark_table([_entry("p", "gd", 0.5, 3.0), _entry("p", "lm", 0.1, 1.0, t=0.25, lb=2.0)])
    lines = table.splitlines()
    assert len(lines) == 4 and "| - | never | 0/2 |" in lines[2] and "| 2 | 0.250 | 2/2 |" in lines[3]
    goals = [_goal("p", "anls", 1.2, 0.01, 0.5), _goal("q", "anls", 3.0, math.inf, math.inf)]
    lines = ch.goals_table(goals).splitlines()
    assert f"goal <= {ch.GOAL_FACTOR:g}" in lines[0] and f"goal >= {ch.GOAL_SPEEDUP:g}" in lines[0]
    assert lines[2] == "| `p` | anls | 1.2 yes | 0.010 | lm | 0.500 | 50 yes |"
    assert lines[3] == "| `q` | anls | 3 no | never | (none reaches it) | never | 0 no |"


def test_figure_data_of_the_race_and_the_sweep(race_quick, rest):
    X, y = get_experiment("plateau_1d").data()
    sweep = one_sweep(race_quick.gd.net_at(showcase_plateau(race_quick.plateaus).index), X, y)
    data = ch.sweep_figure_data(sweep)
    assert list(data.arrays) == ["x", "target", "tau", "s", "gain", "chosen", "update_neuron", "update_loss",
                                 "start_loss"]
    assert list(data.unchecked) == ["update_accepted"] and data.timing == {}
    assert data.arrays["chosen"] == sweep.search.chosen
    data = ch.gd_vs_anls_figure_data(race_quick)
    every = get_experiment("plateau_1d").record_every
    assert np.all(data.arrays["gd_step"] % every == 0) and data.arrays["gd_step"][0] == 0
    assert_array_equal(data.timing["gd_loss"], data.arrays["gd_loss"])
    assert len(data.timing["gd_time"]) == len(data.arrays["gd_step"])
    assert {f"plateau_{k}" for k in ("start", "end", "level")} <= set(data.arrays)
    assert list(data.unchecked) == ["anls_counts"]
    data = ch.from_stationary_figure_data(rest, X)
    assert list(data.arrays) == ["x", "start", "anls_net", "anls_joint_net", "anls_loss", "anls_joint_loss"]
    assert_allclose(data.arrays["start"], rest.start(X))
    with pytest.raises(ValueError, match=r"X must be an \(m, 1\) array"):
        ch.from_stationary_figure_data(rest, X[:, 0])


def test_figure_data_of_the_variants():
    rows = _variant_rows({("p", v, k): 1.0 + k for v in VARIANT_NAMES for k in (0, 1)})
    data = ch.variants_figure_data(variant_summary(rows), rows)
    assert data.arrays == {}
    curves = [k for k in data.unchecked if not k.startswith("row_")]
    assert curves == ["p_global", "p_bounded", "p_global_polish", "p_bounded_polish"]
    assert_allclose(data.unchecked["p_global"], [3.0, 2.25, 1.5])  # median of the two seeds' curves
    assert "row_curve" not in data.unchecked and "row_wall_time" not in data.unchecked
    assert list(data.unchecked["row_seed"]) == [0, 1] * 4


def test_figure_data_of_the_benchmark(cached):
    problems, methods = ch.problem_names(cached), cached["suite"]["methods"]
    final = ch.benchmark_final_data(cached)
    assert list(final.unchecked) == [f"{p}_{ch.method_key(m)}" for p in problems for m in methods]
    assert all(len(v) == len(cached["suite"]["seeds"]) for v in final.unchecked.values())
    curves = ch.benchmark_curves_data(cached).arrays
    assert len(curves) == 2 * len(problems) * len(methods)
    assert ch.lower_bound_ratio(cached, "plateau_2d") is None
    ratio = ch.lower_bound_ratio(cached, "plateau_1d")
    assert 0 < ratio <= 1 + 1e-9  # the lower bound is at most the best-known loss
    # gd+anls starts where its gradient descent ended
    assert ch.first_record_time(cached, "plateau_1d", "gd+anls") > ch.first_record_time(cached, "plateau_1d", "gd")
    with pytest.raises(ValueError, match="no rows"):
        ch.lower_bound_ratio(cached, "nowhere")
    with pytest.raises(ValueError, match="method 'sgd' has no rows"):
        ch.first_record_time(cached, "plateau_1d", "sgd")


def test_glued_numbers(race_quick, rest, cached):
    assert ch.chapter_constants({"pair_moves": 7}) == {
        "anls_budget": ch.SWEEPS, "far_fewer": FAR_FEWER, "far_fewer_steps": 100, "goal_factor": ch.GOAL_FACTOR,
        "goal_speedup": ch.GOAL_SPEEDUP, "goal_level": ch.GOAL_LEVEL, "pair_moves": 7}
    with pytest.raises(ValueError, match="joint_options must have the keys pair_moves"):
        ch.chapter_constants({})
    X, y = get_experiment("plateau_1d").data()
    p = showcase_plateau(race_quick.plateaus)
    sweep = one_sweep(race_quick.gd.net_at(p.index), X, y)
    v = ch.sweep_values(race_quick, p, sweep)
    assert (v["m1"], v["n1"], v["run_seed"]) == (len(y), race_quick.initial.n, race_quick.seed)
    assert v["chosen_tau"] == sweep.search.tau and v["chosen_s"] in ("+1", "-1")
    assert v["chosen_side"] == ("to its right" if v["chosen_s"] == "+1" else "to its left")
    assert v["sweep_end"] <= v["sweep_first"] <= v["sweep_start"]
    v = ch.race_values(race_quick)
    assert v["anls_lb_factor"] * race_quick.lower_bound == pytest.approx(v["anls_final"])
    assert v["gd_n_plateaus"] == len(race_quick.plateaus) and v["gd_steps"] == race_quick.gd.nit
    rows = [ExitRow(seed=s, gd_final=1.0, plateau_level=5.0, sweep=_lead(0.5, None), race=_lead(0.4, None),
                    anls_final=0.4) for s in (4, 5, 6)]
    assert ch.exit_values(rows) == {"exit_runs": 3, "exit_first": 4, "exit_last": 6}
    with pytest.raises(ValueError, match="rows must hold"):
        ch.exit_values([])
    v = ch.stationary_values(rest, 1e-5)
    assert v["stat_anls"] == rest.runs["anls-design"].final_loss and v["stat_joint_lb"] == v["stat_joint"] / 1e-5
    assert v["stat_anls_factor"] > 1 and v["stat_passed"] == len(rest.passed_over)
    with pytest.raises(ValueError, match="rest.runs must have the keys anls-design, anls; missing: anls-design"):
        ch.stationary_values(replace(rest, runs={"anls": rest.runs["anls"]}), 1e-5)
    v = ch.variant_values(VariantSettings(), quick=True)
    assert v["var_seeds"] == VariantSettings().quick_seeds and v["n_multi"] == get_experiment("multi_plateau_1d").width
    with pytest.raises(TypeError, match="settings must be a VariantSettings"):
        ch.variant_values(ExitSettings(), quick=True)
    full = ch.benchmark_values(cached, quick=False, quick_seeds=2, floor_rtol=1e-12)
    assert full["bench_mode"] == "full" and full["bench_source"].startswith("the committed full run (")
    assert full["n_bench_problems"] == len(cached["suite"]["problems"])
    quick = ch.benchmark_values(cached, quick=True, quick_seeds=2, floor_rtol=1e-12)
    assert quick["bench_source"].startswith("a fresh run of the quick suite (2 seeds,")
    with pytest.raises(ValueError, match="quick_seeds"):
        ch.benchmark_values(cached, quick=True, quick_seeds=0, floor_rtol=1e-12)


def test_small_sentences(race_quick):
    X, y = get_experiment("plateau_1d").data()
    search = one_sweep(race_quick.gd.net_at(showcase_plateau(race_quick.plateaus).index), X, y).search
    assert search.current_count == 0 and ch.current_state_text(search).startswith("no data point: its breakpoint")
    assert ch.current_state_text(replace(search, current_count=3, current_tau=0.5)) == (
        f"3 of the {len(y)} points (breakpoint 0.50)")
    assert ch.other_problems_text(["plateau_1d", "a", "plateau_2d", "b", "c"]) == "`a`, `b` and `c`"
    assert ch.other_problems_text(["plateau_1d", "a"]) == "`a`"
    assert ch.peer_wins_text([]) == "no peer"
    wins = [("a", "lm", "final loss"), ("b", "oga", "final loss"), ("c", "lm", "final loss")]
    assert ch.peer_wins_text(wins) == "lm on `a` and `c`; oga on `b`"
    entries = [_entry("a", "gd", 2.0, 20.0), _entry("a", "lm", 1.0, 10.0), _entry("a", "oga", 1.0, 10.0),
               _entry("b", "gd", 3.0, 30.0)]
    assert ch.lowest_final(entries) == {"a": "lm", "b": "gd"}  # the first of equal ones
    assert ch.ratio_range(entries, ("gd",), ("a", "b")) == "20 to 30"
    with pytest.raises(ValueError, match="missing"):
        ch.ratio_range(entries, ("lm",), ("a", "b"))


def test_variants_text_follows_the_medians():
    settings_ = VariantSettings(problems=("plateau_1d",), seeds=2, quick_seeds=1)
    finals = {("plateau_1d", "global", 0): 2.0, ("plateau_1d", "bounded", 0): 3.0,
              ("plateau_1d", "global+polish", 0): 2.0, ("plateau_1d", "bounded+polish", 0): 2.5}
    rows = _variant_rows(finals)
    assert ch.unchanged_by_polish(rows, "plateau_1d") == 1 and ch.unchanged_by_polish(rows, "other") == 0
    text = ch.variants_text(rows, variant_summary(rows), settings_, quick=True)
    assert text.startswith("On `plateau_1d` the median final loss is 2.0 times the lower bound with the global "
                           "search and 3.0 times with bounded moves; with polishing 2.0 and 2.5 times. There 1 of "
                           "the 2 polished runs")
    assert "Bounding the moves does not help" in text
    assert "The best of these medians is 2.0 times the lower bound (global on `plateau_1d`)" in text
    rows = _variant_rows(finals | {("plateau_1d", "bounded", 0): 1.5})
    text = ch.variants_text(rows, variant_summary(rows), settings_, quick=True)
    assert "Neither search is better on both problems." in text and "(bounded on `plateau_1d`)" in text
    with pytest.raises(ValueError, match="no variant 'bounded'"):
        ch.variants_text(rows, [s for s in variant_summary(rows) if s["variant"] != "bounded"], settings_, True)


def _bench_entries(lowest_2d="anls-joint"):
    """Entries of _doc(): on the 1-D problem `a` each method's ratio is its index + 1 and its final loss
    9 - index (`gd+anls` lowest); on `b` the lowest final loss is ``lowest_2d``'s."""
    entries = [_entry("a", m, 9.0 - k, 1.0 + k) for k, m in enumerate(METHODS)]
    entries += [_entry("b", m, 1e-3 if m == lowest_2d else 1e-2, 10.0) for m in METHODS]
    return entries


def test_benchmark_text_follows_the_entries():
    doc = _doc()
    text = ch.benchmark_text(doc, _bench_entries())
    assert "Levenberg-Marquardt, started from the small initialisation, end 1 to 4 times the best-known" in text
    assert "OGA ends 5 to 5 times it, the design's `anls` 6 to 6 times, `anls-joint` 7 to 7 times" in text
    # no peer has a lower final loss than `anls` or `anls-joint`, and no time is finite
    assert (f"on median final loss, no peer; on the time to reach {ch.GOAL_LEVEL:g} times the best-known loss, "
            "no peer. **Where a peer beats `anls-joint`:** on final loss, no peer; on time, no peer.") in text
    assert "exact fits (below 1e-30); on `b` the lowest median final loss is anls-joint's, 1.00e-03. " in text
    assert text.endswith("On every problem an ANLS variant has the lowest median final loss. ")
    text = ch.benchmark_text(doc, _bench_entries(lowest_2d="lm"))
    assert "beats the design's `anls`:** on median final loss, lm on `b`;" in text
    assert "on `b` the lowest median final loss is lm's, 1.00e-03" in text
    assert text.endswith("A peer has the lowest median final loss on `b`. ")


def test_goal_text_follows_the_goals():
    doc, entries = _doc(), _bench_entries()
    good = exit_summary([ExitRow(seed=0, gd_final=1.0, plateau_level=5.0, sweep=_lead(0.5, None),
                                 race=_lead(0.4, None), anls_final=0.4)])
    goals = [_goal(p, v, 1.2, 0.01, 0.5) for p in ("a", "b") for v in ("anls", "anls-joint", "gd+anls")]
    text = ch.goal_text(doc, entries, goals, good)
    assert text.startswith("**The goal is met.** *Final loss:* `anls` is within 1.5 times the best-known loss on "
                           "2 of 2 problems, `anls-joint` on 2 (`a` and `b`), `gd+anls` on 2;")
    assert "the largest median ratio of `anls-joint` is 10 (`b`)" in text
    assert "On `a` the fastest peer (lm) needs 0.500 s and `anls-joint` 0.010 s: a speed-up of 50.00, meeting" in text
    verdict = ch.verdict_text(good, doc, entries)
    assert text.endswith(verdict) and verdict.startswith(c5_verdict(good) + ". On the 1-D problems")
    # `anls` ends at 6 times the best known on `a`, gradient descent at 1: beyond the goal, not below GD
    assert "ends 6 to 6 times the best-known losses, beyond the goal of 1.5 times" in verdict
    assert verdict.endswith("not below gradient descent's on `a`.")
    slow = [_goal(p, v, 3.0, math.inf if v == "anls" else 0.2, math.inf) for p in ("a", "b")
            for v in ("anls", "anls-joint", "gd+anls")]
    text = ch.goal_text(doc, entries, slow, good)  # no final loss within the goal
    assert text.startswith("**The goal is not met.**") and "`anls-joint` on 0 (none)" in text
    assert "On `a` and `b` no peer reaches that level at all" in text
    with pytest.raises(ValueError, match="missing: gd\\+anls"):
        ch.goal_text(doc, entries, [g for g in goals if g.variant != "gd+anls"], good)


def test_benchmark_helpers(cached, rerun):
    _, doc = rerun
    assert ch.schema_differences(cached, cached) == []
    assert ch.schema_differences(doc, cached) == []
    changed = json.loads(json.dumps(cached, default=float))
    changed["suite"]["methods"] = changed["suite"]["methods"][:-1]
    assert ch.schema_differences(changed, cached) == ["methods"]
    full = benchmark.FULL
    best = benchmark.load_best_known(benchmark.BEST_KNOWN_PATH, full.problems)
    assert ch.suite_staleness(cached, full, best) == full_suite_staleness(cached) == []
    assert ch.suite_staleness(changed, full, best) == [f"methods {changed['suite']['methods']} != {list(full.methods)}"]
    with pytest.raises(TypeError, match="suite must be a benchmark Suite"):
        ch.suite_staleness(cached, "full", best)
    line = ch.describe_benchmark(cached)
    assert line.startswith("benchmark (full): seeds ") and f"on {cached['workers']} workers" in line
    assert ch.one_d_problems(cached) == [p.name for p in full.problems if p.d == 1]


def test_brute_force_gains_are_the_definition_and_match_the_prefix_sums():
    rng = np.random.default_rng(7)
    x = np.round(rng.uniform(-1, 1, 15), 1)  # ties
    t = rng.standard_normal(15)
    tau, s, gain = ch.brute_force_gains(x, t)
    assert len(tau) == 2 * len(np.unique(x))
    k = 5
    phi = np.maximum(s[k] * (x - tau[k]), 0.0)
    assert gain[k] == pytest.approx((phi @ t) ** 2 / (phi @ phi) if phi @ phi > 0 else 0.0, rel=1e-15)
    from plateau_lib.trainers.anls import threshold_gains

    fast = threshold_gains(x, t, thresholds="data")
    assert fast.gain.max() == pytest.approx(gain.max(), rel=1e-12)
    with pytest.raises(ValueError, match="same length"):
        ch.brute_force_gains(x, t[:-1])


def test_the_pictured_sweep_is_checked_against_the_brute_force_best():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    net = experiment.initial_network(experiment.seed)
    sweep = ch.one_sweep(net, X, y)
    assert sweep.agrees and sweep.is_best
    assert sweep.trainer_gain == pytest.approx(sweep.best_gain, rel=1e-12)
    worse = replace(sweep, trainer_gain=0.5 * sweep.best_gain)  # a search that missed the best candidate
    assert not worse.is_best


def test_recomputed_losses_are_the_recorded_ones_and_catch_a_wrong_record():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    result = train_anls(experiment.initial_network(experiment.seed), X, y, sweeps=3)
    losses, disagreement = ch.recomputed_losses(result, X, y)
    assert len(losses) == len(result.loss) and disagreement <= ch.RECOMPUTE_RTOL
    assert losses[-1] == pytest.approx(loss(result.net, X, y), rel=1e-14)
    tampered = replace(result, loss=result.loss * np.where(np.arange(len(result.loss)) == 1, 1.001, 1.0))
    assert ch.recomputed_losses(tampered, X, y)[1] == pytest.approx(1e-3 / 1.001, rel=1e-6)
