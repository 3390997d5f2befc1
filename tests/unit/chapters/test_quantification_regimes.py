"""The regime sweep (plateau_lib.chapters.quantification_regimes): its settings, its rows, the sliding end of a
run, the directions of its neurons.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from quantification_fixtures import point_nearest_a_breakpoint

from plateau_lib.chapters.quantification_exit_times import fit_exit_times
from plateau_lib.chapters.quantification_regimes import (
    REGIME_SWEEP,
    RegimeSweep,
    count_directions,
    final_sliding_state,
    regime_arrays,
    regime_run,
    regime_runs,
)
from plateau_lib.experiments import get_experiment
from plateau_lib.fixed_pattern import (
    breakpoint_history,
    sliding_phases,
    weighted_phases,
)


def test_gd_on_plateau_1d_seed_0_ends_sliding_at_the_pinned_level():
    experiment = get_experiment("plateau_1d")
    X, y = experiment.data()
    result = experiment.run(0, steps=3000, record_every=1)
    phases = weighted_phases(result, X, y, sliding_phases(result))
    i_pin = point_nearest_a_breakpoint(result.net, X, y)
    assert phases and all(p.i == i_pin for p in phases if p.end >= 2900)
    state = final_sliding_state(result, X, y, phases)
    assert state is not None and {i for i, _ in state.pins} == {i_pin}
    # the pinned level lies above both neighbours' levels, by far more than round-off, and
    # the loss is nearer to it than to either of them
    assert state.lstar_on < state.lstar_off < state.pinned
    assert 0 < state.level_error < 1e-6 * (state.pinned - state.lstar_off)
    assert abs(state.loss - state.pinned) < (state.pinned - state.lstar_off) / 2
    bp = breakpoint_history(result, [j for _, j in state.pins])
    assert np.all(np.abs(bp[-50:] - X[i_pin, 0]) < 5e-3)


def test_regime_sweep_settings_validate():
    assert REGIME_SWEEP.base == "plateau_1d" and len(REGIME_SWEEP.scales) >= 7
    assert REGIME_SWEEP.seed_list(quick=True, offset=2) == [2, 3, 4, 5, 6]
    assert REGIME_SWEEP.experiment(1e-4).init_scale == 1e-4
    grid = REGIME_SWEEP.step_grid(quick=True)
    assert grid[0] == 0 and grid[-1] == get_experiment("plateau_1d").quick_steps and np.all(np.diff(grid) > 0)
    with pytest.raises(ValueError, match="unknown experiment"):
        RegimeSweep(base="nope")
    with pytest.raises(ValueError, match="scales"):
        RegimeSweep(scales=(1.0,))
    with pytest.raises(ValueError, match="exit_fraction"):
        RegimeSweep(exit_fraction=1.5)


def test_regime_run_and_exit_fit_on_a_small_sweep():
    settings_ = RegimeSweep(scales=(1e-2, 1e-4, 1e-6), seeds=(3,), quick_seeds=1)
    rows = [regime_run((settings_, s, 3, True)) for s in settings_.scales]
    cols = regime_arrays(rows)
    assert cols["grid_loss"].shape == (3, len(settings_.step_grid(True)))
    assert np.all(np.diff(cols["exit_time"]) > 0)  # smaller scale, later exit
    fit = fit_exit_times(settings_, rows)
    assert_array_equal(fit.scales, [1e-2, 1e-4, 1e-6])
    assert abs(fit.ratio - 1) <= fit.rtol  # GD's prediction, told apart from the flow's
    assert abs(fit.flow_ratio - 1) >= fit.rtol
    with pytest.raises(TypeError, match="settings"):
        regime_run(("x", 1.0, 0, True))
    # the same rows from one stack of runs (wall times apart)
    together = regime_arrays(regime_runs([(settings_, s, 3, True) for s in settings_.scales]))
    for key, value in cols.items():
        if key != "wall_time":
            assert_array_equal(together[key], value, err_msg=key)
    with pytest.raises(ValueError, match="share quick"):
        regime_runs([(settings_, 1e-2, 3, True), (settings_, 1e-2, 3, False)])


def test_count_directions():
    V = np.array([[1.0, 0.0], [2.0, 0.01], [0.0, 1.0], [0.0, 0.0], [-1.0, 0.0]])
    assert count_directions(V) == 3
    assert count_directions(np.zeros((0, 2))) == 0
    with pytest.raises(ValueError, match="2-D"):
        count_directions(np.ones(3))
