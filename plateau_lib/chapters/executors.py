"""Where the chapters' studies run their tasks: in this process, on local processes, or on Dask.

:func:`open_executor` opens a :class:`concurrent.futures.Executor` of one of :data:`KINDS` and
closes it (pool, Dask client and local cluster) on exit, also on Ctrl-C:

- ``"serial"``: in this process, one task after the other;
- ``"processes"``: a pool of ``workers`` local processes (one worker: in this process);
- ``"dask"``: Dask distributed, a local cluster of ``workers`` single-threaded worker
  processes, or the existing cluster whose scheduler is at ``scheduler`` (its workers must
  have ``plateau_lib`` installed).

Every kind runs each worker's OpenBLAS on one thread (:func:`limit_blas_threads`), so a task
computes the same bits wherever it runs: a study whose tasks are seeded by their own keys gives
identical results on every executor. Results come back in the order of the tasks
(:func:`plateau_lib.sweeps.sweep`), not in the order they complete.

Dask is optional (``pip install "plateau-lib[dask]"``); this module imports it only when a
``"dask"`` executor is opened.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

import numpy as np

__all__ = [
    "CONNECT_TIMEOUT",
    "DASK_INSTALL_HINT",
    "KINDS",
    "ExecutorUnavailable",
    "SerialExecutor",
    "limit_blas_threads",
    "make_executor",
    "open_executor",
    "worker_count",
]

#: The kinds of executor :func:`open_executor` opens.
KINDS = ("serial", "processes", "dask")
#: Seconds to wait for an existing Dask scheduler to answer before giving up.
CONNECT_TIMEOUT = 5.0
DASK_INSTALL_HINT = 'pip install "plateau-lib[dask]"'


class ExecutorUnavailable(RuntimeError):
    """The executor cannot be opened (Dask missing, scheduler unreachable); nothing has run."""


# ----------------------------------------------------------------------------- threads


def limit_blas_threads(threads: int = 1) -> int:
    """Set the thread count of every OpenBLAS loaded by NumPy and SciPy (ctypes); returns how many.

    NumPy and SciPy wheels each bundle their own OpenBLAS (``numpy.libs``, ``scipy.libs``):
    ``scipy.optimize.least_squares`` factorises with SciPy's, so both must be limited.
    """
    import scipy
    import scipy.linalg  # noqa: F401  (maps SciPy's OpenBLAS into the process)

    paths = []
    try:
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "openblas" in line.lower()]
    except OSError:
        pass
    for module in (np, scipy):
        libs = os.path.join(os.path.dirname(os.path.dirname(module.__file__)), f"{module.__name__}.libs")
        paths += sorted(glob.glob(os.path.join(libs, "*openblas*")))
    done = 0
    for path in dict.fromkeys(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in (f"{prefix}set_num_threads{suffix}" for prefix in ("scipy_openblas_", "openblas_")
                     for suffix in ("64_", "_64_", "")):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], None
                fn(threads)
                done += 1
                break
    return done


def _worker_init() -> None:
    limit_blas_threads(1)


# ----------------------------------------------------------------------------- executors


def make_executor(workers: int) -> Executor:
    """A process pool whose workers use single-threaded OpenBLAS."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)


class SerialExecutor(Executor):
    """Runs each task in this process when it is submitted (its future is done on return)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn`` with the given arguments now, in this process; a finished future."""
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            if not isinstance(err, Exception):
                raise  # KeyboardInterrupt, SystemExit: stop now
            future.set_exception(err)
        return future


def _check_workers(workers: object) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


@contextlib.contextmanager
def open_executor(kind: str = "processes", *, workers: int, scheduler: str | None = None,
                  connect_timeout: float = CONNECT_TIMEOUT) -> Iterator[Executor]:
    """Open an executor of ``kind`` (one of :data:`KINDS`); close it on exit.

    Parameters
    ----------
    kind : str
        ``"serial"``, ``"processes"`` or ``"dask"``.
    workers : int
        Worker processes (>= 1) of a local pool or local Dask cluster; not used by
        ``"serial"`` or with ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler (e.g. ``tcp://host:8786``); ``kind`` must be
        ``"dask"``. Default: start a local cluster.
    connect_timeout : float
        Seconds to wait for ``scheduler``.

    Raises
    ------
    ValueError
        An unknown ``kind``, ``workers`` < 1, or ``scheduler`` with a kind other than ``"dask"``;
        raised before anything starts.
    ExecutorUnavailable
        Dask is not installed, the scheduler cannot be reached or the local cluster cannot
        start; raised before any task runs.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown executor {kind!r}; choose from {', '.join(KINDS)}")
    workers = _check_workers(workers)
    if scheduler is not None and kind != "dask":
        raise ValueError(f"a scheduler address needs the 'dask' executor, not {kind!r}")
    if kind == "serial" or (kind == "processes" and workers == 1):
        limit_blas_threads(1)
        yield SerialExecutor()
    elif kind == "processes":
        with make_executor(workers) as pool:
            yield pool
    else:
        with _dask_client(workers, scheduler, connect_timeout) as client:
            yield client.get_executor(pure=False)


def _import_distributed():
    try:
        import distributed
    except ImportError as err:
        raise ExecutorUnavailable(f"the 'dask' executor needs Dask distributed ({err}); "
                                  f"install it with: {DASK_INSTALL_HINT}") from None
    return distributed


def _blas_plugin(distributed):
    """A worker plugin that runs OpenBLAS single-threaded on every worker, also on workers that join later."""

    class SingleThreadedBlas(distributed.WorkerPlugin):
        name = "plateau-single-threaded-blas"
        idempotent = True

        def setup(self, worker):
            limit_blas_threads(1)

    return SingleThreadedBlas()


@contextlib.contextmanager
def _dask_client(workers: int, scheduler: str | None, connect_timeout: float):
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            try:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                    silence_logs=logging.ERROR))
            except Exception as err:  # any failure to start, in one line
                raise ExecutorUnavailable(f"cannot start a local Dask cluster of {workers} worker(s): "
                                          f"{type(err).__name__}: {err}") from None
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=connect_timeout))
            except (OSError, TimeoutError, ValueError) as err:
                detail = " ".join(str(err).split()) or type(err).__name__
                raise ExecutorUnavailable(f"cannot reach the Dask scheduler at {scheduler} "
                                          f"(waited {connect_timeout:g} s): {detail}") from None
        try:
            client.register_plugin(_blas_plugin(distributed))
        except Exception as err:  # e.g. workers without plateau_lib: in one line, before any task
            raise ExecutorUnavailable(f"cannot set up the Dask workers (is plateau_lib installed on them?): "
                                      f"{type(err).__name__}: {' '.join(str(err).split())}") from None
        yield client


def worker_count(executor: Executor) -> int | None:
    """How many tasks ``executor`` runs at once (its workers' threads), where it can tell; else ``None``."""
    if isinstance(executor, SerialExecutor):
        return 1
    if isinstance(executor, ProcessPoolExecutor):
        return executor._max_workers  # the size it was created with
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None and hasattr(client, "nthreads"):
        return sum(client.nthreads().values())
    return None
