"""The built book in a browser: every page opened in headless Chromium without network access.

``test_the_built_book_passes_the_browser_check`` opens the HTML of the strict build
(``built_html`` in conftest.py, so under ``make test`` it runs after that build) and saves a
screenshot of every toc page to ``_build/screenshots/`` of the repository. The negative
tests show that each kind of problem is caught, on tiny hand-written pages. Without Chromium
or Playwright (``make test`` installs both when it can) or without the MathJax bundle
(``npm ci --prefix tools/mathjax``) the browser tests are skipped with a loud reason.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from plateau_lib import book
from plateau_lib.book import browse as browser_check
from plateau_lib.book import stage as book_stage
from plateau_lib.book.browse import Problem, check_book
from plateau_lib.chapters.explorer_grid import (
    ExplorerGrid,
    Frame,
    GridAxis,
    StaticExplorer,
    explorer_grid,
    static_explorer_html,
)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"
#: A 1x1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
#: Another 1x1 PNG (a different colour).
PNG2 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


def _require_browser() -> None:
    reason = browser_check.browser_unavailable_reason()
    if reason is not None:
        pytest.skip(
            "BROWSER CHECK SKIPPED: the browser could not be installed or found on this machine: "
            f"{reason}. make test installs Debian's chromium when it runs as root (or with sudo)."
        )


def _require_mathjax() -> None:
    if book_stage.mathjax_bundle(ROOT) is None:
        pytest.skip(
            "BROWSER CHECK SKIPPED: the MathJax bundle is not installed (npm ci --prefix tools/mathjax; "
            "make install does it when npm exists), so the pages cannot render math offline."
        )


# --------------------------------------------------------------------------------------
# The offline MathJax bundle and its configuration (fast, no browser)


def test_mathjax_pins_agree():
    package = json.loads((ROOT / "tools" / "mathjax" / "package.json").read_text())
    assert package["dependencies"] == {"mathjax": book_stage.MATHJAX_VERSION}, "pin an exact version"
    lock = json.loads((ROOT / "tools" / "mathjax" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/mathjax"]["version"] == book_stage.MATHJAX_VERSION
    assert lock["packages"][""]["dependencies"] == package["dependencies"]


def test_config_points_mathjax_at_the_staged_bundle():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["mathjax_path"] == f"mathjax/{book_stage.MATHJAX_ENTRY}"
    assert book_stage.MATHJAX_STAGE in config["html_static_path"]
    assert "_static" not in config["html_static_path"], "Jupyter Book would add every *.js of it to every page"


def test_stage_gets_the_bundle_or_a_cdn_loader(tmp_path, monkeypatch):
    paths = book.BookPaths.for_source(ROOT, output_root=tmp_path)
    target = paths.stage / book_stage.MATHJAX_STAGE / "mathjax"
    monkeypatch.setattr(book_stage, "mathjax_bundle", lambda source=None: None)
    assert book_stage.stage_mathjax(paths) is False
    assert [p.name for p in target.rglob("*") if p.is_file()] == [book_stage.MATHJAX_ENTRY]
    assert book_stage.MATHJAX_CDN in (target / book_stage.MATHJAX_ENTRY).read_text()
    monkeypatch.undo()
    if book_stage.mathjax_bundle(ROOT) is None:
        pytest.skip("the MathJax bundle is not installed (npm ci --prefix tools/mathjax)")
    assert book_stage.stage_mathjax(paths) is True
    entry = target / book_stage.MATHJAX_ENTRY
    assert book_stage.MATHJAX_CDN not in entry.read_text(), "the CDN loader must be replaced by the bundle"
    assert any(target.glob("output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"))
    assert any(target.glob("input/tex/extensions/*.js"))
    before = entry.stat().st_mtime_ns
    assert book_stage.stage_mathjax(paths) is True and entry.stat().st_mtime_ns == before, "unchanged files are kept"


@pytest.mark.slow
def test_built_pages_load_nothing_from_the_network(built_html):
    """Static check (runs without a browser too): no script, style sheet, font, image or frame
    of a page comes from a network host; links in the text may point anywhere."""
    html = built_html.paths.html
    assert built_html.status == 0, "the strict build failed (see test_strict_html_build)"
    tag = re.compile(r"<(script|link|img|iframe|source|video|audio)\b[^>]*>", re.IGNORECASE)
    url = re.compile(r"""\b(?:src|href)\s*=\s*["'](?:https?:)?//[^"']*""", re.IGNORECASE)
    external = sorted(
        {
            f"{page.relative_to(html)}: {match.group(0)[:160]}"
            for page in html.rglob("*.html")
            if page.relative_to(html).parts[0] != "_static"
            for match in tag.finditer(page.read_text(errors="replace"))
            if url.search(match.group(0)) and not re.search(r"rel=[\"']?(?:canonical|alternate)", match.group(0))
        }
    )
    assert (html / "_static" / "mathjax" / book_stage.MATHJAX_ENTRY).is_file(), "MathJax is not served by the book"
    assert not external, "pages load from the network:\n" + "\n".join(external)


# --------------------------------------------------------------------------------------
# The book itself


@pytest.mark.slow
def test_the_built_book_passes_the_browser_check(built_html):
    _require_browser()
    _require_mathjax()
    assert built_html.status == 0, "the strict build failed (see test_strict_html_build)"
    html = built_html.paths.html
    shots = browser_check.toc_pages(ROOT)
    explorers = browser_check.expected_explorers(ROOT)  # from the committed notebooks' tags
    report = check_book(
        html, screenshots=SCREENSHOTS, screenshot_pages=shots, expected_explorers=explorers, progress=False,
        figures=built_html.paths.figures,
    )
    assert not report.problems, f"{len(report.problems)} problem(s) in the browser:\n" + "\n".join(
        map(str, report.problems)
    )
    assert not report.blocked
    assert set(shots) <= set(report.pages)
    assert {"genindex.html", "search.html"} <= set(report.pages)
    for page in shots:
        for width, _ in browser_check.VIEWPORTS:
            image = SCREENSHOTS / f"{Path(page).stem}-{width}.png"
            assert report.screenshots[f"{page}@{width}"] == image
            assert image.read_bytes()[:8] == PNG_MAGIC, f"no screenshot of {page} at {width} px"
            assert _png_width(image) == width
    assert not list(SCREENSHOTS.glob(".*")), "temporary screenshot files left behind"
    # Every control of every static explorer moved once, each showing the saved frame and numbers.
    controls = {name: [a.field for a in explorer_grid(name, quick=True).axes] for name in ("gd", "anls")}
    moved = [re.match(r"book/\w+\.html explorer '(\w+)': (\w+) ", m).groups() for m in report.explorer_moves]
    assert sorted(moved) == sorted((n, f) for n, fields in controls.items() for f in fields)
    assert all("and numbers match the saved state" in m for m in report.explorer_moves)
    for name in controls:
        first, last = (SCREENSHOTS / f"explorer-{name}-{when}.png" for when in ("first", "last"))
        assert first.read_bytes()[:8] == last.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert first.read_bytes() != last.read_bytes(), f"the {name} explorer looks the same in two states"


# --------------------------------------------------------------------------------------
# The check can fail: a tiny hand-written book, one defect per folder, exactly the expected
# problem(s) each (all folders are checked in one browser session: one launch, not one per case)

_HEAD = "<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body>"
_TAIL = "</body></html>"
_FALLBACK = (
    "<div class='cell tag_explorer'><div class='cell_output'><div class='plateau-explorer-static'>"
    f"<img src='data:image/png;base64,{PNG}' alt='explorer'><p>A picture of the explorer; run it live.</p>"
    "</div></div></div>"
)


def _static_explorer(texts: tuple[str, str], pngs: tuple[bytes, bytes], *, script: bool = True,
                     saved_texts: tuple[str, str] | None = None) -> tuple[str, str]:
    """A static explorer of two states as the chapters write it: (page HTML, its saved manifest)."""
    grid = ExplorerGrid("gd", (GridAxis("target", ("sin_pi", "sawtooth")),))
    shown = StaticExplorer(grid, tuple(Frame(p, {}, {}, t) for p, t in zip(pngs, texts, strict=True)))
    saved = shown if saved_texts is None else StaticExplorer(
        grid, tuple(Frame(p[::-1], {}, {}, t) for p, t in zip(pngs, saved_texts, strict=True)))
    page = static_explorer_html(shown, title="GD", note="Precomputed states; run it live.")
    if script:
        page += "<script src='plateau-explorer.js'></script>"
    return page, json.dumps(saved.manifest())


_JS = (ROOT / "book" / "_static" / "plateau-explorer.js").read_text()
_FRAME_A = base64.b64decode(PNG)
_FRAME_B = base64.b64decode(PNG2)
_MOVES, _MOVES_SAVED = _static_explorer(("first state", "second state"), (_FRAME_A, _FRAME_B))
_NOSCRIPT, _NOSCRIPT_SAVED = _static_explorer(("first state", "second state"), (_FRAME_A, _FRAME_B), script=False)
_STALE, _STALE_SAVED = _static_explorer(("first state", "second state"), (_FRAME_A, _FRAME_B),
                                        saved_texts=("first state", "old second state"))
_FROZEN, _FROZEN_SAVED = _static_explorer(("same", "same"), (_FRAME_A, _FRAME_A))
_MOVED = "explorer 'gd', target -> sawtooth"
#: Page stem -> manifest of its explorer, saved where the chapters save theirs (``figures``).
MANIFESTS = {"moves": _MOVES_SAVED, "noscript": _NOSCRIPT_SAVED, "stale": _STALE_SAVED, "frozen": _FROZEN_SAVED}


def _column(body: str, outside: str = "") -> str:
    """A page with a content column as sphinx-book-theme lays it out: at most 600 px, 10 px padding (so
    580 px of room at 1280 px and 370 px at 390 px). The column sits in a box that clips, so that a
    case spilling out of the column does not also widen the page; ``outside`` goes outside that box."""
    return ("<style>body{margin:0} article.bd-article{max-width:600px;padding:0 10px;box-sizing:border-box} "
            "pre{margin:0;padding:0;border:0} table{border-collapse:collapse} td{padding:0}</style>"
            f"{outside}<div style='overflow:hidden'><main><article class='bd-article'>{body}</article></main></div>")


def _wide(width: int, text: str = "wide") -> str:
    """Content of a fixed width (no dependence on the machine's fonts)."""
    return f"<span style='display:inline-block;overflow:hidden;width:{width}px'>{text}</span>"


#: Everything the reader's check looks at, as it should be: a table and an equation wider than the
#: column in scroll boxes, a long line of code input scrolling in its box, printed output that fits,
#: a figure scaled to the column, code and math that hold TeX, reprs and None, an API entry saying None.
_READER_CLEAN = _column(
    "<h1>Title</h1><p>Prose of the column.</p>"
    f"<div class='pst-scrollable-table-container' style='overflow-x:auto'><table><tr><td>{_wide(900, 'race')}</td>"
    "</tr></table></div>"
    f"<div class='math'><mjx-container display='true' style='display:block;overflow-x:auto'>{_wide(800, 'E')}"
    "</mjx-container></div>"
    f"<div class='cell_input'><pre style='overflow-x:auto'>{_wide(900, 'x = 1')}</pre></div>"
    "<div class='cell_output'><div class='output stream'><pre style='overflow-x:auto'>C1 holds: 20 of 20</pre></div>"
    "</div>"
    f"<img src='data:image/png;base64,{PNG}' alt='figure' style='width:2000px;max-width:100%'>"
    "<pre style='overflow-x:auto'>$ python -m plateau_lib \\max None TrainResult(method='gd')</pre>"
    "<p>Inline <code>$x$ and \\frac</code> code and <code>None</code>.</p>"
    "<dl class='py function'><dt class='sig'>f(x=None)</dt><dd><p>Returns None when x is None.</p></dd></dl>"
    "<p>None of these options is part of the design.</p>"
)

_TEX = "literal TeX ($ or a \\command) in the prose:"

#: Case -> (files of its folder, the problem(s) expected there). ``{c}`` is the case's folder.
#: Every folder also gets ``other.html`` with an element ``id="part"``.
CASES: dict[str, tuple[dict[str, str], list[tuple[str, str]]]] = {
    # Every feature the defects break, intact: an image, links with anchors, a script, an
    # explorer with its static fallback.
    "clean": (
        {
            "index.html": "<h1 id='top'>Title</h1><img src='pic.png' alt='pic'><p><a href='other.html#part'>o</a> "
                          f"<a href='#top'>top</a> <a href='../index.html'>up</a></p><script src='ok.js'></script>"
                          f"{_FALLBACK}",
            "ok.js": "console.log('fine');",
        },
        [],
    ),
    "missing-image": (
        {"index.html": "<img src='missing.png' alt='gone'>"},
        [("image", "image did not load: missing.png")],
    ),
    "broken-anchor": (
        {"index.html": "<a href='other.html#nowhere'>x</a>"},
        [("anchor", "broken anchor 'other.html#nowhere': no id 'nowhere' in {c}/other.html")],
    ),
    "broken-link": (
        {"index.html": "<a href='book/gone.html'>x</a>"},
        [("link", "broken link 'book/gone.html': no {c}/book/gone.html in the book")],
    ),
    "traceback": (
        {"index.html": "<pre>Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom</pre>"},
        [("traceback", "Python traceback in the page: ValueError: boom")],
    ),
    "error-output": (
        {"index.html": "<div class='output stderr'><pre>RuntimeWarning: overflow</pre></div>"},
        [("error-output", "element of class 'output stderr': RuntimeWarning: overflow")],
    ),
    "console-error": (
        {"index.html": "<script src='app.js'></script>", "app.js": "console.error('boom from the book');"},
        [("console", "boom from the book ({c}/app.js:1)")],
    ),
    "uncaught-exception": (
        {"index.html": "<script>const a = 1; const a = 2;</script>"},
        [("page-error", "Identifier 'a' has already been declared")],
    ),
    "missing-script": (
        {"index.html": "<script src='gone.js'></script>"},
        [("resource", "HTTP 404 for {c}/gone.js")],
    ),
    "network-script": (
        {"index.html": "<script src='https://cdn.example.org/lib.js'></script>"},
        [("external", "script from the network blocked (the book must work offline): https://cdn.example.org/lib.js")],
    ),
    "explorer-without-fallback": (
        {"index.html": "<div class='cell tag_explorer'><div class='cell_output'><p>(nothing)</p></div></div>"},
        [("explorer", "explorer cell 1 shows neither a live widget nor its static fallback "
                      "(a loaded image and a note in .plateau-explorer-static)")],
    ),
    "explorer-fallback-image-broken": (
        {"index.html": _FALLBACK.replace(f"data:image/png;base64,{PNG}", "data:image/png;base64,AAAA")},
        [("explorer", "explorer cell 1 shows neither a live widget nor its static fallback "
                      "(a loaded image and a note in .plateau-explorer-static)"),
         ("image", "image did not load: data:image/png;base64,AAAA")],
    ),
    "explorer-count": (  # expected 2 (see EXPECTED_EXPLORERS)
        {"index.html": _FALLBACK},
        [("explorer", "expected 2 explorer cell(s) (cells tagged 'explorer'), found 1")],
    ),
    "dead-widget": (
        {"index.html": _FALLBACK + "<script type='application/vnd.jupyter.widget-view+json'>"
                                   '{"version_major": 2, "version_minor": 0, "model_id": "abc123"}</script>'},
        [("widget", "widget view (model abc123) that no widget manager rendered: a dead widget")],
    ),
    "raw-tex-in-math": (
        {"index.html": r"<p>Energy <span class='math notranslate nohighlight'>\(E = mc^2\)</span>.</p>"},
        [("math", r"1 of 1 math element(s) not rendered by MathJax, e.g. '\\(E = mc^2\\)'")],
    ),
    "raw-tex-in-text": (
        {"index.html": r"<p>The loss $$L = \sum_i r_i^2$$ stays.</p>"},
        [("math", r"raw TeX in the text (1 place(s)), e.g. 'The loss $$L = \\sum_i r_i^2$$ stays.'")],
    ),
    "redirect": (
        {"index.html": "<meta http-equiv='Refresh' content='0; url=book/gone.html' />"},
        [("link", "redirects to 'book/gone.html', which does not exist")],
    ),
    "explorer-moves": ({"moves.html": _MOVES, "plateau-explorer.js": _JS}, []),
    "explorer-without-script": (
        {"noscript.html": _NOSCRIPT},
        [("explorer-move", "explorer 'gd': the script did not set it up (controls stay disabled)")],
    ),
    "explorer-stale-frames": (
        {"stale.html": _STALE, "plateau-explorer.js": _JS},
        [("explorer-move", f"{_MOVED}: the frame is not the saved explorer_gd_01.png"),
         ("explorer-move", f"{_MOVED}: the numbers 'second state' are not the saved 'old second state'")],
    ),
    "explorer-frozen": (
        {"frozen.html": _FROZEN, "plateau-explorer.js": _JS},
        [("explorer-move", f"{_MOVED}: the frame did not change"),
         ("explorer-move", f"{_MOVED}: the numbers did not change")],
    ),
    # The reader's check, at 1280 px (580 px of column) and 390 px (370 px).
    "reader-clean": ({"index.html": _READER_CLEAN}, []),
    "wide-table": (
        {"index.html": _column(f"<table><tr><td>{_wide(500, 'problem role d m n T gd adam lbfgs lm oga anls')}</td>"
                               "</tr></table>")},
        [("wide-table", "at 390 px: table reaches 130 px past the edge of the 370 px column (500 px wide): "
                        "'problem role d m n T gd adam lbfgs lm oga anls'")],
    ),
    "cut-table": (
        {"index.html": _column(f"<div style='overflow:hidden'><table><tr><td>{_wide(700, 'seed')}</td></tr></table>"
                               "</div>")},
        [("wide-table", "at 1280 px: table is cut: 700 px of it in a 580 px box that hides the rest: 'seed'"),
         ("wide-table", "at 390 px: table is cut: 700 px of it in a 370 px box that hides the rest: 'seed'")],
    ),
    "wide-output": (
        {"index.html": _column("<div class='cell_output'><div class='output stream'><pre style='overflow-x:auto'>"
                               f"{_wide(600, 'BoundCheck(ratio=0.99958')}</pre></div></div>")},
        [("wide-output", "at 1280 px: printed output runs on to 600 px in its 580 px box (printed output must fit: "
                         "wrap or shorten it): 'BoundCheck(ratio=0.99958'"),
         ("wide-output", "at 390 px: printed output runs on to 600 px in its 370 px box (printed output must fit: "
                         "wrap or shorten it): 'BoundCheck(ratio=0.99958'"),
         ("repr", "an object's repr in the output: 'BoundCheck(ratio=0.99958'")],
    ),
    "wide-math": (
        {"index.html": _column(f"<div class='math'><mjx-container display='true' style='display:block'>"
                               f"{_wide(700, 'P_pin')}</mjx-container></div>")},
        [("wide-math", "at 1280 px: display equation reaches 120 px past the edge of the 580 px column (700 px wide): "
                       "'P_pin'"),
         ("wide-math", "at 390 px: display equation reaches 330 px past the edge of the 370 px column (700 px wide): "
                       "'P_pin'")],
    ),
    "wide-figure": (
        {"index.html": _column(f"<img src='data:image/png;base64,{PNG}' alt='Fig. 4.5' style='width:450px'>")},
        [("wide-figure", "at 390 px: figure <img> reaches 80 px past the edge of the 370 px column (450 px wide): "
                         "'Fig. 4.5'")],
    ),
    "wide-code": (
        {"index.html": _column("<pre style='width:450px'>def f(): pass</pre>")},
        [("wide-code", "at 390 px: code block reaches 80 px past the edge of the 370 px column (450 px wide): "
                       "'def f(): pass'")],
    ),
    "wide-text": (
        {"index.html": _column(f"<p>{_wide(400, 'plateau_lib.chapters.explanation.carrying_neurons()')}</p>")},
        [("wide-text", "at 390 px: text reaches 30 px past the edge of the 370 px column (400 px wide): "
                       "'plateau_lib.chapters.explanation.carrying_neurons()'")],
    ),
    "wide-page": (
        {"index.html": _column("<p>Text.</p>", outside=f"<div>{_wide(1500, 'a long reference')}</div>")},
        [("wide-page", "at 1280 px: the page is 1500 px wide in a 1280 px window and scrolls sideways; reaching past "
                       "its edge: span to 1500 px 'a long reference'"),
         ("wide-page", "at 390 px: the page is 1500 px wide in a 390 px window and scrolls sideways; reaching past "
                       "its edge: span to 1500 px 'a long reference'")],
    ),
    "literal-tex": (
        {"index.html": _column("<p>Their indicator is $\\mathbb 1$ on each cell.</p><table><tr><td>≤ 2e-05; $</td>"
                               "</tr></table><p>relative to \\max|y| here.</p>")},
        [("literal-tex", f"{_TEX} 'Their indicator is $\\\\mathbb 1$ on each cell.'"),
         ("literal-tex", f"{_TEX} '≤ 2e-05; $'"),
         ("literal-tex", f"{_TEX} 'relative to \\\\max|y| here.'")],
    ),
    "repr": (
        {"index.html": _column("<table><tr><td>measured</td><td>&lt;IPython.core.display.Markdown object&gt;</td></tr>"
                               "</table><div class='cell_output'><div class='output text_plain'><pre>"
                               "<span>TrainResult(</span><span>method='gd', nit=3)</span></pre></div></div>"
                               "<p>the value np.float64(0.5) in prose</p>")},
        [("repr", "an object's repr in the prose: '<IPython.core.display.Markdown object>'"),
         ("repr", "an object's repr in the output: \"TrainResult(method='gd', nit=3)\""),
         ("repr", "an object's repr in the prose: 'the value np.float64(0.5) in prose'")],
    ),
    "none": (
        {"index.html": _column("<p>GD from step 1578 needs None steps.</p>"
                               "<div class='cell_output'><pre>budget None</pre></div>")},
        [("none", "the word None in the prose: 'GD from step 1578 needs None steps.'"),
         ("none", "the word None in the output: 'budget None'")],
    ),
    # Figures saved by save_figure (see FIGURE_PNGS): 5-pt text shown at its natural size is too
    # small at both widths; 10-pt text of a 900 px picture shown 580 px wide shows at 10.1 pt and
    # passes at both, because on the phone it keeps that width in a scroll box.
    "small-text": (
        {"index.html": _column("<figure style='margin:0'><img src='small.png' alt='small' style='width:288px'>"
                               "<figcaption><p>Fig. 1.3 Five-point text.</p></figcaption></figure>"
                               "<figure style='margin:0;overflow-x:auto'><img src='fine.png' alt='fine' "
                               "style='width:580px;max-width:none'>"
                               "<figcaption><p>Fig. 1.4 Ten-point text.</p></figcaption></figure>")},
        [("small-text", f"at {w} px: figure 'Fig. 1.3 Five-point text.': its smallest text ('tiny', 5 pt) shows at "
                        "5.0 pt (288 px at 96 dpi shown 288 px wide); it needs text of at least 9.0 pt, or a figure "
                        "at most 1.7 in wide") for w in (1280, 390)],
    ),
    # The same 10-pt figure scaled to the column: legible in the desktop's 580 px, not in the
    # phone's 370 px (10 * 150 * 370 / (96 * 900) = 6.4 pt).
    "small-text_phone": (
        {"index.html": _column("<figure style='margin:0'><img src='fine.png' alt='fine' style='max-width:100%'>"
                               "<figcaption><p>Fig. 2.1 Ten-point text.</p></figcaption></figure>")},
        [("small-text", "at 390 px: figure 'Fig. 2.1 Ten-point text.': its smallest text ('legible', 10 pt) shows "
                        "at 6.4 pt (900 px at 150 dpi shown 370 px wide); it needs text of at least 14.0 pt, or a "
                        "figure at most 4.3 in wide")],
    ),
}
#: PNGs of the cases drawn by save_figure: file -> (font size in pt, width in inches, dpi).
FIGURE_PNGS = {"small-text/small.png": (5.0, 3.0, 96), "small-text/fine.png": (10.0, 6.0, 150),
               "small-text_phone/fine.png": (10.0, 6.0, 150)}
EXPECTED_EXPLORERS = {"clean/index.html": 1, "explorer-count/index.html": 2, "missing/index.html": 1}


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _figure_png(target: Path, fontsize: float, width: float, dpi: int) -> None:
    """A figure whose only text is ``fontsize`` points, saved by save_figure as ``target``."""
    from plateau_lib.figures import save_figure
    from plateau_lib.plotting import figure

    fig, axes = figure(width=width, height=1.0, detached=True)
    axes[0, 0].axis("off")
    fig.text(0.1, 0.5, "tiny" if fontsize < 9 else "legible", fontsize=fontsize)
    save_figure(fig, target.stem, target.parent, dpi=dpi, x=[0])


def _png_width(path: Path) -> int:
    """The pixel width in a PNG's IHDR chunk."""
    return int.from_bytes(path.read_bytes()[16:20], "big")


def _write_book(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".html") and "http-equiv" not in text:
            text = _HEAD + text + _TAIL
        path.write_text(text)
    if "other.html" not in files:
        (folder / "other.html").write_text(_HEAD + "<h2 id='part'>Part</h2>" + _TAIL)
    return folder


def test_each_defect_is_exactly_its_problem(tmp_path):
    """One check over a book with a folder per case of :data:`CASES` (one browser launch, not one
    per case, and one test so that the xdist workers do not both run it)."""
    _require_browser()
    html = tmp_path / "html"
    for case, (files, _) in CASES.items():
        _write_book(html / case, files)
    (html / "clean" / "pic.png").write_bytes(base64.b64decode(PNG))
    for name, (fontsize, width, dpi) in FIGURE_PNGS.items():
        _figure_png(html / name, fontsize, width, dpi)
    (html / "index.html").write_text(_HEAD + "<h1>Cases</h1>" + _TAIL)
    shots = tmp_path / "shots"
    figures = tmp_path / "figures"
    for stem, manifest in MANIFESTS.items():
        (figures / stem / "unchecked").mkdir(parents=True)
        (figures / stem / "unchecked" / "explorer_gd.json").write_text(manifest)
    report = check_book(html, screenshots=shots, screenshot_pages=["clean/index.html"],
                        expected_explorers=EXPECTED_EXPLORERS, progress=False, timeout=3, figures=figures)

    wrong = []
    for case, (_, problems) in CASES.items():
        found = sorted((p.kind, p.detail) for p in report.problems if p.page.split("/")[0] == case)
        expected = sorted((kind, detail.format(c=case)) for kind, detail in problems)
        if found != expected:
            wrong.append(f"{case}: expected {expected}, found {found}")
    assert not wrong, "\n".join(wrong)

    others = [p for p in report.problems if p.page.split("/")[0] not in CASES]
    missing = Problem("missing/index.html", "explorer", "page with expected explorers is missing from the book")
    assert others == [missing]
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html"))
    assert report.pages == [p for p in pages if p != "redirect/index.html"]  # a redirect is not opened
    assert report.screenshots == {f"clean/index.html@{w}": shots / f"index-{w}.png" for w in (1280, 390)}
    assert (shots / "index-1280.png").read_bytes()[:8] == (shots / "index-390.png").read_bytes()[:8] == PNG_MAGIC
    assert _png_width(shots / "index-1280.png") == 1280 and _png_width(shots / "index-390.png") == 390
    assert not list(shots.glob(".*")), "temporary screenshot files left behind"
    # What passes only thanks to a scroll box is listed, at each width, apart from the problems.
    scrolled = [line for line in report.scrolled if line.startswith("reader-clean/")]
    assert scrolled == [
        f"reader-clean/index.html at {w} px: {what} of {n} px in a {room} px scroll box: {text!r}"
        for w, room in ((1280, 580), (390, 370))
        for what, n, text in (("display equation", 800, "E"), ("table", 900, "race"))
    ], scrolled
    assert [url for _, _, url in report.blocked] == ["https://cdn.example.org/lib.js"]
    moves = [m for m in report.explorer_moves if m.startswith("explorer-moves/")]
    assert moves == ["explorer-moves/moves.html explorer 'gd': target sin_pi -> sawtooth: frame explorer_gd_01.png "
                     "and numbers match the saved state (second state)"]


# --------------------------------------------------------------------------------------
# The in-page scripts and the viewports (no browser)

SCRIPTS = ("browse_inspect.js", "browse_layout.js", "browse_text.js", "browse_figures.js")


def test_the_in_page_scripts_are_package_data_found_in_an_installed_package(tmp_path):
    """The wheel ships the scripts, and browse finds them where the wheel is unpacked (as pip installs
    it), away from the source tree."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "plateau_lib", src / "plateau_lib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "wheel"), str(src)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "wheel").glob("plateau_lib-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert {f"plateau_lib/book/{name}" for name in SCRIPTS} <= set(zf.namelist())
        zf.extractall(tmp_path / "site")
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); from plateau_lib.book import browse; "
             "print(browse.__file__); print(*(len(browse._script(n)) for n in sys.argv[2:]))")
    proc = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "site"), *SCRIPTS],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    where, sizes = proc.stdout.splitlines()
    assert Path(where).is_relative_to(tmp_path / "site")
    assert [int(n) for n in sizes.split()] == [len(browser_check._script(n)) for n in SCRIPTS]


def test_each_script_is_one_function_without_its_header_comment():
    for name in SCRIPTS:
        script = browser_check._script(name)
        assert not script.startswith("//") and re.match(r"(async )?\(\{?[\w, ]*\}?\) => \{", script), name
        assert script.rstrip().endswith("}"), name


@pytest.mark.parametrize("viewports", [[], [(1280,)], [(1280, 0)], [(390.0, 844)], [(True, 844)], [5]])
def test_bad_viewports_are_refused_before_any_work(viewports, tmp_path):
    with pytest.raises(ValueError, match="viewports must be"):
        check_book(tmp_path / "no book", viewports=viewports)


def test_expected_explorers_come_from_the_notebooks():
    counts = browser_check.expected_explorers(ROOT)
    assert set(counts) == {f"book/{name}.html" for name in book.chapter_names(ROOT)}
    for page, count in counts.items():
        cells = json.loads((ROOT / page.replace(".html", ".ipynb")).read_text())["cells"]
        assert count == sum("explorer" in c.get("metadata", {}).get("tags", []) for c in cells)


# --------------------------------------------------------------------------------------
# The command line


def test_browse_help():
    proc = subprocess.run(
        [sys.executable, "-m", "plateau_lib", "book", "browse", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("usage: python -m plateau_lib book browse") and "--html" in proc.stdout


def test_browse_without_a_built_book_is_a_usage_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "plateau_lib", "book", "browse", "--html", str(tmp_path / "nothing")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(proc.stderr.splitlines()) == 1 and "no built book" in proc.stderr
    assert proc.stdout == ""


def test_browse_reports_problems_with_exit_status_1(tmp_path):
    _require_browser()
    html = _write_book(tmp_path / "html", {"index.html": "<a href='gone.html'>x</a><div style='width:900px'>w</div>"})
    proc = subprocess.run(
        [sys.executable, "-m", "plateau_lib", "book", "browse", "--html", str(html),
         "--screenshots", str(tmp_path / "shots"), "--no-progress", "--viewport", "700x500"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert "book browse: index.html: link: broken link 'gone.html': no gone.html in the book" in lines
    assert lines[-1].startswith("book browse: ") and "problem(s)" in lines[-1]
    widths = [re.search(r"wide-page: at (\d+) px", line) for line in lines]
    assert [m.group(1) for m in widths if m] == ["700"]  # at that size only


@pytest.mark.parametrize("size", ["700", "700x", "x500", "0x500", "700x-5", "wide"])
def test_browse_with_a_bad_viewport_is_a_usage_error(size, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "plateau_lib", "book", "browse", "--html", str(tmp_path), "--viewport", size],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "WIDTHxHEIGHT" in proc.stderr, proc.stderr
