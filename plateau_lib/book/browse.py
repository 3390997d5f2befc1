r"""Open every page of the built HTML book in headless Chromium and report what a reader would see broken.

This is the last check of ``make test`` (after the strict build) and the command
``python -m plateau_lib book browse``. The strict Sphinx build catches broken sources; this
catches what only shows in a browser: scripts that throw, images that do not load, math
that stays raw TeX, explorers without their picture, and what a reader sees broken at a
desktop's and at a phone's width (:data:`VIEWPORTS`): results cut at the column edge, pages
that scroll sideways, TeX, reprs and ``None`` in the text.

**How.** The HTML folder is served by :mod:`http.server` on ``127.0.0.1`` (an ephemeral port,
a thread of this process), and Debian's ``chromium`` is driven with Playwright (the PyPI
package; its own browser download is never used: ``executable_path`` points at the system
browser). Every request that does not go to the local server is aborted and reported: the
book must work without network access, so a script, style sheet, font or image from a
network host is a problem (links in the text are not requests and are fine). Each page
opens in a fresh tab; after its ``load`` event the check waits for MathJax to finish
typesetting, then inspects the DOM. Each page is opened as a first visit (a fresh browser
context: no storage, no cache), so an error a reader meets on arriving at any page shows.
Every check runs at the first viewport; the tab is then resized to each further viewport for
the layout check, the figure text check and the screenshot. The scripts that run in the page are package data beside
this module: ``browse_inspect.js`` (everything below up to ``widget``), ``browse_layout.js``
(the ``wide-*`` kinds), ``browse_text.js`` (``literal-tex``, ``repr``, ``none``) and
``browse_figures.js`` (``small-text``).

**What fails** (one :class:`Problem` each, with the page and a one-line detail):

- ``image``: an ``<img>`` that did not load or decode (``naturalWidth == 0``; SVGs without an
  intrinsic size only need to decode);
- ``resource``: an HTTP error status (404, ...) or a failed request for a local resource;
- ``external``: a request to a network host (blocked);
- ``link`` / ``anchor``: an ``<a href>`` to a local page that does not exist, or whose
  ``#fragment`` names no element (``id``, or ``name`` of an ``<a>``) of the target page;
- ``traceback``: the text ``Traceback (most recent call last)`` anywhere outside an error output;
- ``error-output``: an element myst-nb uses for error or stderr outputs (classes
  ``output traceback``, ``output error``, ``output stderr``) or a docutils system message
  (``system-message``, ``problematic``);
- ``math``: elements of class ``math`` (Sphinx's math nodes) without a MathJax
  ``mjx-container`` after typesetting, a TeX error (``mjx-merror``), MathJax that did not
  finish, or raw TeX delimiters (``\(``, ``\[``, ``$$``, ``\begin{``) in the page's text
  (outside code, and outside ``math`` elements, which the first check covers);
- ``console`` / ``page-error``: a console message of type ``error`` or an uncaught exception
  from the book's own origin ("Failed to load resource" messages are left to the network
  checks above, which name the resource);
- ``explorer``: a notebook cell tagged ``explorer`` (myst-nb puts each cell tag on the cell's
  ``div`` as the class ``tag_<tag>``) showing neither a live widget (a visible element of
  class ``jupyter-widgets`` or ``widget-*``) nor its static fallback (an element of class
  ``plateau-explorer-static`` holding an ``<img>`` that loaded and some text, the note), or a
  page whose number of explorer cells differs from the expected one;
- ``widget``: a widget view (``<script type="application/vnd.jupyter.widget-view+json">``)
  that no widget manager rendered: a dead widget;
- ``explorer-move``: a static explorer (:mod:`plateau_lib.chapters.explorer_grid`: a
  ``.plateau-explorer-static`` with ``<select>`` controls) that does not respond. Every control
  is changed once, to its next value; after each change the frame and the printed numbers must
  both change, and, when the chapters' figure folder is given (``figures``), the frame's bytes
  must hash to the SHA-256 and the numbers equal the line that the manifest
  ``<figures>/<chapter>/unchecked/explorer_<name>.json`` saved for the selected state. Each
  change is one line of :attr:`BrowseReport.explorer_moves`, and each explorer is
  screenshotted in its first and last state (``explorer-<name>-first.png``, ``-last.png``).

**What a reader sees broken**, at each viewport (the detail starts ``at <width> px:``); the
content column is the theme's article (:data:`COLUMN_SELECTOR`; ``<main>``, else ``<body>``, on a page without
one), and full-width or margin content (:data:`WIDE_SELECTOR`) may reach the right edge of the
main area:

- ``wide-table``, ``wide-output``, ``wide-math``, ``wide-figure``, ``wide-code``,
  ``wide-text``: a table, printed output (a ``<pre>`` of a cell's ``div.cell_output``), display
  equation, figure (``img``, ``svg``, ...), code block or block of text of the column that the
  reader cannot see whole: it reaches past the column ("spills"), or a box with overflow hidden
  cuts it ("cut"). A scroll box (overflow-x ``auto``/``scroll``, scrollbar not hidden) that fits
  the column lets a reader see the rest, so a table, equation or figure in one passes (it is
  listed in :attr:`BrowseReport.scrolled`), and so does code input scrolling in its own box;
  printed output is read, not scrolled, so output whose lines run on in a scroll box is a
  problem too ("runs on");
- ``wide-page``: a document wider than the window (the page scrolls sideways), with the
  deepest elements reaching past the window's edge;

once per page (the same text at every width):

- ``literal-tex``: a literal ``$`` or a TeX command (``\mathbb``, ``\max``, any backslash and
  letters) in rendered text outside code and math;
- ``repr``: an object's repr (``<IPython.core.display.Markdown object>``, ``<... at 0x...>``,
  ``TrainResult(method=...``, ``np.float64(...``) in prose or printed output;
- ``none``: the word ``None`` in prose or printed output (outside code, and outside API
  entries, ``dl.py``, where ``None`` is the value being documented).

and, again at each viewport (a phone shows a figure smaller than a desktop's column does):

- ``small-text``: a figure whose smallest text a reader sees below :data:`MIN_TEXT_PT` points.
  Every image of the column whose PNG carries the text chunks of
  :func:`plateau_lib.figures.save_figure` (:data:`plateau_lib.figures.PNG_TEXT_KEYS`: the smallest
  font size ``f`` in points, the resolution ``dpi``) is read from the HTML folder (or its
  ``data:`` URL) with Pillow. Text of ``f`` points is ``f * dpi / 72`` image pixels high; the
  page shows the image's ``natural`` pixels in ``shown`` CSS pixels, and a CSS pixel is 72/96
  of a point, so the text is displayed at ``f * (dpi / 72) * (shown / natural) * (72 / 96)
  = f * dpi * shown / (96 * natural)`` points. Images without those chunks (photographs,
  explorer frames, figures a cell only displays) are not checked.

Pages are the ``*.html`` files of the folder, Sphinx's ``genindex``, ``search`` and
``py-modindex`` included (they pass), except the folders Sphinx fills with assets
(``_static`` holds the theme's HTML *templates*, which are not pages). A page that is only a
``<meta http-equiv="refresh">`` redirect (Jupyter Book's ``index.html``) is not opened; its
target must exist. A full-page screenshot of each chosen page (by default every visited
page outside Sphinx's index and search pages) is saved at each viewport as
``<name>-<width>.png`` (``<name>``: the page's stem, or its path with ``-`` where stems
collide), written to a temporary file and moved into place. Pages taller than
:data:`MAX_SCREENSHOT_HEIGHT` CSS pixels are cut there (the API reference would otherwise take
many seconds to rasterize).
"""

