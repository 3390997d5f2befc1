"""Chapters over seeds: parsing seeds, the table, and every chapter passing on two more seeds.

The slow test executes every chapter in quick mode on each seed of :data:`EXTRA_SEEDS` (besides
the reference seed 0 of ``tests/book/test_book.py``), each seed in its own build folder, and fails on
any chapter whose checks fail. Figure data are compared with the references only for seed 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plateau_lib import book
from plateau_lib.book import BookPaths, ChapterRun
from plateau_lib.book.seeds import SeedSweep, parse_seeds, run_seeds, seed_paths

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = tuple(book.chapter_names(ROOT))
#: Seeds executed by ``make test`` besides the reference seed (``make test-seeds`` runs 0-9).
EXTRA_SEEDS = (1, 2)


@pytest.mark.parametrize(
    "text, seeds",
    [("0-9", tuple(range(10))), ("1,4,7", (1, 4, 7)), ("0-2,7, 1", (0, 1, 2, 7)), ("5", (5,))],
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "3-1", "-2", "1,,2", "1.5"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds(text)


@pytest.mark.parametrize("kwargs", [{"seeds": ()}, {"seeds": (-1,)}, {"seeds": (True,)}, {"executor": 0}])
def test_run_seeds_refuses_bad_input_before_work(tmp_path, kwargs):
    paths = BookPaths.for_source(ROOT, output_root=tmp_path)
    with pytest.raises(ValueError, match="seeds|executor"):
        run_seeds(paths, **kwargs, progress=False)
    assert not (tmp_path / "_build").exists()


def test_seed_paths_are_private_per_seed_and_mode(tmp_path):
    paths = BookPaths.for_source(ROOT, output_root=tmp_path)
    roots = {seed_paths(paths, s, quick=q).build for s in (0, 1) for q in (True, False)}
    assert len(roots) == 4
    assert all(r.is_relative_to(paths.build / "seeds") for r in roots)
    assert seed_paths(paths, 3, quick=True).reference == paths.reference


def test_table_marks_every_failure():
    runs = {(c, s): ChapterRun(c, not (c == CHAPTERS[0] and s == 2), 1.0, None,
                               None if not (c == CHAPTERS[0] and s == 2) else "boom in cell 4")
            for c in CHAPTERS for s in (0, 1, 2)}
    sweep = SeedSweep(True, CHAPTERS, (0, 1, 2), runs, 60.0)
    text = sweep.markdown(commit="abc1234")
    assert [s for s, _ in sweep.failures] == [2]
    assert sweep.passed == 3 * len(CHAPTERS) - 1
    first = next(line for line in text.splitlines() if line.startswith(f"| {CHAPTERS[0]} |"))
    assert first.split("|")[2:6] == [" pass ", " pass ", " **FAIL** ", " 2/3 "]
    assert f"{3 * len(CHAPTERS) - 1} of {3 * len(CHAPTERS)} chapter runs" in text
    assert "abc1234" in text and "- seed 2: boom in cell 4" in text


@pytest.mark.slow
@pytest.mark.parametrize("seed", EXTRA_SEEDS)
def test_every_chapter_passes_its_checks_on_another_seed(tmp_path, seed):
    paths = BookPaths.for_source(ROOT, output_root=tmp_path)
    sweep = run_seeds(paths, seeds=(seed,), quick=True, progress=False)
    assert sweep.chapters == CHAPTERS
    assert not sweep.failures, "\n".join(run.message for _, run in sweep.failures)
