"""The pinned OpenBLAS kernel: where it is pinned, that the test session runs it, and that the
figure-data check reports a chapter run with another kernel instead of comparing it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plateau_lib import book
from plateau_lib.book import BookPaths, blas_kernel
from plateau_lib.book.blas_kernel import BLAS_VARIABLE, REFERENCE_CORE, pin_blas_kernel, running_core

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = book.chapter_names(ROOT)


def cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


@pytest.mark.parametrize(
    ("machine", "flags", "expected"),
    [
        ("x86_64", "fpu sse2 avx fma avx2 avx512f", REFERENCE_CORE),
        ("x86_64", "fpu sse2 avx avx2", None),  # no FMA
        ("x86_64", "fpu sse2 avx fma", None),  # no AVX2
        ("x86_64", "fpu sse2 avx fma avx2x", None),  # whole words only
        ("aarch64", "fp asimd fma avx2", None),
    ],
)
def test_pins_the_reference_kernel_only_where_the_processor_runs_it(tmp_path, monkeypatch, machine, flags, expected):
    monkeypatch.setattr(blas_kernel.platform, "machine", lambda: machine)
    environ: dict[str, str] = {}
    assert pin_blas_kernel(environ, cpuinfo=cpuinfo(tmp_path, flags)) == expected
    assert environ == ({BLAS_VARIABLE: expected} if expected else {})


def test_a_kernel_set_beforehand_is_kept(tmp_path):
    environ = {BLAS_VARIABLE: "SkylakeX"}
    assert pin_blas_kernel(environ, cpuinfo=cpuinfo(tmp_path, "avx2 fma")) == "SkylakeX"
    assert environ == {BLAS_VARIABLE: "SkylakeX"}


def test_no_processor_description_pins_nothing(tmp_path):
    environ: dict[str, str] = {}
    assert pin_blas_kernel(environ, cpuinfo=tmp_path / "missing") is None
    assert environ == {}


def test_the_test_session_runs_the_pinned_kernel():
    """tests/conftest.py pins the kernel before NumPy loads OpenBLAS, which reads it only then."""
    asked = os.environ.get(BLAS_VARIABLE)
    if asked is None:
        pytest.skip("no OpenBLAS kernel pinned on this processor")
    assert running_core() == asked


def test_a_chapter_run_with_another_kernel_is_reported_not_compared(tmp_path):
    paths = BookPaths.for_source(ROOT, output_root=tmp_path)
    paths.build.mkdir()
    reference = book.check.reference_kernel(paths)
    assert reference == json.loads((paths.reference / "provenance.json").read_text())["blas_kernel"]
    other = "SandyBridge" if reference != "SandyBridge" else None
    paths.runs.write_text(json.dumps({name: {"quick": True, "seed": 0, "blas_kernel": other} for name in CHAPTERS}))
    lines = book.check_references(paths)
    assert len(lines) == len(CHAPTERS)
    for name, line in zip(CHAPTERS, lines, strict=True):
        assert line == book.check.kernel_mismatch(name, other, reference)
        assert line.startswith(f"{name}: executed with ") and "not compared" in line
