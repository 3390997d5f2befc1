"""Sliding (plateau_lib.chapters.quantification_sliding): the showcase's search and state, the check's
tolerance, sliding over a sweep, the page's sentences, numbers and figures.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from quantification_fixtures import point_nearest_a_breakpoint, regime_row, synthetic_cols

from plateau_lib.chapters.quantification_regimes import (
    RegimeSweep,
    regime_run,
)
from plateau_lib.experiments import get_experiment


def test_find_sliding_showcase_reuses_rows_and_reports_an_empty_search():
    from dataclasses import replace

    from plateau_lib.chapters.quantification_sliding import find_sliding_showcase

    settings = RegimeSweep(name="tiny_showcase", scales=(1e-3, 1e-4), seeds=(0,), quick_seeds=1)
    row = regime_run((settings, 1e-3, 0, True))
    sliding = replace(row, end_sliding=True)
    found = find_sliding_showcase(settings, 1e-3, 0, quick=True, rows=[sliding])
    assert found.value is sliding and found.seed == 0 and found.tried == (0,)
    still = replace(row, end_sliding=False)
    none = find_sliding_showcase(settings, 1e-3, 0, quick=True, rows=[still], max_seeds=1)
    assert not none.found and none.value is None and none.tried == (0,)
    assert none.passed_over == ("does not end sliding",)
    with pytest.raises(TypeError, match="RegimeSweep"):
        find_sliding_showcase("sweep", 1e-3, 0)


def test_sliding_statistics_on_a_synthetic_sweep():
    from plateau_lib.chapters.quantification_sliding import (
        end_sliding_sentence,
        sliding_fraction,
        sliding_statistics,
        sliding_sweep_values,
    )

    cols = synthetic_cols()
    assert_array_equal(sliding_fraction(cols), [0.0, 0.5, 1.0, 0.0, 0.25, 0.75])
    stats = sliding_statistics(cols, 1e-3)
    assert_array_equal(stats.base, [False] * 4 + [True] * 2)
    assert_array_equal(stats.at_rest, [False, True, False, False, False, True])
    assert stats.end_gap_min == pytest.approx(0.0) and stats.end_gap_rest_max == pytest.approx(0.005)
    # In half gaps to the neighbouring level (0.02 - 0.019)/(2 * 0.02) = 0.025: run 1 is 0.005 above.
    assert stats.rest_ratio == pytest.approx(0.005 / 0.025) and stats.below_ratio == pytest.approx(0.0)
    assert stats.search_miss(3) == 0.125  # one of the two base runs ends sliding
    assert stats.describe().startswith("runs ending while sliding: 3; smallest")
    text = end_sliding_sentence(stats)
    assert text.startswith("3 of the 6 runs end while sliding (1 of the 2 runs of plateau_1d)")
    assert "The 2 of them that have come to rest" in text
    values = sliding_sweep_values(stats)
    assert values["end_1d"] == 1 and values["end_rest_1d"] == 1 and values["n_1d_runs"] == 2
    assert values["slide_frac_1d_median"] == 0.5 and values["slide_frac_all"] == pytest.approx(2.5 / 6)
    assert values["n_runs"] == 6 and values["n_end_sliding"] == 3 and values["n_end_rest"] == 2
    none = sliding_statistics({**cols, "end_sliding": np.zeros(6, bool)}, 1e-3)
    assert math.isnan(none.end_gap_min) and math.isnan(none.end_gap_rest_max)
    assert math.isnan(none.below_ratio) and math.isnan(none.rest_ratio) and none.n_same_level == 0
    same = sliding_statistics({**cols, "end_lstar_off": cols["end_pinned"], "end_lstar_on": cols["end_pinned"]}, 1e-3)
    assert same.n_same_level == 3 and math.isnan(same.rest_ratio)  # no run at rest has a distinct neighbour
    assert end_sliding_sentence(none) == "No run of the sweep ends while sliding."


def test_sliding_tolerance_is_half_the_gap_to_the_nearer_distinct_neighbour():
    from plateau_lib.chapters.quantification_sliding import sliding_statistics, sliding_tolerance

    for off, on in [(0.019, 0.018), (0.018, 0.019)]:
        tol, distinct = sliding_tolerance(0.02, off, on, 1e-18)
        assert tol == pytest.approx(0.025) and distinct
    tol, distinct = sliding_tolerance([1.0, 2.0], [0.5, 1.0], [0.0, 1.5], [1e-16, 1e-16])
    assert_allclose(tol, [0.25, 0.125]) and distinct.all()
    # A neighbour within round-off of the pinned level gives the same level: the other one counts.
    tol, distinct = sliding_tolerance(0.02, 0.02 - 1e-19, 0.018, 1e-18)
    assert tol == pytest.approx(0.05) and distinct
    # Neither distinct: the tolerance is the round-off bound, relative.
    tol, distinct = sliding_tolerance(0.02, 0.02, 0.02 - 1e-19, 1e-18)
    assert tol == pytest.approx(5e-17) and not distinct
    # A run that went down to its neighbour's level (0.048 against pinned 0.049, half gap 1/98)
    # is a full gap below, two half gaps: the check (at least -1) fails on it.
    cols = synthetic_cols()
    cols["end_loss"] = cols["end_loss"].copy()
    cols["end_loss"][2] = 0.048
    assert sliding_statistics(cols, 1e-3).below_ratio == pytest.approx(-2.0)


def test_sliding_showcase_of_plateau_1d_seed_0():
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.quantification_sliding import (
        draw_sliding,
        shown_sentence,
        sliding_showcase,
        sliding_showcase_values,
        sliding_statistics,
    )
    from plateau_lib.sweeps import SeedSearch

    experiment = get_experiment("plateau_1d").with_changes(quick_steps=3000)  # ends sliding (test above)
    X, y = experiment.data()
    slide = sliding_showcase(experiment, regime_row(0, 1e-7), X, y, quick=True)
    i_pin = point_nearest_a_breakpoint(slide.run.net, X, y)
    assert {i for i, _ in slide.state.pins} == {i_pin} and slide.x_pin == X[i_pin, 0]
    assert slide.pinned_neurons == tuple(sorted({j for _, j in slide.state.pins}))
    assert slide.last_phase.i == i_pin and slide.last_phase.end >= 2900
    assert slide.at_rest and slide.distinct and slide.gap <= slide.tolerance
    assert slide.tolerance == pytest.approx((slide.state.pinned - slide.state.lstar_off) / (2 * slide.state.pinned))
    assert slide.above == pytest.approx((slide.state.loss - slide.state.pinned) / slide.state.pinned)
    assert 0 < slide.oscillation < 1e-3
    assert slide.describe().startswith("seed 0: pins") and slide.describe_gaps().startswith("shown: gap")
    assert shown_sentence(slide).startswith("This run has come to rest")
    moving = sliding_showcase(experiment, regime_row(0, 2e-3), X, y, quick=True)
    assert not moving.at_rest and "its loss still fell by 2.0e-03" in shown_sentence(moving)
    drawn = draw_sliding(slide)
    plt.close(drawn.fig)
    assert list(drawn.data) == ["step", "loss", "levels", "window_step", "breakpoint_offset"]
    assert_allclose(drawn.data["levels"], [slide.state.pinned, slide.state.lstar_off, slide.state.lstar_on])
    stats = sliding_statistics({**synthetic_cols(), "scale": np.full(6, 1e-3)}, 1e-3)
    search = SeedSearch(0, slide.row, (0,), ())
    values = sliding_showcase_values(slide, search, stats)
    assert values["slide_seed"] == 0 and values["showcase_tried"] == 1 and values["x_pin"] == slide.x_pin
    assert values["on_below"] == slide.state.lstar_off - slide.state.lstar_on
    with pytest.raises(ValueError, match="row"):  # still on the first plateau: no sliding end
        sliding_showcase(experiment.with_changes(quick_steps=50), regime_row(0, 0.0), X, y, quick=True)
    with pytest.raises(TypeError, match="row"):
        sliding_showcase(experiment, "row", X, y)


def test_sliding_statistics_figure_carries_the_arrays_it_draws():
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.page import DrawnFigure
    from plateau_lib.chapters.quantification_sliding import draw_sliding_statistics

    cols = synthetic_cols()
    sliding = draw_sliding_statistics(cols)
    none = draw_sliding_statistics({**cols, "end_sliding": np.zeros(6, bool)})
    for drawn in (sliding, none):
        assert isinstance(drawn, DrawnFigure) and drawn.unchecked == {}
        plt.close(drawn.fig)
    assert list(sliding.data) == ["scale", "seed", "sliding_fraction", "end_sliding", "end_loss", "end_pinned",
                                  "end_lstar_off", "end_lstar_on"]
