"""The chapters' studies: what each chapter of the book runs, measures and checks.

One module per subject a chapter studies, named after it, with the page helpers of that study
beside it, built on the science of ``plateau_lib`` (which never imports this package):

- Chapter 1: :mod:`~plateau_lib.chapters.explanation_runs` (the plateaus of a run, each measured
  against its pattern), :mod:`~plateau_lib.chapters.explanation_seeds` (the plateaus of many
  seeds counted, claims C1 and C2) and the chapter's glued numbers
  :mod:`~plateau_lib.chapters.explanation_page`;
- Chapter 2: :mod:`~plateau_lib.chapters.quantification_segments` (fact 1 on the flow's
  segments), :mod:`~plateau_lib.chapters.quantification_balances` (fact 2 and the rate),
  :mod:`~plateau_lib.chapters.quantification_regimes` (the regime sweep and its rows),
  :mod:`~plateau_lib.chapters.quantification_exit_times` (fact 3 over the sweep),
  :mod:`~plateau_lib.chapters.quantification_sliding` (sliding phases), and the chapter's glued
  settings :mod:`~plateau_lib.chapters.quantification_page`;
- Chapter 3: :mod:`~plateau_lib.chapters.stationary_catalogue` (catalogues of runs to stationary
  points), :mod:`~plateau_lib.chapters.stationary_showcase` (the polish shown),
  :mod:`~plateau_lib.chapters.stationary_cells` (stationary points cell by cell, the examples) and
  :mod:`~plateau_lib.chapters.stationary_page` (the catalogues' tables and numbers);
- Chapter 4: :mod:`~plateau_lib.chapters.anls_vs_gd` (ANLS against gradient descent in
  iterations, over seeds), :mod:`~plateau_lib.chapters.anls_sweep` (one sweep pictured),
  :mod:`~plateau_lib.chapters.anls_from_stationary`, :mod:`~plateau_lib.chapters.anls_variants`,
  :mod:`~plateau_lib.chapters.anls_checks`, the wall-clock race
  :mod:`~plateau_lib.chapters.anls_race` and its committed results
  :mod:`~plateau_lib.chapters.anls_race_results`, and the step-budget benchmark
  :mod:`~plateau_lib.chapters.anls_benchmark`;
- :mod:`~plateau_lib.chapters.explorers` and :mod:`~plateau_lib.chapters.explorer_grid`: the
  interactive explorers of Chapters 1 and 4 and their precomputed states;
- :mod:`~plateau_lib.chapters.page`, :mod:`~plateau_lib.chapters.claims`,
  :mod:`~plateau_lib.chapters.tables`: what the pages share.

A *study* runs registered experiments (:mod:`plateau_lib.experiments`) many times: the
lazy-to-adaptive regime sweep (``regime_1d``), the stationary-point catalogues
(``catalogue_1d``, ``catalogue_2d``, ``polish_demo``), the ANLS variants (``anls_variants``)
and the ANLS benchmark suites (``anls_benchmark``, ``anls_benchmark_quick``). Their frozen
settings live beside the code that runs them and register themselves by name here
(:func:`register_study`, :func:`get_study`, :func:`study_names`).
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

__all__ = ["STUDY_MODULES", "get_study", "register_study", "study_names"]

#: Modules that register studies (:func:`register_study`) when imported; :func:`get_study`
#: imports them first, so a study can be looked up by name from anywhere.
STUDY_MODULES = (
    "plateau_lib.chapters.explanation_seeds",
    "plateau_lib.chapters.quantification_regimes",
    "plateau_lib.chapters.stationary_catalogue",
    "plateau_lib.chapters.anls_vs_gd",
    "plateau_lib.chapters.anls_variants",
    "plateau_lib.chapters.anls_benchmark",
    "plateau_lib.chapters.anls_race",
)

S = TypeVar("S")
_STUDIES: dict[str, Any] = {}


def register_study(name: str, settings: S) -> S:
    """Register the settings of a study under ``name``; returns ``settings``.

    A module writes ``SWEEP = register_study("name", Settings())``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if name in _STUDIES and _STUDIES[name] is not settings:
        raise ValueError(f"a study named {name!r} is already registered")
    _STUDIES[name] = settings
    return settings


def _import_study_modules() -> None:
    for module in STUDY_MODULES:
        importlib.import_module(module)


def get_study(name: str) -> Any:
    """The settings of the registered study ``name`` (e.g. ``"regime_1d"``, ``"catalogue_1d"``)."""
    _import_study_modules()
    if name not in _STUDIES:
        raise ValueError(f"unknown study {name!r}; known: {', '.join(sorted(_STUDIES))}")
    return _STUDIES[name]


def study_names() -> list[str]:
    """Names of all registered studies, sorted."""
    _import_study_modules()
    return sorted(_STUDIES)
