"""The reference check's tolerances (plateau_lib.book.check): small numbers are seen.

The committed references hold entries far below any absolute tolerance (stationarity residuals
of 1e-16, fixed-pattern levels of 1e-30). Each test plants a factor-10 regression and asserts
that ``compare_data_dirs`` reports it, on the committed references themselves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from plateau_lib import book
from plateau_lib.book.check import TOLERANCES, Tolerance, _compare_values, _load_data, tolerance_for

REFERENCE = Path(__file__).resolve().parents[2] / "tests" / "reference"
CHAPTERS = sorted(p.name for p in REFERENCE.iterdir() if p.is_dir())


def float_arrays() -> list[tuple[str, str, str, np.ndarray]]:
    """Every floating array (or JSON number) of the references with a non-zero finite entry."""
    found = []
    for chapter in CHAPTERS:
        for path in sorted((REFERENCE / chapter).iterdir()):
            if path.suffix not in (".npz", ".json"):
                continue
            for key, value in _load_data(path).items():
                a = np.asarray(value)
                if a.dtype.kind == "f" and np.any(np.isfinite(a) & (a != 0)):
                    found.append((chapter, path.name, key, a))
    return found


ARRAYS = float_arrays()


def smallest_entry(a: np.ndarray) -> int:
    """Flat index of the non-zero finite entry of smallest magnitude."""
    mags = np.where(np.isfinite(a) & (a != 0), np.abs(a), np.inf).ravel()
    return int(np.argmin(mags))


def planted(a: np.ndarray, factor: float) -> np.ndarray:
    out = np.array(a, dtype=np.float64).ravel()
    out[smallest_entry(a)] *= factor
    return out.reshape(np.shape(a))


def test_the_references_hold_entries_below_the_old_absolute_tolerance():
    small = sum(int(np.count_nonzero((np.abs(a) < 1e-10) & (a != 0))) for *_, a in ARRAYS)
    assert small > 1000  # 1,124 when the per-array tolerances were introduced


def test_every_row_tolerates_less_than_a_factor_ten():
    assert TOLERANCES[-1][0] == "*"
    for pattern, tol, what in TOLERANCES:
        assert 0 < tol.decades < 1 and 0 < tol.rtol < 9, (pattern, what)
    assert tolerance_for("stationary/catalogue.npz:polished_stationarity").roundoff == 1e-10
    assert tolerance_for("explanation/loss_segments.npz:loss") == Tolerance()


@pytest.mark.parametrize("factor", [10.0, 0.1])
def test_a_factor_ten_in_the_smallest_entry_of_any_array_fails(factor):
    missed = []
    for chapter, name, key, a in ARRAYS:
        tol = tolerance_for(f"{chapter}/{name}:{key}")
        assert _compare_values(key, a, a, tol) is None, (chapter, name, key)
        if _compare_values(key, planted(a, factor), a, tol) is None:
            missed.append(f"{chapter}/{name}:{key}")
    assert not missed, missed


def test_round_off_sized_entries_move_by_half_a_decade_at_most():
    tol = tolerance_for("stationary/catalogue.npz:polished_stationarity")
    e = np.array([3.8e-17, 0.39893356537312563, 0.0])
    assert _compare_values("x", e * [3.0, 1.0, 1.0], e, tol) is None  # a factor 3 is round-off
    assert _compare_values("x", e * [-1.0, 1.0, 1.0], e, tol) is None  # so is its sign
    assert "1 round-off-sized off" in _compare_values("x", e * [4.0, 1.0, 1.0], e, tol)
    assert _compare_values("x", e * [1.0, 1 + 1e-5, 1.0], e, tol) is not None  # large entries: relative
    assert _compare_values("x", e + [0.0, 0.0, 1e-300], e, tol) is not None  # its zeros are exact


def _smallest_arrays(count: int) -> list[tuple[str, str, str, np.ndarray]]:
    """The ``count`` arrays whose smallest non-zero entry is smallest."""
    return sorted(ARRAYS, key=lambda row: float(np.abs(row[3].ravel()[smallest_entry(row[3])])))[:count]


def _write_planted(folder: Path, name: str, key: str, value: np.ndarray) -> None:
    path = folder / name
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        arrays[key] = value
        np.savez(path, **arrays)
        return
    data = json.loads(path.read_text())
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value.tolist()
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(("chapter", "name", "key", "array"), _smallest_arrays(12),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_book_check_sees_a_factor_ten_in_the_smallest_arrays(tmp_path, chapter, name, key, array):
    run = tmp_path / chapter
    shutil.copytree(REFERENCE / chapter, run)
    assert book.compare_data_dirs(run, REFERENCE / chapter, label=chapter) == []
    _write_planted(run, name, key, planted(array, 10.0))
    lines = book.compare_data_dirs(run, REFERENCE / chapter, label=chapter)
    assert len(lines) == 1 and lines[0].startswith(f"{chapter}/{name}: array {key!r}: 1 of "), lines
