r"""One full-batch gradient-descent step: plateau_lib (NumPy) against PyTorch eager on the CPU.

A step is the work :func:`plateau_lib.train_gd` does per iteration: the loss, the
activation pattern and the gradient at the current parameters (one forward and one
backward pass), the check that the loss is finite, the comparison of the pattern
with the previous step's (pattern-change detection) and the in-place update
:math:`\theta \leftarrow \theta - \eta\nabla L`.

Timed per size (m data points, width n, input dimension d), all in float64:

* ``evaluate+update``: :func:`plateau_lib.network.evaluate`, ``np.array_equal`` of
  consecutive patterns, ``c -= lr*gc`` etc. (the bare step);
* ``train_gd``: a whole :func:`plateau_lib.train_gd` run divided by its number of steps,
  with ``record_every`` equal to that number, so it records at the first and last step
  and at every pattern change (the recorder's bookkeeping, validation and result are
  included, amortised);
* ``train_gd (record_every=1)``: the same with the default, recording every step;
* ``torch autograd``: ``loss.backward()`` and a manual SGD update under ``torch.no_grad()``;
* ``torch manual``: the same gradient written by hand (under ``torch.inference_mode()``).

Both torch steps also compare ``z > 0`` with the previous pattern (``torch.equal``) and
read the loss (``.item()``) for the finiteness check, so every variant does the same work.
Before timing, the gradients of all variants are checked against each other
(``np.testing.assert_allclose``) and so are the patterns.

Timing is timeit-style: a warm-up run, a number of steps per repeat chosen so that a
repeat lasts about ``--target`` seconds, several repeats interleaved across the variants
(so a load spike hits all of them), and the median over repeats. Each repeat starts
from the same initial network. The ratio columns are torch time / plateau_lib time:
above 1 means plateau_lib is faster.

Threads: NumPy's elementwise operations are single-threaded and its matrix products use
OpenBLAS with its own thread count; ``torch.set_num_threads`` is set to that same number
(``--threads N`` sets both). PyTorch is optional (``pip install torch==2.13.0``, the
``bench`` extra): without it the torch columns are skipped with a message.

Run::

    .venv/bin/python -m benchmarks.bench_gd_step [--quick] [--json PATH] [--threads N]
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import glob
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

import plateau_lib
from plateau_lib import figures, init_network, train_gd
from plateau_lib.command_line import ArgumentParser, positive_int
from plateau_lib.machine import cpu_name
from plateau_lib.network import evaluate

SIZES: tuple[tuple[int, int, int], ...] = ((41, 10, 1), (101, 20, 1), (400, 50, 2), (2500, 50, 2), (10_000, 100, 2))
LR = 1e-2
INIT_SCALE = 0.5
FULL = {"repeats": 7, "target": 0.2}
QUICK = {"repeats": 3, "target": 0.02}

Runner = Callable[[int], float]  # run(k): do k steps from the initial network, return seconds


# ----------------------------------------------------------------------------- arguments





def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="python -m benchmarks.bench_gd_step",
        description="Time one full-batch GD step of plateau_lib against PyTorch eager (CPU, float64).",
    )
    parser.add_argument("--quick", action="store_true", help="3 short repeats per variant instead of 7 longer ones")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="threads for NumPy's OpenBLAS and for torch (default: OpenBLAS's current setting)")
    parser.add_argument("--repeats", type=positive_int, metavar="R", help="repeats per variant (median reported)")
    parser.add_argument("--target", type=_positive_float, metavar="SECONDS", help="approximate duration of one repeat")
    args = parser.parse_args(argv)
    if args.json is not None:
        folder = os.path.dirname(os.path.abspath(args.json))
        if not args.json or os.path.isdir(args.json) or not os.path.isdir(folder):
            parser.error(f"--json: cannot write a file at {args.json!r}")
    return args


# ------------------------------------------------------------------------------ threads


class _OpenBLAS:
    """ctypes access to the OpenBLAS that NumPy loaded (thread count), if it can be found."""

    _PREFIXES = ("scipy_openblas_", "openblas_")
    _SUFFIXES = ("64_", "_64_", "")

    def __init__(self) -> None:
        self.get: Callable[[], int] | None = None
        self.set: Callable[[int], None] | None = None
        self.path: str | None = None
        for path in self._candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix in self._PREFIXES:
                for suffix in self._SUFFIXES:
                    get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, put.restype = ctypes.c_int, None
                        put.argtypes = [ctypes.c_int]
                        self.get, self.set, self.path = get, put, path
                        return

    @staticmethod
    def _candidates() -> list[str]:
        found = []
        try:  # the libraries this process has mapped (Linux)
            with open("/proc/self/maps") as maps:
                for line in maps:
                    path = line.split()[-1]
                    if "openblas" in os.path.basename(path).lower() and path not in found:
                        found.append(path)
        except OSError:
            pass
        libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        found += [p for p in sorted(glob.glob(os.path.join(libs, "*openblas*"))) if p not in found]
        return found

    def threads(self) -> int | None:
        return int(self.get()) if self.get is not None else None


# ----------------------------------------------------------------------------- problems


def make_problem(m: int, n: int, d: int) -> dict:
    """Data on [-1, 1]^d, a smooth target and a small random network (fixed seed)."""
    rng = np.random.default_rng(12345 + 7 * m + 3 * n + d)
    X = rng.uniform(-1.0, 1.0, (m, d))
    y = np.sin(np.pi * X).sum(axis=1)
    net = init_network(n, d, scale=INIT_SCALE, rng=rng)
    return {"X": X, "y": y, "net": net, "m": m, "n": n, "d": d}


def plateau_raw(p: dict) -> Runner:
    """evaluate + pattern comparison + in-place update (the body of train_gd's loop)."""
    X, y, net = p["X"], p["y"], p["net"]

    def run(k: int) -> float:
        c, W, b = net.c.copy(), net.W.copy(), net.b.copy()
        previous, changes = None, 0
        start = time.perf_counter()
        for _ in range(k):
            ev = evaluate(c, W, b, X, y)
            if not math.isfinite(ev.loss):
                break
            if previous is not None and not np.array_equal(ev.active, previous):
                changes += 1
            previous = ev.active
            c -= LR * ev.gc
            W -= LR * ev.gW
            b -= LR * ev.gb
        return time.perf_counter() - start

    return run


def plateau_train_gd(p: dict, *, every_step: bool) -> Runner:
    X, y, net = p["X"], p["y"], p["net"]

    def run(k: int) -> float:
        start = time.perf_counter()
        result = train_gd(net, X, y, lr=LR, steps=k, record_every=1 if every_step else k)
        elapsed = time.perf_counter() - start
        if not result.completed:
            raise RuntimeError(f"train_gd failed during the benchmark: {result.message}")
        return elapsed

    return run


def torch_runners(torch, p: dict) -> dict[str, Runner]:
    """The autograd and the hand-written PyTorch steps."""
    X = torch.tensor(p["X"], dtype=torch.float64)
    y = torch.tensor(p["y"], dtype=torch.float64)
    net, m = p["net"], p["m"]
    F = torch.nn.functional

    def autograd(k: int) -> float:
        params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (net.c, net.W, net.b)]
        c, W, b = params
        previous, changes = None, 0
        start = time.perf_counter()
        for _ in range(k):
            z = F.linear(X, W, b)  # X @ W.T + b
            r = torch.relu(z) @ c - y
            loss = r.dot(r) / (2 * m)
            for q in params:
                q.grad = None
            loss.backward()
            if not math.isfinite(loss.item()):
                break
            with torch.no_grad():
                for q in params:
                    q -= LR * q.grad
            active = z.detach() > 0
            if previous is not None and not torch.equal(active, previous):
                changes += 1
            previous = active
        return time.perf_counter() - start

    def manual(k: int) -> float:
        c, W, b = (torch.tensor(a, dtype=torch.float64) for a in (net.c, net.W, net.b))
        previous, changes = None, 0
        with torch.inference_mode():
            start = time.perf_counter()
            for _ in range(k):
                z = F.linear(X, W, b)
                active = z > 0
                a = torch.relu(z)
                r = a @ c - y
                if not math.isfinite((r.dot(r) / (2 * m)).item()):
                    break
                g = active * r[:, None]  # D_ij r_i
                scale = c / m
                gc = (a.T @ r) / m
                gW = (g.T @ X) * scale[:, None]
                gb = g.sum(dim=0) * scale
                c -= LR * gc
                W -= LR * gW
                b -= LR * gb
                if previous is not None and not torch.equal(active, previous):
                    changes += 1
                previous = active
            return time.perf_counter() - start

    return {"torch autograd": autograd, "torch manual": manual}


