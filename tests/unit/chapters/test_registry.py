"""The registry of the chapters' studies (plateau_lib.chapters)."""

from __future__ import annotations

import pytest


def test_studies_are_registered_by_name():
    from plateau_lib.chapters import (
        anls_benchmark,
        anls_race,
        anls_variants,
        anls_vs_gd,
        explanation_seeds,
        get_study,
        quantification_regimes,
        stationary_catalogue,
        study_names,
    )

    expected = {
        "regime_1d": quantification_regimes.REGIME_SWEEP, "polish_demo": stationary_catalogue.POLISH_DEMO,
        "catalogue_1d": stationary_catalogue.CATALOGUE_1D, "catalogue_2d": stationary_catalogue.CATALOGUE_2D,
        "anls_variants": anls_variants.VARIANTS, "anls_exits": anls_vs_gd.EXITS, "anls_benchmark": anls_benchmark.FULL,
        "anls_benchmark_quick": anls_benchmark.QUICK, "plateau_seeds": explanation_seeds.SEED_STATISTICS,
        "anls_race": anls_race.FULL_RACE, "anls_race_quick": anls_race.QUICK_RACE,
    }
    assert study_names() == sorted(expected)
    for name, settings in expected.items():
        assert get_study(name) is settings
    assert get_study("regime_1d").name == "regime_1d"


def test_unknown_and_duplicate_studies():
    from plateau_lib.chapters import get_study, register_study

    with pytest.raises(ValueError, match="unknown study 'nope'; known: anls_benchmark"):
        get_study("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_study("regime_1d", object())
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        register_study("", object())
