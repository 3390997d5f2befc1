"""How fast the explorers respond: one control moved, the figure recomputed and rendered.

For each explorer of :mod:`plateau_lib.chapters.explorers` at its default settings, every move of
:data:`MOVES` is timed as the widget performs it: :meth:`Explorer.update` (train, analyse,
draw) plus :meth:`Explorer.png` (what the ``Image`` widget receives). The peer, measured in
the same run and on the same settings, is the bare training the update cannot avoid:
``experiment.run`` for gradient descent (and, for the ANLS explorer, the ANLS run as well).
The table reports the median update time, the median bare training time and their ratio, the
overhead of the pattern analysis, drawing and PNG rendering. The target is an update within
about a second at the default sizes.

Run: ``.venv/bin/python -m benchmarks.bench_explorers [--repeats R] [--json PATH]``.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from plateau_lib import figures
from plateau_lib.chapters.explorers import (
    AnlsSettings,
    Explorer,
    GDSettings,
    anls_explorer,
    anls_variant_options,
    gd_explorer,
)
from plateau_lib.command_line import ArgumentParser, positive_int
from plateau_lib.machine import cpu_name
from plateau_lib.trainers.anls import train_anls

#: Control moves away from the defaults and back (each timed from the state the previous left).
MOVES: tuple[tuple[str, Any], ...] = (
    ("width", 12), ("width", 10), ("lr", 0.05), ("lr", 0.1), ("seed", 6), ("seed", 5),
    ("target", "abs"), ("target", "sin_pi"), ("init_scale", 1e-2), ("init_scale", 1e-3),
)


def _bare_training(settings: GDSettings) -> float:
    """Seconds of the training an update must do: GD, and ANLS for the ANLS explorer."""
    experiment = settings.experiment()
    X, y = experiment.data()
    net = experiment.initial_network(settings.seed)
    start = time.perf_counter()
    experiment.run(settings.seed, net=net)
    if isinstance(settings, AnlsSettings):
        train_anls(net, X, y, sweeps=settings.sweeps, **anls_variant_options(settings.variant, settings.lr))
    return time.perf_counter() - start


def time_moves(make: Callable[[], Explorer], moves: Sequence[tuple[str, Any]], repeats: int) -> dict[str, Any]:
    """Median seconds per move of a fresh explorer: update + PNG, and the bare training."""
    explorer = make()
    updates, bare = [], []
    for _ in range(repeats):
        for field, value in moves:
            start = time.perf_counter()
            explorer.update(**{field: value})
            explorer.png()
            updates.append(time.perf_counter() - start)
            bare.append(_bare_training(explorer.settings))
    update, training = statistics.median(updates), statistics.median(bare)
    return {"update_s": update, "max_update_s": max(updates), "training_s": training,
            "ratio": update / training, "samples": len(updates)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.bench_explorers", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=2, help="passes over the moves (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    rows = {}
    for name, make in (("gd", gd_explorer), ("anls", anls_explorer)):
        print(f"timing the {name} explorer ...", file=sys.stderr)
        rows[name] = time_moves(make, MOVES, args.repeats)
    print("| explorer | median update + PNG [s] | slowest [s] | bare training [s] | update / training |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['update_s']:.3f} | {r['max_update_s']:.3f} | {r['training_s']:.3f} | {r['ratio']:.2f} |")
    if args.json is not None:
        doc = {"results": rows, "moves": [list(m) for m in MOVES], "repeats": args.repeats,
               "machine": {"cpu": cpu_name(), "python": platform.python_version()}}
        figures.atomic_write(args.json, lambda fh: fh.write(json.dumps(doc, indent=2).encode()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