def check_agreement(torch, p: dict) -> None:
    """plateau_lib, torch autograd and torch by hand: same loss, pattern and gradient at the start."""
    X, y, net, m = p["X"], p["y"], p["net"], p["m"]
    ev = evaluate(net.c, net.W, net.b, X, y)
    ours = np.concatenate([ev.gc, ev.gW.ravel(), ev.gb])
    tol = {"rtol": 1e-10, "atol": 1e-12 * max(1.0, float(np.abs(ours).max()))}

    Xt, yt = torch.tensor(X), torch.tensor(y)
    c, W, b = (torch.tensor(a, requires_grad=True) for a in (net.c, net.W, net.b))
    z = torch.nn.functional.linear(Xt, W, b)
    r = torch.relu(z) @ c - yt
    loss = r.dot(r) / (2 * m)
    loss.backward()
    theirs = torch.cat([c.grad, W.grad.ravel(), b.grad]).numpy()
    np.testing.assert_allclose(loss.item(), ev.loss, rtol=1e-12, err_msg="loss: plateau_lib vs torch")
    np.testing.assert_array_equal((z > 0).numpy(), ev.active, err_msg="pattern: plateau_lib vs torch")
    np.testing.assert_allclose(theirs, ours, **tol, err_msg="gradient: plateau_lib vs torch autograd")

    with torch.no_grad():
        zd = z.detach()
        active, a, rd = zd > 0, torch.relu(zd), r.detach()
        g = active * rd[:, None]
        scale = c.detach() / m
        by_hand = torch.cat([(a.T @ rd) / m, ((g.T @ Xt) * scale[:, None]).ravel(), g.sum(dim=0) * scale])
    np.testing.assert_allclose(by_hand.numpy(), ours, **tol, err_msg="gradient: plateau_lib vs torch by hand")


