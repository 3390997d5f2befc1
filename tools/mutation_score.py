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

    python tools/mutation_score.py
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
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


def scores(root: Path) -> dict[str, Counter]:
    """``{module path: Counter}`` from the ``.meta`` files under ``root``.

    The counter's keys are ``(kind, status)`` with kind ``code`` or ``message``.
    """
    out: dict[str, Counter] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        source = meta.with_suffix("")
        messages = message_mutants(source.read_text()) if source.is_file() else set()
        tally = Counter()
        for key, code in codes.items():
            kind = "message" if key.rsplit(".", 1)[-1] in messages else "code"
            tally[kind, status(code)] += 1
        out[meta.relative_to(root).as_posix().removesuffix(".meta")] = tally
    return out


def _score(killed: int, survived: int) -> str:
    return f"{killed / (killed + survived):.0%}" if killed + survived else "-"


def table(results: dict[str, Counter]) -> str:
    """The markdown table: code mutants killed, survived, score, unchecked; message mutants apart."""
    rows = ["| module | killed | survived | score | not checked | message mutants killed |",
            "|---|---:|---:|---:|---:|---:|"]
    total = Counter()
    for module, t in [*results.items(), ("all", None)]:
        t = total if t is None else t
        if module != "all":
            total.update(t)
        k, s, u = t["code", "killed"], t["code", "survived"], t["code", "unchecked"]
        mk, ms = t["message", "killed"], t["message", "survived"]
        rows.append(f"| {module} | {k} | {s} | {_score(k, s)} | {u} | {mk} of {mk + ms} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's folder (default: mutants)")
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        parser.exit(2, f"mutation_score: no {args.mutants}/ folder: run `mutmut run` first\n")
    print(table(scores(args.mutants)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
