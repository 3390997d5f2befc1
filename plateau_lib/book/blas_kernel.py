r"""One OpenBLAS kernel for the book's runs, so that its numbers repeat on every x86-64 machine.

numpy's and scipy's wheels bundle one OpenBLAS built for many processors; at load time it picks
the kernels of the processor it runs on (``SkylakeX`` on a processor with AVX-512, ``Haswell`` or
``Zen`` on one with AVX2, ...). These kernels sum in different orders, so the same computation
differs in its last bits from one machine to the next. Most of the book's quantities do not
notice, but some are decided by roundoff: the fixed point an ANLS run stops at, the stationary
point a polish reaches, the sign of a pre-activation sitting on a breakpoint. The figure-data
references (:mod:`plateau_lib.book.check`) hold such quantities of one run, so they repeat only
where the kernel does.

:func:`pin_blas_kernel` therefore asks OpenBLAS (through ``OPENBLAS_CORETYPE``, read when the
library loads) for :data:`REFERENCE_CORE` wherever the processor can run it, unless the variable is
set already: the chapters' kernels (:mod:`plateau_lib.book.execute`) and the test session
(``tests/conftest.py``) start with it. :func:`running_core` reads back what OpenBLAS chose.
On another processor (ARM, or x86-64 without AVX2 and FMA) the kernels differ; the chapters'
checks still apply there, and the figure-data comparison says why it cannot.

This module imports only the standard library, so that ``tests/conftest.py`` can load it before
numpy is imported.
"""

from __future__ import annotations

import ctypes
import glob
import os
import platform
from collections.abc import MutableMapping
from pathlib import Path

__all__ = ["BLAS_VARIABLE", "REFERENCE_CORE", "pin_blas_kernel", "running_core"]

#: The OpenBLAS kernel the figure-data references are computed with (AVX2 and FMA, 2013 on).
REFERENCE_CORE = "Haswell"

#: The environment variable OpenBLAS reads its kernel from.
BLAS_VARIABLE = "OPENBLAS_CORETYPE"
_NEEDS = frozenset({"avx2", "fma"})


def _cpu_flags(cpuinfo: Path) -> frozenset[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def pin_blas_kernel(
    environ: MutableMapping[str, str] | None = None, *, cpuinfo: Path = Path("/proc/cpuinfo")
) -> str | None:
    """Set ``OPENBLAS_CORETYPE`` to :data:`REFERENCE_CORE` in ``environ`` where the processor runs it.

    Parameters
    ----------
    environ : mapping, optional
        The environment to change (default ``os.environ``). It takes effect in processes
        started afterwards, and in this one only if OpenBLAS has not been loaded yet.
    cpuinfo : Path
        Linux's processor description, whose ``flags`` line must list ``avx2`` and ``fma``.

    Returns
    -------
    str or None
        The kernel now asked for (a value set beforehand is kept and returned), or ``None``
        where none is pinned: not x86-64 Linux, or a processor without AVX2 and FMA.
    """
    environ = os.environ if environ is None else environ
    if environ.get(BLAS_VARIABLE):
        return environ[BLAS_VARIABLE]
    if platform.machine() not in ("x86_64", "AMD64") or not _NEEDS <= _cpu_flags(cpuinfo):
        return None
    environ[BLAS_VARIABLE] = REFERENCE_CORE
    return REFERENCE_CORE


def running_core() -> str | None:
    """The kernel the OpenBLAS bundled with numpy runs in this process (``None`` if unknown)."""
    import numpy

    folder = Path(numpy.__file__).parent
    for path in sorted(glob.glob(str(folder.parent / "numpy.libs" / "*openblas*"))):
        library = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            function = getattr(library, symbol, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return None
