r"""The whole book as one PDF: Jupyter Book's LaTeX builder on a copy of the staging book.

**Build (``book pdf``).** The PDF is built from the same executed notebooks as the HTML
(``_build/stage``, filled by ``book run``), through a copy of the stage in
``_build/pdf/source`` that differs from it in three ways only:

- the pages that stay online (:data:`ONLINE_ONLY`: the API reference) are left out of
  ``_toc.yml`` and of the copy; a reference to them, or to an object they document,
  becomes a link to the online page (this module is loaded as a Sphinx extension,
  :func:`setup`);
- every static explorer (a cell tagged ``explorer``) shows its default frame and a
  sentence pointing to the online page instead of the widget's text representation
  (LaTeX cannot show the HTML fallback the web pages use), see :func:`explorer_outputs`;
- a code cell whose source the HTML page folds away (tag ``hide-input``: setup and check
  cells) shows only its outputs (``remove-input``): a printed page cannot unfold it;
- ``_config.yml`` names the book's version (``pyproject.toml``) as Sphinx's ``release``,
  which the title page prints, and sets the layout of :func:`latex_settings`.

**Layout.** One-sided, chapters starting on any page (a PDF is read on a screen); the first page
of the book under the heading *Introduction*; the chapters of the parts that ``_toc.yml`` leaves
unnumbered (*About this book*) as appendices A, B, ..., so that "Chapter 4" in the text is the
fourth chapter of the PDF too; the bibliography printed under the title of the page that holds
it (*References*), without a chapter of its own; tables a size smaller than the text, ragged
right, breakable after an underscore, and no column squeezed below its natural width up to
:data:`TABLE_MIN_COLUMN` (LaTeX's ``tabulary`` squeezed short columns to three digits, so "where",
five-digit numbers and the names of problems ran over the column's edge); no heading, bold label
or title of a block printed open left alone at the foot of a page (``needspace``: the first
page's headings, which Jupyter Book prints as line blocks, not sections, invited a page break
after them, and a table could be pushed to the next page away from the line introducing it); a
figure of up to 85 % of the page placed above text rather than alone on a half-empty page.

**Why the explorers are rewritten here.** The explorer's output could carry its default frame
as ``image/png`` beside its HTML (LaTeX would pick it), but not the sentence with the page's
address, which is the publication's (``html.baseurl``; a fork changes it), not the library's;
and a change to the chapters' library makes every executed chapter stale. So the PDF's copy
replaces the output, reading the frame and the title from the HTML fallback
(:func:`explorer_outputs`).

``jupyter-book build <copy> --builder latex`` (strict: ``-W -n --keep-going``) writes the
LaTeX sources to ``_build/pdf/work/_build/latex``, and ``latexmk`` (with XeLaTeX, set in the
``latex:`` section of ``_config.yml``) turns them into the PDF, which is moved to
:data:`PDF_NAME` under ``_build/pdf``. An unresolved reference (LaTeX's ``??``) fails the
build: LaTeX's log is scanned for undefined references and citations.

Jupyter Book's document class asks for the ``bbm`` package (blackboard-bold macros that the
book never uses), which Debian ships only in the 1.4 GB ``texlive-fonts-extra``; the build
writes a three-line ``bbm.sty`` that maps ``\mathbbm`` to ``amssymb``'s ``\mathbb`` beside
the LaTeX sources instead (:data:`BBM_SHIM`).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..figures import atomic_write
from .edition import PDF_STEM, edition_text
from .paths import BookPaths
from .records import mixed_runs, stage_problems
from .stage import MATHJAX_STAGE, copy_file, sync_stage

__all__ = [
    "BBM_SHIM",
    "LATEX_PREAMBLE",
    "ONLINE_ONLY",
    "PDF_NAME",
    "PdfUnavailable",
    "appendix_part",
    "build_pdf",
    "explorer_outputs",
    "latex_problems",
    "latex_settings",
    "online_url",
    "pdf_path",
    "setup",
]

#: File name of the book's PDF (under ``_build/pdf``).
PDF_NAME = f"{PDF_STEM}.pdf"

#: Pages (toc entries) that stay online: left out of the PDF.
ONLINE_ONLY = ("book/api",)

#: How the PDF names a page of :data:`ONLINE_ONLY` that the text links to (``{doc}`api```).
ONLINE_TITLES = {"book/api": "API reference"}

#: Jupyter Book's LaTeX document class loads ``bbm``; this stands in for it.
BBM_SHIM = (
    "\\NeedsTeXFormat{LaTeX2e}\n"
    "\\ProvidesPackage{bbm}[2026/12/07 plateau companion: \\string\\mathbbm\\space is amssymb's \\string\\mathbb]\n"
    "\\RequirePackage{amssymb}\n"
    "\\providecommand{\\mathbbm}[1]{\\mathbb{#1}}\n"
)

#: Programs the PDF build needs besides Python (Debian: ``make pdf`` installs them).
TEX_PROGRAMS = ("latexmk", "xelatex")

_FRAME = re.compile(r'<img class="plateau-explorer-frame" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
_TITLE = re.compile(r'<p class="plateau-explorer-title"><strong>(.*?)</strong>\s*\((\d+) precomputed states\)')
_UNDEFINED = re.compile(
    r"^(?:LaTeX|Package natbib) Warning: (?:Reference|Citation|Hyper reference) `([^']*)'.*undefined", re.MULTILINE)


class PdfUnavailable(RuntimeError):
    """The PDF cannot be built here (a TeX program is missing); the message says what to install."""


def pdf_path(paths: BookPaths) -> Path:
    """Where the book's PDF is written: ``<output_root>/_build/pdf/plateau-companion.pdf``."""
    return paths.build / "pdf" / PDF_NAME


