"""The book's tooling: execute the chapters, build the HTML book, check it, and the command line.

This package is the single implementation behind ``python -m plateau_lib ...``, ``make book``,
``make test`` and ``make test-seeds``. It uses the science (:mod:`plateau_lib`) only through the
chapters it executes; the science never imports it. One module per step of the pipeline:

- :mod:`~plateau_lib.book.paths`: where the book's sources, chapters and build folders are;
- :mod:`~plateau_lib.book.stage`: the staging book ``_build/stage`` (non-executed files, MathJax);
- :mod:`~plateau_lib.book.execute`: each chapter headless through papermill into the stage;
- :mod:`~plateau_lib.book.present`: the executed page states its run once (a banner off the default);
- :mod:`~plateau_lib.book.records`: the record of every run and when the stage is stale;
- :mod:`~plateau_lib.book.build`: the strict Jupyter Book build to ``_build/html``;
- :mod:`~plateau_lib.book.sphinx_fix`: a Sphinx extension for one bug of Sphinx 7.4;
- :mod:`~plateau_lib.book.check`: figure data against ``tests/reference``;
- :mod:`~plateau_lib.book.seeds`: every chapter over a range of seeds, as a table;
- :mod:`~plateau_lib.book.browse`: every built page in headless Chromium, offline;
- :mod:`~plateau_lib.book.cli`: the command line.
"""

from .build import build_html
from .check import DEFAULT_ATOL, DEFAULT_RTOL, check_references, compare_data_dirs, refresh_references
from .execute import KERNEL_NAME, ChapterRun, kernel_interpreter, run_chapters
from .paths import DEFAULT_SEED, BookPaths, UnknownChapterError, chapter_names, check_chapter_names, toc_files
from .records import mixed_runs, stage_problems
from .stage import config_overrides, mathjax_bundle, sync_stage

__all__ = [
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
    "config_overrides",
    "kernel_interpreter",
    "mathjax_bundle",
    "mixed_runs",
    "refresh_references",
    "run_chapters",
    "stage_problems",
    "sync_stage",
    "toc_files",
]
