"""Fixtures Chapter 4's study tests share (imported by name): the quick race, ANLS from the stationary point,
variant rows."""

from __future__ import annotations

import pytest

from plateau_lib.chapters.anls_from_stationary import anls_from_stationary
from plateau_lib.chapters.anls_variants import VariantRow
from plateau_lib.chapters.anls_vs_gd import anls_joint_options, gd_vs_anls


@pytest.fixture(scope="session")
def race_quick():
    """Gradient descent and ANLS from the same network, on plateau_1d in quick mode."""
    return gd_vs_anls("plateau_1d", quick=True)


@pytest.fixture(scope="session")
def rest():
    """ANLS (the design's options and the default preset) from the stationary point of the showcase seed."""
    return anls_from_stationary("plateau_1d", variants={"anls-design": {}, "anls": anls_joint_options(1)}, sweeps=10)


@pytest.fixture
def variant_rows():
    """Variant rows from ``{(problem, variant, seed): final_loss}`` (lower bound 1, curves of two sweeps)."""

    def rows(finals):
        return [VariantRow(problem=p, variant=v, seed=k, final_loss=f, lower_bound=1.0, ratio_to_lower_bound=f,
                           sweeps=2, nfev=5, njev=0, pattern_changes=1, converged=True, wall_time=0.1,
                           curve=(2 * f, 1.5 * f, f))
                for (p, v, k), f in finals.items()]

    return rows