def online_url(source: Path) -> str:
    """The published HTML book's address (``html.baseurl`` of ``_config.yml``), ending in ``/``."""
    import yaml

    config = yaml.safe_load((source / "_config.yml").read_text())
    return str(config.get("html", {}).get("baseurl") or "").rstrip("/") + "/"


# --------------------------------------------------------------------------------------
# the PDF's copy of the stage


def _toc_without(toc: Any, dropped: tuple[str, ...]) -> Any:
    """``toc`` (a parsed ``_toc.yml``) without the entries whose ``file`` is in ``dropped``."""
    if isinstance(toc, list):
        return [_toc_without(entry, dropped) for entry in toc
                if not (isinstance(entry, dict) and entry.get("file") in dropped)]
    if isinstance(toc, dict):
        return {key: _toc_without(value, dropped) for key, value in toc.items()}
    return toc


def explorer_outputs(cell: dict[str, Any], page_url: str) -> list[dict[str, Any]] | None:
    """The PDF's outputs for an explorer cell: its default frame and a sentence with the online page.

    ``cell`` is a notebook code cell whose output is an explorer (the HTML fallback
    ``plateau-explorer-static`` with the default frame as a PNG data URI). Returns two
    ``display_data`` outputs, the frame (``image/png``) and a Markdown sentence naming the
    explorer, its number of states and ``page_url``; ``None`` if the cell shows no explorer.
    """
    for output in cell.get("outputs", []):
        html = output.get("data", {}).get("text/html")
        html = "".join(html) if isinstance(html, list) else html
        frame = _FRAME.search(html or "")
        if frame is None:
            continue
        title = _TITLE.search(html)
        name, states = (title.group(1), title.group(2)) if title else ("An explorer", "several")
        base64.b64decode(frame.group(1), validate=True)  # a malformed frame fails here, not in LaTeX
        sentence = (f"*{name}*: its default state, shown above, is one of {states} precomputed states; "
                    f"the online page <{page_url}> switches between them.")
        return [
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": frame.group(1)}},
            {"output_type": "display_data", "metadata": {}, "data": {"text/markdown": sentence}},
        ]
    return None


def _pdf_notebook(src: Path, dst: Path, page_url: str) -> None:
    """Copy the executed notebook ``src`` to ``dst``: explorers as :func:`explorer_outputs`, folded code removed."""
    notebook = json.loads(src.read_text())
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "explorer" in tags:
            outputs = explorer_outputs(cell, page_url)
            if outputs is not None:
                cell["outputs"] = outputs
        if "hide-input" in tags:
            cell["metadata"]["tags"] = ["remove-input" if tag == "hide-input" else tag for tag in tags]
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    atomic_write(dst, lambda fh: fh.write(text.encode()))


#: The narrowest a table column is squeezed to (a column narrower than this keeps its width). A
#: table with too many columns for it gets the line's width shared equally (``tabulary`` resets it
#: and says so in LaTeX's log: "tymin too large").
TABLE_MIN_COLUMN = "7em"

