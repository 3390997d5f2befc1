"""Run the unit tests and a quick execution of every chapter on the oldest and the newest dependencies.

usage: python tools/dependency_matrix.py [--only oldest|newest] [--workers N]

Two variants, each in a virtual environment of its own under ``_build/matrix/<variant>/``, with
a copy of the committed sources (``git archive HEAD``) installed editable with the ``book``
extra:

* **oldest**: the oldest Python the metadata allows (3.11) and the *lowest* versions of the
  project's direct dependencies that ``pyproject.toml`` admits (uv's ``--resolution
  lowest-direct``; their own dependencies resolve normally);
* **newest**: the newest Python on this machine and the *newest* versions on the package index
  (uv's ``--resolution highest``, no constraints file).

The test tools (pytest, pytest-xdist, hypothesis, setuptools for the wheel test) come at the
versions of ``constraints.txt`` in both, so that only the project's dependencies vary. In each
variant, ``pytest tests/unit`` runs, then ``python -m plateau_lib book seeds --seeds 0 --quick``
executes every chapter with its checks (the figure-data comparison with ``tests/reference`` is
not made: its tolerances assume the pinned wheels). A table of the resolved versions and the
results is printed and written to ``_build/matrix/report.md`` (via a temporary file).

Needs the package index (the only network the project uses) and ``uv`` (pinned in
``constraints.txt``; ``make test-matrix`` runs this with the project's virtual environment).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "matrix"
TEST_TOOLS = ("pytest", "pytest-xdist", "hypothesis", "setuptools", "wheel")
REPORTED = ("numpy", "scipy", "matplotlib", "tqdm", "jupyter-book", "myst-nb", "sphinx", "papermill",
            "ipywidgets", "ipykernel", "pyyaml")


@dataclass(frozen=True)
class Variant:
    """One column of the matrix: a Python and a uv resolution strategy."""

    name: str
    python: str
    resolution: str


VARIANTS = {
    "oldest": Variant("oldest", "3.11", "lowest-direct"),
    "newest": Variant("newest", "3.13", "highest"),
}


@dataclass
class Outcome:
    """What happened in one variant: resolved versions and each step's result."""

    variant: Variant
    versions: dict[str, str] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)


def pinned(names: tuple[str, ...]) -> list[str]:
    """``name==version`` from constraints.txt for each of ``names``."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    missing = [n for n in names if n not in pins]
    if missing:
        raise SystemExit(f"dependency_matrix: constraints.txt pins none of {missing}")
    return [f"{n}=={pins[n]}" for n in names]


def uv() -> str:
    """The uv of the project's virtual environment, else one on PATH."""
    local = ROOT / ".venv" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("dependency_matrix: uv not found: run `make install` first")
    return found


def interpreter(version: str) -> str:
    """The path of a working ``python<version>`` on this machine: on PATH, else under pyenv's root.

    uv would otherwise download one, and the project's network is the package index only.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}"), *sorted(pyenv.glob(f"{version}*/bin/python{version}"))]
    for candidate in filter(None, candidates):
        if subprocess.run([str(candidate), "--version"], capture_output=True).returncode == 0:
            return str(candidate)
    raise SystemExit(f"dependency_matrix: no working python{version} on PATH or under {pyenv}")


def copy_sources(dest: Path) -> None:
    """The committed tree (``git archive HEAD``) into ``dest``."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


def run(cmd: list[str], log: Path, **kwargs) -> bool:
    """Run ``cmd``, appending its output to ``log``; whether it succeeded."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs).returncode == 0


def versions(python: Path) -> dict[str, str]:
    """Installed versions of the reported packages (and Python) in the environment of ``python``."""
    code = ("import sys, importlib.metadata as m\n"
            f"names = {list(REPORTED)!r}\n"
            "print('python', sys.version.split()[0])\n"
            "for n in names:\n"
            "    try: print(n, m.version(n))\n"
            "    except m.PackageNotFoundError: print(n, '-')\n")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def run_variant(variant: Variant, workers: int) -> Outcome:
    """Create the environment, install, run the unit tests and the chapters; the outcome."""
    outcome = Outcome(variant)
    home = OUT / variant.name
    shutil.rmtree(home, ignore_errors=True)
    src, venv, log = home / "src", home / "venv", home / "log.txt"
    src.mkdir(parents=True)
    copy_sources(src)
    python = venv / "bin" / "python"
    install = [uv(), "pip", "install", "--python", str(python), "--resolution", variant.resolution,
               "-e", f"{src}[book]", *pinned(TEST_TOOLS)]
    # --seed: pip in the environment, for the test that builds the wheel with it
    ok = run([uv(), "venv", "--quiet", "--seed", "--no-python-downloads", "--python", interpreter(variant.python),
              str(venv)], log) and run(install, log)
    outcome.steps["install"] = "pass" if ok else "FAIL"
    if not ok:
        return outcome
    outcome.versions = versions(python)
    env = {**os.environ, "PYTHONPATH": str(src), "MPLBACKEND": "Agg"}
    env.pop("VIRTUAL_ENV", None)
    started = time.perf_counter()
    ok = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers), "tests/unit"], log,
             cwd=src, env=env)
    outcome.steps["unit tests"] = f"{'pass' if ok else 'FAIL'} ({time.perf_counter() - started:.0f} s)"
    started = time.perf_counter()
    ok = run([str(python), "-m", "plateau_lib", "book", "seeds", "--seeds", "0", "--quick", "--no-progress"], log,
             cwd=src, env=env)
    outcome.steps["chapters (quick, seed 0)"] = f"{'pass' if ok else 'FAIL'} ({time.perf_counter() - started:.0f} s)"
    return outcome


def report(outcomes: list[Outcome]) -> str:
    """A markdown table: one column per variant, resolved versions then results."""
    head = "| | " + " | ".join(o.variant.name for o in outcomes) + " |"
    rows = [head, "|---|" + "---|" * len(outcomes)]
    for key in ("python", *REPORTED):
        rows.append(f"| {key} | " + " | ".join(o.versions.get(key, "?") for o in outcomes) + " |")
    for step in ("install", "unit tests", "chapters (quick, seed 0)"):
        rows.append(f"| **{step}** | " + " | ".join(o.steps.get(step, "not run") for o in outcomes) + " |")
    return "\n".join(rows) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(VARIANTS), help="run one variant")
    parser.add_argument("--workers", type=int, default=2, help="pytest workers (default: 2)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    chosen = [VARIANTS[args.only]] if args.only else list(VARIANTS.values())
    outcomes = [run_variant(v, args.workers) for v in chosen]
    table = report(outcomes)
    write_atomically(OUT / "report.md", table)
    print(table, end="")
    print(f"logs: {', '.join(str(OUT / o.variant.name / 'log.txt') for o in outcomes)}")
    failed = any("FAIL" in s for o in outcomes for s in o.steps.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
