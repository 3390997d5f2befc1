r"""One ANLS sweep against its operation count: today's sweep per part (cProfile), the floor, 100 GD steps.

At each size (m, n, d) of :data:`SIZES` (issue 28's three), on one core, in the same run:

* ``gd``: the yardstick, ``train_gd(net, X, y, lr=LR, steps=100)`` as a user runs it;
* ``sweep``: one sweep of the default preset, ``train_anls(net1, X, y, sweeps=1)`` from the network
  ``net1`` one sweep reached (so the timed sweep is a second sweep, as in ``bench_anls_cost``);
* ``parts``: the same sweep under :mod:`cProfile`, its time split into the parts of
  :data:`PARTS`. Every profiled function's own time (``tottime``, numpy's C functions included)
  is charged to the nearest enclosing function that names a part, following the profile's call
  graph (a function called from several parts is split in proportion to its time under each
  caller). What no part encloses is ``set-up`` (validation, the first evaluation, the sweep
  loop). cProfile adds overhead per call, so the parts are reported as *shares* of the profiled
  sweep and, scaled by them, as seconds of the unprofiled one;
* ``floor``: the operation count of the sweep (``benchmarks/README.md``, "One sweep against its
  operation count"), executed: per neuron the target update and its projection onto the other
  features, the projection :math:`Xw`, the direction fit (:math:`d > 1`), the stable sort, the
  prefix sums, the sorted block sums of the basis for the joint gain (every position in 1-D,
  every 16th with the bound's sums in :math:`d > 1`), the extension of the basis by the new
  feature, the new residual by an :math:`O(m)` update and a rank-one update of the basis; per
  sweep the pattern solve (Gram matrix and Cholesky of the frozen-pattern design) and the closing
  evaluation. Each as one numpy call on arrays of the right size: what the count costs in numpy
  on this machine, not a reimplementation of the search (its results are discarded).

Each size is measured ``--repeats`` times (the four alternated) and the medians are printed.

Run (``nice``: the machine is shared)::

    nice -n 10 .venv/bin/python -m benchmarks.bench_sweep_parts                # three sizes, 3 repeats
    nice -n 10 .venv/bin/python -m benchmarks.bench_sweep_parts --quick        # small sizes, 1 repeat
    nice -n 10 .venv/bin/python -m benchmarks.bench_sweep_parts --json benchmarks/results/sweep_parts.json
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one core, set before numpy loads BLAS (an import by the tests leaves it alone)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import cProfile  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402
from scipy.linalg.blas import dger  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402

import plateau_lib  # noqa: E402
from plateau_lib import figures  # noqa: E402
from plateau_lib.command_line import ArgumentParser, positive_int  # noqa: E402
from plateau_lib.network import augment, evaluate, init_network  # noqa: E402
from plateau_lib.trainers import _anls_linalg, anls, anls_moves, anls_neuron, anls_threshold  # noqa: E402
from plateau_lib.trainers.anls import train_anls  # noqa: E402
from plateau_lib.trainers.first_order import train_gd  # noqa: E402

SIZES: tuple[tuple[int, int, int], ...] = ((10_000, 100, 3), (10_000, 200, 1), (1_000, 40, 3))
QUICK_SIZES: tuple[tuple[int, int, int], ...] = ((2_000, 30, 3), (2_000, 40, 1))
LR = 1e-2
GD_STEPS = 100
INIT_SCALE = 0.5
BLOCK = 16  # the knot spacing of the pruned search in d > 1 (anls' SEARCH_BLOCK)
SET_UP = "set-up (validation, first evaluation, loop)"

#: part -> the functions whose own time, and that of everything they call that names no part, is the part's.
PARTS: dict[str, tuple[object, ...]] = {
    "target update (in _visit)": (anls_neuron._visit, _anls_linalg.FeatureBasis.target_coords),
    "direction fit (d > 1)": (anls_neuron._directions,),
    "projection Xw + proposal": (anls_neuron._propose, anls_neuron._search_one),
    "sort + prefix sums": (anls_threshold._Sorted.__init__,),
    "joint-gain forms of Q": (_anls_linalg.knot_forms, _anls_linalg.block_forms, _anls_linalg.full_forms,
                              _anls_linalg.sums_at, anls_neuron._State.forms_1d),
    "candidate scores + bounds": (anls_threshold._search_full, anls_threshold._search_pruned),
    "leave-one-out (n x n LU)": (_anls_linalg.FeatureBasis.leave_one_out, _anls_linalg.FeatureBasis.q),
    "output-weight solve": (_anls_linalg.FeatureBasis.extension, _anls_linalg.FeatureBasis.solve_replacing),
    "new residual (A @ c)": (anls_neuron._State.residual_with,),
    "basis update (rank one)": (_anls_linalg.FeatureBasis.replace, anls_neuron._State.commit),
    "basis build (pivoted QR)": (_anls_linalg.FeatureBasis.__init__,),
    "unclear-rank fallback": (anls_neuron._visit_exact,),
    "pattern solve": (anls_moves._pattern_solve,),
    "pair moves": (anls_moves._pair_move,),
    "close sweep (balance, evaluate)": (anls._close_sweep,),
}


def _key(fn) -> tuple[str, int, str]:
    code = fn.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


OWNER: dict[tuple[str, int, str], str] = {_key(fn): part for part, fns in PARTS.items() for fn in fns}


def split_profile(stats: pstats.Stats) -> dict[str, float]:
    """Own time of every profiled function charged to its nearest enclosing part (see the module docstring)."""
    table = stats.stats  # func -> (cc, nc, tt, ct, callers{caller: (cc, nc, tt, ct)})
    shares: dict[tuple, dict[str, float]] = {}

    def share(func, depth: int = 0) -> dict[str, float]:
        if func in OWNER:
            return {OWNER[func]: 1.0}
        if func in shares:
            return shares[func]
        callers = table[func][4] if func in table else {}
        weights = {c: v[3] for c, v in callers.items() if c != func}
        total = sum(weights.values())
        out: dict[str, float] = defaultdict(float)
        if depth > 60 or total <= 0:
            out[SET_UP] = 1.0
        else:
            for caller, w in weights.items():
                for part, f in share(caller, depth + 1).items():
                    out[part] += f * w / total
        shares[func] = dict(out)
        return shares[func]

    parts: dict[str, float] = defaultdict(float)
    for func, (_, _, tt, _, _) in table.items():
        for part, f in share(func).items():
            parts[part] += tt * f
    return dict(parts)


def make_problem(m: int, n: int, d: int):
    """X uniform on [-1, 1]^d, y = sum_k sin(pi x_k), a seeded network of scale 0.5 (as bench_anls_cost)."""
    rng = np.random.default_rng(20_241 + 7 * m + 3 * n + d)
    X = rng.uniform(-1.0, 1.0, (m, d))
    y = np.sin(np.pi * X).sum(axis=1)
    return init_network(n, d, scale=INIT_SCALE, rng=rng), X, y


def _block_sums(order: np.ndarray, ps: np.ndarray, m: int):
    """The sparse (2K x m) matrix whose product with Q gives the sums of Q and p Q over the K sorted blocks."""
    bounds = np.append(np.arange(0, m, BLOCK), m)
    indptr = np.concatenate([bounds, m + bounds[1:]])
    return csr_matrix((np.concatenate([np.ones(m), ps]), np.concatenate([order, order]), indptr),
                      shape=(len(indptr) - 1, m))


def floor_sweep(net, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
    """Seconds of the operation count of one sweep, executed as numpy calls (results discarded).

    Per neuron three passes over the m x n basis Q (``Q @ g``, ``Q @ coef`` and the in-place
    rank-one update, BLAS ``dger``) and in d > 1 a fourth, the sparse product giving the sorted
    block sums; everything else is O(m log m), O(m d^2) or O(n^2). The coefficients of the new
    feature come from the sums at its threshold, not from a product with Q.
    """
    m, d = X.shape
    n = net.n
    Xt = augment(X)
    ev = evaluate(net.c, net.W, net.b, X, y)
    A = np.maximum(ev.Z, 0.0)
    Q = np.ascontiguousarray(np.linalg.qr(A)[0])  # the basis kept from the last sweep (not timed); C order:
    QT = Q.T  # rows gathered in sorted order are contiguous; QT, its Fortran-order view, for BLAS dger
    S = Q.T @ A
    Qty = Q.T @ y
    c, r = net.c.copy(), ev.r.copy()
    w = rng.standard_normal((n, d))
    start = time.perf_counter()
    one_d = _floor_1d_forms(X, Q) if d == 1 else None
    for j in range(n):
        _floor_neuron(j, X, Xt, A, (Q, QT, S, Qty), c, r, w, one_d)
    Phi = (ev.active[:, :, None] * Xt[:, None, :]).reshape(m, -1)  # the pattern solve
    gram = Phi.T @ Phi + np.eye(Phi.shape[1])
    np.linalg.cholesky(gram)
    evaluate(net.c, net.W, net.b, X, y)  # the evaluation closing the sweep
    return time.perf_counter() - start


def _floor_1d_forms(X: np.ndarray, Q: np.ndarray) -> tuple:
    """1-D: one sorted order for every neuron (p = +-x), the sort and the forms of Q once per sweep."""
    order = np.argsort(X[:, 0], kind="stable")
    ps = X[order, 0]
    Qs = Q[order]
    F, G = np.cumsum(Qs, axis=0), np.cumsum(Qs * ps[:, None], axis=0)
    forms = [np.einsum("ij,ij->i", F, F), np.einsum("ij,ij->i", G, G), np.einsum("ij,ij->i", F, G)]
    return order, ps, F, G, forms


def _floor_neuron(j: int, X: np.ndarray, Xt: np.ndarray, A: np.ndarray, basis: tuple, c: np.ndarray,
                  r: np.ndarray, w: np.ndarray, one_d: tuple | None) -> None:
    """The operation count of one kept neuron update (:func:`floor_sweep`), results discarded."""
    Q, QT, S, Qty = basis
    m, d = X.shape
    t = c[j] * A[:, j] - r  # target update
    g = Qty - S @ c + c[j] * S[:, j]  # its coordinates, from S = Q^T A
    t_perp = t - Q @ g  # projected onto the complement (pass 1)
    if one_d is None:  # direction fit on the active data, the projection, the sort
        act = A[:, j] > 0
        np.linalg.lstsq(Xt[act], t[act], rcond=None)
        p = X @ w[j]
        order = np.argsort(p, kind="stable")
        ps = p[order]
    else:
        order, ps, F, G, forms = one_d
        p = X[:, 0]
    ts = t_perp[order]
    np.cumsum(np.stack([np.ones(m), ps, ps * ps, ts, ps * ts]), axis=1)  # prefix sums
    k = m // 2  # the chosen threshold (values irrelevant)
    if one_d is None:  # sorted block sums of Q and p Q at the knots (pass 2), their forms
        sums = _block_sums(order, ps, m) @ Q
        K = sums.shape[0] // 2
        Fk, Gk = np.cumsum(sums[:K], axis=0), np.cumsum(sums[K:], axis=0)
        np.einsum("ij,ij->i", Fk, Fk) + np.einsum("ij,ij->i", Gk, Gk)
        coef = Gk[-1] - Gk[k // BLOCK] - ps[k] * (Fk[-1] - Fk[k // BLOCK])
    else:
        coef = G[-1] - G[k] - ps[k] * (F[-1] - F[k])
    phi = np.maximum(p - ps[k], 0.0)  # the chosen feature
    q_new = phi - Q @ coef  # its new direction (pass 3)
    q_new /= np.linalg.norm(q_new)
    r_new = -(t_perp - (q_new @ t_perp) * q_new)  # new residual, O(m) from the projected target
    dger(1e-12, coef, q_new, a=QT, overwrite_a=True)  # rank-one update of Q in place (pass 4)
    S[:, j] = coef
    if one_d is not None:  # the forms change by those of one direction: its prefix sums, O(m)
        f, h = np.cumsum(q_new[order]), np.cumsum(q_new[order] * ps)
        forms[0] += f * f
        forms[1] += h * h
        forms[2] += f * h
        F[:, j] += f
        G[:, j] += h
    _ = r_new


def measure(m: int, n: int, d: int, repeats: int) -> dict:
    """Medians over ``repeats`` of the yardstick, the sweep, the floor and the profiled sweep's parts."""
    net, X, y = make_problem(m, n, d)
    net1 = train_anls(net, X, y, sweeps=1).net
    samples: dict[str, list[float]] = defaultdict(list)
    parts: dict[str, list[float]] = defaultdict(list)
    for k in range(repeats):
        t0 = time.perf_counter()
        train_gd(net, X, y, lr=LR, steps=GD_STEPS)
        samples["gd"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = train_anls(net1, X, y, sweeps=1)
        samples["sweep"].append(time.perf_counter() - t0)
        samples["floor"].append(floor_sweep(net1, X, y, np.random.default_rng(k)))
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.runcall(train_anls, net1, X, y, sweeps=1)
        samples["profiled"].append(time.perf_counter() - t0)
        split = split_profile(pstats.Stats(prof))
        total = sum(split.values())
        for part in [*PARTS, SET_UP]:
            parts[part].append(split.get(part, 0.0) / total)
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {"m": m, "n": n, "d": d, "gd_100_steps_s": med["gd"], "sweep_s": med["sweep"], "floor_s": med["floor"],
            "profiled_sweep_s": med["profiled"], "part_shares": {p: statistics.median(v) for p, v in parts.items()},
            "samples": {k: v for k, v in samples.items()}, "updates_kept": int(res.extra["update_accepted"].sum())}


def markdown(rows: list[dict]) -> str:
    """A column per size; rows: the yardstick, the sweep, the floor, then each part (share, seconds, / 100 GD)."""
    lines = ["| | " + " | ".join(f"({r['m']:,}, {r['n']}, {r['d']})" for r in rows) + " |",
             "|---|" + "---:|" * len(rows)]

    def ms(s: float, r: dict) -> str:
        return f"{s * 1e3:,.1f} ms ({s / r['gd_100_steps_s']:.2f})"

    lines.append("| **100 GD steps** | " + " | ".join(f"{r['gd_100_steps_s'] * 1e3:,.1f} ms" for r in rows) + " |")
    lines.append("| **one sweep (/ 100 GD)** | " + " | ".join(ms(r["sweep_s"], r) for r in rows) + " |")
    lines.append("| **operation count, executed** | " + " | ".join(ms(r["floor_s"], r) for r in rows) + " |")
    lines.append("| sweep / operation count | " + " | ".join(f"{r['sweep_s'] / r['floor_s']:.1f}" for r in rows) + " |")
    profiled = " | ".join(f"{r['profiled_sweep_s'] * 1e3:,.1f} ms" for r in rows)
    lines.append(f"| sweep under cProfile | {profiled} |")
    for part in rows[0]["part_shares"]:
        cells = [f"{r['part_shares'][part]:.0%}: {ms(r['part_shares'][part] * r['sweep_s'], r)}" for r in rows]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m benchmarks.bench_sweep_parts",
                            description="One ANLS sweep per part and its operation count, against 100 GD steps.")
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
        r = rows[-1]
        print(f"  ({m}, {n}, {d}): sweep {r['sweep_s']:.3f} s, floor {r['floor_s']:.3f} s, "
              f"100 GD steps {r['gd_100_steps_s']:.3f} s", file=sys.stderr, flush=True)
    print(f"# One ANLS sweep (default preset) per part and its operation count, against {GD_STEPS} GD steps; "
          f"one thread; load average {load:.2f} at start; median of {repeats}\n")
    print(markdown(rows))
    if args.json is not None:
        payload = {"benchmark": "one ANLS sweep per part and its operation count against 100 GD steps, one thread",
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
