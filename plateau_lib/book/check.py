r"""Compare the chapters' figure data with the committed references, and refresh them.

**Check (``book check``).** Every figure-data file (``*.npz``, ``*.json``) under
``_build/figures/<chapter>/`` is compared with ``tests/reference/<chapter>/``; missing or
extra files, arrays or keys fail, as do shape or dtype changes. Integer, boolean and string
data must be equal; floating data must satisfy
``|actual - reference| <= atol + rtol * |reference|`` elementwise (NaN only where the
reference has NaN). The defaults ``rtol = 1e-6``, ``atol = 1e-10`` assume what CI provides:
the same machine family and the same pinned numpy/scipy wheels (hence the same bundled
OpenBLAS), where reruns are bitwise identical and the remaining differences come from a
different SIMD code path (last-bit changes). Quick runs amplify such changes far less than
``1e6``: when the tolerance was chosen, perturbing the initial parameters of the quick 1-D
run of chapter 1 by ``1e-15`` (relative) moved its 2000-step loss curve by at most ``4e-16``
(relative). So ``rtol = 1e-6`` leaves ample room for round-off, while any change of the
mathematics, the seed or an experiment's settings moves the data by orders of magnitude
more. ``atol = 1e-10`` only matters for entries that are exactly or
nearly zero. The same machine family means the same OpenBLAS kernel: the chapters run with
the one :mod:`~plateau_lib.book.blas_kernel` pins, recorded in ``_build/runs.json`` and in the
provenance; a chapter computed with another kernel is reported, not compared (its roundoff
decides some quantities the references hold, such as the fixed point an ANLS run stops at).
References hold well-conditioned quantities only (losses, counts, levels,
final parameters of short runs): long chaotic trajectories or quantities near a
discontinuity (e.g. the exact step a pattern flickers) belong in figures, not in references.

**References (``book refresh-references``).** One command re-executes the chosen chapters
in quick mode with the default seed and replaces ``tests/reference/<chapter>/`` by their
data files (plus ``tests/reference/provenance.json`` with the versions and platform that
produced them). Review the diff before committing.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..figures import atomic_write
from .execute import ChapterRun, run_chapters
from .paths import DEFAULT_SEED, BookPaths, chapter_names, check_chapter_names
from .records import read_runs, versions

__all__ = [
    "DATA_SUFFIXES",
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "check_references",
    "compare_data_dirs",
    "data_files",
    "kernel_mismatch",
    "reference_kernel",
    "refresh_references",
]


DEFAULT_RTOL = 1e-6


DEFAULT_ATOL = 1e-10


DATA_SUFFIXES = (".npz", ".json")


def data_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {
        p.name: p for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in DATA_SUFFIXES and not p.name.startswith(".")
    }


def _compare_arrays(label: str, actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str | None:
    if actual.shape != expected.shape:
        return f"{label}: shape {actual.shape} != reference {expected.shape}"
    kinds = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex", "U": "str", "S": "bytes"}
    ka, ke = kinds.get(actual.dtype.kind, actual.dtype.kind), kinds.get(expected.dtype.kind, expected.dtype.kind)
    if ka != ke:
        return f"{label}: dtype {actual.dtype} != reference {expected.dtype}"
    if ka not in ("float", "complex"):
        bad = int(np.count_nonzero(actual != expected))
        return f"{label}: {bad} of {expected.size} entries differ (exact comparison)" if bad else None
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    if np.any(nan_a != nan_e):
        return f"{label}: NaN at {int(np.count_nonzero(nan_a != nan_e))} entries where the reference differs"
    both = ~nan_e
    a, e = actual[both], expected[both]
    if a.size == 0:
        return None
    finite = np.isfinite(a) & np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(finite, np.abs(a - e), np.where(a == e, 0.0, np.inf))
        scale = np.where(finite, np.abs(e), 0.0)
        bad = diff > atol + rtol * scale
        if not np.any(bad):
            return None
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), np.where(diff > 0, np.inf, 0.0))
    return (
        f"{label}: {int(np.count_nonzero(bad))} of {e.size} entries off; "
        f"max abs diff {float(diff.max()):.3e}, max rel diff {float(rel.max()):.3e} (rtol={rtol:g}, atol={atol:g})"
    )


def _flatten_json(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(_flatten_json(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _load_data(path: Path) -> dict[str, object]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    return _flatten_json(json.loads(path.read_text()))


def _compare_values(label: str, actual: object, expected: object, rtol: float, atol: float) -> str | None:
    if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        return _compare_arrays(label, np.asarray(actual), np.asarray(expected), rtol, atol)
    try:  # JSON numbers (and lists of them) compare like arrays; bool/str exactly
        a, e = np.asarray(actual), np.asarray(expected)
    except ValueError:
        a = e = None
    if a is not None and a.dtype.kind in "biuf" and e.dtype.kind in "biuf":
        if a.dtype.kind in "iu" and e.dtype.kind == "f" or a.dtype.kind == "f" and e.dtype.kind in "iu":
            a, e = a.astype(float), e.astype(float)
        return _compare_arrays(label, a, e, rtol, atol)
    return None if actual == expected else f"{label}: {actual!r} != reference {expected!r}"


def compare_data_dirs(
    actual_dir: str | os.PathLike[str],
    reference_dir: str | os.PathLike[str],
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    label: str | None = None,
) -> list[str]:
    """Compare the figure-data files of two folders; return one line per mismatch (empty: equal).

    A file or an array/key present on one side only is a mismatch. See the module
    docstring for the tolerance rule.
    """
    actual_dir, reference_dir = Path(actual_dir), Path(reference_dir)
    label = label or actual_dir.name
    actual, reference = data_files(actual_dir), data_files(reference_dir)
    lines = []
    for name in sorted(set(reference) - set(actual)):
        lines.append(f"{label}/{name}: missing (the reference has it, the run did not produce it)")
    for name in sorted(set(actual) - set(reference)):
        lines.append(f"{label}/{name}: extra (no reference; run: python -m plateau_lib book refresh-references)")
    for name in sorted(set(actual) & set(reference)):
        a, e = _load_data(actual[name]), _load_data(reference[name])
        for key in sorted(set(e) - set(a)):
            lines.append(f"{label}/{name}: array {key!r} missing")
        for key in sorted(set(a) - set(e)):
            lines.append(f"{label}/{name}: array {key!r} extra (not in the reference)")
        for key in sorted(set(a) & set(e)):
            problem = _compare_values(f"{label}/{name}: array {key!r}", a[key], e[key], rtol, atol)
            if problem:
                lines.append(problem)
    return lines


def check_references(
    paths: BookPaths,
    names: Iterable[str] | None = None,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> list[str]:
    """Compare ``_build/figures/<chapter>/`` with ``tests/reference/<chapter>/`` for the chapters.

    Returns one line per problem: a chapter not executed, or not executed in quick mode with
    the default seed (the references' setting), or a data mismatch. Empty means all agree.
    """
    available = chapter_names(paths.source)
    chosen = check_chapter_names(names, available)
    runs = read_runs(paths)
    reference = reference_kernel(paths)
    lines = []
    for name in chosen:
        record = runs.get(name)
        if record is None:
            lines.append(f"{name}: not executed (run: python -m plateau_lib book run --quick {name})")
            continue
        if not record.get("quick") or record.get("seed") != DEFAULT_SEED:
            lines.append(
                f"{name}: executed with quick={record.get('quick')}, seed={record.get('seed')}; references are "
                f"quick mode with seed {DEFAULT_SEED} (run: python -m plateau_lib book run --quick {name})"
            )
            continue
        if record.get("blas_kernel") != reference:
            lines.append(kernel_mismatch(name, record.get("blas_kernel"), reference))
            continue
        lines += compare_data_dirs(paths.figures / name, paths.reference / name, rtol=rtol, atol=atol, label=name)
    if names is None and paths.reference.is_dir():
        for folder in sorted(p for p in paths.reference.iterdir() if p.is_dir()):
            if folder.name not in available:
                lines.append(f"{folder.name}: reference folder for a chapter that is not in _toc.yml")
    return lines


def reference_kernel(paths: BookPaths) -> str | None:
    """The OpenBLAS kernel the references were computed with (``None``: not pinned, or not recorded)."""
    try:
        provenance = json.loads((paths.reference / "provenance.json").read_text())
    except FileNotFoundError:
        return None
    return provenance.get("blas_kernel")


def kernel_mismatch(name: str, ran: str | None, reference: str | None) -> str:
    """The one line :func:`check_references` reports for a chapter run with another BLAS kernel."""
    def describe(kernel: str | None) -> str:
        return f"OpenBLAS kernel {kernel}" if kernel else "the processor's own OpenBLAS kernel (none pinned)"

    return (f"{name}: executed with {describe(ran)}, references with {describe(reference)}; roundoff then "
            f"decides some referenced quantities, so they are not compared (see plateau_lib.book.blas_kernel)")


def refresh_references(
    paths: BookPaths, names: Iterable[str] | None = None, *, progress: bool = True
) -> tuple[list[ChapterRun], list[Path]]:
    """Re-execute chapters in quick mode (default seed) and replace their reference data.

    Nothing is replaced unless every chosen chapter ran. Each chapter's folder is written
    beside the old one and swapped in; a chapter without data files has no folder.
    Returns the runs and the reference files written.
    """
    runs = run_chapters(paths, names, quick=True, seed=DEFAULT_SEED, progress=progress)
    if not all(r.ok for r in runs):
        return runs, []
    written: list[Path] = []
    paths.reference.mkdir(parents=True, exist_ok=True)
    for run in runs:
        files = data_files(paths.figures / run.chapter)
        target = paths.reference / run.chapter
        fresh = paths.reference / f".{run.chapter}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        if files:
            fresh.mkdir()
            for fname, src in files.items():
                shutil.copy2(src, fresh / fname)
                written.append(target / fname)
        old = paths.reference / f".{run.chapter}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        if files:
            os.replace(fresh, target)
        shutil.rmtree(old, ignore_errors=True)
    provenance = {
        "generated_by": "python -m plateau_lib book refresh-references",
        "mode": {"quick": True, "seed": DEFAULT_SEED},
        "platform": {"machine": platform.machine(), "system": platform.system()},
        "blas_kernel": read_runs(paths)[runs[0].chapter].get("blas_kernel"),
        "versions": versions(),
    }
    text = json.dumps(provenance, indent=2, sort_keys=True) + "\n"
    atomic_write(paths.reference / "provenance.json", lambda fh: fh.write(text.encode()))
    return runs, written
