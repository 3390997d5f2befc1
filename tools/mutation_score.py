"""Mutation score per module from mutmut's results (``mutants/**/*.meta``, written by ``mutmut run``).

A mutant is *killed* when a test fails on it (exit codes 1 and 3, as mutmut counts them) or it
times out; it *survived* when every test passed (exit code 0). Mutants with no test reaching
them count as survived: a bug no test runs is a bug no test catches. Mutants not yet checked are
left out and counted apart. The score is killed / (killed + survived).

    python tools/mutation_score.py
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, -24, 24, 152, 255}
SURVIVED = {0, 5, 33}


def scores(root: Path) -> dict[str, Counter]:
    """``{module path: Counter(killed=..., survived=..., unchecked=...)}`` from the ``.meta`` files under ``root``."""
    out: dict[str, Counter] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        tally = Counter()
        for code in codes.values():
            tally["killed" if code in KILLED else "survived" if code in SURVIVED else "unchecked"] += 1
        out[meta.relative_to(root).as_posix().removesuffix(".meta")] = tally
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's folder (default: mutants)")
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        parser.exit(2, f"mutation_score: no {args.mutants}/ folder: run `mutmut run` first\n")
    table = scores(args.mutants)
    total = Counter()
    print("| module | killed | survived | score | not checked |")
    print("|---|---:|---:|---:|---:|")
    for module, t in table.items():
        total += t
        checked = t["killed"] + t["survived"]
        score = f"{t['killed'] / checked:.0%}" if checked else "-"
        print(f"| {module} | {t['killed']} | {t['survived']} | {score} | {t['unchecked']} |")
    checked = total["killed"] + total["survived"]
    score = f"{total['killed'] / checked:.0%}" if checked else "-"
    print(f"| all | {total['killed']} | {total['survived']} | {score} | {total['unchecked']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
