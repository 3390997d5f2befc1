r"""Execute the book's chapters, build the HTML book, and check figure data against references.

This module is the single implementation behind ``python -m plateau_lib book ...``, ``make
book`` and the slow tests in ``tests/test_book.py``. Decisions, in order of the pipeline:

**Sources.** The book's root is the repository root (``_config.yml`` and ``_toc.yml`` live
there); the chapters are ``book/<chapter>.ipynb`` notebooks committed *without outputs*.
The chapter list is read from ``_toc.yml`` (every toc entry with a ``book/<name>.ipynb``
file), so there is one list and the CLI, the runner and the tests share it.

**Execution (``book run``).** Each chapter runs headless through papermill with the
kernel named ``python3``. In a virtual environment that name resolves to the kernelspec
ipykernel installs into ``<venv>/share/jupyter/kernels/python3``, whose command is plain
``python``; jupyter_client replaces a bare ``python`` with ``sys.executable``, so the kernel
is the interpreter that runs this module (:func:`kernel_interpreter` checks this and the
tests assert it). Papermill injects ``quick``, ``seed`` and ``output_dir`` after the cell
tagged ``parameters``. The kernel's working directory is the repository root, and
``output_dir`` is ``_build/figures/<chapter>`` (relative when it lies inside the repository,
so no absolute path of the build machine is printed in the published book). The chapter's
figure folder is emptied first, so no stale figure survives a run. On POSIX the kernel
talks to papermill over IPC sockets in a private temporary folder of its own instead of
unencrypted localhost TCP (which ipykernel warns about on every start). The kernel gets
``MPLBACKEND`` set to the inline backend (an ``Agg`` inherited from a CI environment would
otherwise silently drop every figure from the pages) and ``PYTHONHASHSEED=0``. Matplotlib's
font cache is built in this process beforehand: on a fresh machine its one-time "building
the font cache" message would otherwise land on a cell's stderr and fail the strict build.

Executed notebooks never enter git: they go to a *staging book* ``_build/stage/`` that
mirrors the repository's book (``_config.yml``, ``_toc.yml``, the non-notebook files of
``book/``, and the executed notebooks at the same relative paths). Papermill writes to
``_build/running/<chapter>.ipynb`` (it saves after every cell); only a complete, successful
notebook is moved into the stage with :func:`os.replace`, so the stage never holds a
half-written notebook. A failing chapter is moved to ``_build/failed/<chapter>.ipynb``
(with papermill's error markers), its previous stage notebook and record are removed, and
the failure is reported in one line: chapter, cell index in the *committed* notebook
(papermill's injected cell is not counted), exception type and message. The remaining
chapters still run; the exit status is 1. Cells that wrote to stderr are named in one
line too (the strict build would reject them). Ctrl-C stops the run, deletes the
temporary notebook and exits with status 130.

Each successful run is recorded in ``_build/runs.json``: mode (``quick``), seed, a hash of
the notebook's cells, a hash of the ``plateau_lib`` sources (without this tooling), and
the versions of Python,
numpy, scipy and matplotlib. ``book build`` refuses a stage whose chapters are missing or
stale against these (the lesson of caches keyed on the notebook alone), and ``book check``
refuses figure data that did not come from a quick run with the default seed.

**Build (``book build``).** ``jupyter-book build _build/stage --path-output . --all -W -n
--keep-going``: a fresh Sphinx environment every time (so warnings of unchanged pages are
raised again), warnings are errors, nit-picky references, and every warning is listed
before failing. Jupyter Book does not execute anything (``execute_notebooks: "off"`` in
``_config.yml``): the book shows exactly the outputs this runner produced. The HTML lands
in ``_build/html/index.html``. MathJax ships with the book so that math renders without
network access: ``make install`` installs the npm package pinned in ``tools/mathjax``
(``npm ci``), the stage gets the parts the pages load (the ``tex-chtml.js`` component, the
TeX extensions it may autoload, the CHTML fonts) under ``_mathjax/mathjax/``, and
``_config.yml`` points ``mathjax_path`` there (Sphinx copies ``html_static_path`` folders into
``_static``). Without the package the stage gets a small loader that fetches the same
MathJax version from a CDN, and the build says so in one line on stderr. The build also
loads this module as a Sphinx extension (:func:`setup`) for one fix: Sphinx 7.4 writes twice
every inline script that an extension adds after the builder started, and sphinx-thebe's
second ``const THEBE_JS_URL`` is then a JavaScript error on every page (fixed upstream by
sphinx-doc/sphinx#13402, after the Sphinx 7 series that Jupyter Book 1.x requires).
``python -m plateau_lib book browse`` opens every built page in headless Chromium (see
:mod:`plateau_lib.browser_check`).

**Check (``book check``).** Every figure-data file (``*.npz``, ``*.json``) under
``_build/figures/<chapter>/`` is compared with ``tests/reference/<chapter>/``; missing or
extra files, arrays or keys fail, as do shape or dtype changes. Integer, boolean and string
data must be equal; floating data must satisfy
``|actual - reference| <= atol + rtol * |reference|`` elementwise (NaN only where the
reference has NaN). The defaults ``rtol = 1e-6``, ``atol = 1e-10`` assume what CI provides:
the same machine family and the same pinned numpy/scipy wheels (hence the same bundled
OpenBLAS), where reruns are bitwise identical and the remaining differences come from a
different SIMD code path (last-bit changes). Quick runs amplify such changes far less than
``1e6``: when the tolerance was chosen, perturbing the initial parameters of the quick 1-D
run of chapter 1 by ``1e-15`` (relative) moved its 2000-step loss curve by at most ``4e-16``
(relative). So ``rtol = 1e-6`` leaves ample room for round-off, while any change of the
mathematics, the seed or an experiment's settings moves the data by orders of magnitude
more. ``atol = 1e-10`` only matters for entries that are exactly or
nearly zero. References hold well-conditioned quantities only (losses, counts, levels,
final parameters of short runs): long chaotic trajectories or quantities near a
discontinuity (e.g. the exact step a pattern flickers) belong in figures, not in references.

**References (``book refresh-references``).** One command re-executes the chosen chapters
in quick mode with the default seed and replaces ``tests/reference/<chapter>/`` by their
data files (plus ``tests/reference/provenance.json`` with the versions and platform that
produced them). Review the diff before committing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .figures import atomic_write

__all__ = [
    "DATA_SUFFIXES",
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "DEFAULT_SEED",
    "KERNEL_NAME",
    "BookPaths",
    "ChapterRun",
    "UnknownChapterError",
    "build_html",
    "chapter_names",
    "check_chapter_names",
    "check_references",
    "compare_data_dirs",
    "kernel_interpreter",
    "refresh_references",
    "run_chapters",
    "stage_problems",
    "sync_stage",
    "toc_files",
]

DEFAULT_SEED = 0
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-10
KERNEL_NAME = "python3"
DATA_SUFFIXES = (".npz", ".json")
#: Packages whose version change makes an executed chapter stale.
RECORDED_PACKAGES = ("numpy", "scipy", "matplotlib")


class UnknownChapterError(ValueError):
    """A chapter name that is not in ``_toc.yml``."""


# --------------------------------------------------------------------------------------
# Paths and chapters


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
        package_root = Path(__file__).resolve().parent.parent
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


# --------------------------------------------------------------------------------------
# Records of runs


def _notebook_digest(path: Path) -> str:
    """Hash of a notebook's cell types, sources and tags (not outputs or editor metadata)."""
    nb = json.loads(path.read_text())
    cells = [
        (c.get("cell_type"), "".join(c.get("source", "")), sorted(c.get("metadata", {}).get("tags", [])))
        for c in nb.get("cells", [])
    ]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


