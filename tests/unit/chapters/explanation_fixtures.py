"""Fixtures Chapter 1's study tests share (through pytest_plugins): a quick run of plateau_1d and that run
measured, module-scoped. The placeholder rows they build are in explanation_stubs (imported by name: a module
both imported and loaded as a plugin could not have its assertions rewritten)."""

from __future__ import annotations

import pytest

from plateau_lib.chapters.explanation_runs import measure_run
from plateau_lib.experiments import get_experiment


@pytest.fixture(scope="module")
def quick_run():
    """plateau_1d in quick mode: the experiment, its data and the run."""
    e = get_experiment("plateau_1d")
    X, y = e.data()
    return e, X, y, e.run(quick=True)


@pytest.fixture(scope="module")
def measured(quick_run):
    """The run of quick_run measured (measure_run)."""
    e, _, _, result = quick_run
    return measure_run(e, result, seed=e.seed)
