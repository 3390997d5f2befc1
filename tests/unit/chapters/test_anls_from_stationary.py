"""ANLS from an exact stationary point of gradient descent (Chapter 4)."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_lib.chapters import anls_from_stationary as from_stationary
from plateau_lib.chapters.anls_from_stationary import anls_from_stationary
from plateau_lib.experiments import get_experiment
from plateau_lib.network import loss

pytest_plugins = ("anls_fixtures",)  # the shared fixtures race_quick, rest, variant_rows


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
    """The start is chosen by first_polished_run's rule (tested in test_stationary_showcase.py): one seed that
    does not polish within a tiny budget raises, listing why."""
    with pytest.raises(RuntimeError, match=r"no seed of 9\.\.9 .*seed 9: rejected"):
        anls_from_stationary("plateau_1d", 9, sweeps=1, steps=2_000, max_tries=1)


def test_method_key():
    assert from_stationary.method_key("gd+anls") == "gd_anls"
    assert from_stationary.method_key("anls-joint") == "anls_joint"
