"""Run one function over many settings, in parallel, with progress.

All multi-seed and multi-scale studies go through :func:`sweep`. It accepts any
:class:`concurrent.futures.Executor`: by default a local pool of two processes
(the machines this book is built on have two cores); a reader with a cluster
passes e.g. ``dask.distributed.Client(...).get_executor()`` instead and the same
call scales across machines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
R = TypeVar("R")


def sweep(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    executor: Executor | None = None,
    max_workers: int = 2,
    progress: bool = True,
    desc: str = "sweep",
) -> list[R]:
    """Return ``[fn(item) for item in items]``, computed by ``executor``.

    Parameters
    ----------
    fn : callable
        A picklable function (module level) of one argument.
    items : iterable
        The settings; results come back in the same order.
    executor : concurrent.futures.Executor, optional
        Where to run. Default: a fresh ``ProcessPoolExecutor(max_workers)``,
        shut down on return. A given executor is used as is and left open.
    max_workers : int
        Size of the default pool; ``1`` runs serially in this process (no pool).
    progress : bool
        Show a progress bar over the items.

    Notes
    -----
    Ctrl-C cancels the pending items and re-raises :class:`KeyboardInterrupt`;
    nothing is half-written because ``sweep`` itself writes nothing.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    items = list(items)
    if executor is None and max_workers <= 1:
        return [fn(item) for item in tqdm(items, desc=desc, disable=not progress, leave=False)]
    own = executor is None
    pool = ProcessPoolExecutor(max_workers=max_workers) if own else executor
    futures: list[Future] = []
    try:
        futures = [pool.submit(fn, item) for item in items]
        with tqdm(total=len(futures), desc=desc, disable=not progress, leave=False) as bar:
            for _ in as_completed(futures):
                bar.update(1)
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        raise
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