#: Tooling modules that do not compute anything a chapter shows (left out of the library hash).
_TOOLING = frozenset({"__main__.py", "book.py", "browser_check.py", "cli.py", "seed_sweep.py"})


def _library_digest() -> str:
    """Hash of the ``plateau_lib`` sources a chapter's results depend on (all but the tooling)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if path.parent == root and path.name in _TOOLING:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    out.update({name: version(name) for name in RECORDED_PACKAGES})
    return out


def _read_runs(paths: BookPaths) -> dict[str, dict]:
    try:
        return json.loads(paths.runs.read_text())
    except FileNotFoundError:
        return {}


def _write_runs(paths: BookPaths, runs: dict[str, dict]) -> None:
    text = json.dumps(runs, indent=2, sort_keys=True) + "\n"
    atomic_write(paths.runs, lambda fh: fh.write(text.encode()))


def stage_problems(paths: BookPaths, names: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Why the staging book cannot be built as it is: ``(missing, stale)`` one-line messages.

    Missing: a chapter with no executed notebook. Stale: executed from a different notebook,
    library source or package version than the current ones.
    """
    names = chapter_names(paths.source) if names is None else list(names)
    runs = _read_runs(paths)
    library, versions = _library_digest(), _versions()
    missing, stale = [], []
    for name in names:
        record = runs.get(name)
        if record is None or not paths.staged_notebook(name).is_file():
            missing.append(f"chapter {name!r} has not been executed (run: python -m plateau_lib book run {name})")
            continue
        reasons = []
        if record.get("notebook_sha256") != _notebook_digest(paths.notebook(name)):
            reasons.append(f"book/{name}.ipynb changed")
        if record.get("library_sha256") != library:
            reasons.append("plateau_lib changed")
        if record.get("versions") != versions:
            reasons.append("package versions changed")
        if reasons:
            stale.append(
                f"chapter {name!r} is stale ({', '.join(reasons)} since it was executed; "
                f"run: python -m plateau_lib book run {name})"
            )
    return missing, stale