from __future__ import annotations

import contextlib
import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "CHROMIUM_ARGS",
    "COLUMN_SELECTOR",
    "DEFAULT_CHROMIUM",
    "MIN_TEXT_PT",
    "VIEWPORTS",
    "BrowseReport",
    "BrowserUnavailable",
    "Problem",
    "browser_unavailable_reason",
    "check_book",
    "expected_explorers",
    "find_chromium",
    "toc_pages",
]

#: Debian's Chromium (``apt-get install chromium``); ``PLATEAU_CHROMIUM`` overrides it.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Headless, no sandbox (we may run as root), and none of Chromium's own network traffic
#: (without the background-networking flags it keeps trying to reach Google's services).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Screenshots are cut at this height (CSS pixels).
MAX_SCREENSHOT_HEIGHT = 40000
#: Window sizes (width, height in CSS pixels) at which every page is checked and screenshotted: a
#: desktop wide enough for the theme's sidebars, and a phone. The first is the one every other
#: check runs at.
VIEWPORTS = ((1280, 900), (390, 844))
#: The content column of a page (sphinx-book-theme's article); pages without one use ``<body>``.
COLUMN_SELECTOR = "article.bd-article"
#: Content a theme lays out past the column (sphinx-book-theme's full-width and margin content):
#: it may reach the right edge of the main area.
WIDE_SELECTOR = ".full-width, .full_width, aside.margin, aside.sidebar, .margin"
#: Smallest size (points, as displayed at each viewport) of the text of a figure: below it,
#: ``small-text``.
MIN_TEXT_PT = 9.0
#: CSS pixels per inch (the CSS reference pixel; a point is 1/72 in).
CSS_PX_PER_IN = 96.0
#: Folders of a Sphinx HTML build that hold assets, not pages.
ASSET_FOLDERS = frozenset({"_static", "_sources", "_images", "_downloads"})
#: Sphinx's generated pages: visited, but not screenshotted by default.
GENERATED_PAGES = frozenset({"genindex.html", "search.html", "py-modindex.html"})
WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"
EXPLORER_TAG = "explorer"


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is missing, or the browser does not start."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing a reader would see broken: the page (relative to the HTML folder), a kind, a detail."""

    page: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


