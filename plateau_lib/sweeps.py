"""Run one function over many settings, in parallel, with progress; and the showcase search over seeds.

All multi-seed and multi-scale studies go through :func:`sweep` (or :func:`sweep_groups`). Where
the items run is the one parameter ``executor`` of :mod:`plateau_lib.parallel`: a number of local
processes (default two: the machines this book is built on have two cores; ``1`` runs in this
process), or any :class:`concurrent.futures.Executor`, so that a reader with a cluster passes e.g.
``dask.distributed.Client(...).get_executor()`` and the same call scales across machines. Every
task runs with OpenBLAS on one thread (:mod:`plateau_lib.parallel`'s rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, as_completed
from dataclasses import dataclass
from itertools import pairwise
from typing import Generic, TypeVar

from tqdm.auto import tqdm

from .parallel import ExecutorLike, SerialExecutor, check_executor, opened, single_threaded_blas, worker_count

T = TypeVar("T")
R = TypeVar("R")


def sweep(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    executor: ExecutorLike = 2,
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
    executor : int or concurrent.futures.Executor
        Where to run (:data:`plateau_lib.parallel.ExecutorLike`): ``n`` local processes, shut
        down on return (``1``: in this process, one item after the other), or an executor, used
        as is and left open.
    progress : bool
        Show a progress bar over the items.

    Notes
    -----
    Ctrl-C cancels the pending items and re-raises :class:`KeyboardInterrupt`;
    nothing is half-written because ``sweep`` itself writes nothing.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    executor = check_executor(executor)
    items = list(items)
    with opened(executor) as pool:
        if isinstance(pool, SerialExecutor):  # in this process: one item at a time, under the progress bar
            with single_threaded_blas():
                return [fn(item) for item in tqdm(items, desc=desc, disable=not progress, leave=False)]
        return _submit_all(pool, fn, items, progress=progress, desc=desc)


def _submit_all(pool, fn: Callable[[T], R], items: list[T], *, progress: bool, desc: str) -> list[R]:
    """Every item submitted to ``pool``; the results in the items' order (Ctrl-C cancels the pending ones)."""
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


def sweep_groups(
    fn: Callable[[list[T]], list[R]],
    items: Iterable[T],
    *,
    groups: int | None = None,
    executor: ExecutorLike = 2,
    progress: bool = True,
    desc: str = "sweep",
) -> list[R]:
    """Return ``fn(items)``, computed as ``fn`` of contiguous groups of the items by :func:`sweep`.

    For work that is cheaper done together: ``fn`` maps a list of items to the list of their
    results (e.g. runs trained as one stack, :func:`~plateau_lib.experiments.run_stacked`), and
    ``fn(items)`` must equal the concatenation of ``fn`` of its parts. The other parameters are
    those of :func:`sweep`.

    Parameters
    ----------
    groups : int, optional
        Number of groups (at most one per item); default two per worker of ``executor`` (two
        if it cannot tell), so that each worker gets two and the progress bar moves in steps
        of ``1 / groups``.
    """
    items = list(items)
    count = 2 * (worker_count(executor) or 2) if groups is None else groups
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    count = min(count, len(items))
    bounds = [len(items) * g // count for g in range(count + 1)] if items else [0]
    parts = [items[lo:hi] for lo, hi in pairwise(bounds)]
    results = sweep(fn, parts, executor=executor, progress=progress, desc=desc)
    return [r for part, rs in zip(parts, results, strict=True) for r in _checked_part(part, rs)]


def _checked_part(part: list, results: list) -> list:
    if len(results) != len(part):
        raise ValueError(f"fn must return one result per item: {len(results)} for {len(part)}")
    return results


@dataclass(frozen=True)
class SeedSearch(Generic[R]):
    """Outcome of :func:`first_seed`: the first qualifying seed, its value, and the seeds passed over.

    Attributes
    ----------
    seed : int or None
        The first seed whose value qualified (``None`` if none did).
    value : object or None
        ``run(seed)`` for that seed (``None`` if none qualified).
    tried : tuple of int
        The seeds tried, in order (the last one is ``seed`` when one qualified).
    passed_over : tuple of str
        Why each seed before ``seed`` (or every seed, if none qualified) was passed over.
    """

    seed: int | None
    value: R | None
    tried: tuple[int, ...]
    passed_over: tuple[str, ...]

    @property
    def found(self) -> bool:
        """Whether a seed qualified."""
        return self.seed is not None

    def describe(self) -> str:
        """One line per seed tried: the seed and why it was passed over or chosen."""
        lines = [f"seed {s}: {why}" for s, why in zip(self.tried, self.passed_over, strict=False)]
        if self.found:
            lines.append(f"seed {self.seed}: qualifies -> showcased")
        return "\n".join(lines)


def first_seed(
    run: Callable[[int], R], start: int, max_tries: int, why_not: Callable[[R], str | None],
) -> SeedSearch[R]:
    """The first seed of ``start, start + 1, ..., start + max_tries - 1`` whose run qualifies.

    The rule by which a chapter picks a showcase that must show a property which not every run
    shows: try seeds in order from the chapter's seed, stop at the first that qualifies, and keep
    why each seed before it did not, so the page can print the search.

    Parameters
    ----------
    run : callable
        ``run(seed)`` computes the value of one seed.
    start : int
        The first seed (>= 0).
    max_tries : int
        How many seeds at most (>= 1): the search's bound.
    why_not : callable
        ``why_not(value)`` is ``None`` if the value qualifies, else a short reason.
    """
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"start must be an integer >= 0, got {start!r}")
    if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
        raise ValueError(f"max_tries must be an integer >= 1, got {max_tries!r}")
    reasons: list[str] = []
    for seed in range(start, start + max_tries):
        value = run(seed)
        reason = why_not(value)
        if reason is None:
            return SeedSearch(seed, value, tuple(range(start, seed + 1)), tuple(reasons))
        reasons.append(str(reason))
    return SeedSearch(None, None, tuple(range(start, start + max_tries)), tuple(reasons))
