r"""Execute chapters headless with papermill into the staging book.

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
otherwise silently drop every figure from the pages), ``PYTHONHASHSEED=0`` and, where the
processor runs it, one OpenBLAS kernel (:mod:`~plateau_lib.book.blas_kernel`). Matplotlib's
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

**Chapters at once (``book run --workers N``).** With ``workers > 1`` up to ``N`` chapters execute
at the same time, each in its own kernel (a thread of this process waits on each); the runs
record (``_build/runs.json``) is updated under a lock. On Ctrl-C (or SIGTERM, which the command
line turns into Ctrl-C) every running kernel is interrupted, as Ctrl-C in Jupyter does, so each
chapter stops in its current cell and its kernel shuts down before the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..figures import atomic_write
from .blas_kernel import BLAS_VARIABLE, pin_blas_kernel
from .paths import DEFAULT_SEED, BookPaths, chapter_names, check_chapter_names
from .present import present_run
from .records import library_digest, notebook_digest, read_runs, versions, write_runs
from .stage import config_overrides, sync_stage

__all__ = ["ChapterRun", "KERNEL_NAME", "display_path", "kernel_interpreter", "one_line", "run_chapters"]


KERNEL_NAME = "python3"


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
    """Environment the kernel inherits: inline matplotlib backend, fixed hash seed, pinned BLAS kernel."""
    wanted = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"}
    core = pin_blas_kernel(dict(os.environ))
    if core is not None:
        wanted[BLAS_VARIABLE] = core
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


#: Guards the read-modify-write of ``_build/runs.json`` by chapters running at once.
_RUNS_LOCK = threading.Lock()
#: The kernel managers of the chapters executing now (see :func:`_interrupt_kernels`).
_LIVE_KERNELS: weakref.WeakSet = weakref.WeakSet()


def _tracked_kernel_manager() -> type:
    """nbclient's kernel manager, recording each instance in :data:`_LIVE_KERNELS`."""
    from jupyter_client.manager import AsyncKernelManager

    class TrackedKernelManager(AsyncKernelManager):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            _LIVE_KERNELS.add(self)

    return TrackedKernelManager


def _interrupt_kernels() -> int:
    """Send SIGINT to every kernel of :data:`_LIVE_KERNELS` still running; return how many."""
    sent = 0
    for manager in list(_LIVE_KERNELS):
        pid = getattr(getattr(manager, "provisioner", None), "pid", None)
        if pid is None or not manager.has_kernel:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
            sent += 1
    return sent


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


def one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def display_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _run_chapter(paths: BookPaths, name: str, *, quick: bool, seed: int) -> ChapterRun:
    """Execute chapter ``name`` into the staging book: prepare its files, run it, keep the outcome.

    A failure leaves the executed notebook in ``paths.failed`` and no record of an earlier
    success (:func:`_forget`); Ctrl-C leaves neither a temporary notebook nor such a record.
    """
    from papermill.exceptions import PapermillExecutionError

    files = _prepare(paths, name)
    start = time.perf_counter()
    try:
        _execute(paths, files, quick=quick, seed=seed)
    except PapermillExecutionError as err:
        return _failed_in_a_cell(paths, files, err, time.perf_counter() - start)
    except Exception as err:  # kernel died, could not start, ...
        return _not_executed(paths, files, err, time.perf_counter() - start)
    except BaseException:  # Ctrl-C: no temporary file, no record of a chapter whose figures are gone
        files.running.unlink(missing_ok=True)
        _forget(paths, files)
        raise
    return _succeeded(paths, files, quick=quick, seed=seed, seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class _ChapterFiles:
    """Where one execution of chapter ``name`` reads and writes."""

    name: str
    source: Path  # the committed notebook
    figures: Path  # its figure folder, emptied before the run
    output_dir: str  # the figure folder as the notebook's parameter (relative to the book if inside it)
    running: Path  # the notebook papermill writes while executing
    staged: Path  # where a success is kept
    failed: Path  # where a failure is kept


def _prepare(paths: BookPaths, name: str) -> _ChapterFiles:
    """Empty the chapter's figure folder, make the staging folders, remove a leftover running notebook."""
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
    files = _ChapterFiles(name, paths.notebook(name), figures, output_dir, running, paths.staged_notebook(name),
                          paths.failed / f"{name}.ipynb")
    files.staged.parent.mkdir(parents=True, exist_ok=True)
    return files


def _execute(paths: BookPaths, files: _ChapterFiles, *, quick: bool, seed: int) -> None:
    """Run the notebook with papermill into ``files.running`` (raises what papermill raises)."""
    import papermill

    with _kernel_config() as config:
        papermill.execute_notebook(
            str(files.source),
            str(files.running),
            parameters={"quick": bool(quick), "seed": int(seed), "output_dir": files.output_dir},
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            log_output=False,
            start_timeout=120,
            cwd=str(paths.source),
            config=config,
            # The book shows an explorer's static fallback, never its widget view, so the
            # widget state (large, useless without a kernel) is not saved with the notebook.
            store_widget_state=False,
            kernel_manager_class=_tracked_kernel_manager(),
        )


def _forget(paths: BookPaths, files: _ChapterFiles) -> None:
    """A failed chapter keeps no earlier success around: its staged notebook and its record go."""
    files.staged.unlink(missing_ok=True)
    with _RUNS_LOCK:
        runs = read_runs(paths)
        if runs.pop(files.name, None) is not None:
            write_runs(paths, runs)


def _keep_failed(files: _ChapterFiles) -> Path | None:
    """Move the executed notebook, if any, to ``files.failed``; return where it is kept."""
    if not files.running.exists():
        return None
    files.failed.parent.mkdir(parents=True, exist_ok=True)
    os.replace(files.running, files.failed)
    return files.failed


def _failed_in_a_cell(paths: BookPaths, files: _ChapterFiles, err, seconds: float) -> ChapterRun:
    """The outcome of an exception in a cell, in one line naming the committed notebook's cell."""
    if err.ename == "KeyboardInterrupt":
        files.running.unlink(missing_ok=True)
        _forget(paths, files)
        raise KeyboardInterrupt from None
    failed = files.failed
    failed.parent.mkdir(parents=True, exist_ok=True)
    os.replace(files.running, failed)
    _forget(paths, files)
    cell = _source_cell_index(err.cell_index, files.source)
    message = (
        f"chapter {files.name!r} failed in cell {cell} (0-based) of book/{files.name}.ipynb: "
        f"{err.ename}: {one_line(err.evalue)} [executed notebook: {display_path(failed)}]"
    )
    return ChapterRun(files.name, False, seconds, failed, message)


def _not_executed(paths: BookPaths, files: _ChapterFiles, err: Exception, seconds: float) -> ChapterRun:
    """The outcome of a failure outside the cells (the kernel died or could not start, ...)."""
    kept = _keep_failed(files)
    _forget(paths, files)
    message = f"chapter {files.name!r} could not be executed: {type(err).__name__}: {one_line(err)}"
    return ChapterRun(files.name, False, seconds, kept, message)


def _succeeded(paths: BookPaths, files: _ChapterFiles, *, quick: bool, seed: int, seconds: float) -> ChapterRun:
    """Present the executed notebook, stage it and record the run (mode, seed, digests, versions, kernel)."""
    executed = json.loads(files.running.read_text())
    stderr_cells = tuple(
        _source_cell_index(i, files.source)
        for i, cell in enumerate(executed["cells"])
        if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in cell.get("outputs", []))
    )
    presented = json.dumps(present_run(executed, quick=quick, seed=seed), indent=1, ensure_ascii=False) + "\n"
    atomic_write(files.running, lambda fh: fh.write(presented.encode()))
    os.replace(files.running, files.staged)
    files.failed.unlink(missing_ok=True)
    record = {
        "quick": bool(quick),
        "seed": int(seed),
        "seconds": round(seconds, 3),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notebook_sha256": notebook_digest(files.source),
        "library_sha256": library_digest(),
        "versions": versions(),
        "blas_kernel": os.environ.get(BLAS_VARIABLE),
    }
    with _RUNS_LOCK:
        runs = read_runs(paths)
        runs[files.name] = record
        write_runs(paths, runs)
    return ChapterRun(files.name, True, seconds, files.staged, stderr_cells=stderr_cells)


