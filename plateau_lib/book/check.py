r"""Compare the chapters' figure data with the committed references, and refresh them.

**Check (``book check``).** Every figure-data file (``*.npz``, ``*.json``) under
``_build/figures/<chapter>/`` is compared with ``tests/reference/<chapter>/``; missing or
extra files, arrays or keys fail, as do shape or dtype changes. Integer, boolean and string
data must be equal; floating data are compared entry by entry, by the first row of
:data:`TOLERANCES` whose pattern matches ``<chapter>/<file>:<array>`` (NaN only where the
reference has NaN, infinities equal). A reference entry :math:`e` and the run's :math:`a` agree
when

- :math:`|e| \ge` ``roundoff`` (the row's): :math:`|a - e| \le \texttt{rtol}\,|e|`;
- :math:`0 < |e| <` ``roundoff``, a *round-off-sized* entry (a residual, gap or deviation that
  is zero in exact arithmetic): :math:`|\log_{10}\max(|a|, \texttt{atol}) - \log_{10}|e|| \le
  \texttt{decades}` (its sign is noise and is not compared);
- :math:`e = 0`: :math:`|a| \le` ``atol``.

``decades`` is below 1 in every row, so multiplying or dividing any non-zero entry by 10 fails
the check, whatever its size (the relative rule already fails at a factor
:math:`1 + \texttt{rtol}`). The default row, ``rtol = 1e-6`` with ``roundoff = 0`` (every
non-zero entry compared relatively) and ``atol = 1e-10`` (reference zeros only), assumes what
CI provides: the same machine family and the same pinned numpy/scipy wheels (hence the same
bundled OpenBLAS), where reruns are bitwise identical and the remaining differences come from a
different SIMD code path (last-bit changes). Quick runs amplify such changes far less than
``1e6``: when the tolerance was chosen, perturbing the initial parameters of the quick 1-D
run of chapter 1 by ``1e-15`` (relative) moved its 2000-step loss curve by at most ``4e-16``
(relative). So ``rtol = 1e-6`` leaves ample room for round-off, while any change of the
mathematics, the seed or an experiment's settings moves the data by orders of magnitude
more. Round-off-sized entries have no relative accuracy (a last-bit change of the operands
of a difference that cancels changes the difference by its own size), so their rows compare
orders of magnitude, within half a decade: a factor 10 is a regression of the computation
(claim C4 rests on stationarity residuals of ``1e-16``), a factor 2 is round-off.
The same machine family means the same OpenBLAS kernel: the chapters run with
the one :mod:`~plateau_lib.book.blas_kernel` pins, recorded in ``_build/runs.json`` and in the
provenance; a chapter computed with another kernel is reported, not compared (its roundoff
decides some quantities the references hold, such as the fixed point an ANLS run stops at).
References hold well-conditioned quantities (losses, counts, levels, final
parameters of short runs) and round-off-sized residuals, by their order: long chaotic trajectories or quantities near a
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
from dataclasses import dataclass
from fnmatch import fnmatchcase
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
    "ROUNDOFF_DECADES",
    "TOLERANCES",
    "Tolerance",
    "check_references",
    "compare_data_dirs",
    "data_files",
    "kernel_mismatch",
    "reference_kernel",
    "refresh_references",
    "tolerance_for",
]


DEFAULT_RTOL = 1e-6


DEFAULT_ATOL = 1e-10


#: Orders of magnitude a round-off-sized entry may move (below 1: a factor 10 always fails).
ROUNDOFF_DECADES = 0.5


@dataclass(frozen=True)
class Tolerance:
    """How the floating entries of one kind of array are compared (module docstring).

    Attributes
    ----------
    rtol : float
        Relative tolerance of entries with ``|reference| >= roundoff``.
    atol : float
        What a reference zero accepts, ``|actual| <= atol``; also the floor under ``|actual|``
        in the comparison of round-off-sized entries.
    roundoff : float
        Non-zero reference entries below this magnitude are round-off-sized: compared by
        ``log10`` of their magnitudes, within ``decades``. 0: every entry relative.
    decades : float
        Orders of magnitude a round-off-sized entry may move, ``< 1``.
    """

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    roundoff: float = 0.0
    decades: float = ROUNDOFF_DECADES


#: Residuals that vanish in exact arithmetic (stationarity, deviations of an exact solve, gaps
#: to L*, identity residuals): below 1e-10 they are round-off (the polish drives them to 1e-16),
#: compared by order; a reference zero is exact (a structural zero: no floor under |actual|).
_RESIDUAL = Tolerance(atol=0.0, roundoff=1e-10)
#: Losses of fixed patterns L*(D,S) at an exact fit: 1/2 mean r^2 with r at round-off
#: (|r| <= 1e-14 |y|), so levels below 1e-20 are round-off-sized; a zero level is exact.
_FIT_LEVEL = Tolerance(atol=0.0, roundoff=1e-20)

#: The one table of tolerances: ``(pattern of <chapter>/<file>:<array>, tolerance, what it is)``;
#: the first matching row applies, the last matches everything.
TOLERANCES: tuple[tuple[str, Tolerance, str], ...] = (
    ("stationary/*:*stationarity*", _RESIDUAL, "gradient norms at (polished) stationary points"),
    ("stationary/*:*deviation*", _RESIDUAL, "deviations of an exact least-squares solve"),
    ("stationary/*:*gap*", _RESIDUAL, "gaps of a loss to L*(D,S) and their bounds"),
    ("stationary/*:*lower_bound", _RESIDUAL, "lower bounds that vanish at an exact fit"),
    ("stationary/*:max_bound", _RESIDUAL, "largest gap bound of the converged cells"),
    ("stationary/*:check_*_worst", _RESIDUAL, "worst residuals of the chapter's checks"),
    ("stationary/*:moment*", _RESIDUAL, "moment sums that vanish at a stationary point"),
    ("stationary/*:*scores_after", _RESIDUAL, "stationarity scores after the polish"),
    ("stationary/*:polished_max_score", _RESIDUAL, "largest stationarity score after the polish"),
    ("stationary/cells_1d.npz:ls_coef_*", _RESIDUAL, "least-squares coefficients, some zero in exact arithmetic"),
    ("stationary/cells_1d.npz:net_*", _RESIDUAL, "parameters of stationary points, some zero in exact arithmetic"),
    ("quantification/*:drift_identity", _RESIDUAL, "residual of gradient descent's per-step identity"),
    ("*:*gap", _RESIDUAL, "gaps of plateau levels to L*(D,S)"),
    ("*:*levels", _FIT_LEVEL, "fixed-pattern levels L*(D,S), zero at an exact fit"),
    ("*", Tolerance(), "well-conditioned quantities (losses, counts, levels, parameters)"),
)


def tolerance_for(label: str, default: Tolerance | None = None) -> Tolerance:
    """The :data:`TOLERANCES` row of ``label`` (``<chapter>/<file>:<array>``); ``default`` replaces the last row."""
    for pattern, tolerance, _ in TOLERANCES[:-1]:
        if fnmatchcase(label, pattern):
            return tolerance
    return default or TOLERANCES[-1][1]


DATA_SUFFIXES = (".npz", ".json")


def data_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {
        p.name: p for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in DATA_SUFFIXES and not p.name.startswith(".")
    }


def _compare_arrays(label: str, actual: np.ndarray, expected: np.ndarray, tol: Tolerance) -> str | None:
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
    return _compare_floats(label, actual[~nan_e], expected[~nan_e], tol)


def _compare_floats(label: str, a: np.ndarray, e: np.ndarray, tol: Tolerance) -> str | None:
    """Apply ``tol`` (module docstring) to the non-NaN entries ``a`` of the run, ``e`` of the reference."""
    if a.size == 0:
        return None
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        finite = np.isfinite(a) & np.isfinite(e)
        diff = np.where(finite, np.abs(a - e), np.where(a == e, 0.0, np.inf))
        scale = np.where(finite, np.abs(e), 0.0)
        tiny = finite & (scale > 0) & (scale < tol.roundoff)
        orders = np.abs(np.log10(np.maximum(np.abs(a), tol.atol)) - np.log10(np.where(tiny, scale, 1.0)))
        zero = finite & (scale == 0)
        bad = np.where(tiny, orders > tol.decades, np.where(zero, diff > tol.atol, diff > tol.rtol * scale))
        if not np.any(bad):
            return None
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), np.where(diff > 0, np.inf, 0.0))
    tiny_bad = bad & tiny
    orders_text = (f", {int(np.count_nonzero(tiny_bad))} round-off-sized off by up to "
                   f"{float(orders[tiny_bad].max()):.2f} decades") if np.any(tiny_bad) else ""
    return (
        f"{label}: {int(np.count_nonzero(bad))} of {e.size} entries off; max abs diff {float(diff.max()):.3e}, "
        f"max rel diff {float(rel.max()):.3e}{orders_text} (rtol={tol.rtol:g}, atol={tol.atol:g}, "
        f"roundoff={tol.roundoff:g}, decades={tol.decades:g})"
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


def _compare_values(label: str, actual: object, expected: object, tol: Tolerance) -> str | None:
    if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        return _compare_arrays(label, np.asarray(actual), np.asarray(expected), tol)
    try:  # JSON numbers (and lists of them) compare like arrays; bool/str exactly
        a, e = np.asarray(actual), np.asarray(expected)
    except ValueError:
        a = e = None
    if a is not None and a.dtype.kind in "biuf" and e.dtype.kind in "biuf":
        if a.dtype.kind in "iu" and e.dtype.kind == "f" or a.dtype.kind == "f" and e.dtype.kind in "iu":
            a, e = a.astype(float), e.astype(float)
        return _compare_arrays(label, a, e, tol)
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

    A file or an array/key present on one side only is a mismatch. Each array is compared by
    its row of :data:`TOLERANCES` (``label`` names the chapter there); ``rtol`` and ``atol``
    replace those of the default row. See the module docstring for the rule.
    """
    default = Tolerance(rtol=rtol, atol=atol)
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
            tol = tolerance_for(f"{label}/{name}:{key}", default)
            problem = _compare_values(f"{label}/{name}: array {key!r}", a[key], e[key], tol)
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

    ``rtol`` and ``atol`` replace those of the default row of :data:`TOLERANCES`. Returns one
    line per problem: a chapter not executed, or not executed in quick mode with
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
