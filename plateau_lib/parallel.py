"""Where many tasks run: in this process, on local processes, or on any ``concurrent.futures.Executor``.

Every function of the library that runs many independent tasks (the sweeps of
:mod:`plateau_lib.sweeps`, the chapters' studies, the benchmarks) takes one parameter for it,
``executor``, an :data:`ExecutorLike`:

- an ``int`` ``n``: ``n`` local worker processes (:func:`process_pool`); ``1`` runs the tasks in
  this process, one after the other;
- a :class:`concurrent.futures.Executor`: used as is and left open, e.g. one opened by
  :func:`open_executor` (``"serial"``, ``"processes"`` or ``"dask"``) or a reader's own
  ``dask.distributed.Client(...).get_executor()``.

:func:`opened` turns an ``ExecutorLike`` into an executor for the length of a ``with`` block.

**The BLAS-thread rule.** Every task runs with OpenBLAS on one thread (:func:`limit_blas_threads`):
the workers of :func:`process_pool` and of :func:`open_executor`'s Dask clusters from their start,
and this process while it runs tasks itself (:func:`single_threaded_blas`, which restores the
thread count afterwards). The matrices of a task are small, so threads only contend on the
machine's cores; and a task computes the same bits wherever it runs, so a study whose tasks are
seeded by their own keys gives the same results on every executor. An executor passed in from
outside the library (not opened here) runs its tasks as its workers are configured.

Dask is optional (``pip install "plateau-lib[dask]"``); it is imported only when a ``"dask"``
executor is opened.
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
    "ExecutorLike",
    "ExecutorUnavailable",
    "SerialExecutor",
    "check_executor",
    "limit_blas_threads",
    "open_executor",
    "opened",
    "process_pool",
    "single_threaded_blas",
    "worker_count",
]

#: How to run many tasks: a number of local processes (1: in this process) or an executor.
ExecutorLike = int | Executor
#: The kinds of executor :func:`open_executor` opens.
KINDS = ("serial", "processes", "dask")
#: Seconds to wait for an existing Dask scheduler to answer before giving up.
CONNECT_TIMEOUT = 5.0
DASK_INSTALL_HINT = 'pip install "plateau-lib[dask]"'


class ExecutorUnavailable(RuntimeError):
    """The executor cannot be opened (Dask missing, scheduler unreachable); nothing has run."""


# ----------------------------------------------------------------------------- BLAS threads

_SETTERS = tuple(f"{prefix}set_num_threads{suffix}" for prefix in ("scipy_openblas_", "openblas_")
                 for suffix in ("64_", "_64_", ""))


def _openblas_libraries() -> list[ctypes.CDLL]:
    """Every OpenBLAS loaded by NumPy and SciPy (each wheel bundles its own: ``numpy.libs``, ``scipy.libs``)."""
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
    found = []
    for path in dict.fromkeys(paths):
        try:
            found.append(ctypes.CDLL(path))
        except OSError:
            continue
    return found


def _call_first(lib: ctypes.CDLL, names: Iterator[str] | tuple[str, ...], *args: int) -> int | None:
    """Call the first of ``names`` that ``lib`` exports (with int arguments); ``None`` if none does."""
    for name in names:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.argtypes, fn.restype = [ctypes.c_int] * len(args), ctypes.c_int
            return int(fn(*args))
    return None


def limit_blas_threads(threads: int = 1) -> int:
    """Set the thread count of every OpenBLAS loaded by NumPy and SciPy (ctypes); returns how many.

    Both must be limited: ``scipy.optimize.least_squares`` factorises with SciPy's OpenBLAS.
    """
    return sum(_call_first(lib, _SETTERS, threads) is not None for lib in _openblas_libraries())


def _blas_threads() -> int | None:
    """OpenBLAS's thread count in this process (NumPy's library first); ``None`` if it cannot tell."""
    getters = tuple(name.replace("set_", "get_") for name in _SETTERS)
    for lib in _openblas_libraries():
        count = _call_first(lib, getters)
        if count is not None:
            return count
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """OpenBLAS on one thread in this process for the ``with`` block; the thread count is restored after."""
    before = _blas_threads()
    limit_blas_threads(1)
    try:
        yield
    finally:
        if before is not None and before != 1:
            limit_blas_threads(before)


def _worker_init() -> None:
    limit_blas_threads(1)


# ----------------------------------------------------------------------------- executors


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` local processes whose OpenBLAS runs on one thread."""
    return ProcessPoolExecutor(max_workers=_check_workers(workers), initializer=_worker_init)


