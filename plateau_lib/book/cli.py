"""Command line: ``python -m plateau_lib <command> ...``.

Commands register themselves, so other modules can add theirs without touching the parser
code::

    from plateau_lib.book.cli import register_command

    @register_command("experiment", help="run a named experiment")
    def configure(parser):                      # parser: this command's ArgumentParser
        parser.add_argument("name")
        parser.set_defaults(handler=run)        # handler(args) -> exit status

and list the module in :data:`COMMAND_MODULES` (it is imported when the parser is built,
which is what runs the decorator). A handler returns the exit status; it raises
:class:`UsageError` for a command-line mistake found after parsing (e.g. an unknown chapter),
which, like every argparse error, prints one line to stderr and exits with status 2 before
any work starts; it raises :class:`CommandFailed` for a failure it can state in one line
(exit status 1). Ctrl-C prints one line and exits with status 130.

This module registers ``book`` (``run``, ``build``, ``check``, ``refresh-references``,
``seeds``, ``browse``); see :mod:`plateau_lib.book` and :mod:`plateau_lib.book.browse` for what each
does and why.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ..command_line import ArgumentParser, non_negative_float, non_negative_int, positive_int

__all__ = [
    "COMMAND_MODULES",
    "CommandFailed",
    "UsageError",
    "build_parser",
    "main",
    "register_command",
]

PROG = "python -m plateau_lib"

#: Modules imported by :func:`build_parser` so their ``@register_command`` functions run.
COMMAND_MODULES: tuple[str, ...] = ("plateau_lib.book.bench_cli",)

Configure = Callable[[argparse.ArgumentParser], None]
_COMMANDS: dict[str, tuple[Configure, str]] = {}


class UsageError(Exception):
    """A command-line mistake detected by a handler (printed in one line, exit status 2)."""


class CommandFailed(Exception):
    """A command that cannot proceed for a reason outside the command line (one line, exit status 1)."""


def register_command(name: str, *, help: str) -> Callable[[Configure], Configure]:
    """Register a top-level subcommand ``name``; the decorated function configures its parser."""

    def decorator(configure: Configure) -> Configure:
        if name in _COMMANDS and _COMMANDS[name][0] is not configure:
            raise ValueError(f"command {name!r} is already registered")
        _COMMANDS[name] = (configure, help)
        return configure

    return decorator


# --------------------------------------------------------------------------------------
# book


def _book_paths():
    from . import BookPaths, config_overrides

    try:
        config_overrides()  # deployment settings from the environment (PLATEAU_*_URL)
        return BookPaths.discover()
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None


def _validated_chapters(paths, names: Sequence[str]) -> list[str]:
    from . import UnknownChapterError, chapter_names, check_chapter_names

    try:
        return check_chapter_names(names, chapter_names(paths.source))
    except UnknownChapterError as err:
        raise UsageError(str(err)) from None


def _check_kernel() -> None:
    from . import kernel_interpreter

    try:
        kernel_interpreter()
    except RuntimeError as err:
        raise CommandFailed(str(err)) from None


def _report_runs(runs, what: str) -> int:
    failed = [r for r in runs if not r.ok]
    total = sum(r.seconds for r in runs)
    summary = ", ".join(f"{r.chapter} {r.seconds:.1f}s" for r in runs)
    if failed:
        print(f"{what}: {len(failed)} of {len(runs)} chapter(s) failed ({summary})", file=sys.stderr)
        return 1
    print(f"{what}: {len(runs)} chapter(s) executed in {total:.1f}s ({summary})")
    return 0


def _book_run(args: argparse.Namespace) -> int:
    from . import run_chapters

    paths = _book_paths()
    chapters = _validated_chapters(paths, args.chapters)
    _check_kernel()
    runs = run_chapters(paths, chapters, quick=args.quick, seed=args.seed, workers=args.workers,
                        progress=not args.no_progress)
    status = _report_runs(runs, "book run")
    if status == 0:
        print(f"executed notebooks: {paths.stage / 'book'}; figures and data: {paths.figures}")
    return status


def _book_build(args: argparse.Namespace) -> int:
    from . import build_html

    paths = _book_paths()
    status = build_html(paths, strict=not args.no_strict, allow_stale=args.allow_stale,
                        allow_mixed=args.allow_mixed, quiet=args.quiet)
    if status == 0:
        print(f"book build: {paths.html / 'index.html'}")
    else:
        print(f"book build: failed (exit status {status})", file=sys.stderr)
    return 1 if status else 0


def _book_check(args: argparse.Namespace) -> int:
    from . import check_references

    paths = _book_paths()
    chapters = _validated_chapters(paths, args.chapters)
    lines = check_references(paths, chapters if args.chapters else None, rtol=args.rtol, atol=args.atol)
    for line in lines:
        print(f"book check: {line}", file=sys.stderr)
    if lines:
        print(f"book check: {len(lines)} problem(s) against {paths.reference}", file=sys.stderr)
        return 1
    tolerance = f"rtol={args.rtol:g}, atol={args.atol:g}"
    print(f"book check: {len(chapters)} chapter(s) agree with {paths.reference} ({tolerance})")
    return 0


def _book_refresh(args: argparse.Namespace) -> int:
    from . import refresh_references

    paths = _book_paths()
    chapters = _validated_chapters(paths, args.chapters)
    _check_kernel()
    runs, written = refresh_references(paths, chapters, progress=not args.no_progress)
    status = _report_runs(runs, "book refresh-references")
    if status:
        print("book refresh-references: references left unchanged", file=sys.stderr)
        return status
    print(f"book refresh-references: wrote {len(written)} files under {paths.reference}; review the diff")
    return 0


def _seed_list(text: str) -> tuple[int, ...]:
    from .seeds import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _book_seeds(args: argparse.Namespace) -> int:
    from .seeds import run_seeds, source_commit, write_table

    paths = _book_paths()
    chapters = _validated_chapters(paths, args.chapters)
    _check_kernel()
    sweep = run_seeds(paths, chapters, args.seeds, quick=args.quick, executor=args.workers,
                      progress=not args.no_progress)
    table = sweep.markdown(commit=source_commit(paths.source))
    print(table, end="")
    if args.table is not None:
        write_table(Path(args.table), table)
        print(f"book seeds: table written to {args.table}")
    return 1 if sweep.failures else 0


def _viewport(text: str) -> tuple[int, int]:
    """argparse type: a window size ``WIDTHxHEIGHT`` in CSS pixels (``390x844``)."""
    width, x, height = text.lower().partition("x")
    if not x or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (such as 390x844), got {text!r}")
    return int(width), int(height)


def _book_browse(args: argparse.Namespace) -> int:
    from .browse import VIEWPORTS, BrowserUnavailable, check_book, expected_explorers, toc_pages

    paths = _book_paths()
    html = paths.html if args.html is None else Path(args.html)
    if not (html / "index.html").is_file():
        raise UsageError(f"no built book at {html} (build it: {PROG} book build)")
    screenshots = paths.build / "screenshots" if args.screenshots is None else Path(args.screenshots)
    try:
        report = check_book(
            html, screenshots=screenshots, screenshot_pages=toc_pages(paths.source),
            expected_explorers=expected_explorers(paths.source), progress=not args.no_progress,
            figures=paths.figures if args.html is None else None,  # the frames saved with this build
            viewports=args.viewport or VIEWPORTS,
        )
    except BrowserUnavailable as err:
        print(f"book browse: cannot check the pages: {err}", file=sys.stderr)
        return 2
    for move in report.explorer_moves:
        print(f"book browse: {move}")
    for line in report.scrolled:
        print(f"book browse: in a scroll box: {line}")
    for problem in report.problems:
        print(f"book browse: {problem}", file=sys.stderr)
    where = f"{len(report.pages)} page(s) of {html} in {report.seconds:.1f}s"
    if report.problems:
        print(f"book browse: {len(report.problems)} problem(s) on {where}", file=sys.stderr)
        return 1
    print(f"book browse: {where}, no problems; {len(report.screenshots)} screenshot(s) in {screenshots}")
    return 0


def _book_pdf(args: argparse.Namespace) -> int:
    from .pdf import PdfUnavailable, build_pdf, pdf_path

    paths = _book_paths()
    try:
        status = build_pdf(paths, strict=not args.no_strict, allow_stale=args.allow_stale,
                           allow_mixed=args.allow_mixed, quiet=args.quiet)
    except (PdfUnavailable, FileNotFoundError) as err:
        raise CommandFailed(str(err)) from None
    if status:
        print(f"book pdf: failed (exit status {status})", file=sys.stderr)
        return 1
    print(f"book pdf: {pdf_path(paths)}")
    return 0


def _book_bundle(args: argparse.Namespace) -> int:
    from .bundle import write_release

    paths = _book_paths()
    try:
        release = write_release(paths, None if args.out is None else Path(args.out), tag=args.tag,
                                require_pdf=args.require_pdf)
    except (FileNotFoundError, ValueError) as err:
        raise CommandFailed(str(err)) from None
    for path in release.files:
        print(f"book bundle: {path}")
    return 0


@register_command("book", help="execute chapters, build the HTML book, check figure data")
def _configure_book(parser: argparse.ArgumentParser) -> None:
    from . import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_SEED

    sub = parser.add_subparsers(dest="book_command", metavar="ACTION", required=True)
    chapters_help = "chapter names (stems of book/*.ipynb in _toc.yml); default: all"

    run = sub.add_parser("run", help="execute chapters with papermill into _build/stage")
    run.add_argument("chapters", nargs="*", metavar="CHAPTER", help=chapters_help)
    run.add_argument("--quick", action="store_true", help="quick mode (small budgets; CI and references)")
    run.add_argument(
        "--seed", type=non_negative_int, default=DEFAULT_SEED, help="seed for the chapters (default: %(default)s)"
    )
    run.add_argument("--workers", type=positive_int, default=1,
                     help="chapters executed at once (default: %(default)s)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(handler=_book_run)

    build = sub.add_parser("build", help="build _build/stage to _build/html (strict: warnings are errors)")
    build.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    build.add_argument("--allow-stale", action="store_true", help="build even if chapters are stale")
    build.add_argument("--allow-mixed", action="store_true",
                       help="build even if the chapters ran in different modes or with different seeds")
    build.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    build.set_defaults(handler=_book_build)

    check = sub.add_parser("check", help="compare _build/figures data with tests/reference")
    check.add_argument("chapters", nargs="*", metavar="CHAPTER", help=chapters_help)
    check.add_argument(
        "--rtol", type=non_negative_float, default=DEFAULT_RTOL, help="relative tolerance (default: %(default)g)"
    )
    check.add_argument(
        "--atol", type=non_negative_float, default=DEFAULT_ATOL, help="absolute tolerance (default: %(default)g)"
    )
    check.set_defaults(handler=_book_check)

    refresh = sub.add_parser(
        "refresh-references", help="re-run chapters in quick mode and replace tests/reference data"
    )
    refresh.add_argument("chapters", nargs="*", metavar="CHAPTER", help=chapters_help)
    refresh.add_argument("--no-progress", action="store_true", help="no progress bar")
    refresh.set_defaults(handler=_book_refresh)

    seeds = sub.add_parser(
        "seeds",
        help="execute chapters over many seeds (each in _build/seeds/) and print a chapter x seed table",
    )
    seeds.add_argument("chapters", nargs="*", metavar="CHAPTER", help=chapters_help)
    seeds.add_argument(
        "--seeds", type=_seed_list, default=tuple(range(10)), metavar="SEEDS",
        help="seeds as ranges and lists, e.g. 0-9 or 1,4,7 (default: 0-9)",
    )
    seeds.add_argument("--quick", action="store_true", help="quick mode (small budgets)")
    seeds.add_argument("--workers", type=positive_int, default=1,
                       help="seeds run at once, in worker processes (default: %(default)s)")
    seeds.add_argument("--table", metavar="FILE", help="also write the markdown table to FILE")
    seeds.add_argument("--no-progress", action="store_true", help="no progress bar")
    seeds.set_defaults(handler=_book_seeds)

    browse = sub.add_parser(
        "browse",
        help="open every built page in headless Chromium (offline) and report what is broken",
        description="Open every page of the built book in headless Chromium without network access and "
        "report broken images, links and anchors, tracebacks, unrendered math, console errors and "
        "explorers without widget or fallback, and what a reader sees broken at each window size (content "
        "wider than the column, pages that scroll sideways, TeX, reprs and None in the text, figure text "
        "shown below 9 pt at the first size); save a "
        "screenshot of each toc page at each size. Exit status: 0 no "
        "problems, 1 problems (one line each on stderr), 2 nothing checked (no built book, or no "
        "Chromium/Playwright).",
    )
    browse.add_argument("--html", metavar="DIR", help="the built HTML folder (default: _build/html)")
    browse.add_argument(
        "--screenshots", metavar="DIR", help="folder for the screenshots (default: _build/screenshots)"
    )
    browse.add_argument("--no-progress", action="store_true", help="no progress bar")
    browse.add_argument(
        "--viewport", type=_viewport, action="append", metavar="WxH",
        help="a window size to check and screenshot at, repeatable; every other check runs at the first "
        "(default: 1280x900 and 390x844)",
    )
    browse.set_defaults(handler=_book_browse)

    pdf = sub.add_parser("pdf", help="build the whole book as one PDF (_build/pdf; needs TeX: make pdf)")
    pdf.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    pdf.add_argument("--allow-stale", action="store_true", help="build even if chapters are stale")
    pdf.add_argument("--allow-mixed", action="store_true",
                     help="build even if the chapters ran in different modes or with different seeds")
    pdf.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    pdf.set_defaults(handler=_book_pdf)

    bundle = sub.add_parser(
        "bundle", help="write the release files: figure bundle, notebooks, lock, HTML, PDF, manifest"
    )
    bundle.add_argument("--out", metavar="DIR", help="folder for the files (default: _build/release)")
    bundle.add_argument("--tag", help="the git tag released (must be v<version of pyproject.toml>)")
    bundle.add_argument("--require-pdf", action="store_true", help="fail if the PDF is not built")
    bundle.set_defaults(handler=_book_bundle)


# --------------------------------------------------------------------------------------


def build_parser() -> ArgumentParser:
    """The full parser: every registered command (importing :data:`COMMAND_MODULES` first)."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = ArgumentParser(
        prog=PROG,
        description="Plateau companion: run the book's chapters, experiments and benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (configure, help_text) in sorted(_COMMANDS.items()):
        configure(sub.add_parser(name, help=help_text, description=help_text))
    return parser


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`KeyboardInterrupt` while a command runs.

    Python's default SIGTERM handling ends the process at once, leaving the Jupyter kernels of
    ``book run`` running; as an interrupt, the same clean-up as Ctrl-C runs instead (papermill
    shuts its kernel down, temporary notebooks are removed, earlier outputs are kept).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failure, 2 usage error, 130 Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _terminate_as_interrupt():
            return int(args.handler(args))
    except UsageError as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except CommandFailed as err:
        print(f"{PROG}: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Entry point of the installed ``plateau`` command (the same as ``python -m plateau_lib``)."""
    raise SystemExit(main())