def run_chapters(
    paths: BookPaths,
    names: Iterable[str] | None = None,
    *,
    quick: bool = False,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
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
    workers : int
        Chapters executed at once (see the module docstring); ``1``: one after the other.
    progress : bool
        Show a progress bar over chapters (papermill's per-cell bar is off: one bar, one
        line per failure).

    Returns
    -------
    list of ChapterRun
        One per chapter, in the order of ``names``; a failure does not stop the remaining
        chapters. ``KeyboardInterrupt`` propagates after the temporary notebooks are removed
        (and, with ``workers > 1``, after every running kernel was interrupted).
    """
    names = check_chapter_names(names, chapter_names(paths.source))
    config_overrides()  # a malformed deployment setting fails before anything runs
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    kernel_interpreter()
    _prewarm_matplotlib()
    sync_stage(paths)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(names), desc="book run", unit="chapter", disable=not progress, file=sys.stderr)

    def report(result: ChapterRun) -> ChapterRun:
        bar.update(1)
        if not result.ok:
            bar.write(result.message, file=sys.stderr)
        elif result.stderr_cells:
            cells = ", ".join(map(str, result.stderr_cells))
            bar.write(f"chapter {result.chapter!r}: cell(s) {cells} (0-based) wrote to stderr; "
                      "the strict build will reject it", file=sys.stderr)
        return result

    try:
        with _kernel_environment():
            if workers == 1 or len(names) == 1:
                return [report(_run_chapter(paths, name, quick=quick, seed=int(seed))) for name in names]
            return _run_at_once(paths, names, quick=quick, seed=int(seed), workers=int(workers), report=report)
    finally:
        bar.close()


def _run_at_once(paths: BookPaths, names: list[str], *, quick: bool, seed: int, workers: int,
                 report: object) -> list[ChapterRun]:
    """:func:`_run_chapter` for every chapter, ``workers`` at once on threads; Ctrl-C interrupts every kernel."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="book-run")
    futures = [pool.submit(_run_chapter, paths, name, quick=quick, seed=seed) for name in names]
    for future in futures:
        future.add_done_callback(lambda f: not f.cancelled() and f.exception() is None and report(f.result()))
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # a KeyboardInterrupt in a kernel (interrupted from outside) stops the run
        return [future.result() for future in futures]
    except BaseException:  # Ctrl-C here, or one chapter stopped by it: stop the others too
        for future in futures:
            future.cancel()
        while not all(future.done() for future in futures):
            _interrupt_kernels()
            wait(futures, timeout=1.0)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