class SerialExecutor(Executor):
    """Runs each task in this process when it is submitted (its future is done on return),
    with OpenBLAS on one thread (:func:`single_threaded_blas`)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn`` with the given arguments now, in this process; a finished future."""
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            with single_threaded_blas():
                future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            if not isinstance(err, Exception):
                raise  # KeyboardInterrupt, SystemExit: stop now
            future.set_exception(err)
        return future


def _check_workers(workers: object) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


def check_executor(executor: object) -> ExecutorLike:
    """``executor`` if it is an :data:`ExecutorLike` (an int >= 1 or an Executor), else a clear error.

    Raises
    ------
    TypeError
        Neither an int nor an Executor.
    ValueError
        An int below 1.
    """
    if isinstance(executor, Executor):
        return executor
    if isinstance(executor, bool) or not isinstance(executor, int | np.integer):
        raise TypeError(f"executor must be a number of processes or a concurrent.futures.Executor, "
                        f"got {type(executor).__name__}")
    if executor < 1:
        raise ValueError(f"executor must be a positive number of processes, got {executor!r}")
    return int(executor)


@contextlib.contextmanager
def opened(executor: ExecutorLike) -> Iterator[Executor]:
    """The executor ``executor`` names, for the ``with`` block.

    An int ``n``: a :class:`SerialExecutor` for ``1``, else a :func:`process_pool` of ``n``
    processes, shut down on exit (pending tasks cancelled). An Executor: itself, left open.
    """
    executor = check_executor(executor)
    if isinstance(executor, Executor):
        yield executor
    elif executor == 1:
        yield SerialExecutor()
    else:
        with process_pool(executor) as pool:
            try:
                yield pool
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def open_executor(kind: str = "processes", *, workers: int, scheduler: str | None = None,
                  connect_timeout: float = CONNECT_TIMEOUT) -> Iterator[Executor]:
    """Open an executor of ``kind`` (one of :data:`KINDS`); close it (pool, Dask client and local cluster) on exit.

    Parameters
    ----------
    kind : str
        ``"serial"`` (in this process), ``"processes"`` (a :func:`process_pool`; one worker: in
        this process) or ``"dask"`` (a local cluster of ``workers`` single-threaded worker
        processes, or the existing cluster at ``scheduler``, whose workers must have
        ``plateau_lib`` installed).
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
    if kind == "dask":
        with _dask_client(workers, scheduler, connect_timeout) as client:
            yield client.get_executor(pure=False)
    else:
        with opened(1 if kind == "serial" else workers) as executor:
            yield executor


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


def _start_client(distributed, stack: contextlib.ExitStack, workers: int, scheduler: str | None,
                  connect_timeout: float):
    """A client of a new local cluster of ``workers`` processes, or of the cluster at ``scheduler``."""
    if scheduler is None:
        try:
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=logging.ERROR))
        except Exception as err:  # any failure to start, in one line
            raise ExecutorUnavailable(f"cannot start a local Dask cluster of {workers} worker(s): "
                                      f"{type(err).__name__}: {err}") from None
        return stack.enter_context(distributed.Client(cluster))
    try:
        return stack.enter_context(distributed.Client(scheduler, timeout=connect_timeout))
    except (OSError, TimeoutError, ValueError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise ExecutorUnavailable(f"cannot reach the Dask scheduler at {scheduler} "
                                  f"(waited {connect_timeout:g} s): {detail}") from None


@contextlib.contextmanager
def _dask_client(workers: int, scheduler: str | None, connect_timeout: float):
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        client = _start_client(distributed, stack, workers, scheduler, connect_timeout)
        try:
            client.register_plugin(_blas_plugin(distributed))
        except Exception as err:  # e.g. workers without plateau_lib: in one line, before any task
            raise ExecutorUnavailable(f"cannot set up the Dask workers (is plateau_lib installed on them?): "
                                      f"{type(err).__name__}: {' '.join(str(err).split())}") from None
        yield client


def worker_count(executor: ExecutorLike) -> int | None:
    """How many tasks ``executor`` runs at once (its workers' threads), where it can tell; else ``None``."""
    executor = check_executor(executor)
    if isinstance(executor, int):
        return executor
    if isinstance(executor, SerialExecutor):
        return 1
    if isinstance(executor, ProcessPoolExecutor):
        return executor._max_workers  # the size it was created with
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None and hasattr(client, "nthreads"):
        return sum(client.nthreads().values())
    return None
