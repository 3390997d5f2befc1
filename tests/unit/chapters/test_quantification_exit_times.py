"""Fact 3 over the sweep (plateau_lib.chapters.quantification_exit_times): the exit-time fit and its tolerance,
stalls, the descending runs, the lazy and adaptive ends, the page's numbers and figures.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from quantification_fixtures import synthetic_cols


def test_exit_fit_tolerance_is_half_the_gap_between_the_predictions():
    from plateau_lib.chapters.quantification_exit_times import ExitFit
    from plateau_lib.fixed_pattern import predicted_exit_slope

    rate, lr = 0.25, 0.1
    gd = predicted_exit_slope(rate, lr)
    fit = ExitFit(np.array([1e-2, 1e-4]), np.array([10.0, 30.0]), gd, 0.0, gd, rate)
    flow = 1 / rate
    assert fit.flow_slope == flow and fit.ratio == 1.0
    assert fit.rtol == pytest.approx(abs(flow - gd) / (2 * gd), rel=1e-14) and gd > flow
    # a slope halfway between the predictions is at the edge of both
    middle = dataclasses.replace(fit, slope=(gd + flow) / 2)
    assert abs(middle.ratio - 1) == pytest.approx(middle.rtol, rel=1e-12)
    assert fit.resolution(lr) == pytest.approx(2 * lr / 20.0)
    with pytest.raises(ValueError, match="lr"):
        fit.resolution(0.0)


def test_exit_values():
    from plateau_lib.chapters.quantification_exit_times import ExitFit, exit_values
    from plateau_lib.fixed_pattern import EscapeDirection

    fit = ExitFit(np.array([1e-2, 1e-4]), np.array([10.0, 30.0]), 4.0, -8.0, 4.1, 0.25)
    X = np.array([[0.0], [0.5], [1.0]])
    values = exit_values(fit, EscapeDirection(0.25, 1.0, -0.5, 0.5, 1), X, lr=0.1)
    assert values["escape_where"] == "a data point"
    assert values["discretisation_factor"] == pytest.approx(0.025 / math.log1p(0.025))
    assert values["decade_cost"] == pytest.approx(4.0 * math.log(10))
    assert values["fit_span"] == 20.0 and values["slope_resolution"] == pytest.approx(0.01)
    assert values["slope_ratio"] == fit.ratio and values["fit_alpha_max"] == 1e-2
    between = exit_values(fit, EscapeDirection(0.25, 1.0, -0.3, 0.3, 1), X, lr=0.1)
    assert between["escape_where"] == "between data points"


def test_stalls_and_descending_plateau_times_on_a_synthetic_sweep():
    from plateau_lib.chapters.quantification_exit_times import ExitFit, descending_plateau_times, stall_values, stalled

    cols = synthetic_cols()
    assert_array_equal(stalled(cols), [False, False, False, True, False, True])
    descending = descending_plateau_times(cols, [1e-2, 1e-3])
    assert_array_equal(descending.median_times, [10.0, 20.0]) and descending.missing == []
    assert descending.per_decade == pytest.approx(10.0)
    stuck = descending_plateau_times({**cols, "final_loss": np.ones(6)}, [1e-2, 1e-3])
    assert stuck.missing == [1e-2, 1e-3] and np.all(np.isnan(stuck.median_times))
    fit = ExitFit(np.array([1e-2, 1e-3]), np.array([2.0, 3.0]), 1.0 / math.log(10), 0.0, 0.5, 2.0)
    values = stall_values(cols, fit, descending)
    assert values["n_stall_all"] == 2 and values["n_stuck"] == 2 and values["n_adaptive"] == 4
    assert values["frac_stuck"] == 0.5 and values["stall_one_plateau"] == 1
    assert values["later_vs_first"] == pytest.approx(10.0)  # a decade costs 1 in fact 3 here
    assert values["free_pt_fit_max"] == 10.0 and values["free_pt_smallest"] == 20.0
    assert values["final_adaptive_free"] == pytest.approx(0.04) and values["stuck_dirs_max"] == 2
    assert values["other_dirs_median"] == 4.5


def test_tenth_times_and_the_lazy_and_adaptive_ends():
    from plateau_lib.chapters.quantification_exit_times import lazy_adaptive_values, tenth_times

    cols = synthetic_cols()
    grid_t = np.array([0.0, 1.0, 2.0, 3.0])
    tenth = tenth_times(cols, grid_t)
    assert_array_equal(tenth[:4], [2.0, 2.0, 2.0, 2.0]) and np.all(np.isnan(tenth[4:]))
    values = lazy_adaptive_values(cols, grid_t)
    assert values["lazy_alpha"] == 1.0 and values["smallest_alpha"] == 1e-3
    assert values["lazy_initial_ratio"] == 3.0 and values["plateau_time_lazy"] == 1.5
    assert values["filt_lazy"] == 2.0 and values["filt_adaptive"] == 9.0
    assert values["tenth_lazy"] == 2.0 and values["tenth_lazy_n"] == 2
    assert math.isnan(values["tenth_adaptive"]) and values["tenth_adaptive_n"] == 0
    assert values["movement_adaptive"] == 200.0 and values["final_lazy"] == pytest.approx(0.015)


def test_sweep_figures_carry_the_arrays_they_draw():
    import matplotlib.pyplot as plt

    from plateau_lib.chapters.page import DrawnFigure
    from plateau_lib.chapters.quantification_exit_times import ExitFit, draw_lazy_adaptive, draw_scale_summary

    cols = synthetic_cols()
    fit = ExitFit(np.array([1e-2, 1e-3]), np.array([2.0, 3.0]), 0.4, 0.2, 0.45, 2.0)
    lazy = draw_lazy_adaptive(cols, fit, np.arange(4.0), exit_fraction=0.9)
    summary = draw_scale_summary(cols)
    for drawn in (lazy, summary):
        assert isinstance(drawn, DrawnFigure) and drawn.unchecked == {}
        plt.close(drawn.fig)
    assert set(lazy.data) == {"grid_t", "grid_loss", "scale", "seed", "exit_time", "fit_scales",
                              "fit_median_times", "slope"}
    assert_array_equal(lazy.data["slope"], [0.4, 0.45])
    assert list(summary.data) == ["scale", "seed", "raw_changes", "filtered_changes", "plateau_time",
                                  "final_loss", "final_plateau_start"]
    assert summary.data["plateau_time"] is cols["plateau_time"]
