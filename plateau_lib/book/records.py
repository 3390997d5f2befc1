r"""Records of executed chapters (``_build/runs.json``) and whether the stage is up to date.

Each successful run is recorded in ``_build/runs.json``: mode (``quick``), seed, a hash of
the notebook's cells, a hash of the ``plateau_lib`` sources (without this tooling), and
the versions of Python,
numpy, scipy and matplotlib. ``book build`` refuses a stage whose chapters are missing or
stale against these (the lesson of caches keyed on the notebook alone), and ``book check``
refuses figure data that did not come from a quick run with the default seed.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from pathlib import Path

from ..figures import atomic_write
from .paths import BookPaths, chapter_names

__all__ = [
    "RECORDED_PACKAGES",
    "library_digest",
    "notebook_digest",
    "read_runs",
    "mixed_runs",
    "stage_problems",
    "versions",
    "write_runs",
]


#: Packages whose version change makes an executed chapter stale.
RECORDED_PACKAGES = ("numpy", "scipy", "matplotlib")


def notebook_digest(path: Path) -> str:
    """Hash of a notebook's cell types, sources and tags (not outputs or editor metadata)."""
    nb = json.loads(path.read_text())
    cells = [
        (c.get("cell_type"), "".join(c.get("source", "")), sorted(c.get("metadata", {}).get("tags", [])))
        for c in nb.get("cells", [])
    ]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def library_digest() -> str:
    """Hash of the ``plateau_lib`` sources a chapter's results depend on (all but this tooling package)."""
    tooling = Path(__file__).resolve().parent
    root = tooling.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if path.is_relative_to(tooling):
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    out.update({name: version(name) for name in RECORDED_PACKAGES})
    return out


def read_runs(paths: BookPaths) -> dict[str, dict]:
    try:
        return json.loads(paths.runs.read_text())
    except FileNotFoundError:
        return {}


def write_runs(paths: BookPaths, runs: dict[str, dict]) -> None:
    text = json.dumps(runs, indent=2, sort_keys=True) + "\n"
    atomic_write(paths.runs, lambda fh: fh.write(text.encode()))


def stage_problems(paths: BookPaths, names: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Why the staging book cannot be built as it is: ``(missing, stale)`` one-line messages.

    Missing: a chapter with no executed notebook. Stale: executed from a different notebook,
    library source or package version than the current ones.
    """
    names = chapter_names(paths.source) if names is None else list(names)
    runs = read_runs(paths)
    library, current = library_digest(), versions()
    missing, stale = [], []
    for name in names:
        record = runs.get(name)
        if record is None or not paths.staged_notebook(name).is_file():
            missing.append(f"chapter {name!r} has not been executed (run: python -m plateau_lib book run {name})")
            continue
        reasons = []
        if record.get("notebook_sha256") != notebook_digest(paths.notebook(name)):
            reasons.append(f"book/{name}.ipynb changed")
        if record.get("library_sha256") != library:
            reasons.append("plateau_lib changed")
        if record.get("versions") != current:
            reasons.append("package versions changed")
        if reasons:
            stale.append(
                f"chapter {name!r} is stale ({', '.join(reasons)} since it was executed; "
                f"run: python -m plateau_lib book run {name})"
            )
    return missing, stale


def mixed_runs(paths: BookPaths, names: Sequence[str] | None = None) -> list[str]:
    """One line if the executed chapters ran in different modes or with different seeds, else none.

    A book whose chapters mix quick and full mode, or seeds, would quote numbers of different
    runs side by side; ``book build`` refuses it unless told ``--allow-mixed``. Chapters never
    executed are left to :func:`stage_problems`.
    """
    names = chapter_names(paths.source) if names is None else list(names)
    runs = read_runs(paths)
    settings = {name: (bool(runs[name].get("quick")), runs[name].get("seed")) for name in names if name in runs}
    if len(set(settings.values())) <= 1:
        return []
    listing = ", ".join(f"{name}: {'quick' if quick else 'full'} mode, seed {seed}"
                        for name, (quick, seed) in settings.items())
    return [f"the chapters ran in different modes or with different seeds ({listing}); run them again "
            "with one setting, or build anyway with --allow-mixed"]
