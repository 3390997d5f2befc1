r"""Do ANLS runs come out bit for bit the same as a recorded run of another version of the code?

Speed-ups of the sweep (``benchmarks/README.md``, *The operation count of one ANLS sweep*) must
not change what a sweep chooses. This script runs a fixed list of seeded :func:`train_anls`
runs (:data:`CASES`: every search path of the trainer, the fast basis path and the
straightforward one, 1-D continuous thresholds, data thresholds with the pruned search in
d = 2 and 3, the design preset, bounded moves, random order, pair moves, and the six tuning
problems of the race) and either records their final parameters, loss histories, update rows
and evaluation counts (``record PATH``) or compares them with a recording (``compare PATH``),
reporting every array that differs and its largest difference. Exit status 0 when all are
identical, 1 otherwise. ``--large`` adds two sweeps at each of issue 28's three sizes
(:data:`LARGE_SIZES`, the problem of ``bench_sweep_parts``), about a minute more.

Run on one thread, so that BLAS sums in the same order both times::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.anls_identity record /tmp/anls_before.npz
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.anls_identity compare /tmp/anls_before.npz
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.anls_identity --large record PATH
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from plateau_lib.network import init_network
from plateau_lib.trainers.anls import train_anls

#: (name, (m, n, d), seed, train_anls options); the data are :func:`problem`'s.
CASES: tuple[tuple[str, tuple[int, int, int], int, dict[str, Any]], ...] = (
    ("fast_1d", (3000, 40, 1), 1, {"sweeps": 6}),
    ("fast_2d", (3000, 40, 2), 2, {"sweeps": 6}),
    ("fast_3d", (4000, 30, 3), 3, {"sweeps": 5}),
    ("fast_5d", (2000, 30, 5), 4, {"sweeps": 4}),
    ("small_1d", (200, 8, 1), 5, {"sweeps": 15}),
    ("small_2d", (300, 10, 2), 6, {"sweeps": 15}),
    ("design_2d", (2000, 30, 2), 7, {"sweeps": 5, "preset": "design"}),
    ("joint_cont_2d", (2000, 25, 2), 8, {"sweeps": 4, "thresholds": "continuous"}),
    ("fit_current_3d", (2000, 25, 3), 9, {"sweeps": 4, "directions": "fit+current"}),
    ("bounded_2d", (2000, 25, 2), 10, {"sweeps": 4, "bounded_moves": 50}),
    ("random_order_1d", (2000, 30, 1), 11, {"sweeps": 4, "order": "random", "rng": 5}),
    ("residual_order_2d", (2000, 30, 2), 12, {"sweeps": 4, "order": "largest_residual"}),
    ("polish_1d", (1500, 20, 1), 13, {"sweeps": 4, "polish_steps": 3}),
    ("pairs_1d", (400, 12, 1), 14, {"sweeps": 40}),
    ("goal_small_3d", (1000, 40, 3), 15, {"sweeps": 4}),
    ("wide_1d", (2000, 80, 1), 16, {"sweeps": 3}),
)
#: The tuning problems of the race (default preset), by name, with their sweeps.
TUNING_SWEEPS = 12
#: ``--large``: issue 28's three sizes (m, n, d), two default sweeps each.
LARGE_SIZES: tuple[tuple[int, int, int], ...] = ((1_000, 40, 3), (10_000, 200, 1), (10_000, 100, 3))


def problem(m: int, n: int, d: int, seed: int):
    """Data uniform on [-1, 1]^d, a target with kinks and curvature, a random network (all seeded)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (m, d))
    y = np.sin(2.5 * X).sum(axis=1) + np.abs(X[:, 0] - 0.3) + 0.05 * rng.standard_normal(m)
    return init_network(n, d, scale=0.5, rng=rng), X, y


def _tuning_runs():
    from plateau_lib.chapters.anls_race import TUNING, restart_network

    for p in TUNING:
        X, y = p.data()
        for restart in (0, 1):
            net, _ = restart_network(p, 0, restart)
            yield f"tuning_{p.name}_{restart}", net, X, y, {"sweeps": TUNING_SWEEPS}


def _large_runs():
    from benchmarks.bench_sweep_parts import make_problem

    for m, n, d in LARGE_SIZES:
        net, X, y = make_problem(m, n, d)
        yield f"large_{m}_{n}_{d}", net, X, y, {"sweeps": 2}


def runs(large: bool = False):
    """Every (name, net, X, y, options) to run (``large``: with :data:`LARGE_SIZES`)."""
    for name, (m, n, d), seed, opts in CASES:
        net, X, y = problem(m, n, d, seed)
        opts = dict(opts)
        if "rng" in opts:
            opts["rng"] = np.random.default_rng(opts["rng"])
        yield name, net, X, y, opts
    yield from _tuning_runs()
    if large:
        yield from _large_runs()


def outputs(large: bool = False) -> dict[str, np.ndarray]:
    """The arrays a run must reproduce, keyed ``<case>/<array>``."""
    out: dict[str, np.ndarray] = {}
    for name, net, X, y, opts in runs(large):
        res = train_anls(net, X, y, **opts)
        ex = res.extra
        arrays = {"theta": res.net.to_vector(), "loss": res.loss, "steps": res.steps, "params": res.params,
                  "counts": [res.nfev, res.njev, res.nit], "pattern_changes": res.pattern_changes,
                  "update_neuron": ex["update_neuron"], "update_accepted": ex["update_accepted"],
                  "update_loss": ex["update_loss"], "pair_moves": ex["pair_moves"],
                  "nfev_per_sweep": ex["nfev_per_sweep"], "njev_per_sweep": ex["njev_per_sweep"]}
        for key, value in arrays.items():
            out[f"{name}/{key}"] = np.asarray(value)
        print(f"{name}: {res.nit} sweeps, loss {res.loss[-1]:.6e}, {res.status}", file=sys.stderr, flush=True)
    return out


def compare(recorded: dict[str, np.ndarray], now: dict[str, np.ndarray]) -> list[str]:
    """Lines naming every array that differs (shape, dtype or any bit)."""
    bad = [f"{k}: missing now" for k in recorded if k not in now]
    bad += [f"{k}: not recorded" for k in now if k not in recorded]
    for k in recorded.keys() & now.keys():
        a, b = recorded[k], now[k]
        if a.shape != b.shape or a.dtype != b.dtype:
            bad.append(f"{k}: shape/dtype {a.shape} {a.dtype} -> {b.shape} {b.dtype}")
        elif not np.array_equal(a, b):
            diff = np.max(np.abs(a.astype(float) - b.astype(float)))
            bad.append(f"{k}: differs, largest difference {diff:.3e}")
    return sorted(bad)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    large = "--large" in args
    if large:
        args.remove("--large")
    if len(args) != 2 or args[0] not in ("record", "compare"):
        print("usage: python -m benchmarks.anls_identity [--large] {record|compare} PATH", file=sys.stderr)
        return 2
    action, path = args
    if action == "compare" and not os.path.isfile(path):
        print(f"no recording at {path!r}", file=sys.stderr)
        return 2
    now = outputs(large)
    if action == "record":
        tmp = path + ".tmp.npz"
        np.savez(tmp, **now)
        os.replace(tmp, path)
        print(f"recorded {len(now)} arrays to {path}")
        return 0
    with np.load(path) as fh:
        recorded = {k: fh[k] for k in fh.files}
    bad = compare(recorded, now)
    for line in bad:
        print(line)
    print(f"{len(recorded)} arrays recorded, {len(bad)} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