# --------------------------------------------------------------------------------------
# Execution


def kernel_interpreter(kernel_name: str = KERNEL_NAME) -> str:
    """The interpreter a papermill run with ``kernel_name`` starts, as jupyter_client resolves it.

    Raises ``RuntimeError`` unless it is this process's ``sys.executable`` (a kernelspec
    pointing at another Python would execute the chapters in a different environment).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise RuntimeError(
            f"no Jupyter kernel named {kernel_name!r}; install one with: "
            f"{sys.executable} -m ipykernel install --sys-prefix"
        ) from None
    exe = spec.argv[0]
    # jupyter_client substitutes sys.executable for a bare python / pythonX / pythonX.Y
    if exe in {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}:
        exe = sys.executable
    # compare unresolved paths: a venv's python is a symlink to the base interpreter
    if os.path.abspath(exe) != os.path.abspath(sys.executable):
        raise RuntimeError(
            f"kernel {kernel_name!r} ({spec.resource_dir}) runs {exe}, not {sys.executable}; "
            f"reinstall it with: {sys.executable} -m ipykernel install --sys-prefix"
        )
    return exe


@dataclass(frozen=True)
class ChapterRun:
    """Outcome of executing one chapter.

    ``message`` is the one-line report of a failure (``None`` on success); ``notebook`` the
    executed notebook (in the stage on success, in ``_build/failed`` on failure);
    ``stderr_cells`` the cells (indices in the committed notebook) that wrote to stderr,
    which the strict build rejects (``stderr_output: warn`` in ``_config.yml``).
    """

    chapter: str
    ok: bool
    seconds: float
    notebook: Path | None
    message: str | None = None
    stderr_cells: tuple[int, ...] = ()


@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """Environment the kernel inherits: inline matplotlib backend, fixed hash seed."""
    wanted = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _kernel_config() -> Iterator[object]:
    """Kernel-manager settings for one execution.

    On POSIX the kernel talks to papermill over IPC sockets in a fresh private temporary
    folder, rather than over unencrypted TCP on localhost (ipykernel warns about that on
    every start, and other local users could listen in). The folder must be unique per
    kernel: jupyter_client's default IPC path is ``kernel-ipc-<n>`` in the working
    directory, where two concurrent runs (e.g. pytest-xdist workers) would cross-connect.
    """
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    with tempfile.TemporaryDirectory(prefix="plateau-kernel-") as folder:
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "kernel")}})


def _prewarm_matplotlib() -> None:
    """Build matplotlib's font cache here, not in a kernel (its message would hit a cell's stderr).

    Importing ``matplotlib.font_manager`` builds the cache if needed; no backend is touched.
    """
    import matplotlib.font_manager  # noqa: F401


def _source_cell_index(error_index: int, notebook: Path) -> int:
    """Map papermill's cell index (counting its injected cell) to the committed notebook's."""
    nb = json.loads(notebook.read_text())
    for i, cell in enumerate(nb["cells"]):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return error_index - 1 if error_index > i + 1 else error_index
    return error_index - 1  # papermill injected at the top


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _display_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _run_chapter(paths: BookPaths, name: str, *, quick: bool, seed: int) -> ChapterRun:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = paths.notebook(name)
    figures = paths.figures / name
    shutil.rmtree(figures, ignore_errors=True)
    figures.mkdir(parents=True)
    try:
        output_dir = figures.relative_to(paths.source).as_posix()
    except ValueError:
        output_dir = str(figures)
    running = paths.running / f"{name}.ipynb"
    running.parent.mkdir(parents=True, exist_ok=True)
    running.unlink(missing_ok=True)
    staged, failed = paths.staged_notebook(name), paths.failed / f"{name}.ipynb"
    staged.parent.mkdir(parents=True, exist_ok=True)

    def forget() -> None:  # a failed chapter keeps no earlier success around
        staged.unlink(missing_ok=True)
        runs = _read_runs(paths)
        if runs.pop(name, None) is not None:
            _write_runs(paths, runs)

    start = time.perf_counter()
    try:
        with _kernel_environment(), _kernel_config() as config:
            papermill.execute_notebook(
                str(source),
                str(running),
                parameters={"quick": bool(quick), "seed": int(seed), "output_dir": output_dir},
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                log_output=False,
                start_timeout=120,
                cwd=str(paths.source),
                config=config,
                # The book shows an explorer's static fallback, never its widget view, so the
                # widget state (large, useless without a kernel) is not saved with the notebook.
                store_widget_state=False,
            )
    except PapermillExecutionError as err:
        seconds = time.perf_counter() - start
        if err.ename == "KeyboardInterrupt":
            running.unlink(missing_ok=True)
            forget()
            raise KeyboardInterrupt from None
        failed.parent.mkdir(parents=True, exist_ok=True)
        os.replace(running, failed)
        forget()
        cell = _source_cell_index(err.cell_index, source)
        message = (
            f"chapter {name!r} failed in cell {cell} (0-based) of book/{name}.ipynb: "
            f"{err.ename}: {_one_line(err.evalue)} [executed notebook: {_display_path(failed)}]"
        )
        return ChapterRun(name, False, seconds, failed, message)
    except Exception as err:  # kernel died, could not start, ...
        seconds = time.perf_counter() - start
        kept = None
        if running.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(running, failed)
            kept = failed
        forget()
        message = f"chapter {name!r} could not be executed: {type(err).__name__}: {_one_line(err)}"
        return ChapterRun(name, False, seconds, kept, message)
    except BaseException:  # Ctrl-C: no temporary file, no record of a chapter whose figures are gone
        running.unlink(missing_ok=True)
        forget()
        raise
    seconds = time.perf_counter() - start
    executed = json.loads(running.read_text())
    stderr_cells = tuple(
        _source_cell_index(i, source)
        for i, cell in enumerate(executed["cells"])
        if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in cell.get("outputs", []))
    )
    os.replace(running, staged)
    failed.unlink(missing_ok=True)
    runs = _read_runs(paths)
    runs[name] = {
        "quick": bool(quick),
        "seed": int(seed),
        "seconds": round(seconds, 3),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notebook_sha256": _notebook_digest(source),
        "library_sha256": _library_digest(),
        "versions": _versions(),
    }
    _write_runs(paths, runs)
    return ChapterRun(name, True, seconds, staged, stderr_cells=stderr_cells)


def _copy_file(src: Path, dst: Path) -> None:
    with src.open("rb") as fin:
        atomic_write(dst, lambda fh: shutil.copyfileobj(fin, fh))


#: Folders under ``book/`` that are never part of the book (an interactive run of a chapter
#: from ``book/`` writes its figures to ``book/_build/figures``).
_NOT_BOOK = frozenset({"_build", "__pycache__"})

#: The MathJax release bundled with the book (pinned in ``tools/mathjax/package.json``).
MATHJAX_VERSION = "3.2.2"
#: Stage folder listed in ``html_static_path`` (``_config.yml``); its ``mathjax/`` subfolder
#: becomes ``_static/mathjax/``. Not ``_static`` itself: Jupyter Book adds every ``*.js`` of a
#: source ``_static`` folder to every page, which would load all of MathJax's components.
MATHJAX_STAGE = "_mathjax"
#: The component ``mathjax_path`` names and, relative to it, what it may load: the TeX
#: extensions ``autoload`` fetches on first use and the CHTML fonts (woff-v2, what browsers take).
MATHJAX_ENTRY = "tex-chtml.js"
MATHJAX_FILES = (MATHJAX_ENTRY, "input/tex/extensions/*.js", "output/chtml/fonts/woff-v2/*.woff")
MATHJAX_CDN = f"https://cdn.jsdelivr.net/npm/mathjax@{MATHJAX_VERSION}/es5/{MATHJAX_ENTRY}"
_MATHJAX_LOADER = f"""\
/* The MathJax bundle is not installed (run: npm ci --prefix tools/mathjax), so this page
   loads MathJax {MATHJAX_VERSION} from a CDN and needs network access to show its math. */
