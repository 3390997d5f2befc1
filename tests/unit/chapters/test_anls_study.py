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
    assert "as claimed" in c5_verdict(good)
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


def test_anls_from_stationary_point():
    variants = {"anls": {}, "joint": anls_joint_options(1)}
    rest = anls_from_stationary("plateau_1d", variants=variants, sweeps=10)
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
    assert s.options("global", "plateau_1d") == {}
    assert s.options("bounded", "plateau_1d") == {"bounded_moves": s.bounded_moves}
    lr = get_experiment("multi_plateau_1d").options["lr"]
    assert s.options("bounded+polish", "multi_plateau_1d") == {"bounded_moves": s.bounded_moves,
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
            assert g.best_peer_time == h["best_peer_time_to_level"] or g.best_peer == h["best_peer"]
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
