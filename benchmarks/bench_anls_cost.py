r"""The cost of one ANLS sweep against the problem size, with a gradient step for scale.

Times one sweep of :func:`plateau_lib.train_anls` with its default preset (``"joint"``: joint gain,
continuous thresholds in 1-D and data thresholds for d > 1, the frozen-pattern solve, pair moves)
and one full-batch gradient evaluation (:func:`plateau_lib.network.evaluate`: loss, pattern and
gradient, the work of one gradient-descent step), on one core, along three axes:

* ``m`` (data points) in 10^2 .. 10^5 at n = 50, d = 2;
* ``n`` (width) in 10 .. 400 at m = 2000, d = 2 (m small enough that the widest run takes seconds);
* ``d`` (input dimension) in 1 .. 10 at m = 10^4, n = 50;

and at the goal size (m, n, d) = (10^4, 100, 3), where one sweep should take at most 0.5 s.

A run is ``train_anls(net, X, y, sweeps=3)`` from a fresh network; the time of a sweep is the
difference of consecutive entries of ``result.times`` from the second sweep on, so the set-up
(first evaluation, first basis) and the first sweep, which moves every neuron from its random
start, are excluded. Each size is run ``--repeats`` times (fresh data and network drawn from the
same seeds, so the same run; no new run once a size has taken ``RUN_BUDGET`` seconds, so the
largest sizes run once) and the median over all measured sweeps is reported. A run that
stops before its third sweep (a fixed point) contributes the sweeps it has. The gradient step is
timed over repeated calls (the median of several batches).

Data: X uniform on [-1, 1]^d, y = sum_k sin(pi x_k) (smooth), the network from
:func:`plateau_lib.network.init_network` (scale 0.5), all from seeded ``numpy.random.Generator``s.
The fitted slopes are least-squares lines through (log size, log time) per axis
(``numpy.polyfit``); the complexity statement of :mod:`plateau_lib.trainers.anls` predicts a
sweep of :math:`O(n\,m\log m + m n^2)`: slope about 1 in m, between 1 and 2 in n.

Outputs: a Markdown table on stdout (progress on stderr); ``--json PATH`` (default
``plateau_lib/chapters/results/anls_cost.json``, the package data Chapter 4 reads) with every
sample, the medians, slopes, settings and versions, written atomically; ``--figure PATH``
(default ``benchmarks/results/anls_cost.png``), three log-log panels. With ``--quick`` (a tiny
grid, no goal size) nothing is written unless ``--json`` or ``--figure`` is given.

Run::

    .venv/bin/python -m benchmarks.bench_anls_cost            # full grid, about 5 minutes
    .venv/bin/python -m benchmarks.bench_anls_cost --quick    # a tiny grid, about 20 s
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import plateau_lib
from plateau_lib import figures
from plateau_lib.command_line import ArgumentParser, positive_int
from plateau_lib.machine import cpu_name
from plateau_lib.network import evaluate, init_network
from plateau_lib.parallel import limit_blas_threads
from plateau_lib.trainers.anls import preset_options, train_anls

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
#: The default results file: the package data Chapter 4 reads (``anls_race_results.COST_PATH``).
COST_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plateau_lib", "chapters",
                         "results", "anls_cost.json")
GOAL = {"m": 10_000, "n": 100, "d": 3, "seconds": 0.5}
INIT_SCALE = 0.5
SWEEPS = 3
#: No further repeat of a size once its runs have taken this long (seconds): the largest sizes run once.
RUN_BUDGET = 15.0

FULL = {
    "m": {"values": (100, 1_000, 10_000, 100_000), "fixed": {"n": 50, "d": 2}},
    "n": {"values": (10, 25, 50, 100, 200, 400), "fixed": {"m": 2_000, "d": 2}},
    "d": {"values": (1, 2, 3, 5, 10), "fixed": {"m": 10_000, "n": 50}},
}
QUICK = {
    "m": {"values": (100, 1_000), "fixed": {"n": 10, "d": 2}},
    "n": {"values": (10, 25), "fixed": {"m": 500, "d": 2}},
    "d": {"values": (1, 2), "fixed": {"m": 500, "n": 10}},
}


@dataclass
class Point:
    """One problem size and its timings (seconds)."""

    m: int
    n: int
    d: int
    sweep_s: list[float] = field(default_factory=list)
    grad_s: float = math.nan
    kept_fraction: list[float] = field(default_factory=list)

    @property
    def sweep_median(self) -> float:
        return statistics.median(self.sweep_s) if self.sweep_s else math.nan

    def as_dict(self) -> dict:
        return {"m": self.m, "n": self.n, "d": self.d, "sweep_s": self.sweep_s, "sweep_median_s": self.sweep_median,
                "grad_step_s": self.grad_s, "kept_fraction": self.kept_fraction}


def make_problem(m: int, n: int, d: int):
    """Data on [-1, 1]^d, a smooth target and a random network (seeded by the size)."""
    rng = np.random.default_rng(20_240 + 7 * m + 3 * n + d)
    X = rng.uniform(-1.0, 1.0, (m, d))
    y = np.sin(np.pi * X).sum(axis=1)
    return init_network(n, d, scale=INIT_SCALE, rng=rng), X, y


def time_sweeps(point: Point, repeats: int, budget: float = RUN_BUDGET) -> None:
    """Sweeps 2..SWEEPS of up to ``repeats`` fresh runs of the default preset (no new run after ``budget`` s)."""
    start = time.perf_counter()
    for _ in range(repeats):
        if point.sweep_s and time.perf_counter() - start > budget:
            break
        net, X, y = make_problem(point.m, point.n, point.d)
        res = train_anls(net, X, y, sweeps=SWEEPS)
        point.sweep_s += [float(t) for t in np.diff(res.times)[1:]]
        ex = res.extra
        for s in range(2, res.nit + 1):
            rows = ex["update_sweep"] == s
            point.kept_fraction.append(float(ex["update_accepted"][rows].mean()) if rows.any() else 0.0)


def time_gradient(point: Point, target: float) -> None:
    """Median time of one ``evaluate`` call (batches lasting about ``target`` seconds)."""
    net, X, y = make_problem(point.m, point.n, point.d)
    c, W, b = net.c.copy(), net.W.copy(), net.b.copy()
    evaluate(c, W, b, X, y)
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < target / 5 or calls < 3:
        evaluate(c, W, b, X, y)
        calls += 1
    per = (time.perf_counter() - start) / calls
    k = max(1, int(target / per))
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(k):
            evaluate(c, W, b, X, y)
        samples.append((time.perf_counter() - t0) / k)
    point.grad_s = statistics.median(samples)


def slope(xs, ts) -> float:
    """Least-squares slope of log t against log x (NaN with fewer than two points)."""
    xs, ts = np.asarray(xs, float), np.asarray(ts, float)
    ok = np.isfinite(ts) & (ts > 0)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(xs[ok]), np.log(ts[ok]), 1)[0])


def _fmt(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def markdown(axes: dict[str, list[Point]], slopes: dict[str, dict[str, float]], goal: Point | None) -> str:
    lines = ["| axis | m | n | d | time per sweep | time per gradient step | sweep / step | kept updates |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for axis, points in axes.items():
        for p in points:
            ratio = p.sweep_median / p.grad_s if p.grad_s > 0 else math.nan
            kept = f"{100 * statistics.mean(p.kept_fraction):.0f} %" if p.kept_fraction else "—"
            lines.append(f"| {axis} | {p.m:,} | {p.n} | {p.d} | {_fmt(p.sweep_median)} | {_fmt(p.grad_s)} "
                         f"| {ratio:,.0f} | {kept} |")
    lines += ["", "| axis | fitted slope, sweep | fitted slope, gradient step |", "|---|---:|---:|"]
    for axis, s in slopes.items():
        lines.append(f"| {axis} | {s['sweep']:.2f} | {s['grad']:.2f} |")
    if goal is None:
        return "\n".join(lines + ["", "Goal size not measured (--quick)."])
    met = goal.sweep_median <= GOAL["seconds"]
    lines += ["", f"Goal: one sweep at (m, n, d) = ({goal.m:,}, {goal.n}, {goal.d}) in at most {GOAL['seconds']} s on "
              f"one core: measured {_fmt(goal.sweep_median)} (median of {len(goal.sweep_s)} sweeps, "
              f"gradient step {_fmt(goal.grad_s)}): **{'met' if met else 'not met'}**."]
    return "\n".join(lines)


def draw(axes: dict[str, list[Point]], slopes: dict[str, dict[str, float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(1, 3, figsize=(12, 3.8), constrained_layout=True)
    for ax, (axis, points) in zip(panels, axes.items(), strict=True):
        xs = [getattr(p, axis) for p in points]
        ax.loglog(xs, [p.sweep_median for p in points], "o-", color="C3",
                  label=f"ANLS sweep (slope {slopes[axis]['sweep']:.2f})")
        ax.loglog(xs, [p.grad_s for p in points], "s--", color="C0",
                  label=f"gradient step (slope {slopes[axis]['grad']:.2f})")
        fixed = ", ".join(f"{k} = {v:,}" for k, v in (("m", points[0].m), ("n", points[0].n), ("d", points[0].d))
                          if k != axis)
        ax.set(xlabel=axis, ylabel="seconds", title=f"against {axis} ({fixed})")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    figures.atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m benchmarks.bench_anls_cost",
                            description="Time one ANLS sweep (default preset) and one gradient step against m, n, d.")
    parser.add_argument("--quick", action="store_true", help="a tiny grid and one repeat (about 20 s)")
    parser.add_argument("--repeats", type=positive_int, metavar="R", help="runs per size (default 3, quick 1)")
    parser.add_argument("--json", metavar="PATH",
                        help="results file (default: plateau_lib/chapters/results/anls_cost.json; none with --quick)")
    parser.add_argument("--figure", metavar="PATH",
                        help="figure file (default: benchmarks/results/anls_cost.png; none with --quick)")
    args = parser.parse_args(argv)
    for name, default in (("json", COST_JSON), ("figure", os.path.join(RESULTS, "anls_cost.png"))):
        path = getattr(args, name)
        if path is None and not args.quick:
            setattr(args, name, default)
        elif path is not None and (not path or os.path.isdir(path)
                                   or not os.path.isdir(os.path.dirname(os.path.abspath(path)))):
            parser.error(f"--{name}: cannot write a file at {path!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    grid = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    threads = limit_blas_threads(1)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    print(f"# One ANLS sweep (default preset 'joint') and one gradient step, plateau_lib {plateau_lib.__version__}, "
          f"one thread\n\n{cpu_name()}, {os.cpu_count()} logical CPUs, load average {load:.2f} at start; median "
          f"over sweeps 2-{SWEEPS} of up to {repeats} run(s) per size; preset options for d = 2: "
          f"{preset_options('joint', 2)}.\n",
          flush=True)
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load:.2f}: other processes compete for the cores, timings are noisy",
              file=sys.stderr)
    axes: dict[str, list[Point]] = {}
    for axis, spec in grid.items():
        axes[axis] = []
        for value in spec["values"]:
            point = Point(**({axis: value} | spec["fixed"]))
            time_sweeps(point, repeats)
            time_gradient(point, 0.05 if args.quick else 0.2)
            axes[axis].append(point)
            print(f"  {axis}: (m, n, d) = ({point.m}, {point.n}, {point.d}) sweep {_fmt(point.sweep_median)}, "
                  f"gradient step {_fmt(point.grad_s)}", file=sys.stderr, flush=True)
    goal = None
    if not args.quick:
        goal = Point(GOAL["m"], GOAL["n"], GOAL["d"])
        time_sweeps(goal, repeats)
        time_gradient(goal, 0.2)
    slopes = {axis: {"sweep": slope([getattr(p, axis) for p in pts], [p.sweep_median for p in pts]),
                     "grad": slope([getattr(p, axis) for p in pts], [p.grad_s for p in pts])}
              for axis, pts in axes.items()}
    print(markdown(axes, slopes, goal))
    payload = {
        "benchmark": "one ANLS sweep (default preset) and one gradient step against m, n, d, one thread",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_1min_at_start": load, "openblas_libraries_limited": threads},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "plateau_lib": plateau_lib.__version__},
        "settings": {"quick": args.quick, "repeats": repeats, "run_budget_s": RUN_BUDGET, "sweeps_per_run": SWEEPS,
                     "init_scale": INIT_SCALE,
                     "grid": grid, "timed": "sweeps 2.. of each run (differences of result.times)"},
        "results": {axis: [p.as_dict() for p in pts] for axis, pts in axes.items()},
        "slopes": slopes,
        "goal": None if goal is None else {**GOAL, "measured": goal.as_dict(),
                                           "met": goal.sweep_median <= GOAL["seconds"]},
        "wall_time_s": time.perf_counter() - started,
    }
    if args.json is not None:
        text = json.dumps(payload, indent=2) + "\n"
        figures.atomic_write(args.json, lambda fh: fh.write(text.encode()))
        print(f"wrote {args.json}", file=sys.stderr)
    if args.figure is not None:
        draw(axes, slopes, args.figure)
        print(f"wrote {args.figure}", file=sys.stderr)
    print(f"{payload['wall_time_s']:.0f} s in all", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
