"""The ``bench`` command: ``python -m plateau_lib bench anls|best-known|race``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from pathlib import Path

from ..chapters import anls_race, anls_race_results
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
from ..command_line import positive_float, positive_int
from ..parallel import CONNECT_TIMEOUT, ExecutorUnavailable, open_executor, worker_count
from .cli import CommandFailed, UsageError, register_command

__all__ = ["add_executor_arguments", "configure", "open_executor_from_args"]

#: The executors a bench command can run on (``--executor``).
EXECUTORS = ("processes", "dask")


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


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers``, ``--executor``, ``--scheduler`` and ``--connect-timeout``: where a bench command runs its tasks.

    The handler opens the executor with :func:`open_executor_from_args`.
    """
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="worker processes, local or of the local Dask cluster (default: %(default)s)")
    parser.add_argument("--executor", choices=EXECUTORS, default=None,
                        help="local processes, or Dask distributed: a local cluster, or the cluster "
                             "of --scheduler (default: processes; dask with --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the existing Dask cluster whose scheduler is at ADDRESS, e.g. "
                             "tcp://host:8786 (implies --executor dask)")
    parser.add_argument("--connect-timeout", type=positive_float, default=CONNECT_TIMEOUT, metavar="SECONDS",
                        help="give up reaching the --scheduler after SECONDS (default: %(default)g)")


@contextlib.contextmanager
def open_executor_from_args(args: argparse.Namespace) -> Iterator[Executor]:
    """The executor of :func:`add_executor_arguments`' options, closed on exit.

    An executor that cannot be opened (Dask missing, scheduler unreachable) is a
    :class:`UsageError`: one line, exit status 2, before any task has run.
    """
    kind = args.executor or ("dask" if args.scheduler else "processes")
    if args.scheduler is not None and kind != "dask":
        raise UsageError(f"--scheduler runs on Dask: it cannot be combined with --executor {kind}")
    with contextlib.ExitStack() as stack:
        try:
            executor = stack.enter_context(open_executor(kind, workers=args.workers, scheduler=args.scheduler,
                                                         connect_timeout=args.connect_timeout))
        except (ExecutorUnavailable, ValueError) as err:
            raise UsageError(str(err)) from None
        yield executor


def _where(executor: Executor, args: argparse.Namespace) -> str:
    n = worker_count(executor)
    workers = f"{n} worker(s)" if n is not None else "its workers"
    if args.scheduler:
        return f"{workers} of the Dask cluster at {args.scheduler}"
    return f"{workers} of a local Dask cluster" if args.executor == "dask" else workers


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
    with open_executor_from_args(args) as executor:
        where = _where(executor, args)
        doc = run_benchmark(suite, best, executor=executor, progress=not args.no_progress)
    paths = write_results(doc, output)
    print(format_table(doc))
    print(f"\nbench anls ({suite.name}): {len(doc['rows'])} runs in {doc['seconds']:.1f}s on {where}; "
          f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _bench_best_known(args: argparse.Namespace) -> int:
    problems = _select(args.problems)
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"--output must be a file path, got the folder {out}")
    with open_executor_from_args(args) as executor:
        where = _where(executor, args)
        doc = compute_best_known(problems, restarts=args.restarts, executor=executor,
                                 progress=not args.no_progress)
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
    print(f"bench best-known: wrote {out} in {doc['seconds']:.1f}s on {where}")
    return 0


def _bench_race(args: argparse.Namespace) -> int:
    base = anls_race.QUICK_RACE if args.quick else anls_race.FULL_RACE
    known = {p.name: p for p in anls_race.PROBLEMS}
    unknown = [n for n in args.problems if n not in known]
    if unknown:
        raise UsageError(f"unknown problem(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    problems = tuple(known[n] for n in args.problems) or base.problems
    seeds = tuple(range(args.seeds)) if args.seeds is not None else base.seeds
    if args.budget_scale is not None and not 0 < args.budget_scale < math.inf:
        raise UsageError(f"--budget-scale must be a positive finite number, got {args.budget_scale}")
    scale = base.budget_scale if args.budget_scale is None else args.budget_scale
    suite = dataclasses.replace(base, problems=problems, seeds=seeds, budget_scale=scale)
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"--output must be a file path, got the folder {out}")
    with open_executor_from_args(args) as executor:
        where = _where(executor, args)
        doc = anls_race.run_race(suite, executor=executor, progress=not args.no_progress)
    atomic_write(out, to_json(doc))
    print(anls_race_results.format_pivot(doc))
    for role in ("tuning", "held-out"):
        print(f"{role}: {anls_race.goal_summary(doc['goals'], role)}")
    print(f"\nbench race ({suite.name}): {len(doc['rows'])} tasks in {doc['seconds']:.1f}s on {where}; wrote {out}")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` command: ``anls`` and ``best-known``."""
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    names = ", ".join(p.name for p in PROBLEMS)

    anls = sub.add_parser("anls", help="ANLS against GD, Adam, L-BFGS, LM and OGA on the benchmark suite")
    anls.add_argument("problems", nargs="*", metavar="PROBLEM", help=f"problems (default: all of {names})")
    anls.add_argument("--quick", action="store_true", help="3 seeds and smaller budgets (about 20 s)")
    anls.add_argument("--seeds", type=positive_int, help="number of seeds 0..N-1 (default: 10, quick: 3)")
    add_executor_arguments(anls)
    anls.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                      help="folder for the results (default: %(default)s)")
    anls.add_argument("--best-known", type=Path, default=BEST_KNOWN_PATH,
                      help="best-known cache (default: %(default)s)")
    anls.add_argument("--no-progress", action="store_true", help="no progress bar")
    anls.set_defaults(handler=_bench_anls)

    best = sub.add_parser("best-known", help=f"recompute the cached best-known losses ({BEST_KNOWN_PATH.name})")
    best.add_argument("problems", nargs="*", metavar="PROBLEM", help=f"problems (default: all of {names})")
    best.add_argument("--restarts", type=positive_int, default=100, help="restarts per kind (default: %(default)s)")
    add_executor_arguments(best)
    best.add_argument("--output", type=Path, default=BEST_KNOWN_PATH, help="cache file (default: %(default)s)")
    best.add_argument("--no-progress", action="store_true", help="no progress bar")
    best.set_defaults(handler=_bench_best_known)

    race = sub.add_parser("race", help="ANLS against its peers at equal wall time, with restarts, "
                                       "on tuning and held-out problems")
    race.add_argument("problems", nargs="*", metavar="PROBLEM",
                      help=f"problems (default: all {len(anls_race.PROBLEMS)} of the race)")
    race.add_argument("--quick", action="store_true", help="two problems, one seed, a fifth of the budgets")
    race.add_argument("--seeds", type=positive_int, help="number of race seeds 0..N-1 (default: 3, quick: 1)")
    race.add_argument("--budget-scale", type=float, help="multiply every wall-clock budget by this")
    add_executor_arguments(race)
    race.add_argument("--output", type=Path, default=anls_race_results.RACE_PATH,
                      help="results file (default: %(default)s)")
    race.add_argument("--no-progress", action="store_true", help="no progress bar")
    race.set_defaults(handler=_bench_race)


register_command(
    "bench", help="benchmarks: ANLS against its peers (steps or equal wall time); best-known losses")(configure)