#: LaTeX for the PDF's layout (the module docstring's *Layout*); ``{appendix_part}`` is the
#: number of the first part whose chapters are appendices (0: none).
LATEX_PREAMBLE = r"""
% plateau companion (plateau_lib/book/pdf.py): the PDF's layout
\usepackage{needspace}
\usepackage{etoolbox}
\makeatletter
% headings kept with what follows them. The first page's headings are line blocks (Jupyter Book
% prints the root page's sections so), and LaTeX invites a page break after a list: each one
% starts a page if fewer than four lines are left, and no page break follows it, as after \section
\AtBeginEnvironment{DUlineblock}{\Needspace{4\baselineskip}\@endparpenalty\@M}
\AfterEndEnvironment{DUlineblock}{\@afterheading}
% a block printed open (a dropdown of the HTML) starts a page if its title and three lines do not
% fit, so that its title is not left alone at the foot of a page (but never right after a heading)
\AtBeginEnvironment{sphinxadmonition}{\par\if@nobreak\else\Needspace{6\baselineskip}\fi}
% tables: a size smaller, ragged right, no column squeezed below its width up to TABLE_MIN_COLUMN,
% a line break allowed after an underscore (multi_plateau_1d in a narrow column)
\def\plateau@intable{\small\let\plateau@underscore\_\def\_{\plateau@underscore\allowbreak}}
% a table that is not a longtable (at most a page) stays on the page of the line of text before it,
% the sentence or bold label that introduces it ("Claims at a glance", the checks of appendix B);
% after a code block (the cell whose output the table is), a box or a table, a page may break
\let\plateau@keep\relax
\def\plateau@release{\global\let\plateau@keep\relax}
\let\plateau@atstartpar\sphinxAtStartPar
\def\sphinxAtStartPar{\global\let\plateau@keep\nopagebreak\plateau@atstartpar}
\AtBeginEnvironment{sphinxVerbatim}{\plateau@release}
\AfterEndEnvironment{sphinxadmonition}{\plateau@release}
\AfterEndEnvironment{figure}{\plateau@release}
\let\plateau@attablestart\sphinxattablestart
\def\sphinxattablestart{\par\plateau@keep\plateau@release\plateau@attablestart\plateau@intable}
\let\plateau@attableend\sphinxattableend
\def\sphinxattableend{\plateau@attableend\plateau@release}
\let\plateau@atlongtablestart\sphinxatlongtablestart
\def\sphinxatlongtablestart{\plateau@atlongtablestart\plateau@intable}
\newcolumntype{T}{L}
\setlength{\tymin}{{table_min}}
% the chapters of part {appendix_part} and after are appendices
\newcounter{plateaupart}
\let\plateau@part\part
\def\part{\stepcounter{plateaupart}\ifnum\value{plateaupart}={appendix_part}\relax\appendix\fi\plateau@part}
% a figure up to 85 % of the page goes at the top of a page of text, not alone on a page of floats
% half empty (which had left the last line of Chapter 2 alone on a page)
\renewcommand{\topfraction}{0.85}\renewcommand{\textfraction}{0.1}\renewcommand{\floatpagefraction}{0.75}
% the bibliography under the title of the page that holds it
\renewenvironment{sphinxthebibliography}[1]{\let\chapter\@gobbletwo\begin{thebibliography}{#1}}{\end{thebibliography}}
\makeatother
\addto\captionsenglish{\renewcommand{\bibname}{References}}
"""

#: The book's first page, printed after the table of contents, under this heading.
FIRST_PAGE_HEADING = "Introduction"

#: Sphinx settings of the PDF build only (added to the copy's ``_config.yml``, completed by
#: :func:`latex_settings`): no index (the API reference, what it would list, stays online);
#: makeindex, not xindy (not in Debian's TeX packages), if an index is ever wanted.
LATEX_SETTINGS: dict[str, Any] = {
    "latex_elements": {
        "papersize": "a4paper", "makeindex": "", "printindex": "",
        "extraclassoptions": "openany,oneside",
        "tableofcontents": (
            "\\sphinxtableofcontents\n"
            f"\\chapter*{{{FIRST_PAGE_HEADING}}}\\addcontentsline{{toc}}{{chapter}}{{{FIRST_PAGE_HEADING}}}"
            f"\\markboth{{{FIRST_PAGE_HEADING}}}{{{FIRST_PAGE_HEADING}}}\n"
        ),
    },
    "latex_use_xindy": False,
    "intersphinx_disabled_reftypes": ["std:*"],
}