(function () {{
  var script = document.createElement("script");
  script.src = "{MATHJAX_CDN}";
  script.async = true;
  document.head.appendChild(script);
}})();
"""


def mathjax_bundle(source: str | os.PathLike[str] | None = None) -> Path | None:
    """The installed MathJax distribution (its ``es5`` folder), or ``None`` if there is none.

    Looks in ``<source>/tools/mathjax/node_modules/mathjax`` (what ``npm ci --prefix
    tools/mathjax`` installs), then in the repository this package was installed from; a
    package of another version than :data:`MATHJAX_VERSION` does not count.
    """
    here = Path(__file__).resolve().parent.parent
    candidates = ([Path(source)] if source is not None else []) + [here]
    for root in candidates:
        package = root / "tools" / "mathjax" / "node_modules" / "mathjax"
        try:
            version = json.loads((package / "package.json").read_text()).get("version")
        except (OSError, ValueError):
            continue
        if version == MATHJAX_VERSION and (package / "es5" / MATHJAX_ENTRY).is_file():
            return package / "es5"
    return None


def _stage_mathjax(paths: BookPaths) -> bool:
    """Put MathJax into ``<stage>/_mathjax/mathjax/``; return whether it is the offline bundle.

    Copies the files of :data:`MATHJAX_FILES` from :func:`mathjax_bundle` (only those that
    changed) and removes anything else there; without a bundle the entry point is a loader
    that fetches MathJax from :data:`MATHJAX_CDN`.
    """
    target = paths.stage / MATHJAX_STAGE / "mathjax"
    bundle = mathjax_bundle(paths.source)
    wanted: dict[Path, Path | None] = {}
    if bundle is None:
        wanted[Path(MATHJAX_ENTRY)] = None
    else:
        for pattern in MATHJAX_FILES:
            for src in sorted(bundle.glob(pattern)):
                wanted[src.relative_to(bundle)] = src
    for rel, src in wanted.items():
        dst = target / rel
        if src is None:
            if not dst.is_file() or dst.read_text() != _MATHJAX_LOADER:
                atomic_write(dst, lambda fh: fh.write(_MATHJAX_LOADER.encode()))
            continue
        have, want = (dst.stat() if dst.is_file() else None), src.stat()
        if have is None or (have.st_size, have.st_mtime_ns) != (want.st_size, want.st_mtime_ns):
            dst.parent.mkdir(parents=True, exist_ok=True)
            partial = dst.with_name(f".{dst.name}.partial")
            shutil.copy2(src, partial)
            os.replace(partial, dst)
    if target.is_dir():
        for dst in sorted(target.rglob("*"), reverse=True):
            if dst.is_dir():
                if not any(dst.iterdir()):
                    dst.rmdir()
            elif dst.relative_to(target) not in wanted:
                dst.unlink()
    return bundle is not None


#: Environment variables that override deployment settings of the staged ``_config.yml``
#: (facts the repository cannot know): variable -> (section, key).
CONFIG_OVERRIDES = {
    "PLATEAU_REPOSITORY_URL": ("repository", "url"),
    "PLATEAU_JUPYTERHUB_URL": ("launch_buttons", "jupyterhub_url"),
}


def config_overrides(environ: Mapping[str, str] | None = None) -> dict[tuple[str, str], str]:
    """The settings :data:`CONFIG_OVERRIDES` asks for in ``environ`` (default ``os.environ``).

    Raises ``ValueError`` naming the variable if a value set there is not an http(s) URL.
    """
    environ = os.environ if environ is None else environ
    out = {}
    for variable, keys in CONFIG_OVERRIDES.items():
        value = environ.get(variable, "").strip()
        if not value:
            continue
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError(f"{variable} must be an http(s) URL, got {value!r}")
        out[keys] = value.rstrip("/")
    return out


def _write_config(src: Path, dst: Path, overrides: Mapping[tuple[str, str], str]) -> None:
    """Copy ``_config.yml``, with ``overrides`` applied (then without its comments)."""
    if not overrides:
        _copy_file(src, dst)
        return
    import yaml

    config = yaml.safe_load(src.read_text())
    for (section, key), value in overrides.items():
        config.setdefault(section, {})[key] = value
    atomic_write(dst, lambda fh: fh.write(yaml.safe_dump(config, sort_keys=False).encode()))


def sync_stage(paths: BookPaths) -> None:
    """Mirror the book's non-executed files into the stage and drop what the book no longer has.

    Copies ``_config.yml``, ``_toc.yml`` and every file of ``book/`` except notebooks (the
    stage's notebooks are the executed ones), hidden files and ``_build`` folders; removes
    stage files whose source is gone and
    executed notebooks of chapters that no longer exist (Sphinx would warn about them).
    Also stages MathJax (see :data:`MATHJAX_FILES`), and applies the deployment settings of
    :func:`config_overrides` to the staged ``_config.yml``.
    """
    overrides = config_overrides()
    src_book, dst_book = paths.source / "book", paths.stage / "book"
    dst_book.mkdir(parents=True, exist_ok=True)
    _write_config(paths.source / "_config.yml", paths.stage / "_config.yml", overrides)
    _copy_file(paths.source / "_toc.yml", paths.stage / "_toc.yml")
    wanted = set()
    for src in sorted(src_book.rglob("*")):
        rel = src.relative_to(src_book)
        skipped = any(part.startswith(".") or part in _NOT_BOOK for part in rel.parts)
        if src.is_dir() or skipped or src.suffix == ".ipynb":
            continue
        wanted.add(rel)
        _copy_file(src, dst_book / rel)
    chapters = set(chapter_names(paths.source))
    for dst in sorted(dst_book.rglob("*"), reverse=True):
        rel = dst.relative_to(dst_book)
        if dst.is_dir():
            if not any(dst.iterdir()):
                dst.rmdir()
            continue
        keep = rel in wanted or (dst.suffix == ".ipynb" and rel.parent == Path(".") and dst.stem in chapters)
        if not keep:
            dst.unlink()
    _stage_mathjax(paths)


def run_chapters(
    paths: BookPaths,
    names: Iterable[str] | None = None,
    *,
    quick: bool = False,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
) -> list[ChapterRun]:
    """Execute chapters (all by default, in toc order) into the staging book.

    Parameters
    ----------
    paths : BookPaths
    names : iterable of str, optional
        Chapter names (stems of ``book/*.ipynb`` listed in ``_toc.yml``); validated first.
    quick : bool
        Quick mode (small budgets, what CI and the references use).
    seed : int
        Seed injected into every chapter.
    progress : bool
        Show a progress bar over chapters (papermill's per-cell bar is off: one bar, one
        line per failure).

    Returns
    -------
    list of ChapterRun
        One per chapter; a failure does not stop the remaining chapters.
        ``KeyboardInterrupt`` propagates after the temporary notebook is removed.
    """
    names = check_chapter_names(names, chapter_names(paths.source))
    config_overrides()  # a malformed deployment setting fails before anything runs
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    kernel_interpreter()
    _prewarm_matplotlib()
    sync_stage(paths)
    from tqdm.auto import tqdm

    results = []
    bar = tqdm(names, desc="book run", unit="chapter", disable=not progress, file=sys.stderr)
    try:
        for name in bar:
            bar.set_postfix_str(name)
            result = _run_chapter(paths, name, quick=quick, seed=int(seed))
            if not result.ok:
                bar.write(result.message, file=sys.stderr)
            elif result.stderr_cells:
                cells = ", ".join(map(str, result.stderr_cells))
                bar.write(
                    f"chapter {name!r}: cell(s) {cells} (0-based) wrote to stderr; the strict build will reject it",
                    file=sys.stderr,
                )
            results.append(result)
    finally:
        bar.close()
    return results


# --------------------------------------------------------------------------------------
# HTML build


def build_html(paths: BookPaths, *, strict: bool = True, allow_stale: bool = False, quiet: bool = False) -> int:
    """Build the staging book to ``<output_root>/_build/html`` with Jupyter Book; return the exit status.

    Runs ``jupyter-book build <stage> --path-output <output_root> --all`` (plus ``-W -n
    --keep-going`` when ``strict``) in a subprocess with this interpreter. Before that, the
    stage's non-notebook files are refreshed from the repository, and the build is refused
    (status 1, one line per chapter on stderr) if a chapter was never executed or, unless
    ``allow_stale``, is stale (see :func:`stage_problems`).
    """
    config_overrides()  # a malformed deployment setting fails before anything is built
    missing, stale = stage_problems(paths)
    problems = missing + ([] if allow_stale else stale)
    for line in problems:
        print(f"book build: {line}", file=sys.stderr)
    if problems:
        return 1
    sync_stage(paths)
    if mathjax_bundle(paths.source) is None:
        print(
            f"book build: warning: MathJax is not installed, so the pages load it from {MATHJAX_CDN} "
            "and show raw TeX without network access (install it: npm ci --prefix tools/mathjax)",
            file=sys.stderr,
        )
    cmd = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main(prog_name='jupyter-book')",
        "build", str(paths.stage), "--path-output", str(paths.output_root), "--all",
    ]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    if quiet:
        cmd += ["-q"]
    return subprocess.run(cmd, cwd=paths.output_root, check=False).returncode


def _inline_scripts_once(app: object) -> None:
    """Make the HTML builder write each inline script once (Sphinx 7.4, sphinx-doc/sphinx#13402).

    ``Sphinx.add_js_file(None, body=...)`` after the builder started hands ``None`` to the
    builder and ``''`` to the registry, which the builder adds again before writing; the two
    differ, so the script appears twice (sphinx-thebe's ``const`` declarations then throw).
    Handing the builder ``''`` too, as the upstream fix does, lets its duplicate check see it.
    """
    builder = getattr(app, "builder", None)
    add_js_file = getattr(builder, "add_js_file", None)
    if add_js_file is None:
        return

    def add_js_file_once(filename: str | None, **kwargs: object) -> None:
        add_js_file(filename or "", **kwargs)

    builder.add_js_file = add_js_file_once


def setup(app: object) -> dict[str, object]:
    """Sphinx extension (``sphinx: extra_extensions`` in ``_config.yml``): see :func:`_inline_scripts_once`."""
    app.connect("builder-inited", _inline_scripts_once)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --------------------------------------------------------------------------------------
# Reference comparison


def _data_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {
        p.name: p for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in DATA_SUFFIXES and not p.name.startswith(".")
    }


def _compare_arrays(label: str, actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str | None:
    if actual.shape != expected.shape:
        return f"{label}: shape {actual.shape} != reference {expected.shape}"
    kinds = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex", "U": "str", "S": "bytes"}
    ka, ke = kinds.get(actual.dtype.kind, actual.dtype.kind), kinds.get(expected.dtype.kind, expected.dtype.kind)
    if ka != ke:
        return f"{label}: dtype {actual.dtype} != reference {expected.dtype}"
    if ka not in ("float", "complex"):
        bad = int(np.count_nonzero(actual != expected))
        return f"{label}: {bad} of {expected.size} entries differ (exact comparison)" if bad else None
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    if np.any(nan_a != nan_e):
        return f"{label}: NaN at {int(np.count_nonzero(nan_a != nan_e))} entries where the reference differs"
    both = ~nan_e
    a, e = actual[both], expected[both]
    if a.size == 0:
        return None
    finite = np.isfinite(a) & np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(finite, np.abs(a - e), np.where(a == e, 0.0, np.inf))
        scale = np.where(finite, np.abs(e), 0.0)
        bad = diff > atol + rtol * scale
        if not np.any(bad):
            return None
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), np.where(diff > 0, np.inf, 0.0))
    return (
        f"{label}: {int(np.count_nonzero(bad))} of {e.size} entries off; "
        f"max abs diff {float(diff.max()):.3e}, max rel diff {float(rel.max()):.3e} (rtol={rtol:g}, atol={atol:g})"
    )


def _flatten_json(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(_flatten_json(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _load_data(path: Path) -> dict[str, object]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    return _flatten_json(json.loads(path.read_text()))


def _compare_values(label: str, actual: object, expected: object, rtol: float, atol: float) -> str | None:
    if isinstance(actual, np.ndarray) or isinstance(expected, np.ndarray):
        return _compare_arrays(label, np.asarray(actual), np.asarray(expected), rtol, atol)
    try:  # JSON numbers (and lists of them) compare like arrays; bool/str exactly
        a, e = np.asarray(actual), np.asarray(expected)
    except ValueError:
        a = e = None
    if a is not None and a.dtype.kind in "biuf" and e.dtype.kind in "biuf":
        if a.dtype.kind in "iu" and e.dtype.kind == "f" or a.dtype.kind == "f" and e.dtype.kind in "iu":
            a, e = a.astype(float), e.astype(float)
        return _compare_arrays(label, a, e, rtol, atol)
    return None if actual == expected else f"{label}: {actual!r} != reference {expected!r}"


def compare_data_dirs(
    actual_dir: str | os.PathLike[str],
    reference_dir: str | os.PathLike[str],
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    label: str | None = None,
) -> list[str]:
    """Compare the figure-data files of two folders; return one line per mismatch (empty: equal).

    A file or an array/key present on one side only is a mismatch. See the module
    docstring for the tolerance rule.
    """
    actual_dir, reference_dir = Path(actual_dir), Path(reference_dir)
    label = label or actual_dir.name
    actual, reference = _data_files(actual_dir), _data_files(reference_dir)
    lines = []
    for name in sorted(set(reference) - set(actual)):
        lines.append(f"{label}/{name}: missing (the reference has it, the run did not produce it)")
    for name in sorted(set(actual) - set(reference)):
        lines.append(f"{label}/{name}: extra (no reference; run: python -m plateau_lib book refresh-references)")
    for name in sorted(set(actual) & set(reference)):
        a, e = _load_data(actual[name]), _load_data(reference[name])
        for key in sorted(set(e) - set(a)):
            lines.append(f"{label}/{name}: array {key!r} missing")
        for key in sorted(set(a) - set(e)):
            lines.append(f"{label}/{name}: array {key!r} extra (not in the reference)")
        for key in sorted(set(a) & set(e)):
            problem = _compare_values(f"{label}/{name}: array {key!r}", a[key], e[key], rtol, atol)
            if problem:
                lines.append(problem)
    return lines


def check_references(
    paths: BookPaths,
    names: Iterable[str] | None = None,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> list[str]:
    """Compare ``_build/figures/<chapter>/`` with ``tests/reference/<chapter>/`` for the chapters.

    Returns one line per problem: a chapter not executed, or not executed in quick mode with
    the default seed (the references' setting), or a data mismatch. Empty means all agree.
    """
    available = chapter_names(paths.source)
    chosen = check_chapter_names(names, available)
    runs = _read_runs(paths)
    lines = []
    for name in chosen:
        record = runs.get(name)
        if record is None:
            lines.append(f"{name}: not executed (run: python -m plateau_lib book run --quick {name})")
            continue
        if not record.get("quick") or record.get("seed") != DEFAULT_SEED:
            lines.append(
                f"{name}: executed with quick={record.get('quick')}, seed={record.get('seed')}; references are "
                f"quick mode with seed {DEFAULT_SEED} (run: python -m plateau_lib book run --quick {name})"
            )
            continue
        lines += compare_data_dirs(paths.figures / name, paths.reference / name, rtol=rtol, atol=atol, label=name)
    if names is None and paths.reference.is_dir():
        for folder in sorted(p for p in paths.reference.iterdir() if p.is_dir()):
            if folder.name not in available:
                lines.append(f"{folder.name}: reference folder for a chapter that is not in _toc.yml")
    return lines


def refresh_references(
    paths: BookPaths, names: Iterable[str] | None = None, *, progress: bool = True
) -> tuple[list[ChapterRun], list[Path]]:
    """Re-execute chapters in quick mode (default seed) and replace their reference data.

    Nothing is replaced unless every chosen chapter ran. Each chapter's folder is written
    beside the old one and swapped in; a chapter without data files has no folder.
    Returns the runs and the reference files written.
    """
    runs = run_chapters(paths, names, quick=True, seed=DEFAULT_SEED, progress=progress)
    if not all(r.ok for r in runs):
        return runs, []
    written: list[Path] = []
    paths.reference.mkdir(parents=True, exist_ok=True)
    for run in runs:
        files = _data_files(paths.figures / run.chapter)
        target = paths.reference / run.chapter
        fresh = paths.reference / f".{run.chapter}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        if files:
            fresh.mkdir()
            for fname, src in files.items():
                shutil.copy2(src, fresh / fname)
                written.append(target / fname)
        old = paths.reference / f".{run.chapter}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        if files:
            os.replace(fresh, target)
        shutil.rmtree(old, ignore_errors=True)
    provenance = {
        "generated_by": "python -m plateau_lib book refresh-references",
        "mode": {"quick": True, "seed": DEFAULT_SEED},
        "platform": {"machine": platform.machine(), "system": platform.system()},
        "versions": _versions(),
    }
    text = json.dumps(provenance, indent=2, sort_keys=True) + "\n"
    atomic_write(paths.reference / "provenance.json", lambda fh: fh.write(text.encode()))
    return runs, written
