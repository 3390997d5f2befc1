"""Break a copy of the project on purpose and report which chapter checks catch it.

Each mutation flips one sign or comparison in the science. The script copies the committed
tree (``git archive HEAD``) to a temporary folder, applies the mutation there (the working tree
is never touched), executes the chapters in quick mode on seed 0 with the copy first on
``PYTHONPATH`` (so the kernels import the broken library), and prints, per chapter, whether it
passed or the first check that failed (a chapter stops at its first failing cell). A mutation that
no chapter catches is reported as such. The committed race is stamped with the broken trainers'
fingerprint, so that Chapter 4 reaches its checks instead of refusing a stale race.

    python tools/broken_copy.py local-ls-level-sign anls-acceptance
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: name -> (file, text, replacement): every occurrence of the text is replaced (at least one must exist).
#: ANLS tests its acceptance rule at three places (the two visit paths and the pair moves); a
#: mutation of the rule changes all of them.
MUTATIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "local-ls-level-sign": (
        ("plateau_lib/theory.py", "    e = y - local_ls_fit(X, y, D, S)\n", "    e = y + local_ls_fit(X, y, D, S)\n"),
    ),
    "anls-acceptance": (
        ("plateau_lib/trainers/anls.py", "if not loss_new < threshold:", "if not loss_new > threshold:"),
        ("plateau_lib/trainers/anls.py", "if not loss_new < state.level * (1 - ACCEPT_RTOL):",
         "if not loss_new > state.level * (1 - ACCEPT_RTOL):"),
        ("plateau_lib/trainers/anls.py", "trial.loss < state.level * (1 - ACCEPT_RTOL)",
         "trial.loss > state.level * (1 - ACCEPT_RTOL)"),
    ),
    "anls-acceptance-tolerance": (
        ("plateau_lib/trainers/anls.py", "state.level * (1 - ACCEPT_RTOL)", "state.level * (1 + ACCEPT_RTOL)"),
    ),
}


def _copy_head(target: Path) -> None:
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def _mutate(copy: Path, name: str) -> None:
    for path, old, new in MUTATIONS[name]:
        text = (copy / path).read_text()
        if old not in text:
            raise SystemExit(f"broken_copy: mutation {name!r}: {old!r} not found in {path} "
                             "(the source changed; update MUTATIONS)")
        (copy / path).write_text(text.replace(old, new))


def _refingerprint(copy: Path, env: dict[str, str]) -> None:
    """Stamp the committed race with the broken trainers' fingerprint.

    Otherwise Chapter 4 stops at its staleness check (the race was run with other trainer code)
    before any claim is checked; the race's numbers stay those of the intact trainers.
    """
    code = ("import json; from plateau_lib.chapters.anls_race import trainers_fingerprint as f; "
            "from plateau_lib.chapters.anls_race_results import RACE_PATH; "
            "d = json.loads(RACE_PATH.read_text()); d['trainers_fingerprint'] = f(); "
            "RACE_PATH.write_text(json.dumps(d))")
    subprocess.run([sys.executable, "-c", code], cwd=copy, env=env, check=True)


def run(name: str, chapters: list[str]) -> str:
    """Apply mutation ``name`` to a fresh copy, execute ``chapters`` (quick, seed 0) and return the report."""
    with tempfile.TemporaryDirectory(prefix=f"broken-{name}-") as tmp:
        copy = Path(tmp)
        _copy_head(copy)
        _mutate(copy, name)
        env = {**os.environ, "PYTHONPATH": str(copy)}
        _refingerprint(copy, env)
        proc = subprocess.run([sys.executable, "-m", "plateau_lib", "book", "run", "--quick", "--no-progress",
                               *chapters], cwd=copy, env=env, capture_output=True, text=True)
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        return f"## {name} (exit status {proc.returncode})\n" + "\n".join(lines[-12:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mutations", nargs="+", choices=sorted(MUTATIONS))
    parser.add_argument("--chapters", nargs="*", default=[], help="chapter names (default: all)")
    args = parser.parse_args(argv)
    for name in args.mutations:
        print(run(name, args.chapters), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