def appendix_part(toc: Any) -> int:
    """The number (from 1) of the first part of ``toc`` (a parsed ``_toc.yml``) that is not numbered; 0 if none.

    Its chapters and those of the parts after it are the PDF's appendices (the HTML numbers them not).
    """
    parts = toc.get("parts", []) if isinstance(toc, dict) else []
    return next((index for index, part in enumerate(parts, 1) if not part.get("numbered")), 0)


def latex_settings(toc: Any) -> dict[str, Any]:
    """:data:`LATEX_SETTINGS` with the preamble (:data:`LATEX_PREAMBLE`) for the book's ``toc``."""
    settings = copy.deepcopy(LATEX_SETTINGS)
    preamble = LATEX_PREAMBLE.replace("{table_min}", TABLE_MIN_COLUMN)
    settings["latex_elements"]["preamble"] = preamble.replace("{appendix_part}", str(appendix_part(toc)))
    return settings


def _pdf_config(stage_config: Path, dst: Path, *, toc: Any, release: str, online: str, inventory: Path) -> None:
    """The stage's ``_config.yml`` for the PDF: this module and intersphinx as extensions, ``release`` set.

    Intersphinx reads the HTML build's inventory (``objects.inv``, a local file: no network), so a
    reference to an object the API reference documents becomes a link to it online, and a reference
    to an object documented nowhere still fails the strict build.
    """
    import yaml

    config = yaml.safe_load(stage_config.read_text())
    sphinx = config.setdefault("sphinx", {})
    sphinx["extra_extensions"] = [*sphinx.get("extra_extensions", []), "sphinx.ext.intersphinx",
                                  "plateau_lib.book.pdf"]
    settings = sphinx.setdefault("config", {})
    settings.update(latex_settings(toc), release=release, version=release, plateau_online_url=online,
                    intersphinx_mapping={"online": [online, str(inventory)]})
    settings.pop("html_static_path", None)  # MathJax is not copied: the PDF has no web pages
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    atomic_write(dst, lambda fh: fh.write(text.encode()))


def _online_only(rel: Path) -> bool:
    """Whether the staged file ``rel`` is a page of :data:`ONLINE_ONLY` or under one (its sub-pages)."""
    page = rel.with_suffix("").as_posix()
    return any(page == entry or page.startswith(f"{entry}/") for entry in ONLINE_ONLY)


def _stage_files(stage: Path) -> Iterator[Path]:
    for path in sorted(stage.rglob("*")):
        rel = path.relative_to(stage)
        if path.is_file() and rel.parts[0] != MATHJAX_STAGE and rel.name not in ("_config.yml", "_toc.yml"):
            yield rel


def write_pdf_source(paths: BookPaths, target: Path) -> Path:
    """Fill ``target`` (emptied first) with the PDF's copy of the stage; return ``target``.

    Needs the HTML build's ``objects.inv`` (``book build``): see :func:`_pdf_config`.
    """
    import yaml

    inventory = paths.html / "objects.inv"
    if not inventory.is_file():
        raise FileNotFoundError(f"no {inventory}: build the HTML book first (python -m plateau_lib book build)")

    if target.exists():
        shutil.rmtree(target)
    online = online_url(paths.source)
    for rel in _stage_files(paths.stage):
        if _online_only(rel):
            continue
        src, dst = paths.stage / rel, target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.suffix == ".ipynb":
            _pdf_notebook(src, dst, online + rel.with_suffix(".html").as_posix())
        else:
            copy_file(src, dst)
    toc = _toc_without(yaml.safe_load((paths.stage / "_toc.yml").read_text()), ONLINE_ONLY)
    atomic_write(target / "_toc.yml", lambda fh: fh.write(yaml.safe_dump(toc, sort_keys=False).encode()))
    _pdf_config(paths.stage / "_config.yml", target / "_config.yml", toc=toc, release=edition_text(paths.source),
                online=online, inventory=inventory)
    return target


# --------------------------------------------------------------------------------------
# LaTeX


