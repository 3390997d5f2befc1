r"""One ANLS sweep against 100 GD steps for two versions of plateau_lib, alternated in one run.

Each version is a source tree holding a ``plateau_lib`` package (for example one unpacked by
``git archive <commit> plateau_lib | tar -x -C /tmp/old_tree``, and ``.`` for the working tree).
For each size of :data:`SIZES` and each version in turn, a fresh process on one BLAS thread
(``OMP_NUM_THREADS`` etc. set to 1) times, ``--repeats`` times, ``train_gd(net, X, y, lr=0.01,
steps=100)`` and then ``train_anls(net1, X, y, sweeps=1)`` from the network ``net1`` one sweep
reached, on the problem of ``bench_anls_cost`` (data uniform on [-1, 1]^d, y = sum sin(pi x_k),
``init_network(scale=0.5)``, seeded by the size). Printed: per size and version the median and
range of the per-repeat ratios sweep / 100 GD steps, and the sweep's final loss (equal for two
versions whose sweeps choose the same).

Run::

    nice -n 10 .venv/bin/python -m benchmarks.anls_sweep_versions /tmp/old_tree . --repeats 3
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from plateau_lib.book.cli import ArgumentParser, positive_int

SIZES: tuple[tuple[int, int, int], ...] = ((10_000, 200, 1), (1_000, 40, 3), (10_000, 100, 3))

#: The timing run, executed in a fresh process with the version's tree first on sys.path.
CHILD = r"""
import json, sys, time
import numpy as np
from plateau_lib.network import init_network
from plateau_lib.trainers.anls import train_anls
from plateau_lib.trainers.first_order import train_gd
m, n, d, repeats = map(int, sys.argv[1:5])
rng = np.random.default_rng(20_240 + 7 * m + 3 * n + d)
X = rng.uniform(-1.0, 1.0, (m, d))
y = np.sin(np.pi * X).sum(axis=1)
net = init_network(n, d, scale=0.5, rng=rng)
net1 = train_anls(net, X, y, sweeps=1).net
ratios = []
for _ in range(repeats):
    t0 = time.perf_counter(); train_gd(net, X, y, lr=1e-2, steps=100); gd = time.perf_counter() - t0
    t0 = time.perf_counter(); res = train_anls(net1, X, y, sweeps=1); sweep = time.perf_counter() - t0
    ratios.append(sweep / gd)
print(json.dumps({"ratios": ratios, "loss": float(res.loss[-1])}))
"""


def run(tree: str, size: tuple[int, int, int], repeats: int) -> dict:
    """The child's result for one version and size."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, size), str(repeats)], env=env, check=True,
                         capture_output=True, text=True, cwd=os.path.abspath(tree))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.anls_sweep_versions",
                            description="One ANLS sweep / 100 GD steps for two versions, alternated.")
    parser.add_argument("trees", nargs=2, metavar="TREE", help="source trees holding a plateau_lib package")
    parser.add_argument("--repeats", type=positive_int, default=3, metavar="R", help="repeats per size (default 3)")
    args = parser.parse_args(argv)
    for tree in args.trees:
        if not os.path.isfile(os.path.join(tree, "plateau_lib", "__init__.py")):
            parser.error(f"{tree!r} holds no plateau_lib package")
    print("| (m, n, d) | " + " | ".join(args.trees) + " |\n|---|" + "---:|" * len(args.trees))
    for size in SIZES:
        cells = []
        for tree in args.trees:
            result = run(tree, size, args.repeats)
            ratios = result["ratios"]
            cells.append(f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}), "
                         f"loss {result['loss']:.9e}")
        print(f"| {size} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
