r"""Where the book lives: its sources, chapters (read from ``_toc.yml``) and build folders."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BookPaths", "DEFAULT_SEED", "UnknownChapterError", "chapter_names", "check_chapter_names", "toc_files"]


DEFAULT_SEED = 0


class UnknownChapterError(ValueError):
    """A chapter name that is not in ``_toc.yml``."""


@dataclass(frozen=True)
class BookPaths:
    """Where the book's sources, build products and references live.

    Parameters
    ----------
    source : Path
        Repository root: holds ``_config.yml``, ``_toc.yml`` and ``book/``.
    output_root : Path
        Folder that receives ``_build/`` (the repository root by default; a temporary
        folder in the tests). Jupyter Book always writes to ``<path-output>/_build/html``.
    reference : Path
        Folder of committed reference data (``tests/reference`` by default).
    """

    source: Path
    output_root: Path
    reference: Path

    @classmethod
    def for_source(
        cls, source: str | os.PathLike[str], output_root: str | os.PathLike[str] | None = None,
        reference: str | os.PathLike[str] | None = None,
    ) -> BookPaths:
        """Paths for the book at ``source`` (build under ``output_root``, default ``source``)."""
        source = Path(source).resolve()
        if not (source / "_toc.yml").is_file():
            raise FileNotFoundError(f"no _toc.yml in {source}: not the book's root")
        out = source if output_root is None else Path(output_root).resolve()
        ref = source / "tests" / "reference" if reference is None else Path(reference).resolve()
        return cls(source, out, ref)

    @classmethod
    def discover(cls, start: str | os.PathLike[str] | None = None) -> BookPaths:
        """Find the book's root: the first folder holding ``_toc.yml`` from ``start`` (cwd) upwards,
        else the folder this package was installed from (an editable install)."""
        here = Path.cwd() if start is None else Path(start)
        for folder in (here.resolve(), *here.resolve().parents):
            if (folder / "_toc.yml").is_file() and (folder / "book").is_dir():
                return cls.for_source(folder)
        package_root = Path(__file__).resolve().parents[2]
        if (package_root / "_toc.yml").is_file():
            return cls.for_source(package_root)
        raise FileNotFoundError(f"cannot find the book (a folder with _toc.yml) at or above {here}")

    @property
    def build(self) -> Path:
        return self.output_root / "_build"

    @property
    def stage(self) -> Path:
        return self.build / "stage"

    @property
    def figures(self) -> Path:
        return self.build / "figures"

    @property
    def html(self) -> Path:
        return self.build / "html"

    @property
    def running(self) -> Path:
        return self.build / "running"

    @property
    def failed(self) -> Path:
        return self.build / "failed"

    @property
    def runs(self) -> Path:
        return self.build / "runs.json"

    def notebook(self, chapter: str) -> Path:
        """The committed (unexecuted) notebook of ``chapter``."""
        return self.source / "book" / f"{chapter}.ipynb"

    def staged_notebook(self, chapter: str) -> Path:
        """The executed notebook of ``chapter`` in the staging book."""
        return self.stage / "book" / f"{chapter}.ipynb"


def toc_files(source: str | os.PathLike[str]) -> list[str]:
    """Every ``root`` and ``file`` entry of ``_toc.yml``, in order (paths without suffix)."""
    import yaml

    toc = yaml.safe_load((Path(source) / "_toc.yml").read_text())
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def chapter_names(source: str | os.PathLike[str]) -> list[str]:
    """Executable chapters in toc order: toc entries ``book/<name>`` with a ``book/<name>.ipynb``."""
    source = Path(source)
    names = []
    for entry in toc_files(source):
        path = Path(entry)
        if path.parent == Path("book") and (source / "book" / f"{path.name}.ipynb").is_file():
            names.append(path.name)
    return names


def check_chapter_names(names: Iterable[str] | None, available: Sequence[str]) -> list[str]:
    """Validate chapter names (before any work); ``None`` or empty means all, in toc order."""
    names = list(names or [])
    unknown = [n for n in names if n not in available]
    if unknown:
        raise UnknownChapterError(
            f"unknown chapter {', '.join(map(repr, unknown))} (chapters: {', '.join(available)})"
        )
    if not names:
        return list(available)
    return [n for n in available if n in names]  # toc order, no duplicates
