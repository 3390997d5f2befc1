"""The API reference, one page per module, written into the stage from the package itself.

One page of 1,000 objects is unreadable and slow to search; a hand-kept list of modules goes
stale when a module is split or renamed. So the staging step (:func:`write_api_pages`, called
by :func:`plateau_lib.book.stage.sync_stage`) lists the public modules of ``plateau_lib`` (the
science and the chapters' studies; not the book's tooling, :mod:`plateau_lib.book`), writes
``book/api/<module>.md`` for each (an ``automodule`` of its members), and replaces the marker
:data:`MARKER` of ``book/api.md`` with a table of the pages, grouped by package. ``_toc.yml``
includes the pages by a glob.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from ..figures import atomic_write

__all__ = ["MARKER", "api_modules", "module_page", "write_api_pages"]

#: The line of ``book/api.md`` replaced by the table of module pages.
MARKER = "<!-- api-modules -->"
#: Packages whose modules are documented, in the order of the table.
GROUPS = (("plateau_lib", "The science"), ("plateau_lib.trainers", "Trainers"),
          ("plateau_lib.chapters", "The chapters' studies"))


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode()))


def api_modules(package: str = "plateau_lib") -> dict[str, list[str]]:
    """The public modules of each group of :data:`GROUPS` (names not starting with ``_``), sorted."""
    out: dict[str, list[str]] = {}
    for name, _title in GROUPS:
        pkg = importlib.import_module(name)
        mods = [f"{name}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)
                if not m.name.startswith("_") and not m.ispkg]
        out[name] = ([name] if name != package else []) + sorted(mods)
    return out


def _summary(module: str) -> str:
    doc = importlib.import_module(module).__doc__ or ""
    return doc.strip().splitlines()[0].rstrip(".") if doc.strip() else ""


def module_page(module: str) -> str:
    """The MyST page of one module: its name as title, then its members by ``automodule``."""
    return f"# `{module}`\n\n```{{eval-rst}}\n.. automodule:: {module}\n   :members:\n```\n"


def write_api_pages(book_dir: str | Path) -> list[Path]:
    """Write ``book_dir/api/<module>.md`` for every module and the table into ``book_dir/api.md``.

    Pages of modules that no longer exist are removed. A book without ``api.md`` has no API
    reference and gets no pages. Returns the pages written.
    """
    book_dir = Path(book_dir)
    index = book_dir / "api.md"
    if not index.exists():
        return []
    text = index.read_text()
    if MARKER not in text:
        raise ValueError(f"{index} has no line {MARKER!r} to replace with the module table")
    folder = book_dir / "api"
    folder.mkdir(exist_ok=True)
    written, rows = [], []
    for (_package, title), modules in zip(GROUPS, api_modules().values(), strict=True):
        rows += [f"\n**{title}**\n", "| module | what it holds |", "|---|---|"]
        for module in modules:
            page = folder / f"{module}.md"
            _write(page, module_page(module))
            written.append(page)
            rows.append(f"| {{doc}}`{module} <api/{module}>` | {_summary(module)} |")
    for stale in set(folder.glob("*.md")) - set(written):
        stale.unlink()
    _write(index, text.replace(MARKER, "\n".join(rows)))
    return written
