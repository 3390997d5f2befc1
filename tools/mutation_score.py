"""Mutation score per module from mutmut's results (``mutants/**/*.meta``, written by ``mutmut run``).

A mutant is *killed* when a test fails on it (exit codes 1 and 3, as mutmut counts them) or it
times out; it *survived* when every test passed (exit code 0). Mutants with no test reaching
them count as survived: a bug no test runs is a bug no test catches. Mutants not yet checked are
left out and counted apart. The score is killed / (killed + survived).

mutmut also mutates string literals (``"x"`` to ``"XXxXX"``), mostly the text of error
messages. Those are counted apart, as *message* mutants: the score the README reports is over
the *code* mutants, the planted bugs in operators, comparisons, numbers, names and arguments
that the issue asks the tests to catch. A mutant is a message mutant when its function's syntax
tree equals the original's once every string constant is blanked.

A module too slow to run in full (each of ANLS's mutants costs seconds of tests) is measured on a
simple random sample of its code mutants, drawn with a seeded generator and kept in
``mutants/samples/<module>.txt``; its score is then over the sample alone, with a 95% (Wilson)
interval for the whole module's.

    python tools/mutation_score.py
    python tools/mutation_score.py --sample plateau_lib/trainers/anls.py --size 500 --seed 0
    mutmut run --max-children 2 $(cat mutants/samples/plateau_lib/trainers/anls.py.txt)
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, -24, 24, 152, 255}
SURVIVED = {0, 5, 33}


class _BlankStrings(ast.NodeTransformer):
    """Replace every string constant and f-string by the same placeholder."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant("S"), node) if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.copy_location(ast.Constant("S"), node)


def _shape(function: ast.FunctionDef) -> str:
    """The function's syntax tree with its strings blanked and its name dropped."""
    blank = _BlankStrings().visit(copy.deepcopy(function))
    blank.name = "f"
    return ast.dump(blank)


def message_mutants(source: str) -> set[str]:
    """Names of the mutant functions (``<name>__mutmut_<k>``) of ``source`` that change only strings."""
    functions = {node.name: node for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.FunctionDef) and "__mutmut_" in node.name}
    out = set()
    for name, node in functions.items():
        original = functions.get(name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
        if original is not None and name != original.name and _shape(node) == _shape(original):
            out.add(name)
    return out


def status(code: int | None) -> str:
    """``killed``, ``survived`` or ``unchecked`` for mutmut's exit code of a mutant."""
    return "killed" if code in KILLED else "survived" if code in SURVIVED else "unchecked"


def _read(meta: Path) -> tuple[dict[str, int | None], dict[str, str]]:
    """mutmut's exit code of each mutant recorded in one ``.meta`` file, and its kind
    (``"code"`` or ``"message"``)."""
    codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
    source = meta.with_suffix("")
    messages = message_mutants(source.read_text()) if source.is_file() else set()
    return codes, {key: "message" if key.rsplit(".", 1)[-1] in messages else "code" for key in codes}


def _sample_file(root: Path, module: str) -> Path:
    return root / "samples" / f"{module}.txt"


def scores(root: Path) -> dict[str, Counter]:
    """``{module path: Counter}`` from the ``.meta`` files under ``root``.

    The counter's keys are ``(kind, status)`` with kind ``code`` or ``message``. For a module with
    a sample file, only the sampled mutants are counted, and the counter's ``"sample"`` key holds
    the sample's size.
    """
    out: dict[str, Counter] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        module = meta.relative_to(root).as_posix().removesuffix(".meta")
        codes, kinds = _read(meta)
        tally = Counter()
        sample_file = _sample_file(root, module)
        if sample_file.is_file():
            keys = sample_file.read_text().split()
            if gone := [key for key in keys if key not in codes]:
                raise ValueError(f"the sample of {module} names {len(gone)} mutant(s) mutmut no longer has "
                                 f"(e.g. {gone[0]}): draw it again")
            tally["sample"] = len(keys)
        else:
            keys = list(codes)
        for key in keys:
            tally[kinds[key], status(codes[key])] += 1
        out[module] = tally
    return out


def draw_sample(root: Path, module: str, size: int, seed: int) -> list[str]:
    """A simple random sample of ``size`` code mutants of ``module`` (e.g. ``plateau_lib/trainers/anls.py``).

    Drawn without replacement by ``numpy.random.default_rng(seed)`` from the names in sorted order,
    so the same seed gives the same sample; written to ``<root>/samples/<module>.txt``.
    """
    import numpy as np

    meta = root / f"{module}.meta"
    if not meta.is_file():
        raise ValueError(f"no mutants of {module} in {root}/: run `mutmut run` first")
    names = sorted(key for key, kind in _read(meta)[1].items() if kind == "code")
    if not 0 < size <= len(names):
        raise ValueError(f"--size must lie in [1, {len(names)}] for {module}, got {size}")
    chosen = np.random.default_rng(seed).choice(len(names), size=size, replace=False)
    sample = sorted(names[i] for i in chosen)
    path = _sample_file(root, module)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".txt.part")
    partial.write_text("\n".join(sample) + "\n")
    os.replace(partial, path)
    return sample


def _score(killed: int, survived: int) -> str:
    return f"{killed / (killed + survived):.0%}" if killed + survived else "-"


def _interval(killed: int, survived: int) -> str:
    """The 95% Wilson interval of a sampled score (the whole module's score, estimated)."""
    from scipy.stats import binomtest

    ci = binomtest(killed, killed + survived).proportion_ci(0.95, method="wilson")
    return f"{ci.low:.0%}-{ci.high:.0%}"


def table(results: dict[str, Counter]) -> str:
    """The markdown table: code mutants killed, survived, score, unchecked; message mutants apart.

    A sampled module's row says so, and gives the 95% interval of its score.
    """
    rows = ["| module | killed | survived | score | not checked | message mutants killed |",
            "|---|---:|---:|---:|---:|---:|"]
    total = Counter()
    for module, t in [*results.items(), ("all", None)]:
        t = total if t is None else t
        if module != "all":
            total.update(t)
        k, s, u = t["code", "killed"], t["code", "survived"], t["code", "unchecked"]
        mk, ms = t["message", "killed"], t["message", "survived"]
        score = _score(k, s)
        if module != "all" and t["sample"] and k + s:
            score += f" (sample of {t['sample']}; 95%: {_interval(k, s)})"
        rows.append(f"| {module} | {k} | {s} | {score} | {u} | {mk} of {mk + ms} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's folder (default: mutants)")
    parser.add_argument("--sample", metavar="MODULE", help="draw a random sample of MODULE's code mutants, print it")
    parser.add_argument("--size", type=int, default=500, help="the sample's size (default: 500)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default: 0)")
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        parser.exit(2, f"mutation_score: no {args.mutants}/ folder: run `mutmut run` first\n")
    try:
        if args.sample:
            print("\n".join(draw_sample(args.mutants, args.sample, args.size, args.seed)))
        else:
            print(table(scores(args.mutants)), end="")
    except ValueError as error:
        parser.exit(2, f"mutation_score: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
