"""Chapter 3's page of the catalogues (plateau_lib.chapters.stationary_page): the tables, the sentence on
widths, the glued numbers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from stationary_fixtures import stub_row

from plateau_lib.chapters.stationary_catalogue import (
    CatalogueSettings,
)
from plateau_lib.chapters.stationary_page import (
    catalogue_2d_values,
    catalogue_table,
    catalogue_values,
    describe_widths,
    kinds_table,
    stationary_kinds,
)
from plateau_lib.experiments import get_experiment


def test_describe_widths_states_what_the_rows_show():
    rows = [stub_row(2, True, 4), stub_row(3, True, 1), stub_row(6, True, 1), stub_row(6, False, 1)]
    text = describe_widths(rows, (2, 3, 6))
    assert text.startswith("Stationary points with more than one cell were reached only at width 2;")
    assert "at width 6 every run either stops at a one-cell stationary point (1 of 2)" in text
    assert "rejected (1 of 2)" in text
    rows.append(stub_row(6, True, 3))  # now the largest width reaches one too: the sentence must change
    text = describe_widths(rows, (2, 3, 6))
    assert "widths 2, 6;" in text and "at width 6, 1 of 3 runs reach one with more than one cell" in text
    assert describe_widths([stub_row(2, False, 1)], (2,)).startswith("No run reached")
    with pytest.raises(ValueError, match="widths"):
        describe_widths(rows, ())


def test_catalogue_table_one_line_per_width():
    rows = [replace(stub_row(3, True, 2), lower_bound=0.01, polished_loss=0.2, loss=0.2),
            replace(stub_row(3, False, 1), lower_bound=0.01, loss=0.1),
            replace(stub_row(5, True, 1), lower_bound=0.0, polished_loss=0.05, loss=0.05)]
    lines = catalogue_table(rows, (3, 5)).splitlines()
    assert len(lines) == 4 and lines[1].startswith("|---|")
    assert lines[2] == "| 3 | 2 | 1 | 1 | 0.2 | 1.000e-01 | 1.00e-02 | 20 | 10 |"
    assert lines[3].startswith("| 5 | 1 | 1 | 1 | 0.05 |") and lines[3].endswith("| (bound 0) | (bound 0) |")
    with pytest.raises(ValueError, match="rows"):
        catalogue_table([], (3,))


def test_kinds_group_the_polished_runs():
    same = [replace(stub_row(2, True, 4), seed=s, determined_deviation=d) for s, d in ((0, 1e-14), (1, 3e-14))]
    rows = [*same, stub_row(3, True, 1), stub_row(3, False, 1)]
    kinds = stationary_kinds(rows)
    assert list(kinds.values()) == [same, [rows[2]]]
    lines = kinds_table(rows).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("| 2 | 0, 1 | 1.00000 | 4 |") and "| 3.0e-14 | - |" in lines[2]


def test_catalogue_values_count_how_runs_ended():
    settings = CatalogueSettings(widths=(3, 5), seeds=2, quick_seeds=1)
    conv = replace(stub_row(3, True, 2), polished_loss=0.2, loss=0.2, lstar=0.2, lower_bound=0.01, gap_bound=2e-9,
                   rel_gap=-1e-8, min_margin=0.05)
    slow = replace(stub_row(3, True, 2), converged=False, polished_loss=0.3, loss=0.3, lower_bound=0.01,
                   rel_gap=1e-3, min_margin=0.04)
    sliding = replace(stub_row(3, False, 1), loss=0.15, lower_bound=0.01, late_changes=7, min_margin=1e-6,
                      pattern_flips=4, rel_gap=0.02)
    moving = replace(stub_row(5, False, 1), loss=0.1, lower_bound=0.0, pattern_flips=2)
    values = catalogue_values([conv, slow, sliding, moving], settings, quick=True, show_width=3)
    assert (values["n_conv"], values["n_conv_pol"], values["n_unconv_pol"], values["n_rejected"]) == (1, 1, 1, 2)
    assert (values["n_sliding"], values["n_moving"], values["median_flips"]) == (1, 1, 3)
    assert values["max_gap_conv"] == 1e-8 and values["max_bound"] == pytest.approx(1e-8)
    assert values["max_gap_unconv_pol"] == 1e-3 and values["max_gap_sliding"] == 0.02
    assert values["max_margin_sliding"] == 1e-6 and values["min_margin_polished"] == 0.04
    assert (values["pol_show_width"], values["max_width"], values["pol_max_width"]) == (2, 5, 0)
    assert (values["widths"], values["n_seeds"], values["budget"]) == ("3, 5", 1, settings.quick_steps)
    assert values["spacing"] == pytest.approx(2 / (get_experiment("plateau_1d").m - 1))
    # width 5 has no stationary point and a zero bound: the ratios are those of width 3
    assert values["ratio_width"] == 3 and values["ratio_value"] == pytest.approx(20)
    assert values["ratio_any"] == pytest.approx(15)
    with pytest.raises(ValueError, match="converged run and a polished run"):
        catalogue_values([slow, sliding], settings, quick=True, show_width=3)


def test_catalogue_2d_values():
    settings = CatalogueSettings(experiment="plateau_2d", widths=(2, 3), seeds=2, quick_seeds=1)
    rows = [stub_row(2, True, 4), replace(stub_row(2, False, 1), late_changes=3, min_margin=1e-7),
            stub_row(3, False, 1)]
    values = catalogue_2d_values(rows, settings, quick=False)
    assert values["m2"] == get_experiment("plateau_2d").m and values["widths2"] == "2, 3"
    assert (values["n_seeds2"], values["n_runs2"], values["n_pol2"], values["n_rej2"]) == (2, 3, 1, 2)
    assert values["n_sliding2"] == 1 and values["max_margin_sliding2"] == 1e-7
    assert np.isnan(catalogue_2d_values(rows[:1], settings, quick=False)["max_margin_sliding2"])
    with pytest.raises(ValueError, match="rows"):
        catalogue_2d_values([], settings, quick=False)
