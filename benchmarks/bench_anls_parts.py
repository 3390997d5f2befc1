r"""Where the time of one ANLS sweep goes, per part, against 100 gradient-descent steps in the same run.

At each size (m, n, d) of :data:`SIZES` (the three of issue 28) the script times, on one core:

* the yardstick: ``train_gd(net, X, y, lr=LR, steps=100)`` with its defaults (as a user runs it);
* one sweep of the default preset: ``train_anls(net1, X, y, sweeps=1)`` from the network
  ``net1`` that one sweep from the random start reached (so the timed sweep is the second of a run,
  as in ``bench_anls_cost``), with every function of the sweep listed in :data:`PARTS` wrapped by a
  timer that records its *exclusive* time (time in a nested timed function is charged to that
  one). What no part claims is the per-neuron glue (``glue``: the target, the projection
  :math:`Xw`, Python between the calls) and, outside the sweep, validation and the first
  evaluation (``outside``).

Each size is measured ``--repeats`` times (sweep and yardstick alternated, so load hits both) and
the medians are reported, as seconds and as a fraction of the yardstick. The wrappers cost about a
microsecond per call (a few hundred calls per neuron at most), which the ``sweep, unwrapped`` row
(the same sweep timed without wrappers) shows.

Run::

    .venv/bin/python -m benchmarks.bench_anls_parts              # the three sizes, 3 repeats
    .venv/bin/python -m benchmarks.bench_anls_parts --quick      # small sizes, one repeat
    .venv/bin/python -m benchmarks.bench_anls_parts --json benchmarks/results/anls_cost_parts.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core: before numpy loads BLAS
    os.environ[_var] = "1"

import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import numpy as np  # noqa: E402

import plateau_lib  # noqa: E402
from plateau_lib import figures  # noqa: E402
from plateau_lib.book.cli import ArgumentParser, positive_int  # noqa: E402
from plateau_lib.network import init_network  # noqa: E402
from plateau_lib.trainers import _anls_linalg, anls, anls_moves, anls_neuron, anls_threshold  # noqa: E402
from plateau_lib.trainers.anls import train_anls  # noqa: E402
from plateau_lib.trainers.first_order import train_gd  # noqa: E402

SIZES: tuple[tuple[int, int, int], ...] = ((10_000, 100, 3), (10_000, 200, 1), (1_000, 40, 3))
QUICK_SIZES: tuple[tuple[int, int, int], ...] = ((2_000, 30, 3), (2_000, 40, 1))
#: Goal of issue 28 per size: one sweep at most this many times 100 GD steps.
GOALS = {(10_000, 100, 3): 0.5, (10_000, 200, 1): 1.0, (1_000, 40, 3): 1.0}
LR = 1e-2
GD_STEPS = 100
INIT_SCALE = 0.5

#: (part, owner object, attribute): each attribute is wrapped by the exclusive timer of its part.
PARTS: tuple[tuple[str, object, str], ...] = (
    ("sort + prefix sums", anls_threshold._Sorted, "__init__"),
    ("direction fit", anls_neuron, "_directions"),
    ("basis forms (joint gain)", _anls_linalg, "knot_forms"),
    ("basis forms (joint gain)", _anls_linalg, "block_forms"),
    ("basis forms (joint gain)", _anls_linalg, "full_forms"),
    ("basis forms (joint gain)", _anls_linalg, "sums_at"),
    ("basis forms (joint gain)", anls_neuron._State, "forms_1d"),
    ("candidate scores", anls_neuron, "_search_full"),
    ("candidate scores", anls_neuron, "_search_pruned"),
    ("leave-one-out (z)", _anls_linalg.FeatureBasis, "leave_one_out"),
    ("leave-one-out (z)", _anls_linalg.FeatureBasis, "q"),
    ("target coordinates", _anls_linalg.FeatureBasis, "target_coords"),
    ("output-weight solve", _anls_linalg.FeatureBasis, "extension"),
    ("output-weight solve", _anls_linalg.FeatureBasis, "solve_replacing"),
    ("new residual", anls_neuron._State, "residual_with"),
    ("basis update", _anls_linalg.FeatureBasis, "replace"),
    ("basis update", anls_neuron._State, "commit"),
    ("basis build (QR)", _anls_linalg.FeatureBasis, "build"),
    ("unclear-rank fallback", anls_neuron, "_visit_exact"),
    ("pattern solve", anls, "_pattern_solve"),
    ("balance + evaluate", anls, "_close_sweep"),
    ("pair moves", anls, "_pair_move"),
    ("glue", anls, "_visit"),
    ("glue", anls_neuron, "_propose"),
    ("glue", anls_neuron, "_search_one"),
)
_ = anls_moves  # the pair moves' own functions run inside ``_pair_move``


class ExclusiveTimer:
    """Exclusive wall time per part: a stack of running timed calls, each charged its own time only."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list] = []  # [part, start, time in nested timed calls]

    def wrap(self, part: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            self._stack.append([part, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                name, start, nested = self._stack.pop()
                spent = time.perf_counter() - start
                self.totals[name] += spent - nested
                self.calls[name] += 1
                if self._stack:
                    self._stack[-1][2] += spent

        return timed


@contextmanager
def timed_parts(timer: ExclusiveTimer) -> Iterator[None]:
    """Every attribute of :data:`PARTS` wrapped for the ``with`` block, restored after."""
    saved = []
    for part, owner, name in PARTS:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        saved.append((owner, name, original))
        setattr(owner, name, timer.wrap(part, original))
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def make_problem(m: int, n: int, d: int):
    """Data uniform on [-1, 1]^d, y = sum sin(pi x_k), a random network: as ``bench_anls_cost``."""
    rng = np.random.default_rng(20_240 + 7 * m + 3 * n + d)
    X = rng.uniform(-1.0, 1.0, (m, d))
    y = np.sin(np.pi * X).sum(axis=1)
    return init_network(n, d, scale=INIT_SCALE, rng=rng), X, y


def _seconds(fn: Callable[[], object], target: float = 0.02) -> float:
    """Median seconds of one call of ``fn`` (batches of about ``target`` seconds, five of them)."""
    fn()
    t0, calls = time.perf_counter(), 0
    while time.perf_counter() - t0 < target / 4 or calls < 2:
        fn()
        calls += 1
    k = max(1, int(target * calls / (time.perf_counter() - t0)))
    out = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        out.append((time.perf_counter() - t0) / k)
    return statistics.median(out)


def floor_parts(net, X, y) -> dict[str, float]:
    r"""The operation count of one sweep (``benchmarks/README.md``), each part timed as the numpy/BLAS calls it needs.

    Per neuron (times n): the target and its projection (``Q @ g``, an O(m) update), the
    projection :math:`Xw` and, for d > 1, the direction fit (least squares on an m x (d+1)
    matrix), the stable sort (d > 1; once per sweep in 1-D), the prefix sums (10 cumulative sums of
    length m), the joint-gain forms (d > 1: one pass over Q for the sorted block sums; 1-D: four
    cumulative sums of length m and ``Q @ z``), the output-weight solve as a rank-one update
    (two n x n matrix-vector products), the basis update (one rank-one ``dger`` on Q) and the new
    residual (one ``A @ c``). Per sweep: the pattern solve (Gram matrix of the m x n(d+1)
    frozen-pattern design, its Cholesky factor, one evaluation), the basis build (QR of A) and the
    closing evaluation. ``Q`` is a dense m x n orthonormal stand-in; values are discarded.
    """
    from scipy.linalg import qr as sla_qr
    from scipy.linalg.blas import dger

    from plateau_lib.network import augment, evaluate

    m, d = X.shape
    n = net.n
    rng = np.random.default_rng(0)
    ev = evaluate(net.c, net.W, net.b, X, y)
    A = np.maximum(ev.Z, 0.0)
    Q = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((m, n)))[0])
    g, z, c, u = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
    Sn = rng.standard_normal((n, n))
    Xt = augment(X)
    p = X @ rng.standard_normal(d)
    rows = rng.standard_normal((5, m))
    block = np.ones((2 * (-(-m // 16)), m)) / m
    per_neuron = {
        "target update + projection": _seconds(lambda: (Q @ g, u - u)),
        "projection Xw (+ direction fit)": _seconds(lambda: (X @ z[:d], d > 1 and np.linalg.lstsq(Xt, u, rcond=None))),
        "sort": _seconds(lambda: np.argsort(p, kind="stable")) if d > 1 else 0.0,
        "prefix sums": 2 * _seconds(lambda: np.cumsum(rows, axis=1)),
        "joint-gain forms": (_seconds(lambda: Q.T @ block[:2].T) if d > 1
                             else _seconds(lambda: (Q @ z, np.cumsum(rows[:4], axis=1)))),
        "output-weight solve (rank-one update)": _seconds(lambda: (Sn @ g, Sn.T @ z)),
        "basis update (rank one)": _seconds(lambda: dger(1e-300, z, u, a=Q.T, overwrite_a=True)),
        "new residual": _seconds(lambda: A @ c),
    }
    out = {k: n * v for k, v in per_neuron.items()}
    if d == 1:
        out["sort"] = _seconds(lambda: np.argsort(p, kind="stable"))
    Phi = (ev.active[:, :, None] * Xt[:, None, :]).reshape(m, -1)
    gram = Phi.T @ Phi + np.eye(Phi.shape[1])
    out["pattern solve (Gram, Cholesky, one evaluation)"] = (
        _seconds(lambda: Phi.T @ Phi) + _seconds(lambda: np.linalg.cholesky(gram))
        + _seconds(lambda: evaluate(net.c, net.W, net.b, X, y)))
    out["basis build (QR) + closing evaluation"] = (_seconds(lambda: sla_qr(A, mode="economic"))
                                                    + _seconds(lambda: evaluate(net.c, net.W, net.b, X, y)))
    return out


def measure(m: int, n: int, d: int, repeats: int) -> dict:
    """Medians over ``repeats`` of the yardstick, the unwrapped sweep and each part of the wrapped sweep."""
    net, X, y = make_problem(m, n, d)
    net1 = train_anls(net, X, y, sweeps=1).net
    gd, bare, total, parts = [], [], [], defaultdict(list)
    for _ in range(repeats):
        t0 = time.perf_counter()
        train_gd(net, X, y, lr=LR, steps=GD_STEPS)
        gd.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        train_anls(net1, X, y, sweeps=1)
        bare.append(time.perf_counter() - t0)
        timer = ExclusiveTimer()
        with timed_parts(timer):
            t0 = time.perf_counter()
            res = train_anls(net1, X, y, sweeps=1)
            total.append(time.perf_counter() - t0)
        claimed = sum(timer.totals.values())
        for part in dict.fromkeys(p for p, _, _ in PARTS):
            parts[part].append(timer.totals.get(part, 0.0))
        parts["outside"].append(total[-1] - claimed)
    med = {k: statistics.median(v) for k, v in parts.items()}
    floor = floor_parts(net1, X, y)
    return {"m": m, "n": n, "d": d, "gd_100_steps_s": statistics.median(gd), "sweep_s": statistics.median(bare),
            "sweep_wrapped_s": statistics.median(total), "parts_s": med, "floor_s": floor,
            "floor_total_s": sum(floor.values()), "samples": {"gd": gd, "sweep": bare},
            "updates_kept": int(res.extra["update_accepted"].sum()), "goal_ratio": GOALS.get((m, n, d))}


def markdown(rows: list[dict]) -> str:
    """One table: a column per size, a row per part (seconds, and the ratio to 100 GD steps)."""
    head = "| part | " + " | ".join(f"({r['m']:,}, {r['n']}, {r['d']})" for r in rows) + " |"
    lines = [head, "|---|" + "---:|" * len(rows)]

    def cell(seconds: float, r: dict) -> str:
        return f"{seconds * 1e3:,.1f} ms ({seconds / r['gd_100_steps_s']:.2f})"

    lines.append("| **100 GD steps** | " + " | ".join(f"{r['gd_100_steps_s'] * 1e3:,.0f} ms" for r in rows) + " |")
    lines.append("| **sweep, unwrapped** | " + " | ".join(cell(r["sweep_s"], r) for r in rows) + " |")
    lines.append("| sweep, wrapped | " + " | ".join(cell(r["sweep_wrapped_s"], r) for r in rows) + " |")
    for part in rows[0]["parts_s"]:
        lines.append(f"| {part} | " + " | ".join(cell(r["parts_s"][part], r) for r in rows) + " |")
    lines.append("| **operation count, executed** | " + " | ".join(cell(r["floor_total_s"], r) for r in rows) + " |")
    for part in rows[0]["floor_s"]:
        lines.append(f"| count: {part} | " + " | ".join(cell(r["floor_s"][part], r) for r in rows) + " |")
    lines.append("| sweep / operation count | " + " | ".join(f"{r['sweep_s'] / r['floor_total_s']:.1f}" for r in rows)
                 + " |")
    def verdict(r: dict) -> str:
        if r["goal_ratio"] is None:
            return "—"
        return f"≤ {r['goal_ratio']}: {'met' if r['sweep_s'] / r['gd_100_steps_s'] <= r['goal_ratio'] else 'not met'}"

    goals = " | ".join(verdict(r) for r in rows)
    lines.append(f"| goal (sweep / 100 GD steps) | {goals} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m benchmarks.bench_anls_parts",
                            description="Time one ANLS sweep per part against 100 GD steps, one core.")
    parser.add_argument("--quick", action="store_true", help="two small sizes, one repeat")
    parser.add_argument("--repeats", type=positive_int, metavar="R", help="repeats per size (default 3, quick 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the results here (atomically)")
    args = parser.parse_args(argv)
    if args.json is not None and (not args.json or os.path.isdir(args.json)
                                  or not os.path.isdir(os.path.dirname(os.path.abspath(args.json)))):
        parser.error(f"--json: cannot write a file at {args.json!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    repeats = args.repeats or (1 if args.quick else 3)
    load = os.getloadavg()[0]
    rows = []
    for m, n, d in sizes:
        rows.append(measure(m, n, d, repeats))
        print(f"  ({m}, {n}, {d}): sweep {rows[-1]['sweep_s']:.3f} s, 100 GD steps {rows[-1]['gd_100_steps_s']:.3f} s",
              file=sys.stderr, flush=True)
    print(f"# One ANLS sweep (default preset) per part, against {GD_STEPS} GD steps; one thread; load average "
          f"{load:.2f} at start; median of {repeats}\n")
    print(markdown(rows))
    if args.json is not None:
        payload = {"benchmark": "one ANLS sweep per part against 100 GD steps, one thread",
                   "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                   "machine": {"platform": platform.platform(), "logical_cpus": os.cpu_count(),
                               "load_average_1min_at_start": load},
                   "threads": "OMP/OPENBLAS/MKL_NUM_THREADS=1 set before numpy is imported",
                   "versions": {"python": platform.python_version(), "numpy": np.__version__,
                                "plateau_lib": plateau_lib.__version__},
                   "settings": {"repeats": repeats, "lr": LR, "gd_steps": GD_STEPS, "init_scale": INIT_SCALE},
                   "results": rows}
        text = json.dumps(payload, indent=2) + "\n"
        figures.atomic_write(args.json, lambda fh: fh.write(text.encode()))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
