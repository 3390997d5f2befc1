"""The ``bench`` command: ``python -m plateau_lib bench anls|best-known``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from ..chapters.anls_benchmark import (
    BEST_KNOWN_PATH,
    DEFAULT_OUTPUT,
    FULL,
    PROBLEMS,
    QUICK,
    BenchProblem,
    BestKnownError,
    Suite,
    atomic_write,
    compute_best_known,
    format_table,
    load_best_known,
    run_benchmark,
    to_json,
    write_results,
)
from .cli import CommandFailed, UsageError, positive_int, register_command

__all__ = ["configure"]



def _select(names: Sequence[str] | None) -> tuple[BenchProblem, ...]:
    if not names:
        return PROBLEMS
    known = {p.name: p for p in PROBLEMS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown problem(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    return tuple(known[n] for n in names)


def _check_output_dir(path: Path) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--output must be a folder, got the file {path}")
    return path


def _bench_anls(args: argparse.Namespace) -> int:
    problems = _select(args.problems)
    output = _check_output_dir(args.output)
    base = QUICK if args.quick else FULL
    seeds = tuple(range(args.seeds)) if args.seeds is not None else base.seeds
    suite = Suite(base.name, problems, seeds, base.budgets, base.levels, base.methods)
    try:
        best = load_best_known(args.best_known, problems)
    except BestKnownError as err:
        raise CommandFailed(str(err)) from None
    doc = run_benchmark(suite, best, workers=args.workers, progress=not args.no_progress)
    paths = write_results(doc, output)
    print(format_table(doc))
    print(f"\nbench anls ({suite.name}): {len(doc['rows'])} runs in {doc['seconds']:.1f}s on {args.workers} "
          f"worker(s); wrote {', '.join(str(p) for p in paths)}")
    return 0


def _bench_best_known(args: argparse.Namespace) -> int:
    problems = _select(args.problems)
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"--output must be a file path, got the folder {out}")
    doc = compute_best_known(problems, restarts=args.restarts, workers=args.workers, progress=not args.no_progress)
    if out.exists() and args.problems:  # keep the other problems' entries
        try:
            old = json.loads(out.read_text())
            doc["problems"] = {**old.get("problems", {}), **doc["problems"]}
        except (OSError, ValueError):
            pass
    atomic_write(out, to_json(doc))
    for name, e in doc["problems"].items():
        print(f"{name}: best known {e['best_known']:.6g} ({e['source']}; LM best {e['lm_best']:.3g}, "
              f"ANLS+LM best {e['anls_lm_best']:.3g})")
    print(f"bench best-known: wrote {out} in {doc['seconds']:.1f}s")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` command: ``anls`` and ``best-known``."""
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    names = ", ".join(p.name for p in PROBLEMS)

    anls = sub.add_parser("anls", help="ANLS against GD, Adam, L-BFGS, LM and OGA on the benchmark suite")
    anls.add_argument("problems", nargs="*", metavar="PROBLEM", help=f"problems (default: all of {names})")
    anls.add_argument("--quick", action="store_true", help="3 seeds and smaller budgets (about 20 s)")
    anls.add_argument("--seeds", type=positive_int, help="number of seeds 0..N-1 (default: 10, quick: 3)")
    anls.add_argument("--workers", type=positive_int, default=2, help="worker processes (default: %(default)s)")
    anls.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                      help="folder for the results (default: %(default)s)")
    anls.add_argument("--best-known", type=Path, default=BEST_KNOWN_PATH,
                      help="best-known cache (default: %(default)s)")
    anls.add_argument("--no-progress", action="store_true", help="no progress bar")
    anls.set_defaults(handler=_bench_anls)

    best = sub.add_parser("best-known", help=f"recompute the cached best-known losses ({BEST_KNOWN_PATH.name})")
    best.add_argument("problems", nargs="*", metavar="PROBLEM", help=f"problems (default: all of {names})")
    best.add_argument("--restarts", type=positive_int, default=100, help="restarts per kind (default: %(default)s)")
    best.add_argument("--workers", type=positive_int, default=2, help="worker processes (default: %(default)s)")
    best.add_argument("--output", type=Path, default=BEST_KNOWN_PATH, help="cache file (default: %(default)s)")
    best.add_argument("--no-progress", action="store_true", help="no progress bar")
    best.set_defaults(handler=_bench_best_known)


register_command("bench", help="benchmarks: ANLS against its peers; best-known losses")(configure)
