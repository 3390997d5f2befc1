r"""Stacked gradient descent against the same runs one at a time, measured in the same process.

:func:`plateau_lib.trainers.stacked.train_gd_stack` trains ``S`` networks of one shape on one data
set with one array pass per step; the peer is ``[train_gd(net, ...) for net in nets]``, which gives
the same results bit for bit (checked here before timing, on every recorded array). Reported per
(experiment, S): the median wall time over interleaved repeats of each, and the ratio
one-at-a-time / stacked (above 1: the stack is faster). The networks are the experiment's initial
networks of seeds ``0 .. S-1`` at initial scales cycling through :math:`10^{-1}, \dots, 10^{-6}` (a
regime sweep's mix), trained with the experiment's step size and ``record_every``.

Run::

    .venv/bin/python -m benchmarks.bench_stacked [--quick] [--steps N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from plateau_lib.experiments import get_experiment
from plateau_lib.trainers.first_order import train_gd
from plateau_lib.trainers.stacked import train_gd_stack

CASES = (("plateau_1d", 4), ("plateau_1d", 14), ("plateau_1d", 28), ("plateau_1d", 56), ("plateau_2d", 5),
         ("plateau_2d", 10))
RECORDED = ("steps", "loss", "counts", "params", "pattern_changes", "flips")


def _setup(name: str, size: int):
    experiment = get_experiment(name)
    X, y = experiment.data()
    nets = [experiment.initial_network(seed, scale=10.0 ** -(1 + seed % 6)) for seed in range(size)]
    options = {"lr": experiment.options["lr"], "record_every": experiment.record_every}
    return nets, X, y, options


def _check_equal(nets, X, y, options, steps: int) -> None:
    together = train_gd_stack(nets, X, y, steps=steps, **options)
    for net, stacked in zip(nets, together, strict=True):
        alone = train_gd(net, X, y, steps=steps, **options)
        for field in RECORDED:
            np.testing.assert_array_equal(getattr(stacked, field), getattr(alone, field), err_msg=field)


def measure(name: str, size: int, steps: int, repeats: int) -> dict[str, float]:
    """Median seconds of both ways over ``repeats`` interleaved repeats, and their ratio."""
    nets, X, y, options = _setup(name, size)
    _check_equal(nets, X, y, options, min(steps, 300))
    alone, stacked = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for net in nets:
            train_gd(net, X, y, steps=steps, **options)
        alone.append(time.perf_counter() - start)
        start = time.perf_counter()
        train_gd_stack(nets, X, y, steps=steps, **options)
        stacked.append(time.perf_counter() - start)
    a, s = statistics.median(alone), statistics.median(stacked)
    return {"one_at_a_time_s": a, "stacked_s": s, "ratio": a / s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_stacked", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 steps, 2 repeats (a smoke test)")
    parser.add_argument("--steps", type=int, default=4000, help="steps per run (default 4000)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default 3)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be positive integers")
    steps, repeats = (500, 2) if args.quick else (args.steps, args.repeats)
    print("| experiment | S | one at a time (s) | stacked (s) | ratio |\n|---|---:|---:|---:|---:|")
    for name, size in CASES:
        row = measure(name, size, steps, repeats)
        print(f"| {name} | {size} | {row['one_at_a_time_s']:.3f} | {row['stacked_s']:.3f} | {row['ratio']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
