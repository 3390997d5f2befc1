r"""The release files of one edition: the figure bundle, the executed notebooks, the lock file, the
HTML site, the PDF, and a manifest with the SHA-256 of every file.

**The figure bundle (``book bundle``).** For every figure of the executed book, ReScience-style:
its PNG and its data files (``_build/figures/<chapter>/``, as :func:`plateau_lib.figures.save_figure`
wrote them), the chapter and the cell that drew it (the cell's index in the committed notebook, its
id and its source, as ``cells/<chapter>/<figure>.py``), the library functions that cell calls
(``plateau_lib...``, read from the cell's syntax tree with the notebook's imports, the saving
helpers of :mod:`plateau_lib.figures` left out), and the seed and mode of the run (papermill's
parameters of the executed notebook). A static explorer counts as one figure: all its frames, their
data and its manifest. Every other file of the chapter's folder (the glued numbers) is in the bundle
too. ``figures.json`` in the archive holds these records.

**A release (``book bundle``, the release workflow).** :func:`write_release` writes into one folder
(``_build/release`` by default), each file named by :func:`~plateau_lib.book.edition.release_name`:
``figures.zip``, ``notebooks.zip`` (the executed notebooks and the record of their runs),
``constraints.txt`` (the lock), ``html.zip`` (if the HTML book is built), ``book.pdf`` (if the PDF is
built; required with ``require_pdf``) and ``manifest.json``: the SHA-256 and size of each of those
files and of every file inside each archive, plus ``SHA256SUMS`` (``sha256sum -c`` reads it).
Archives hold their members in sorted order with a fixed timestamp, so the same files give the same
bytes; every file is written to a temporary file and renamed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..figures import atomic_write
from .edition import book_version, citation_problems, edition_text, release_name
from .paths import BookPaths, chapter_names

__all__ = [
    "FigureRecord",
    "ReleaseFiles",
    "figure_records",
    "sha256",
    "write_figure_bundle",
    "write_release",
]

#: Calls into these modules save or glue a figure; they are not "the function that drew it".
_SAVING = ("plateau_lib.figures",)
#: Fixed member timestamp (the earliest a zip file can store), for reproducible archives.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FigureRecord:
    """One figure of the executed book and where it came from.

    Attributes
    ----------
    chapter, name : str
        The chapter and the figure's file stem (``save_figure(fig, name, ...)``), or
        ``explorer_<name>`` for a static explorer.
    kind : {"figure", "explorer"}
    cell : int
        Index of the cell that drew it in the committed notebook ``book/<chapter>.ipynb`` (0-based;
        the cell whose source is the drawing cell's).
    executed_cell : int
        Its index in the executed notebook (``book/<chapter>.ipynb`` of ``notebooks.zip``), which
        has papermill's injected parameters and the run's banner in addition.
    functions : tuple of str
        The ``plateau_lib`` functions the cell calls, in order of appearance.
    seed : int
    mode : {"full", "quick"}
    files : tuple of str
        The figure's files in the bundle (PNG first).
    """

    chapter: str
    name: str
    kind: str
    cell: int
    executed_cell: int
    functions: tuple[str, ...]
    seed: int
    mode: str
    files: tuple[str, ...]


def sha256(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# reading the executed notebooks


def _tree(source: str) -> ast.Module | None:
    """The syntax tree of a cell (IPython's ``%`` and ``!`` lines blanked), ``None`` if it is not Python."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _imports(trees: Iterable[ast.Module]) -> dict[str, str]:
    """Local name -> ``plateau_lib`` dotted name, from every import of the notebook."""
    names: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("plateau_lib"):
                        names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "plateau_lib"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("plateau_lib"):
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _calls(tree: ast.Module, imports: Mapping[str, str]) -> list[tuple[str, ast.Call]]:
    """Every call of the cell to a ``plateau_lib`` name, resolved, in source order.

    A name is an imported function or a function of a module (``pl.figure``,
    ``plateau_lib.theory.kernel``); a method of an object the library holds
    (``var_study.VARIANTS.n_seeds``) is not a function of the library and is left out.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (parts := _dotted(node.func)) and parts[0] in imports:
            name = ".".join([imports[parts[0]], *parts[1:]])
            if len(parts) == 1 or _is_module(name.rpartition(".")[0]):
                found.append((name, node))
    return sorted(found, key=lambda item: (item[1].lineno, item[1].col_offset))


def _is_module(name: str) -> bool:
    """Whether ``name`` is an importable module (not an object inside one)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _literal(call: ast.Call, index: int) -> str | None:
    if len(call.args) > index and isinstance(call.args[index], ast.Constant) and isinstance(call.args[index].value,
                                                                                             str):
        return call.args[index].value
    return None


@dataclass(frozen=True)
class _Drawing:
    """A cell that draws a figure: its name, kind, index, source and library calls."""

    name: str
    kind: str
    executed_cell: int
    source: str
    functions: tuple[str, ...]


def _drawings(notebook: Mapping[str, Any]) -> list[_Drawing]:
    """The figures (``save_figure`` with a literal name) and explorers (``explorer_grid("name")``)
    the notebook's cells draw."""
    cells = notebook.get("cells", [])
    trees = [(k, c, _tree("".join(c.get("source", "")))) for k, c in enumerate(cells) if c.get("cell_type") == "code"]
    imports = _imports(tree for _, _, tree in trees if tree is not None)
    out = []
    for index, cell, tree in trees:
        if tree is None:
            continue
        calls = _calls(tree, imports)
        functions = tuple(dict.fromkeys(n for n, _ in calls if not n.startswith(_SAVING)))
        for name, call in calls:
            kind, stem = None, None
            if name == "plateau_lib.figures.save_figure" and (stem := _literal(call, 1)):
                kind = "figure"
            elif name.endswith(".explorer_grid") and (stem := _literal(call, 0)):
                kind, stem = "explorer", f"explorer_{stem}"
            if kind:
                out.append(_Drawing(stem, kind, index, "".join(cell["source"]), functions))
    return out


def _run_settings(notebook: Mapping[str, Any], chapter: str) -> tuple[int, str]:
    parameters = notebook.get("metadata", {}).get("papermill", {}).get("parameters")
    if not isinstance(parameters, dict) or "seed" not in parameters or "quick" not in parameters:
        raise ValueError(f"the executed notebook of {chapter!r} records no papermill parameters seed and quick")
    return int(parameters["seed"]), "quick" if parameters["quick"] else "full"


def _figure_files(folder: Path, drawing: _Drawing) -> list[Path]:
    """The files of a figure in its chapter's folder: its PNG first, then its data, its manifest."""
    if drawing.kind == "explorer":
        pngs = sorted(folder.glob(f"{drawing.name}_*.png"))
        others = sorted(p for p in folder.rglob(f"{drawing.name}*") if p.suffix != ".png" or p.parent != folder)
    else:
        pngs = sorted(folder.rglob(f"{drawing.name}.png"))
        others = sorted(p for p in folder.rglob(f"{drawing.name}.*") if p.suffix != ".png")
    if not pngs:
        raise FileNotFoundError(f"no PNG of {drawing.kind} {drawing.name!r} (cell {drawing.cell}) in {folder}")
    return pngs + [p for p in others if p not in pngs]


def figure_records(paths: BookPaths, chapters: Iterable[str] | None = None) -> list[tuple[FigureRecord, str]]:
    """Every figure of the executed chapters with the source of the cell that drew it, in toc order.

    Raises ``FileNotFoundError`` if a chapter was not executed or a figure it draws was not saved,
    ``ValueError`` if a drawing cell is not in the committed notebook (a stale execution).
    """
    records = []
    for chapter in chapter_names(paths.source) if chapters is None else chapters:
        notebook_path = paths.staged_notebook(chapter)
        if not notebook_path.is_file():
            raise FileNotFoundError(f"chapter {chapter!r} has not been executed (no {notebook_path})")
        notebook = json.loads(notebook_path.read_text())
        seed, mode = _run_settings(notebook, chapter)
        committed = ["".join(c.get("source", "")) for c in json.loads(paths.notebook(chapter).read_text())["cells"]]
        folder = paths.figures / chapter
        for drawing in _drawings(notebook):
            if drawing.source not in committed:
                raise ValueError(f"the cell drawing {drawing.name!r} in the executed {chapter!r} is not in "
                                 f"{paths.notebook(chapter)} (execute the chapter again)")
            files = tuple(f"figures/{chapter}/{p.relative_to(folder).as_posix()}"
                          for p in _figure_files(folder, drawing))
            record = FigureRecord(chapter, drawing.name, drawing.kind, committed.index(drawing.source),
                                  drawing.executed_cell, drawing.functions, seed, mode,
                                  files + (f"cells/{chapter}/{drawing.name}.py",))
            records.append((record, drawing.source))
    return records


# --------------------------------------------------------------------------------------
# archives


def _zip_bytes(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name])
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def _digests(members: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in sorted(members.items())}


def _folder_members(folder: Path, prefix: str) -> dict[str, bytes]:
    return {f"{prefix}{p.relative_to(folder).as_posix()}": p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def figure_bundle_members(paths: BookPaths) -> dict[str, bytes]:
    """The figure bundle's files by archive path: every chapter's figure folder, the cells, ``figures.json``."""
    records = figure_records(paths)
    members: dict[str, bytes] = {}
    for chapter in chapter_names(paths.source):
        if (paths.figures / chapter).is_dir():
            members.update(_folder_members(paths.figures / chapter, f"figures/{chapter}/"))
    for record, source in records:
        members[record.files[-1]] = source.encode()
    index = {"edition": edition_text(paths.source), "figures": [asdict(r) for r, _ in records]}
    members["figures.json"] = (json.dumps(index, indent=1) + "\n").encode()
    return members


def write_figure_bundle(paths: BookPaths, target: Path) -> dict[str, dict[str, Any]]:
    """Write the figure bundle to ``target`` (a zip file); return its members' SHA-256 and sizes."""
    members = figure_bundle_members(paths)
    _write(Path(target), _zip_bytes(members))
    return _digests(members)


def _notebook_members(paths: BookPaths) -> dict[str, bytes]:
    members = {f"book/{c}.ipynb": paths.staged_notebook(c).read_bytes() for c in chapter_names(paths.source)}
    if paths.runs.is_file():
        members["runs.json"] = paths.runs.read_bytes()
    return members


@dataclass(frozen=True)
class ReleaseFiles:
    """What :func:`write_release` wrote: the folder, its files and the manifest."""

    folder: Path
    files: tuple[Path, ...]
    manifest: Path


def write_release(paths: BookPaths, folder: Path | None = None, *, tag: str | None = None,
                  require_pdf: bool = False) -> ReleaseFiles:
    """Write the release files of the built book into ``folder`` (default ``_build/release``).

    ``tag`` (the git tag being released) must be ``v<version>`` and ``CITATION.cff`` must agree
    with ``pyproject.toml`` (:func:`~plateau_lib.book.edition.citation_problems`), else
    ``ValueError`` before anything is written; so must the executed chapters exist and every figure
    they draw (``FileNotFoundError``), and, with ``require_pdf``, the PDF.
    """
    from .pdf import pdf_path

    problems = citation_problems(paths.source, tag=tag) if tag is not None else []
    if problems:
        raise ValueError("; ".join(problems))
    version = book_version(paths.source)
    pdf = pdf_path(paths)
    if require_pdf and not pdf.is_file():
        raise FileNotFoundError(f"no PDF at {pdf} (build it: make pdf)")
    folder = paths.build / "release" if folder is None else Path(folder)
    archives = {
        release_name(version, "figures.zip"): figure_bundle_members(paths),
        release_name(version, "notebooks.zip"): _notebook_members(paths),
    }
    if (paths.html / "index.html").is_file():
        archives[release_name(version, "html.zip")] = _folder_members(paths.html, "html/")
    plain = {release_name(version, "constraints.txt"): (paths.source / "constraints.txt").read_bytes()}
    if pdf.is_file():
        plain[release_name(version, "book.pdf")] = pdf.read_bytes()
    written: dict[str, bytes] = {}
    for name, members in archives.items():
        written[name] = _zip_bytes(members)
    written.update(plain)
    manifest = {
        "edition": edition_text(paths.source),
        "version": version,
        "files": {name: {**_digests({name: data})[name], **({"members": _digests(archives[name])}
                                                          if name in archives else {})}
                  for name, data in sorted(written.items())},
    }
    files = [_write(folder / name, data) for name, data in sorted(written.items())]
    manifest_path = _write(folder / release_name(version, "manifest.json"),
                           (json.dumps(manifest, indent=1) + "\n").encode())
    sums = "".join(f"{sha256(data)}  {name}\n" for name, data in sorted(written.items()))
    sums += f"{sha256(manifest_path.read_bytes())}  {manifest_path.name}\n"
    files.append(_write(folder / "SHA256SUMS", sums.encode()))
    return ReleaseFiles(folder, (*files, manifest_path), manifest_path)