def latex_problems(log_text: str) -> list[str]:
    """The unresolved references and citations LaTeX's log reports (each a ``??`` in the PDF)."""
    found = [f"undefined reference {name!r}" for name in dict.fromkeys(_UNDEFINED.findall(log_text))]
    if not found and "There were undefined references" in log_text:
        found.append("LaTeX reports undefined references")
    return found


def _check_programs() -> None:
    missing = [name for name in TEX_PROGRAMS if shutil.which(name) is None]
    if missing:
        raise PdfUnavailable(
            f"{', '.join(missing)} not found: install TeX (make pdf does, with apt-get: "
            "texlive-xetex texlive-latex-extra texlive-fonts-recommended fonts-freefont-otf latexmk)"
        )


def _run_latex(latex_dir: Path, tex: str, *, quiet: bool) -> int:
    """``latexmk`` on ``tex`` in ``latex_dir`` (the settings of Sphinx's ``latexmkrc`` there)."""
    (latex_dir / "bbm.sty").write_text(BBM_SHIM)
    env = dict(os.environ, LATEXOPTS="-interaction=nonstopmode -halt-on-error")
    cmd = ["latexmk", "-pdf", "-dvi-", "-ps-", "-f-", tex]
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(cmd, cwd=latex_dir, env=env, stdout=out, check=False).returncode


def build_pdf(paths: BookPaths, *, strict: bool = True, allow_stale: bool = False, allow_mixed: bool = False,
              quiet: bool = False) -> int:
    """Build the whole book as one PDF at :func:`pdf_path`; return the exit status.

    Refuses (status 1, one line per problem on stderr) a stage that ``book build`` would
    refuse; raises :class:`PdfUnavailable` if a program of :data:`TEX_PROGRAMS` is missing.
    ``strict`` turns Sphinx's warnings and LaTeX's unresolved references into failures.
    """
    _check_programs()
    missing, stale = stage_problems(paths)
    problems = missing + ([] if allow_stale else stale) + ([] if allow_mixed else mixed_runs(paths))
    for line in problems:
        print(f"book pdf: {line}", file=sys.stderr)
    if problems:
        return 1
    sync_stage(paths)
    root = paths.build / "pdf"
    source = write_pdf_source(paths, root / "source")
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    cmd = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main(prog_name='jupyter-book')",
        "build", str(source), "--path-output", str(work), "--all", "--builder", "latex",
    ]
    cmd += ["-W", "-n", "--keep-going"] if strict else []
    cmd += ["-q"] if quiet else []
    status = subprocess.run(cmd, cwd=paths.output_root, check=False).returncode
    if status:
        return status
    latex_dir = work / "_build" / "latex"
    tex = PDF_NAME.removesuffix(".pdf") + ".tex"
    status = _run_latex(latex_dir, tex, quiet=quiet)
    log = latex_dir / tex.replace(".tex", ".log")
    unresolved = latex_problems(log.read_text(errors="replace")) if log.is_file() else ["no LaTeX log"]
    for line in unresolved:
        print(f"book pdf: {line}", file=sys.stderr)
    if status or (strict and unresolved):
        return status or 1
    built = latex_dir / PDF_NAME
    partial = root / f".{PDF_NAME}.partial"
    shutil.copyfile(built, partial)
    os.replace(partial, pdf_path(paths))
    return 0


# --------------------------------------------------------------------------------------
# Sphinx extension (loaded by the PDF's copy of _config.yml only)


def _online_reference(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a ``{doc}`` reference to a page of :data:`ONLINE_ONLY` as a link to it online."""
    from docutils import nodes
    from sphinx.util import docname_join

    base = app.config.plateau_online_url
    target = node.get("reftarget", "")
    domain, kind = node.get("refdomain"), node.get("reftype")
    if domain != "std" or kind != "doc":
        return None  # objects of the API reference: intersphinx, from the HTML build's inventory
    page = docname_join(node.get("refdoc", ""), target)
    if not _online_only(Path(page)):
        return None
    title = contnode.astext() if node.get("refexplicit") else ONLINE_TITLES.get(page, page)
    reference = nodes.reference("", "", internal=False, refuri=f"{base}{page}.html")
    reference.append(nodes.Text(f"{title} (online)"))
    return reference


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension of the PDF build: links to the pages that stay online."""
    app.add_config_value("plateau_online_url", "", "env")
    app.connect("missing-reference", _online_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
