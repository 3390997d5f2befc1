"""The ANLS variants over seeds (Chapter 4): settings, rows, medians and their page."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_allclose

from plateau_lib.chapters import anls_variants as variants
from plateau_lib.chapters.anls_variants import VARIANT_NAMES, VariantSettings, variant_study, variant_summary
from plateau_lib.experiments import get_experiment
from plateau_lib.trainers.anls import train_anls

pytest_plugins = ("anls_fixtures",)  # the shared fixtures race_quick, rest, variant_rows


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




def test_figure_data_of_the_variants(variant_rows):
    rows = variant_rows({("p", v, k): 1.0 + k for v in VARIANT_NAMES for k in (0, 1)})
    data = variants.variants_figure_data(variant_summary(rows), rows)
    assert data.arrays == {}
    curves = [k for k in data.unchecked if not k.startswith("row_")]
    assert curves == ["p_global", "p_bounded", "p_global_polish", "p_bounded_polish"]
    assert_allclose(data.unchecked["p_global"], [3.0, 2.25, 1.5])  # median of the two seeds' curves
    assert "row_curve" not in data.unchecked and "row_wall_time" not in data.unchecked
    assert list(data.unchecked["row_seed"]) == [0, 1] * 4


def test_variants_text_follows_the_medians(variant_rows):
    settings_ = VariantSettings(problems=("plateau_1d",), seeds=2, quick_seeds=1)
    finals = {("plateau_1d", "global", 0): 2.0, ("plateau_1d", "bounded", 0): 3.0,
              ("plateau_1d", "global+polish", 0): 2.0, ("plateau_1d", "bounded+polish", 0): 2.5}
    rows = variant_rows(finals)
    assert variants.unchanged_by_polish(rows, "plateau_1d") == 1 and variants.unchanged_by_polish(rows, "other") == 0
    text = variants.variants_text(rows, variant_summary(rows), settings_, quick=True)
    assert text.startswith("On `plateau_1d` the median final loss is 2.0 times the lower bound with the global "
                           "search and 3.0 times with bounded moves; with polishing 2.0 and 2.5 times. There 1 of "
                           "the 2 polished runs")
    assert "Bounding the moves does not help" in text
    assert "The best of these medians is 2.0 times the lower bound (global on `plateau_1d`)" in text
    rows = variant_rows(finals | {("plateau_1d", "bounded", 0): 1.5})
    text = variants.variants_text(rows, variant_summary(rows), settings_, quick=True)
    assert "Neither search is better on both problems." in text and "(bounded on `plateau_1d`)" in text
    with pytest.raises(ValueError, match="no variant 'bounded'"):
        variants.variants_text(rows, [s for s in variant_summary(rows) if s["variant"] != "bounded"], settings_, True)
