r"""The first ANLS sweep from the race's initial networks against 100 GD steps from the same network.

For each ``problem:restart`` asked for (a problem of :data:`plateau_lib.chapters.anls_race.PROBLEMS`
and a restart index, whose initialisation is ``RESTART_SCHEMES[restart % 3]``: 0 small scale, 1
unit scale, 2 uniform breakpoints or lazy), on one thread, in the same run:

* ``gd100``: ``train(net, X, y, "gd", budget=100, lr=0.1)``, the yardstick;
* ``sweep``: ``train_anls(net, X, y, sweeps=1)``, one default sweep from the same network (the
  first sweep, which from a small initialisation meets nearly dependent features);

and prints one JSON line per pair with both times, their ratio and the sweep's final loss. This is
the measurement of ``benchmarks/README.md``, *Third round*; to compare two versions of the code,
run it on each tree in turn (``PYTHONPATH=OLD_TREE``)::

    .venv/bin/python -m benchmarks.bench_first_sweep wave_packet_1d:0 wave_packet_1d:1 chirp_1d:0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __name__ == "__main__":  # one core, set before numpy loads BLAS
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

from plateau_lib.chapters.anls_race import PROBLEMS, restart_network
from plateau_lib.command_line import ArgumentParser
from plateau_lib.parallel import limit_blas_threads
from plateau_lib.trainers import train, train_anls

#: The gradient-descent step size of the race (chosen on its tuning problems).
GD_LR = 0.1


def problem_restart(text: str) -> tuple[str, int]:
    """Parse ``problem:restart`` (argparse type); a clear error for an unknown problem or a bad index."""
    name, _, restart = text.partition(":")
    names = [p.name for p in PROBLEMS]
    if name not in names:
        raise argparse.ArgumentTypeError(f"unknown problem {name!r}; known: {', '.join(names)}")
    if not restart.isdigit():
        raise argparse.ArgumentTypeError(f"restart must be a non-negative integer after ':', got {text!r}")
    return name, int(restart)


def measure(name: str, restart: int) -> dict[str, float | int | str]:
    """Time 100 GD steps, then one default ANLS sweep, from restart ``restart``'s network of ``name``."""
    problem = next(p for p in PROBLEMS if p.name == name)
    X, y = problem.data()
    net, _ = restart_network(problem, 0, restart)
    start = time.perf_counter()
    train(net, X, y, "gd", budget=100, lr=GD_LR)
    gd100 = time.perf_counter() - start
    start = time.perf_counter()
    res = train_anls(net, X, y, sweeps=1)
    sweep = time.perf_counter() - start
    return {"problem": name, "restart": restart, "m": problem.m, "n": problem.width, "d": problem.d,
            "gd100": gd100, "sweep": sweep, "ratio": sweep / gd100, "loss": float(res.loss[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.bench_first_sweep",
                            description="Time the first default ANLS sweep against 100 GD steps on race problems.")
    parser.add_argument("pairs", nargs="+", type=problem_restart, metavar="PROBLEM:RESTART")
    args = parser.parse_args(argv)
    limit_blas_threads(1)
    for name, restart in args.pairs:
        print(json.dumps(measure(name, restart)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
