"""The machine and library versions a measurement ran on, recorded beside every benchmark's timings."""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

from . import __version__

__all__ = ["cpu_name", "library_versions", "machine_record"]


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where available), recorded with timings."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    """The versions of Python, NumPy, SciPy and plateau_lib."""
    import scipy

    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "plateau_lib": __version__}


def machine_record() -> dict[str, Any]:
    """The CPU, its logical CPU count and the 1-minute load average when the measurement starts."""
    return {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}