@dataclass
class BrowseReport:
    """Outcome of :func:`check_book`.

    Attributes
    ----------
    problems : list of Problem
        Sorted by page, kind and detail; empty when every page passed.
    pages : list of str
        The pages opened in the browser (paths relative to the HTML folder).
    screenshots : dict of str to Path
        ``<page>@<width>`` -> screenshot written (``<page>#explorer-<name>-first``, ``-last``
        for the explorers).
    blocked : list of tuple of str
        ``(page, resource type, url)`` of every request to a network host (all aborted).
    explorer_moves : list of str
        One line per control of a static explorer changed by the check, with what it showed.
    scrolled : list of str
        One line per table, display equation or figure wider than its room that a reader sees
        only by scrolling its box (allowed, not a problem), at each viewport.
    seconds : float
        Wall time of the check.
    """

    problems: list[Problem] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    screenshots: dict[str, Path] = field(default_factory=dict)
    blocked: list[tuple[str, str, str]] = field(default_factory=list)
    explorer_moves: list[str] = field(default_factory=list)
    scrolled: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------------------
# What to check


def find_chromium(executable: str | os.PathLike[str] | None = None) -> str | None:
    """The Chromium to drive: ``executable``, else ``$PLATEAU_CHROMIUM``, else Debian's; ``None`` if absent."""
    candidate = executable or os.environ.get("PLATEAU_CHROMIUM") or DEFAULT_CHROMIUM
    found = shutil.which(str(candidate))
    return found


