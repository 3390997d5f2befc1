"""Shared fixtures: small seeded problems; the book executed and built once per session."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

# One OpenBLAS thread per process, set before NumPy loads it: make test runs two xdist workers on
# two cores, and each chapter's kernel and CLI run they start inherits this environment. With
# OpenBLAS's default (a thread per core) the processes oversubscribe the cores and its threads spin
# waiting for each other. The chapters' own process pools do the same (limit_blas_threads).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def _pin_blas_kernel() -> None:
    """The OpenBLAS kernel the chapters run with (plateau_lib.book.blas_kernel), before NumPy loads.

    Loaded from its file: importing it through the package would load NumPy first.
    """
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "plateau_lib" / "book" / "blas_kernel.py"
    spec = importlib.util.spec_from_file_location("_blas_kernel", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.pin_blas_kernel()


_pin_blas_kernel()

import numpy as np  # noqa: E402
import pytest  # noqa: E402

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: each xdist worker executes the book itself
    fcntl = None

from plateau_lib import ShallowReLU, book, init_network  # noqa: E402
from plateau_lib.book import BookPaths, ChapterRun  # noqa: E402
from plateau_lib.experiments import get_experiment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# Hypothesis: "ci" (the default, make test) draws the same examples on every run, so a failure
# is reproducible and a pass means the same thing on every machine; "deep" (make test-deep)
# draws new random examples each run, to search further. HYPOTHESIS_PROFILE picks one.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
_hypothesis_settings.register_profile("deep", derandomize=False, database=None, deadline=None, print_blob=True)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def make_problem(m: int, n: int, d: int, seed: int, scale: float = 1.0):
    """A random network and data set (X, y) with seeded draws."""
    rng = np.random.default_rng(seed)
    net = init_network(n, d, scale=scale, rng=rng)
    X = rng.uniform(-1, 1, (m, d))
    y = np.sin(np.pi * X.sum(axis=1))
    return net, X, y


@pytest.fixture
def problem_1d():
    return make_problem(41, 10, 1, seed=0)


# --------------------------------------------------------------------------------------
# Problems shared by the science's tests (tests/unit/test_fixed_pattern.py, test_stationarity.py)
# and the chapters' (tests/unit/chapters/test_quantification_*.py, test_stationary*.py)


def sin_problem(seed=0, n=4, scale=0.7, m=21):
    """sin(pi x) on m equispaced points of [-1, 1] and a seeded network of width n."""
    X = np.linspace(-1.0, 1.0, m)[:, None]
    net = init_network(n, 1, scale=scale, rng=np.random.default_rng(seed))
    return net, X, np.sin(np.pi * X[:, 0])


def grid_1d(m: int = 41) -> np.ndarray:
    return np.linspace(-1, 1, m)[:, None]


def net_1d(breaks, orient, c) -> ShallowReLU:
    """Neurons c_j relu(s_j (x - t_j)) with breakpoints t_j and orientations s_j."""
    s = np.asarray(orient, float)
    t = np.asarray(breaks, float)
    return ShallowReLU(np.asarray(c, float), s[:, None], -s * t)


def random_net(seed: int, n: int, d: int) -> tuple[ShallowReLU, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (60, d))
    y = rng.standard_normal(60)
    return ShallowReLU(rng.standard_normal(n), rng.standard_normal((n, d)), 0.5 * rng.standard_normal(n)), X, y


@pytest.fixture(scope="module")
def converged_run():
    """plateau_1d at width 5, seed 8: gradient descent reaches ||grad|| <= 1e-8 (a low stationary level)."""
    e = get_experiment("plateau_1d")
    X, y = e.data()
    result = e.with_changes(width=5).run(8, steps=40_000, gtol=1e-8)
    assert result.message.startswith("gradient norm")
    return X, y, result


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    """Tests of the executed book run on one xdist worker (``--dist loadgroup``).

    They share one execution and one build (``executed``, ``built_html``), which the first worker
    to need them computes while any other waits on a lock; kept on one worker, that worker does the
    work and the other runs everything else meanwhile.

    pytest-xdist hands out the largest group first (the book's) and then single tests in collection
    order, so the other long runs, the chapters on more seeds (:data:`LONGEST_FIRST`), are moved
    to the front: the second worker starts them at once instead of after the short tests, and the
    two workers finish together.
    """
    for item in items:
        if {"executed", "built_html"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("book"))
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))  # stable: order kept otherwise
    _shortest_first_under_mutmut(items)


def _shortest_first_under_mutmut(items: list) -> None:
    """Under ``mutmut run``, a mutant's tests run shortest first (durations from mutmut's own stats).

    mutmut stops a mutant's tests at the first failure (``-x``) and hands them over in set order, so
    a mutant the quick tests kill could wait for a slow one. The order changes no verdict, only when
    a killed mutant stops. Outside a mutant run (no ``__mutmut_`` in ``MUTANT_UNDER_TEST``) nothing moves.
    """
    stats = Path("mutmut-stats.json")  # mutmut runs the tests from mutants/, beside its stats
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", "") or not stats.exists():
        return
    duration = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: duration.get(item.nodeid, 0.0))


#: Test ids (prefixes) of the longest tests outside the book's group: each executes every chapter.
LONGEST_FIRST = ("tests/book/test_seed_sweep.py::test_every_chapter_passes_its_checks_on_another_seed",)


# --------------------------------------------------------------------------------------
# The book, executed once in quick mode and built once (shared by test_book.py and
# test_browser_check.py, and by the pytest-xdist workers of one session)


def _run_to_json(run: ChapterRun) -> dict:
    return {**dataclasses.asdict(run), "notebook": None if run.notebook is None else str(run.notebook)}


def _run_from_json(data: dict) -> ChapterRun:
    return ChapterRun(**{**data, "notebook": None if data["notebook"] is None else Path(data["notebook"])})


@contextlib.contextmanager
def _once_per_session(tmp_path_factory, name: str) -> Iterator[tuple[Path, Path | None]]:
    """``(folder, record)`` for work done once per test session.

    Under pytest-xdist the workers share it: the first to take a file lock in the session's
    common temporary folder does the work and writes ``record``; the others wait and read
    it. Without xdist (or without ``fcntl``) ``record`` is ``None`` and the folder is private.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None or fcntl is None:
        yield tmp_path_factory.mktemp(name), None
        return
    common = tmp_path_factory.getbasetemp().parent  # one per session, shared by its workers
    with (common / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield common / name, common / f"{name}.json"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Every chapter executed once in quick mode into a temporary staging book: ``(paths, runs)``.

    Under pytest-xdist (``make test`` runs ``-n 2``) the workers share one execution (the
    tests only read the stage, except the one HTML build of ``built_html``).
    """
    with _once_per_session(tmp_path_factory, "book-shared") as (folder, record):
        paths = BookPaths.for_source(ROOT, output_root=folder)
        if record is not None and record.exists():
            return paths, [_run_from_json(r) for r in json.loads(record.read_text())]
        folder.mkdir(exist_ok=True)
        runs = book.run_chapters(paths, quick=True, progress=False)
        if record is not None:
            record.write_text(json.dumps([_run_to_json(r) for r in runs]))
        return paths, runs


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's (and its children's) stdout and stderr to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("wb") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@dataclasses.dataclass(frozen=True)
class BuiltBook:
    """The strict HTML build of the executed book: its paths, exit status and output."""

    paths: BookPaths
    status: int
    log: str


@pytest.fixture(scope="session")
def built_html(executed, tmp_path_factory) -> BuiltBook:
    """The staging book of ``executed`` built once, strictly, into ``<output_root>/_build/html``.

    ``test_strict_html_build`` asserts the build passed; the browser check opens its pages.
    Shared by the xdist workers like ``executed`` (the build writes into its output root).
    """
    paths, _ = executed
    with _once_per_session(tmp_path_factory, "book-html") as (folder, record):
        if record is not None and record.exists():
            data = json.loads(record.read_text())
            return BuiltBook(paths, data["status"], data["log"])
        folder.mkdir(exist_ok=True)
        log = folder / "build.log"
        with _output_to(log):
            status = book.build_html(paths, strict=True, quiet=True)
        built = BuiltBook(paths, status, log.read_text(errors="replace"))
        if record is not None:
            record.write_text(json.dumps({"status": built.status, "log": built.log}))
        return built
