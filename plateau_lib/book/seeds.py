"""Execute the book's chapters over many seeds and tabulate which pass their checks.

A reader who changes a chapter's ``seed`` should see the same claims checked and passed. This
module is the measurement behind that promise: ``python -m plateau_lib book seeds`` (and ``make
test-seeds``) executes every chapter for every seed of a range, each seed in a build folder of its
own (``_build/seeds/<mode>-seed<S>/``, so the published stage is never touched), and prints a
chapter x seed table. ``make test`` runs the quick mode on two seeds besides the reference seed
(``tests/book/test_book.py``).

Seeds run in parallel worker processes (``executor``: ``book seeds --workers N``); each worker
drives one papermill kernel at a time through :func:`plateau_lib.book.run_chapters`, so a run is
exactly what ``book run --seed S`` would do. The table records the mode, the seeds, the commit of
the sources when known, and the first line of every failure.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..figures import atomic_write
from ..parallel import ExecutorLike, check_executor
from ..sweeps import sweep
from .execute import ChapterRun, run_chapters
from .paths import BookPaths, chapter_names, check_chapter_names

__all__ = ["SeedSweep", "parse_seeds", "run_seeds", "seed_paths", "source_commit", "write_table"]


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds from ``"0-9"``, ``"1,4,7"`` or a mix (``"0-3,7"``); each must be a non-negative integer.

    Raises
    ------
    ValueError
        Naming the part of ``text`` that is not a seed or a range ``a-b`` with ``a <= b``.
    """
    seeds: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ValueError(f"seeds: expected integers or ranges like 0-9, got {part.strip()!r}") from None
        if a < 0 or b < a:
            raise ValueError(f"seeds: expected non-negative seeds and ranges a-b with a <= b, got {part.strip()!r}")
        seeds.extend(range(a, b + 1))
    return tuple(dict.fromkeys(seeds))


def seed_paths(paths: BookPaths, seed: int, *, quick: bool) -> BookPaths:
    """The private build folder of one seed: ``_build/seeds/<quick|full>-seed<S>/``."""
    root = paths.build / "seeds" / f"{'quick' if quick else 'full'}-seed{seed}"
    root.mkdir(parents=True, exist_ok=True)
    return BookPaths(paths.source, root, paths.reference)


@dataclass(frozen=True)
class SeedSweep:
    """Chapters executed over seeds: one :class:`~plateau_lib.book.ChapterRun` per (chapter, seed)."""

    quick: bool
    chapters: tuple[str, ...]
    seeds: tuple[int, ...]
    runs: dict[tuple[str, int], ChapterRun] = field(repr=False)
    seconds: float = 0.0

    @property
    def failures(self) -> list[tuple[int, ChapterRun]]:
        """``(seed, run)`` of every failed run, by chapter then seed."""
        return [(s, self.runs[c, s]) for c in self.chapters for s in self.seeds if not self.runs[c, s].ok]

    @property
    def passed(self) -> int:
        return sum(run.ok for run in self.runs.values())

    def markdown(self, *, commit: str | None = None) -> str:
        """The chapter x seed table (MyST/GitHub markdown), a summary line and one line per failure."""
        mode = "quick" if self.quick else "full"
        head = "| chapter | " + " | ".join(map(str, self.seeds)) + " | passed |"
        rule = "|---|" + "---|" * (len(self.seeds) + 1)
        rows = [
            f"| {c} | " + " | ".join("pass" if self.runs[c, s].ok else "**FAIL**" for s in self.seeds)
            + f" | {sum(self.runs[c, s].ok for s in self.seeds)}/{len(self.seeds)} |"
            for c in self.chapters
        ]
        where = f" at commit `{commit}`" if commit else ""
        summary = (
            f"{mode} mode, seeds {self.seeds[0]}-{self.seeds[-1]}{where}: {self.passed} of {len(self.runs)} "
            f"chapter runs pass their checks ({self.seconds / 60:.1f} min)."
        )
        lines = [head, rule, *rows, "", summary]
        for seed, run in self.failures:
            lines.append(f"- seed {seed}: {run.message}")
        return "\n".join(lines) + "\n"


def _run_one_seed(task: tuple[BookPaths, Sequence[str], int, bool]) -> tuple[int, list[ChapterRun]]:
    paths, chapters, seed, quick = task
    paths = seed_paths(paths, seed, quick=quick)
    return seed, run_chapters(paths, chapters, quick=quick, seed=seed, progress=False)


def run_seeds(
    paths: BookPaths,
    names: Iterable[str] | None = None,
    seeds: Sequence[int] = tuple(range(10)),
    *,
    quick: bool = False,
    executor: ExecutorLike = 1,
    progress: bool = True,
) -> SeedSweep:
    """Execute chapters for every seed, each seed in its own build folder (:func:`seed_paths`).

    Parameters
    ----------
    paths : BookPaths
        The book; runs go under ``paths.build / "seeds"``.
    names : iterable of str, optional
        Chapters (default: all, in toc order); validated before anything runs.
    seeds : sequence of int
        Non-negative seeds, each injected as the chapters' ``seed`` parameter.
    quick : bool
        Quick mode (small budgets) or the full mode the published book uses.
    executor : int or concurrent.futures.Executor
        Where the seeds run (:data:`plateau_lib.parallel.ExecutorLike`, through
        :func:`plateau_lib.sweeps.sweep`): ``n`` local worker processes, one seed at a time each
        (``1``, the default: one after the other in this process), or an executor.
    progress : bool
        A progress bar over seeds on stderr.
    """
    chapters = tuple(check_chapter_names(names, chapter_names(paths.source)))
    seeds = tuple(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of non-negative integers, got {seeds!r}")
    executor = check_executor(executor)
    start = time.perf_counter()
    items = [(paths, chapters, seed, quick) for seed in seeds]
    per_seed = sweep(_run_one_seed, items, executor=executor, progress=progress,
                     desc="book seeds")
    runs = {(r.chapter, seed): r for seed, results in per_seed for r in results}
    return SeedSweep(quick, chapters, seeds, runs, time.perf_counter() - start)


def source_commit(source: Path) -> str | None:
    """The short commit of ``source`` (with ``+changes`` when the work tree differs), or ``None``."""
    try:
        head = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def write_table(path: Path, text: str) -> None:
    """Write the table atomically (a reader of ``path`` never sees half of it)."""
    atomic_write(path, lambda fh: fh.write(text.encode()))