# ------------------------------------------------------------------------------- timing


def calibrate(run: Runner, target: float) -> int:
    """Steps per repeat so that one repeat takes about ``target`` seconds (after a warm-up)."""
    run(2)
    k, elapsed = 1, run(1)
    while elapsed < target / 10 and k < 1_000_000:
        k *= 10
        elapsed = run(k)
    return max(1, min(1_000_000, round(k * target / max(elapsed, 1e-9))))


def time_variants(runners: dict[str, Runner], repeats: int, target: float) -> dict[str, dict]:
    steps = {name: calibrate(run, target) for name, run in runners.items()}
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):  # interleaved: a burst of load hits every variant alike
        for name, run in runners.items():
            samples[name].append(run(steps[name]) / steps[name] * 1e6)
    return {
        name: {"median_us": statistics.median(v), "min_us": min(v), "steps_per_repeat": steps[name], "samples_us": v}
        for name, v in samples.items()
    }


# ------------------------------------------------------------------------------- output

COLUMNS = ("evaluate+update", "train_gd", "train_gd (record_every=1)", "torch autograd", "torch manual")


def _us(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _ratio(torch_us: float | None, ours_us: float) -> str:
    return "—" if torch_us is None else f"{torch_us / ours_us:.2f}"


def markdown_table(rows: list[dict]) -> str:
    head = (
        "| m | n | d | evaluate+update | train_gd | train_gd (record_every=1) | torch autograd | torch manual "
        "| autograd / ours | manual / ours | best torch / train_gd |"
    )
    lines = [head, "|" + "---:|" * 11]
    for row in rows:
        med = {name: (row["timings"][name]["median_us"] if name in row["timings"] else None) for name in COLUMNS}
        torch_times = [t for t in (med["torch autograd"], med["torch manual"]) if t is not None]
        best = min(torch_times) if torch_times else None
        lines.append(
            f"| {row['m']:,} | {row['n']} | {row['d']} | "
            + " | ".join(_us(med[name]) for name in COLUMNS)
            + f" | {_ratio(med['torch autograd'], med['evaluate+update'])}"
            f" | {_ratio(med['torch manual'], med['evaluate+update'])}"
            f" | {_ratio(best, med['train_gd'])} |"
        )
    return "\n".join(lines)


def write_json(path: str, payload: dict) -> None:
    """Write ``payload`` as JSON to ``path`` atomically (:func:`plateau_lib.figures.atomic_write`)."""
    text = json.dumps(payload, indent=2) + "\n"
    figures.atomic_write(path, lambda fh: fh.write(text.encode()))



# --------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.repeats is not None:
        settings["repeats"] = args.repeats
    if args.target is not None:
        settings["target"] = args.target

    load_at_start = os.getloadavg()[0]
    blas = _OpenBLAS()
    if args.threads is not None:
        if blas.set is None:
            print("note: NumPy's OpenBLAS not found; --threads only sets torch's threads", file=sys.stderr)
        else:
            blas.set(args.threads)
    threads = args.threads or blas.threads() or os.cpu_count() or 1

    try:
        import torch
    except ImportError:
        torch = None
        print(
            "PyTorch is not installed: skipping the torch columns "
            "(install the optional extra with `.venv/bin/pip install torch==2.13.0`).",
            file=sys.stderr,
        )
    if torch is not None:
        torch.set_num_threads(threads)

    print(
        f"# One full-batch GD step, plateau_lib {plateau_lib.__version__} (NumPy {np.__version__})"
        + (f" vs PyTorch {torch.__version__} eager" if torch is not None else " (PyTorch not installed)")
        + ", CPU, float64",
        flush=True,
    )
    print(
        f"\n{cpu_name()}, {os.cpu_count()} logical CPUs; threads: NumPy/OpenBLAS {blas.threads() or 'unknown'}"
        + (f", torch {torch.get_num_threads()}" if torch is not None else "")
        + f"; load average {load_at_start:.2f}; median of {settings['repeats']} repeats of "
        f"~{settings['target']:g} s; lr={LR:g}; times in µs per step; ratios are torch / plateau_lib "
        "(> 1: plateau_lib is faster).\n",
        flush=True,
    )

    if load_at_start > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {load_at_start:.2f} on {os.cpu_count()} CPUs: other processes compete "
              "for the cores and the timings (multi-threaded ones above all) are unreliable", file=sys.stderr)

    rows = []
    for m, n, d in SIZES:
        problem = make_problem(m, n, d)
        runners: dict[str, Runner] = {
            "evaluate+update": plateau_raw(problem),
            "train_gd": plateau_train_gd(problem, every_step=False),
            "train_gd (record_every=1)": plateau_train_gd(problem, every_step=True),
        }
        if torch is not None:
            check_agreement(torch, problem)
            runners.update(torch_runners(torch, problem))
        timings = time_variants(runners, settings["repeats"], settings["target"])
        rows.append({"m": m, "n": n, "d": d, "timings": timings})
        print(f"  measured (m, n, d) = ({m}, {n}, {d})", file=sys.stderr, flush=True)

    print(markdown_table(rows))

    if args.json is not None:
        write_json(args.json, {
            "benchmark": "one full-batch GD step: plateau_lib vs PyTorch eager (CPU, float64)",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average_1min_at_start": load_at_start},
            "versions": {"python": platform.python_version(), "numpy": np.__version__,
                         "plateau_lib": plateau_lib.__version__,
                         "torch": torch.__version__ if torch is not None else None},
            "threads": {"numpy_openblas": blas.threads(), "torch": torch.get_num_threads() if torch else None},
            "settings": {**settings, "quick": args.quick, "lr": LR, "init_scale": INIT_SCALE},
            "ratio_meaning": "torch time / plateau_lib time; > 1 means plateau_lib is faster",
            "results": rows,
        })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
