"""The PDF edition (plateau_lib.book.pdf): its copy of the stage, LaTeX's log, and the built PDF.

The fast tests check the pieces on small inputs. The slow ones need TeX (``make pdf`` installs
it; without it they are skipped, saying so): they build the PDF of the quick-mode book that the
session fixture ``built_html`` (tests/conftest.py) executes and builds, read it back with
``pdftotext`` and ``pdfimages`` (poppler-utils), and show that a broken reference fails the build.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from plateau_lib import book
from plateau_lib.book import BookPaths
from plateau_lib.book.bundle import figure_records
from plateau_lib.book.pdf import (
    ONLINE_ONLY,
    PDF_NAME,
    TEX_PROGRAMS,
    _toc_without,
    appendix_part,
    build_pdf,
    explorer_outputs,
    latex_problems,
    latex_settings,
    pdf_path,
    write_pdf_source,
)

ROOT = Path(__file__).resolve().parents[2]
POPPLER = ("pdftotext", "pdfimages")
NO_TEX = [name for name in (*TEX_PROGRAMS, *POPPLER) if shutil.which(name) is None]
needs_tex = pytest.mark.skipif(bool(NO_TEX), reason=f"no {', '.join(NO_TEX)} (install them: make pdf)")

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def _explorer_cell(html: str) -> dict:
    return {"cell_type": "code", "metadata": {"tags": ["explorer"]}, "source": "gd_explorer()",
            "outputs": [{"output_type": "display_data", "metadata": {},
                         "data": {"text/plain": "VBox(children=(...))", "text/html": html}}]}


# --------------------------------------------------------------------------------------
# pieces


def test_latex_log_undefined_references_are_problems():
    log = (
        "LaTeX Warning: Reference `book/anls:eq-cost' on page 12 undefined on input line 40.\n"
        "LaTeX Warning: Citation `ainsworth2021' on page 3 undefined on input line 7.\n"
        "LaTeX Warning: Reference `book/anls:eq-cost' on page 13 undefined on input line 90.\n"
        "LaTeX Warning: There were undefined references.\n"
    )
    assert latex_problems(log) == ["undefined reference 'book/anls:eq-cost'", "undefined reference 'ainsworth2021'"]
    assert latex_problems("Output written on plateau-companion.pdf (79 pages).\n") == []
    assert latex_problems("LaTeX Warning: There were undefined references.\n") == [
        "LaTeX reports undefined references"
    ]


def test_explorer_shows_its_default_frame_and_the_online_page():
    html = ('<div class="plateau-explorer-static"><p class="plateau-explorer-title"><strong>Gradient descent'
            '</strong> (36 precomputed states)</p><img class="plateau-explorer-frame" '
            f'src="data:image/png;base64,{PNG}"><img class="plateau-explorer-frame" src="data:image/png;base64,AAAA">')
    outputs = explorer_outputs(_explorer_cell(html), "https://example.org/book/explanation.html")
    assert [list(o["data"]) for o in outputs] == [["image/png"], ["text/markdown"]]
    assert outputs[0]["data"]["image/png"] == PNG  # the first frame: the default state
    sentence = outputs[1]["data"]["text/markdown"]
    assert "*Gradient descent*" in sentence and "36 precomputed states" in sentence
    assert "<https://example.org/book/explanation.html>" in sentence


def test_a_cell_without_an_explorer_frame_is_left_alone():
    assert explorer_outputs(_explorer_cell("<p>no frame</p>"), "https://example.org/") is None


def test_online_pages_leave_the_toc():
    toc = {"root": "book/intro", "parts": [{"chapters": [{"file": "book/anls"}, {"file": ONLINE_ONLY[0]}]}]}
    assert _toc_without(toc, ONLINE_ONLY) == {"root": "book/intro", "parts": [{"chapters": [{"file": "book/anls"}]}]}


def test_unnumbered_parts_are_appendices():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert [bool(part.get("numbered")) for part in toc["parts"]] == [True, False]
    assert appendix_part(toc) == 2  # "About this book": appendices A, B, ...
    assert appendix_part({"parts": [{"numbered": True}]}) == 0 and appendix_part({"chapters": []}) == 0
    preamble = latex_settings(toc)["latex_elements"]["preamble"]
    assert "\\ifnum\\value{plateaupart}=2\\relax\\appendix" in preamble
    assert "{table_min}" not in preamble and "{appendix_part}" not in preamble


def test_pdf_source_drops_the_api_page_and_replaces_explorers(tmp_path):
    source = tmp_path / "src"
    (source / "book").mkdir(parents=True)
    for name in ("_config.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, source / name)
    (source / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/api\n")
    paths = BookPaths.for_source(source)
    stage = paths.stage / "book"
    stage.mkdir(parents=True)
    shutil.copy(source / "_config.yml", paths.stage / "_config.yml")
    shutil.copy(source / "_toc.yml", paths.stage / "_toc.yml")
    (stage / "intro.md").write_text("# Intro\n")
    (stage / "api.md").write_text("# API\n")
    html = f'<img class="plateau-explorer-frame" src="data:image/png;base64,{PNG}">'
    folded = {"cell_type": "code", "metadata": {"tags": ["hide-input", "other"]}, "source": "import numpy",
              "outputs": []}
    (stage / "ch.ipynb").write_text(json.dumps({"cells": [_explorer_cell(html), folded], "metadata": {}}))
    paths.html.mkdir(parents=True)
    (paths.html / "objects.inv").write_bytes(b"")  # only read by the Sphinx build, not here
    target = write_pdf_source(paths, tmp_path / "pdf-source")
    assert (target / "book" / "intro.md").is_file() and not (target / "book" / "api.md").exists()
    assert "book/api" not in (target / "_toc.yml").read_text()
    cell, folded = json.loads((target / "book" / "ch.ipynb").read_text())["cells"]
    assert [list(o["data"]) for o in cell["outputs"]] == [["image/png"], ["text/markdown"]]
    assert folded["metadata"]["tags"] == ["remove-input", "other"]  # code folded in the HTML: outputs only
    config = (target / "_config.yml").read_text()
    assert "plateau_lib.book.pdf" in config and "release: " in config


# --------------------------------------------------------------------------------------
# the built PDF (slow, needs TeX)


@pytest.fixture(scope="module")
def built_pdf(built_html):
    """The PDF of the quick-mode book, built after its HTML (whose ``objects.inv`` it links to)."""
    if built_html.status != 0:
        pytest.fail("the HTML build of the quick-mode book failed (see test_book.py)")
    paths = built_html.paths
    return paths, build_pdf(paths, quiet=True)


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def _chapter_title(paths: BookPaths, chapter: str) -> str:
    cells = json.loads(paths.staged_notebook(chapter).read_text())["cells"]
    for cell in cells:
        for line in "".join(cell["source"]).splitlines():
            if cell["cell_type"] == "markdown" and line.startswith("# "):
                return line[2:].strip()
    raise AssertionError(f"{chapter} has no title")


@pytest.mark.slow
@needs_tex
def test_pdf_has_every_chapter_figure_and_no_unresolved_reference(built_pdf):
    paths, status = built_pdf
    assert status == 0, "the PDF build failed (run: python -m plateau_lib book pdf)"
    pdf = pdf_path(paths)
    assert pdf.name == PDF_NAME and pdf.is_file()
    text = " ".join(_pdf_text(pdf).split())
    for chapter in book.chapter_names(ROOT):
        title = " ".join(_chapter_title(paths, chapter).split())
        assert title in text, f"chapter title {title!r} is not in the PDF"
    assert "??" not in text, "an unresolved reference (??) is in the PDF"
    assert "VBox(children" not in text, "an explorer shows its widget's text instead of its frame"
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True)
    shown = len([line for line in images.stdout.splitlines()[2:] if line.split()[2] == "image"])
    figures = figure_records(paths)
    explorers = sum(1 for c in book.chapter_names(ROOT)
                    for cell in json.loads(paths.staged_notebook(c).read_text())["cells"]
                    if "explorer" in cell.get("metadata", {}).get("tags", []))
    drawn = [record for record, _cell in figures if record.kind == "figure"]
    assert drawn, "the chapters saved no figures"
    # figure_records lists each explorer too (kind "explorer"); it is counted once, as its cell.
    assert shown >= len(drawn) + explorers, (
        f"{shown} images in the PDF for {len(drawn)} figures and {explorers} explorers")


def _headings(paths: BookPaths) -> set[str]:
    """Every heading of the chapters and pages, as printed (numbering dropped, spaces collapsed)."""
    texts = [json.loads(paths.staged_notebook(c).read_text())["cells"] for c in book.chapter_names(ROOT)]
    lines = [line for cells in texts for cell in cells if cell["cell_type"] == "markdown"
             for line in "".join(cell["source"]).splitlines()]
    lines += [line for page in (ROOT / "book").glob("*.md") for line in page.read_text().splitlines()]
    return {" ".join(line.lstrip("#").split()) for line in lines if re.match(r"#{1,4} \S", line)}


@pytest.mark.slow
@needs_tex
def test_no_page_of_the_pdf_ends_with_a_heading(built_pdf):
    """The preamble's needspace rules hold: the last line of text of every page (above its footer)
    is never a heading of the book, which would stand apart from the text it heads."""
    paths, status = built_pdf
    assert status == 0, "the PDF build failed (run: python -m plateau_lib book pdf)"
    headings = _headings(paths)
    assert len(headings) > 20, "the book's headings were not found"
    orphans = []
    for number, page in enumerate(_pdf_text(pdf_path(paths)).split("\f"), start=1):
        lines = [" ".join(line.split()) for line in page.splitlines() if line.strip()]
        if len(lines) < 3:
            continue
        last = re.sub(r"^[A-Z]?[\d.]*\d\.?\s+", "", lines[-2])  # the line above the footer, unnumbered
        if last in headings:
            orphans.append(f"page {number}: {last!r}")
    assert not orphans, f"headings left at the foot of a page: {orphans}"


@pytest.mark.slow
@needs_tex
def test_pdf_build_fails_on_a_broken_reference(tmp_path, capfd):
    source = tmp_path / "src"
    (source / "book").mkdir(parents=True)
    for name in ("_config.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, source / name)
    shutil.copy(ROOT / "book" / "references.bib", source / "book" / "references.bib")
    shutil.copytree(ROOT / "book" / "_static", source / "book" / "_static")
    (source / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    page = source / "book" / "intro.md"
    page.write_text("# A page\n\n(a-label)=\n## A section\n\nSee {ref}`a-label`.\n")
    broken = BookPaths.for_source(source)
    assert book.build_html(broken, strict=False, quiet=True) == 0  # the inventory the PDF links to
    assert build_pdf(broken, quiet=True) == 0, "the same page with a working reference must build"
    assert "See A section." in _pdf_text(pdf_path(broken))  # the reference, resolved
    pdf_path(broken).unlink()
    page.write_text("# A page\n\n(a-label)=\n## A section\n\nSee {ref}`no-such-label`.\n")
    capfd.readouterr()
    assert build_pdf(broken, quiet=True) != 0
    assert "no-such-label" in capfd.readouterr().err
    assert not pdf_path(broken).exists()