def browser_unavailable_reason(executable: str | os.PathLike[str] | None = None) -> str | None:
    """Why the check cannot run here (one line), or ``None`` when Playwright and Chromium are present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (it is pinned in requirements-dev.txt: make install)"
    if find_chromium(executable) is None:
        wanted = executable or os.environ.get("PLATEAU_CHROMIUM") or DEFAULT_CHROMIUM
        return f"no Chromium at {wanted} (install it as root: apt-get install chromium; make test tries to)"
    return None


def toc_pages(source: str | os.PathLike[str]) -> list[str]:
    """The HTML pages of the ``_toc.yml`` entries of the book at ``source`` (``book/intro.html``, ...)."""
    from . import toc_files

    return [f"{entry}.html" for entry in toc_files(source)]


def expected_explorers(source: str | os.PathLike[str]) -> dict[str, int]:
    """Page -> number of code cells tagged ``explorer`` in each chapter notebook of the book at ``source``.

    Read from the committed notebooks (``book/<chapter>.ipynb``), so the expectation follows
    the sources; chapters without explorers map to 0.
    """
    from . import chapter_names

    source = Path(source)
    counts = {}
    for name in chapter_names(source):
        cells = json.loads((source / "book" / f"{name}.ipynb").read_text())["cells"]
        counts[f"book/{name}.html"] = sum(
            1 for c in cells
            if c.get("cell_type") == "code" and EXPLORER_TAG in c.get("metadata", {}).get("tags", [])
        )
    return counts


def _pages(root: Path) -> list[str]:
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root)
        if rel.parts[0] in ASSET_FOLDERS:
            continue
        pages.append(rel.as_posix())
    return pages


_REFRESH = re.compile(
    r"""<meta\s[^>]*http-equiv\s*=\s*["']?refresh["']?[^>]*content\s*=\s*["']\s*\d+\s*;\s*url\s*=\s*([^"'>]+)""",
    re.IGNORECASE,
)


def _redirect_target(path: Path) -> str | None:
    """The URL a page redirects to, if the page is only a ``<meta http-equiv="refresh">``."""
    text = path.read_text(errors="replace")
    if len(text) > 2000 or "<body" in text.lower():
        return None
    match = _REFRESH.search(text)
    return match.group(1).strip() if match else None


class _Ids(html.parser.HTMLParser):
    """The ``id`` attributes (and ``<a name>``) of a page that was not opened in the browser."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value and (key == "id" or (key == "name" and tag == "a")):
                self.ids.add(value)


def _static_ids(path: Path) -> set[str]:
    parser = _Ids()
    parser.feed(path.read_text(errors="replace"))
    return parser.ids


def _screenshot_names(pages: list[str]) -> dict[str, str]:
    stems: dict[str, int] = {}
    for page in pages:
        stems[Path(page).stem] = stems.get(Path(page).stem, 0) + 1
    dashed = {page: Path(page).with_suffix("").as_posix().replace("/", "-") for page in pages}
    return {page: Path(page).stem if stems[Path(page).stem] == 1 else dashed[page] for page in pages}


def _short(text: object, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --------------------------------------------------------------------------------------
# The local server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def _serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (ephemeral port) in a thread; yield the base URL (with a trailing slash)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-browse-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------------------
# In the page


@functools.cache
def _script(name: str) -> str:
    """The JavaScript function of the package data file ``name`` (its header comment dropped)."""
    from importlib import resources

    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    lines = text.splitlines()
    while lines and lines[0].startswith("//"):
        lines.pop(0)
    return "\n".join(lines)


@dataclass
class _PageFindings:
    """What the browser saw on one page (collected by listeners and the scripts)."""

    problems: list[Problem] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class _PageEvents:
    """The console errors, uncaught exceptions and failed requests of one open page (book origin only).

    Events of a page being closed (aborted requests, ...) are not its problems: ``stop`` ends
    the listening.
    """

    def __init__(self, page: object, base: str, add: Callable[[str, str], None]) -> None:
        self.base, self.add, self.listening = base, add, True
        self.failed_responses: list[tuple[str, int]] = []
        self.failed_requests: list[tuple[str, str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self._event("page-error", _short(error)))
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def stop(self) -> None:
        self.listening = False

    def _event(self, kind: str, detail: str) -> None:
        if self.listening:
            self.add(kind, detail)

    def _console(self, msg: object) -> None:
        if msg.type != "error" or msg.text.startswith("Failed to load resource"):
            return
        url = (msg.location or {}).get("url") or ""
        if url and not url.startswith(self.base):
            return  # not the book's own script (external scripts are blocked anyway)
        where = f" ({_local(url, self.base)}:{msg.location.get('lineNumber', 0) + 1})" if url else ""
        self._event("console", f"{_short(msg.text)}{where}")

    def _response(self, response: object) -> None:
        if self.listening and response.url.startswith(self.base) and response.status >= 400:
            self.failed_responses.append((response.url, response.status))

    def _failed(self, request: object) -> None:
        if self.listening and request.url.startswith(self.base):
            self.failed_requests.append((request.url, str(request.failure)))


def _inspect_page(
    context: object,
    base: str,
    page_name: str,
    report: BrowseReport,
    *,
    timeout: float,
    screenshot: Path | None,
    expected_explorer_count: int | None,
    figures: Path | None = None,
    viewports: Sequence[tuple[int, int]] = VIEWPORTS,
    root: Path | None = None,
) -> _PageFindings:
    """Open ``page_name`` in a new tab of ``context`` and run every check on it.

    The whole-page inspection, the reader's text check and the explorers run once, at the first
    viewport; the figure text check (its PNGs read from ``root``, the HTML folder), the layout
    check and the screenshot (``<screenshot stem>-<width>.png``) at every viewport, the tab
    resized in turn.
    """
    found = _PageFindings()

    def add(kind: str, detail: str) -> None:
        _add_problem(found.problems, page_name, kind, detail)

    page = context.new_page()
    page.set_default_timeout(timeout * 1000)
    events = _PageEvents(page, base, add)
    blocked_from = len(report.blocked)
    try:
        page.goto(base + urllib.parse.quote(page_name), wait_until="load")
        seen = page.evaluate(_script("browse_inspect.js"), {
            "mathTimeout": timeout * 1000, "imageTimeout": timeout * 1000, "widgetViewMimetype": WIDGET_VIEW_MIMETYPE,
        })
        _report_reader_text(add, page.evaluate(_script("browse_text.js")))
        for width, height in viewports:
            if (width, height) != viewports[0]:
                page.set_viewport_size({"width": width, "height": height})
            images = page.evaluate(_script("browse_figures.js"), {"columnSelector": COLUMN_SELECTOR})
            _report_small_text(add, images, width, root, base)
            layout = page.evaluate(_script("browse_layout.js"), {
                "columnSelector": COLUMN_SELECTOR, "wideSelector": WIDE_SELECTOR, "tolerance": 1,
            })
            _report_layout(add, layout, width, report.scrolled, page_name)
            if screenshot is not None:
                target = screenshot.with_name(f"{screenshot.stem}-{width}.png")
                # a tall page at a phone's width takes long to rasterize on a loaded machine
                _screenshot(page, target, width, layout["height"], timeout=4 * timeout)
                report.screenshots[f"{page_name}@{width}"] = target
        page.set_viewport_size(dict(zip(("width", "height"), viewports[0], strict=True)))
        _exercise_explorers(page, page_name, report, add, figures=figures, timeout=timeout,
                            screenshots=None if screenshot is None else screenshot.parent)
    finally:
        events.stop()
        page.close()
    for _, kind, url in report.blocked[blocked_from:]:
        add("external", f"{kind} from the network blocked (the book must work offline): {_short(url, 200)}")
    _report_loading(add, seen["brokenImages"], events, base)
    _report_math(add, seen, timeout)
    _report_content(add, seen)
    _report_explorers(add, seen, expected_explorer_count)
    found.links = [tuple(link) for link in seen["links"]]
    found.ids = set(seen["ids"])
    return found


def _report_loading(add: Callable[[str, str], None], broken_images: list, events: _PageEvents, base: str) -> None:
    """Images that did not load, HTTP errors and failed requests: one problem per resource."""
    for src, _ in broken_images:
        add("image", f"image did not load: {_short(src, 100) or '(no src)'}")
    reported = {url for _, url in broken_images}  # a missing image is one problem, not two
    for url, status in events.failed_responses:
        if url not in reported:
            add("resource", f"HTTP {status} for {_local(url, base)}")
    reported |= {url for url, _ in events.failed_responses}  # Chromium also aborts a script with an error status
    for url, failure in events.failed_requests:
        if url not in reported:
            add("resource", f"request failed for {_local(url, base)}: {failure}")


def _report_math(add: Callable[[str, str], None], seen: dict, timeout: float) -> None:
    """MathJax that did not start or finish, math left raw, TeX errors, raw TeX delimiters in the text."""
    if seen["mathjax"] == "not-started" and seen["mathTotal"]:
        add("math", "MathJax is on the page but did not start (its script did not load or failed)")
    elif seen["mathjax"] == "timeout":
        add("math", f"MathJax did not finish typesetting within {timeout:g} s")
    elif seen["mathjax"] not in ("ok", "absent"):
        add("math", f"MathJax failed: {_short(seen['mathjax'], 160)}")
    if seen["mathRaw"]:
        add("math", f"{len(seen['mathRaw'])} of {seen['mathTotal']} math element(s) not rendered by MathJax, "
                    f"e.g. {_short(seen['mathRaw'][0], 80)!r}")
    for error in sorted(set(seen["mathErrors"])):
        add("math", f"TeX error: {_short(error, 120)}")
    if seen["rawTex"]:
        add("math", f"raw TeX in the text ({len(seen['rawTex'])} place(s)), e.g. {_short(seen['rawTex'][0], 80)!r}")


def _report_content(add: Callable[[str, str], None], seen: dict) -> None:
    """Tracebacks in the page and error or stderr outputs."""
    for line in seen["tracebacks"]:
        add("traceback", f"Python traceback in the page: {_short(line, 160)}")
    for classes, snippet in seen["errorOutputs"]:
        add("error-output", f"element of class {classes!r}: {_short(snippet, 120)}")


def _report_explorers(add: Callable[[str, str], None], seen: dict, expected_count: int | None) -> None:
    """Explorer cells without widget or fallback, a wrong number of them, and dead widgets."""
    for i, explorer in enumerate(seen["explorers"]):
        if not (explorer["live"] or explorer["fallback"]):
            where = f" (id {explorer['id']})" if explorer["id"] else ""
            add("explorer", f"explorer cell {i + 1}{where} shows neither a live widget nor its static fallback "
                            "(a loaded image and a note in .plateau-explorer-static)")
    if expected_count is not None and len(seen["explorers"]) != expected_count:
        add("explorer", f"expected {expected_count} explorer cell(s) (cells tagged {EXPLORER_TAG!r}), "
                        f"found {len(seen['explorers'])}")
    for model in seen["deadWidgets"]:
        add("widget", f"widget view (model {model}) that no widget manager rendered: a dead widget")


#: What each element of the column is called in a problem, by the layout script's kind.
_WIDE_NAMES = {"output": "printed output", "math": "display equation", "table": "table", "figure": "figure",
               "code": "code block", "text": "text"}
_WIDE_HOW = {
    "spills": "reaches {past} px past the edge of the {room} px column ({width} px wide)",
    "cut": "is cut: {width} px of it in a {room} px box that hides the rest",
    "scrolls": "runs on to {width} px in its {room} px box (printed output must fit: wrap or shorten it)",
}


def _report_layout(add: Callable[[str, str], None], layout: dict, width: int, scrolled: list[str], page: str) -> None:
    """``wide-<element>``: what the reader cannot see whole at this width; ``wide-page``: sideways scrolling.

    What passes only in a scroll box is appended to ``scrolled`` (one line each).
    """
    for item in layout["scrolled"]:
        scrolled.append(f"{page} at {width} px: {_WIDE_NAMES[item['kind']]} of {item['width']} px in a "
                        f"{item['room']} px scroll box: {_short(item['text'], 70)!r}")
    for item in layout["wide"]:
        what = _WIDE_NAMES[item["kind"]] + (f" <{item['tag']}>" if item["kind"] == "figure" else "")
        how = _WIDE_HOW[item["how"]].format(width=item["width"], room=item["room"], past=item["past"])
        add(f"wide-{item['kind']}", f"at {width} px: {what} {how}: {_short(item['text'], 90)!r}")
    if layout["widening"]:
        reaching = "; ".join(f"{e['tag']} to {e['right']} px {_short(e['text'], 60)!r}" for e in layout["widening"])
        more = layout["wideningCount"] - len(layout["widening"])
        add("wide-page", f"at {width} px: the page is {layout['documentWidth']} px wide in a {layout['viewport']} px "
                         f"window and scrolls sideways; reaching past its edge: {reaching}"
                         + (f" (and {more} more)" if more > 0 else ""))


#: The reader's text check's kinds: what a problem of each says.
_TEXT_PROBLEMS = {"tex": ("literal-tex", "literal TeX ($ or a \\command) in the {where}"),
                  "repr": ("repr", "an object's repr in the {where}"),
                  "none": ("none", "the word None in the {where}")}


def _report_reader_text(add: Callable[[str, str], None], text: dict) -> None:
    """``literal-tex``, ``repr`` and ``none``: one problem per block of text (see browse_text.js)."""
    for key, (kind, what) in _TEXT_PROBLEMS.items():
        for where, excerpt in text[key]:
            add(kind, f"{what.format(where=where)}: {_short(excerpt, 120)!r}")


def _png_text_chunks(src: str, root: Path | None, base: str) -> dict[str, str]:
    """The text chunks of the PNG an ``<img>`` shows: a file of the book under ``root`` or a ``data:`` URL.

    Empty for another image (not a PNG, not the book's, unreadable).
    """
    import base64
    import io

    from PIL import Image, UnidentifiedImageError

    if src.startswith("data:image/png;base64,"):
        try:
            source: object = io.BytesIO(base64.b64decode(src.partition(",")[2]))
        except ValueError:
            return {}
    elif root is not None and src.startswith(base):
        path = root / urllib.parse.unquote(urllib.parse.urlsplit(src[len(base):]).path)
        if path.suffix.lower() != ".png" or not path.is_file():
            return {}
        source = path
    else:
        return {}
    try:
        with Image.open(source) as image:
            return dict(getattr(image, "text", {}) or {})
    except (OSError, UnidentifiedImageError, SyntaxError):
        return {}


def _report_small_text(add: Callable[[str, str], None], images: list[dict], width: int,
                       root: Path | None, base: str) -> None:
    """``small-text``: a figure whose smallest text shows below :data:`MIN_TEXT_PT` points (see the module)."""
    from ..figures import PNG_TEXT_KEYS

    for image in images:
        chunks = _png_text_chunks(image["src"], root, base)
        try:
            size = float(chunks[PNG_TEXT_KEYS["smallest_pt"]])
            dpi = float(chunks[PNG_TEXT_KEYS["dpi"]])
        except (KeyError, ValueError):
            continue
        shown, natural = float(image["shown"]), int(image["natural"])
        if natural <= 0 or shown <= 0:
            continue
        scale = dpi * shown / (CSS_PX_PER_IN * natural)  # displayed points per point of the figure
        displayed = size * scale
        if displayed >= MIN_TEXT_PT - 0.05:
            continue
        text = chunks.get(PNG_TEXT_KEYS["smallest_text"], "")
        name = _short(image["name"], 70) or "(no caption)"
        advice = f"it needs text of at least {MIN_TEXT_PT / scale:.1f} pt"
        if chunks.get(PNG_TEXT_KEYS["width_in"]):
            advice += f", or a figure at most {size * shown / (CSS_PX_PER_IN * MIN_TEXT_PT):.1f} in wide"
        add("small-text", f"at {width} px: figure {name!r}: its smallest text ({_short(text, 40)!r}, {size:g} pt) "
                          f"shows at {displayed:.1f} pt ({natural} px at {dpi:g} dpi shown {shown:.0f} px wide); "
                          f"{advice}")


#: Reads what a static explorer shows: its state key, the frame's ``src`` and the numbers.
_EXPLORER_STATE = """(box) => ({
  state: box.getAttribute("data-state") || "",
  src: (box.querySelector("img.plateau-explorer-frame") || {}).src || "",
  text: ((box.querySelector(".plateau-explorer-numbers") || {}).textContent || "").trim(),
  ready: box.classList.contains("plateau-explorer-ready"),
})"""


def _data_url_sha256(src: str) -> str | None:
    """SHA-256 of the bytes of a base64 ``data:`` URL (``None`` for another URL)."""
    import base64
    import hashlib

    head, _, payload = src.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        return None
    return hashlib.sha256(base64.b64decode(payload)).hexdigest()


def _manifest(figures: Path | None, page_name: str, name: str) -> dict | None:
    """The saved manifest of explorer ``name`` of the chapter page ``book/<chapter>.html``."""
    if figures is None:
        return None
    path = figures / Path(page_name).stem / "unchecked" / f"explorer_{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _exercise_explorers(page: object, page_name: str, report: BrowseReport, add: object, *,
                        figures: Path | None, screenshots: Path | None, timeout: float) -> None:
    """Change every control of every static explorer on ``page`` once; see ``explorer-move``."""
    for box in page.locator(".plateau-explorer-static[data-explorer]").all():
        name = box.get_attribute("data-explorer") or "?"
        selects = box.locator("select[data-field]").all()
        if not selects:
            continue  # the single-picture fallback: no controls
        where = f"explorer {name!r}"
        manifest = _manifest(figures, page_name, name)
        if figures is not None and manifest is None:
            add("explorer-move", f"{where}: no saved manifest {Path(page_name).stem}/unchecked/explorer_{name}.json")
        by_key = {s["key"]: s for s in manifest["states"]} if manifest else {}
        shown = box.evaluate(_EXPLORER_STATE)
        if not shown["ready"]:
            add("explorer-move", f"{where}: the script did not set it up (controls stay disabled)")
            continue
        if manifest and shown["state"] != manifest["states"][manifest["initial"]]["key"]:
            add("explorer-move", f"{where}: opens on state {shown['state']!r}, not the default state")
        if screenshots is not None:
            _element_screenshot(box, screenshots / f"explorer-{name}-first.png", report, page_name)
        for select in selects:
            field_name = select.get_attribute("data-field")
            options = select.locator("option").all_text_contents()
            before_index = select.evaluate("(s) => s.selectedIndex")
            after_index = (before_index + 1) % len(options)
            select.select_option(index=after_index, timeout=timeout * 1000)
            after = box.evaluate(_EXPLORER_STATE)
            move = f"{page_name} {where}: {field_name} {options[before_index]} -> {options[after_index]}"
            saved = by_key.get(after["state"])
            problems = _move_problems(shown, after, saved, manifest is not None)
            for problem in problems:
                add("explorer-move", f"{where}, {field_name} -> {options[after_index]}: {problem}")
            verdict = "; ".join(problems) if problems else (
                f"frame {saved['frame']} and numbers match the saved state" if saved else "frame and numbers changed")
            report.explorer_moves.append(f"{move}: {verdict} ({_short(after['text'], 90)})")
            shown = after
        if screenshots is not None:
            _element_screenshot(box, screenshots / f"explorer-{name}-last.png", report, page_name)


def _move_problems(shown: dict, after: dict, saved: dict | None, has_manifest: bool) -> list[str]:
    """What is wrong with one change of an explorer's control: ``shown`` before, ``after``, its ``saved`` state."""
    problems = []
    if after["src"] == shown["src"]:
        problems.append("the frame did not change")
    if after["text"] == shown["text"]:
        problems.append("the numbers did not change")
    if has_manifest and saved is None:
        problems.append(f"state {after['state']!r} is not in the saved manifest")
    elif saved is not None:
        if _data_url_sha256(after["src"]) != saved["sha256"]:
            problems.append(f"the frame is not the saved {saved['frame']}")
        if after["text"] != saved["text"]:
            problems.append(f"the numbers {after['text']!r} are not the saved {saved['text']!r}")
    return problems


def _element_screenshot(box: object, target: Path, report: BrowseReport, page_name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial.png")
    try:
        box.screenshot(path=str(partial))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    report.screenshots[f"{page_name}#{target.stem}"] = target


def _check_viewports(viewports: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """``viewports`` as a tuple of ``(width, height)`` pairs of positive integers; ValueError otherwise."""
    given = list(viewports)
    try:
        sizes = tuple(tuple(size) for size in given)
    except TypeError:
        sizes = ()
    if not sizes or not all(
        len(size) == 2 and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size)
        for size in sizes
    ):
        raise ValueError(f"viewports must be a non-empty list of (width, height) pairs of positive integers, "
                         f"got {given!r}")
    return sizes


def _add_problem(problems: list[Problem], page: str, kind: str, detail: str) -> None:
    problem = Problem(page, kind, detail)
    if problem not in problems:
        problems.append(problem)


def _local(url: str, base: str) -> str:
    return urllib.parse.unquote(url[len(base):]) if url.startswith(base) else url


def _screenshot(page: object, target: Path, width: int, height: int, timeout: float) -> None:
    """A full-page screenshot at ``width`` (cut at :data:`MAX_SCREENSHOT_HEIGHT`), given ``timeout`` seconds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial.png")
    try:
        if height > MAX_SCREENSHOT_HEIGHT:
            clip = {"x": 0, "y": 0, "width": width, "height": MAX_SCREENSHOT_HEIGHT}
            page.screenshot(path=str(partial), full_page=True, clip=clip, timeout=timeout * 1000)
        else:
            page.screenshot(path=str(partial), full_page=True, timeout=timeout * 1000)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------
# Links


def _check_links(
    root: Path, base: str, findings: Mapping[str, _PageFindings], problems: list[Problem]
) -> None:
    """Every local ``<a href>`` must name an existing file and, with a fragment, an element of that page."""
    ids_of: dict[str, set[str]] = {name: f.ids for name, f in findings.items()}
    for page_name, found in findings.items():
        for href, url in found.links:
            if not url.startswith(base):
                continue  # another host, mailto:, javascript:, ...
            parts = urllib.parse.urlsplit(url)
            target = urllib.parse.unquote(parts.path)[len(urllib.parse.urlsplit(base).path):]
            if target == "" or target.endswith("/"):
                target += "index.html"
            path = root / target
            if not path.is_file():
                _add_problem(problems, page_name, "link", f"broken link {href!r}: no {target} in the book")
                continue
            fragment = urllib.parse.unquote(parts.fragment)
            if not fragment or path.suffix != ".html":
                continue
            if target not in ids_of:
                ids_of[target] = _static_ids(path)
            if fragment not in ids_of[target]:
                _add_problem(problems, page_name, "anchor", f"broken anchor {href!r}: no id {fragment!r} in {target}")


# --------------------------------------------------------------------------------------
# The check


def _book_and_browser(html: str | os.PathLike[str], executable: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The HTML folder (resolved) and the Chromium to drive, both checked before any page is opened
    (:func:`check_book`'s ``FileNotFoundError`` and :class:`BrowserUnavailable`)."""
    root = Path(html).resolve()
    if not root.is_dir() or not any(root.glob("*.html")):
        raise FileNotFoundError(f"no HTML book at {root} (build it: python -m plateau_lib book build)")
    reason = browser_unavailable_reason(executable)
    if reason is not None:
        raise BrowserUnavailable(reason)
    return root, find_chromium(executable)


class _Visits(NamedTuple):
    """What :func:`check_book` visits (:func:`_plan_visits`)."""

    #: The pages to open, redirect stubs left out, in the order of :func:`_pages`.
    pages: list[str]
    #: Page -> the file stem of its screenshots (:func:`_screenshot_names`), for the pages to shoot.
    shot_names: dict[str, str]
    #: Page -> the number of explorers it must have.
    expected: dict[str, int]


def _plan_visits(root: Path, screenshot_pages: Iterable[str] | None, expected_explorers: Mapping[str, int] | None,
                 problems: list[Problem]) -> _Visits:
    """The pages of ``root`` to visit, to screenshot and to count explorers on.

    A page to screenshot or with expected explorers that is not in the book, and a redirect stub
    whose target does not exist, are problems (added to ``problems``).
    """
    pages = _pages(root)
    redirects = {p: t for p in pages if (t := _redirect_target(root / p)) is not None}
    visit = [p for p in pages if p not in redirects]
    if screenshot_pages is None:
        wanted_shots = [p for p in visit if p not in GENERATED_PAGES]
    else:
        wanted_shots = list(screenshot_pages)
    expected = dict(expected_explorers or {})
    for page_name in sorted(set(wanted_shots) - set(visit)):
        _add_problem(problems, page_name, "link", "page to screenshot is missing from the book")
    for page_name in sorted(set(expected) - set(visit)):
        _add_problem(problems, page_name, "explorer", "page with expected explorers is missing from the book")
    for page_name, target in redirects.items():
        resolved = (root / page_name).parent / urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        if not resolved.is_file():
            _add_problem(problems, page_name, "link", f"redirects to {target!r}, which does not exist")
    return _Visits(visit, _screenshot_names(wanted_shots), expected)


def _outside_blocked(base: str, report: BrowseReport, current: Mapping[str, str]) -> Callable[[object], None]:
    """A Playwright route handler: a request under ``base`` (the local server) goes through; any other
    is aborted and recorded in ``report.blocked`` against ``current["page"]``, the page being inspected."""

    def on_route(route: object) -> None:
        request = route.request
        if request.url.startswith(base):
            route.continue_()
        else:
            report.blocked.append((current["page"], request.resource_type, request.url))
            route.abort("blockedbyclient")

    return on_route


def check_book(
    html: str | os.PathLike[str],
    *,
    screenshots: str | os.PathLike[str] | None = None,
    screenshot_pages: Iterable[str] | None = None,
    expected_explorers: Mapping[str, int] | None = None,
    executable: str | os.PathLike[str] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    figures: str | os.PathLike[str] | None = None,
    viewports: Iterable[tuple[int, int]] = VIEWPORTS,
) -> BrowseReport:
    """Open every page of a built HTML book in headless Chromium and collect its problems.

    Parameters
    ----------
    html : path
        The HTML folder (``_build/html``).
    screenshots : path, optional
        Folder for the screenshots (created); none are taken if omitted.
    screenshot_pages : iterable of str, optional
        Pages to screenshot (paths relative to ``html``, e.g. ``book/intro.html``); default:
        every visited page but Sphinx's index and search pages. A page listed here that does
        not exist is a problem.
    expected_explorers : mapping of str to int, optional
        Page -> number of cells tagged ``explorer`` it must have (see
        :func:`expected_explorers`); a listed page that does not exist is a problem.
    executable : path, optional
        Chromium to drive (default: :func:`find_chromium`).
    progress : bool
        Show a progress bar over pages (on stderr).
    timeout : float
        Seconds allowed for loading a page, for MathJax and for each image.
    figures : path, optional
        The chapters' figure folder (``_build/figures``): every frame a static explorer shows
        after a change must be the one its manifest saved for that state (``explorer-move``).
    viewports : iterable of (int, int)
        Window sizes ``(width, height)`` in CSS pixels (default :data:`VIEWPORTS`): the layout
        check and the screenshots (``<name>-<width>.png``) run at each, every other check at
        the first.

    Returns
    -------
    BrowseReport

    Raises
    ------
    ValueError
        If ``viewports`` is empty or holds a size that is not two positive integers.
    FileNotFoundError
        If ``html`` is not a folder with HTML pages.
    BrowserUnavailable
        If Playwright or Chromium is missing, or Chromium does not start.
    """
    start = time.perf_counter()
    viewports = _check_viewports(viewports)
    root, chromium = _book_and_browser(html, executable)

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright
    from tqdm.auto import tqdm

    report = BrowseReport()
    visit, shot_names, expected = _plan_visits(root, screenshot_pages, expected_explorers, report.problems)

    findings: dict[str, _PageFindings] = {}
    with _serve(root) as base, sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS), headless=True)
        except PlaywrightError as err:
            raise BrowserUnavailable(f"Chromium ({chromium}) did not start: {_short(err, 300)}") from None
        try:
            current = {"page": ""}
            on_route = _outside_blocked(base, report, current)
            bar = tqdm(visit, desc="book browse", unit="page", disable=not progress, file=sys.stderr)
            try:
                for page_name in bar:
                    bar.set_postfix_str(page_name)
                    current["page"] = page_name
                    shot = (
                        Path(screenshots) / f"{shot_names[page_name]}.png"
                        if screenshots is not None and page_name in shot_names else None
                    )
                    # A fresh context per page: every page is a first visit (empty storage and
                    # cache), as for a reader who follows a link to it.
                    first = dict(zip(("width", "height"), viewports[0], strict=True))
                    context = browser.new_context(viewport=first, service_workers="block")
                    context.route("**/*", on_route)
                    try:
                        found = _inspect_page(
                            context, base, page_name, report, timeout=timeout, screenshot=shot,
                            expected_explorer_count=expected.get(page_name),
                            figures=None if figures is None else Path(figures), viewports=viewports,
                            root=root,
                        )
                    except PlaywrightError as err:
                        detail = f"could not inspect the page: {_short(err)}"
                        _add_problem(report.problems, page_name, "page-error", detail)
                        continue
                    finally:
                        context.close()
                    findings[page_name] = found
                    report.problems.extend(p for p in found.problems if p not in report.problems)
                    report.pages.append(page_name)
            finally:
                bar.close()
        finally:
            browser.close()
    _check_links(root, base, findings, report.problems)
    report.problems.sort()
    report.seconds = time.perf_counter() - start
    return report
