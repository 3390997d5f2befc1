"""The layout's one-way rule: the science never imports the chapters' studies or the book's tooling."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plateau_lib"
# __main__.py is the command line: the tooling's entry point (python -m plateau_lib).
TOOLING = ("chapters", "book", "__main__.py")
SCIENCE = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in TOOLING)


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ["plateau_lib", *path.relative_to(PACKAGE).parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("path", SCIENCE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_science_imports_neither_chapters_nor_tooling(path):
    bad = {m for m in _imported_modules(path) if m.startswith(("plateau_lib.chapters", "plateau_lib.book"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_science_imports_alone():
    code = (
        "import sys, plateau_lib, plateau_lib.fixed_pattern, plateau_lib.stationarity, plateau_lib.plotting\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('papermill', 'ipywidgets', 'myst_nb', 'jupyter_book', 'yaml', 'IPython')"
        " or m.startswith(('plateau_lib.chapters', 'plateau_lib.book')))\n"
        "print(' '.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_the_live_explorer_does_not_import_the_grid():
    """The grid of precomputed states builds on the live explorers, never the other way round: the live
    explorer needs only the StaticStates protocol its frames satisfy."""
    explorers = PACKAGE / "chapters" / "explorers.py"
    assert "plateau_lib.chapters.explorer_grid" not in _imported_modules(explorers)
    assert "plateau_lib.chapters.explorers" in _imported_modules(PACKAGE / "chapters" / "explorer_grid.py")


def test_parallel_spelling_is_one_name():
    """One parameter for how to run many tasks, ``executor``: no ``max_workers``/``workers``/``jobs`` keyword
    in the signatures of the science's sweeps and the chapters' studies."""
    import inspect

    from plateau_lib import sweeps
    from plateau_lib.chapters import (
        anls_benchmark,
        anls_race,
        anls_variants,
        anls_vs_gd,
        explanation_seeds,
        explorer_grid,
        quantification_regimes,
        stationary_catalogue,
    )

    functions = [sweeps.sweep, sweeps.sweep_groups, anls_benchmark.run_benchmark, anls_benchmark.compute_best_known,
                 anls_race.run_race, anls_race.tune_step_sizes, anls_variants.variant_study, anls_vs_gd.exit_study,
                 explanation_seeds.plateau_statistics, explorer_grid.compute_frames,
                 quantification_regimes.regime_sweep, stationary_catalogue.stationary_catalogue]
    for fn in functions:
        names = set(inspect.signature(fn).parameters)
        assert "executor" in names and not names & {"max_workers", "workers", "jobs"}, fn.__qualname__
