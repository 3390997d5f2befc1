"""The experiment registry and the targets and grids behind it."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from plateau_lib.experiments import (
    Experiment,
    experiment_names,
    get_experiment,
    register,
    run_stacked,
)
from plateau_lib.targets import TARGETS, grid, target_values
from plateau_lib.trainers.stacked import train_gd_stack


def test_registry_has_the_design_experiments():
    assert {"plateau_1d", "multi_plateau_1d", "plateau_2d"} <= set(experiment_names())
    e = get_experiment("plateau_1d")
    assert (e.target, e.m, e.d, e.width, e.init_scale, e.options["lr"], e.steps) == (
        "sin_pi", 41, 1, 10, 1e-3, 0.1, 20_000)


def test_unknown_experiment_and_duplicate_names_are_rejected():
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        get_experiment("nope")
    with pytest.raises(ValueError, match="already registered"):
        register(get_experiment("plateau_1d"))


def test_experiment_rejects_unknown_trainer():
    with pytest.raises(ValueError, match="trainer"):
        Experiment("x", "", "sin_pi", 5, 1, 2, "normal", 1.0, trainer="sgd")


def test_options_are_read_only():
    with pytest.raises(TypeError):
        get_experiment("plateau_1d").options["lr"] = 1.0


@pytest.mark.parametrize("name", ["plateau_1d", "multi_plateau_1d", "plateau_2d"])
def test_data_and_initial_network_are_deterministic(name):
    e = get_experiment(name)
    X, y = e.data()
    assert X.shape == (e.m, e.d) and y.shape == (e.m,)
    assert_array_equal(e.initial_network(3).to_vector(), e.initial_network(3).to_vector())
    assert not np.array_equal(e.initial_network(3).to_vector(), e.initial_network(4).to_vector())


def test_quick_run_is_reproducible_and_uses_the_quick_budget():
    e = get_experiment("plateau_1d").with_changes(quick_steps=300)
    a, b = e.run(quick=True), e.run(quick=True)
    assert a.nit == 300
    assert_array_equal(a.loss, b.loss)
    assert e.run(quick=True, steps=50).nit == 50


def test_run_stacked_is_each_run_alone(monkeypatch):
    """Stacks form by data, width and options; other trainers and options run alone; order is kept."""
    from plateau_lib import experiments

    stack_sizes = []

    def spy(nets, *args, **kwargs):
        stack_sizes.append(len(nets))
        return train_gd_stack(nets, *args, **kwargs)

    monkeypatch.setattr(experiments, "train_gd_stack", spy)
    base = get_experiment("plateau_1d").with_changes(quick_steps=300)
    runs = [
        (base, 3),
        (base.with_changes(init_scale=0.5), 4),  # same stack: only the initial networks differ
        (base.with_changes(width=4), 3),  # a stack of its own
        (get_experiment("plateau_2d").with_changes(quick_steps=40), 1),
        (base.with_changes(trainer="adam", options={"lr": 0.01}), 2),  # not gradient descent: alone
        (base, 5),
    ]
    for overrides, sizes in (({}, [3, 1, 1]), ({"record_every": 1, "gtol": 1e-3}, [3, 1, 1]),
                             ({"steps": 20, "time_limit": 60.0}, [])):
        stack_sizes.clear()
        together = run_stacked(runs, quick=True, **overrides)
        assert stack_sizes == sizes
        for (experiment, seed), result in zip(runs, together, strict=True):
            alone = experiment.run(seed, quick=True, **overrides)
            assert (result.method, result.nit, result.status) == (alone.method, alone.nit, alone.status)
            for name in ("steps", "loss", "params", "pattern_changes", "flips", "counts"):
                assert_array_equal(getattr(result, name), getattr(alone, name), err_msg=name)
    assert run_stacked([]) == []
    with pytest.raises(TypeError, match=r"runs must hold \(Experiment, seed\) pairs.* at index 1"):
        run_stacked([(base, 1), ("plateau_1d", 2)])


def test_grid_and_targets():
    X = grid(9, 2)
    assert X.shape == (9, 2)
    assert_allclose(np.unique(X[:, 0]), [-1, 0, 1])
    with pytest.raises(ValueError, match="perfect 2-th power"):
        grid(10, 2)
    for name, (d, _, _) in TARGETS.items():
        values = target_values(name, grid(3**d, d))
        assert values.shape == (3**d,) and np.all(np.isfinite(values))
    assert_allclose(target_values("sawtooth", np.array([[-1.0], [-0.5], [0.0], [0.25]])), [-1, 1, -1, 0],
                    atol=1e-15)
    with pytest.raises(ValueError, match="target must be one of"):
        target_values("cos", X)
