r"""The staging book ``_build/stage``: the book's non-executed files, MathJax and deployment settings."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..figures import atomic_write
from .api_pages import write_api_pages
from .edition import PLACEHOLDERS, substitute, substitutions
from .paths import BookPaths, chapter_names

__all__ = [
    "CONFIG_OVERRIDES",
    "MATHJAX_CDN",
    "MATHJAX_ENTRY",
    "MATHJAX_FILES",
    "MATHJAX_STAGE",
    "MATHJAX_VERSION",
    "config_overrides",
    "copy_file",
    "mathjax_bundle",
    "sync_stage",
]


def copy_file(src: Path, dst: Path) -> None:
    with src.open("rb") as fin:
        atomic_write(dst, lambda fh: shutil.copyfileobj(fin, fh))


#: Folders under ``book/`` that are never part of the book (an interactive run of a chapter
#: from ``book/`` writes its figures to ``book/_build/figures``).
_NOT_BOOK = frozenset({"_build", "__pycache__"})


#: The MathJax release bundled with the book (pinned in ``tools/mathjax/package.json``).
MATHJAX_VERSION = "3.2.2"


#: Stage folder listed in ``html_static_path`` (``_config.yml``); its ``mathjax/`` subfolder
#: becomes ``_static/mathjax/``. Not ``_static`` itself: Jupyter Book adds every ``*.js`` of a
#: source ``_static`` folder to every page, which would load all of MathJax's components.
MATHJAX_STAGE = "_mathjax"


#: The component ``mathjax_path`` names and, relative to it, what it may load: the TeX
#: extensions ``autoload`` fetches on first use and the CHTML fonts (woff-v2, what browsers take).
MATHJAX_ENTRY = "tex-chtml.js"


MATHJAX_FILES = (MATHJAX_ENTRY, "input/tex/extensions/*.js", "output/chtml/fonts/woff-v2/*.woff")


MATHJAX_CDN = f"https://cdn.jsdelivr.net/npm/mathjax@{MATHJAX_VERSION}/es5/{MATHJAX_ENTRY}"


_MATHJAX_LOADER = f"""\
/* The MathJax bundle is not installed (run: npm ci --prefix tools/mathjax), so this page
   loads MathJax {MATHJAX_VERSION} from a CDN and needs network access to show its math. */
(function () {{
  var script = document.createElement("script");
  script.src = "{MATHJAX_CDN}";
  script.async = true;
  document.head.appendChild(script);
}})();
"""


def mathjax_bundle(source: str | os.PathLike[str] | None = None) -> Path | None:
    """The installed MathJax distribution (its ``es5`` folder), or ``None`` if there is none.

    Looks in ``<source>/tools/mathjax/node_modules/mathjax`` (what ``npm ci --prefix
    tools/mathjax`` installs), then in the repository this package was installed from; a
    package of another version than :data:`MATHJAX_VERSION` does not count.
    """
    here = Path(__file__).resolve().parents[2]
    candidates = ([Path(source)] if source is not None else []) + [here]
    for root in candidates:
        package = root / "tools" / "mathjax" / "node_modules" / "mathjax"
        try:
            version = json.loads((package / "package.json").read_text()).get("version")
        except (OSError, ValueError):
            continue
        if version == MATHJAX_VERSION and (package / "es5" / MATHJAX_ENTRY).is_file():
            return package / "es5"
    return None


def stage_mathjax(paths: BookPaths) -> bool:
    """Put MathJax into ``<stage>/_mathjax/mathjax/``; return whether it is the offline bundle.

    Copies the files of :data:`MATHJAX_FILES` from :func:`mathjax_bundle` (only those that
    changed) and removes anything else there; without a bundle the entry point is a loader
    that fetches MathJax from :data:`MATHJAX_CDN`.
    """
    target = paths.stage / MATHJAX_STAGE / "mathjax"
    bundle = mathjax_bundle(paths.source)
    wanted: dict[Path, Path | None] = {}
    if bundle is None:
        wanted[Path(MATHJAX_ENTRY)] = None
    else:
        for pattern in MATHJAX_FILES:
            for src in sorted(bundle.glob(pattern)):
                wanted[src.relative_to(bundle)] = src
    for rel, src in wanted.items():
        dst = target / rel
        if src is None:
            if not dst.is_file() or dst.read_text() != _MATHJAX_LOADER:
                atomic_write(dst, lambda fh: fh.write(_MATHJAX_LOADER.encode()))
            continue
        have, want = (dst.stat() if dst.is_file() else None), src.stat()
        if have is None or (have.st_size, have.st_mtime_ns) != (want.st_size, want.st_mtime_ns):
            dst.parent.mkdir(parents=True, exist_ok=True)
            partial = dst.with_name(f".{dst.name}.partial")
            shutil.copy2(src, partial)
            os.replace(partial, dst)
    if target.is_dir():
        for dst in sorted(target.rglob("*"), reverse=True):
            if dst.is_dir():
                if not any(dst.iterdir()):
                    dst.rmdir()
            elif dst.relative_to(target) not in wanted:
                dst.unlink()
    return bundle is not None


#: Environment variables that override deployment settings of the staged ``_config.yml``
#: (facts the repository cannot know): variable -> (section, key).
CONFIG_OVERRIDES = {
    "PLATEAU_REPOSITORY_URL": ("repository", "url"),
    "PLATEAU_JUPYTERHUB_URL": ("launch_buttons", "jupyterhub_url"),
}


def config_overrides(environ: Mapping[str, str] | None = None) -> dict[tuple[str, str], str]:
    """The settings :data:`CONFIG_OVERRIDES` asks for in ``environ`` (default ``os.environ``).

    Raises ``ValueError`` naming the variable if a value set there is not an http(s) URL.
    """
    environ = os.environ if environ is None else environ
    out = {}
    for variable, keys in CONFIG_OVERRIDES.items():
        value = environ.get(variable, "").strip()
        if not value:
            continue
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError(f"{variable} must be an http(s) URL, got {value!r}")
        out[keys] = value.rstrip("/")
    return out


def _write_config(src: Path, dst: Path, overrides: Mapping[tuple[str, str], str]) -> None:
    """Copy ``_config.yml``, with ``overrides`` applied (then without its comments)."""
    if not overrides:
        copy_file(src, dst)
        return
    import yaml

    config = yaml.safe_load(src.read_text())
    for (section, key), value in overrides.items():
        config.setdefault(section, {})[key] = value
    atomic_write(dst, lambda fh: fh.write(yaml.safe_dump(config, sort_keys=False).encode()))


def _copy_page(src: Path, dst: Path, paths: BookPaths) -> None:
    """Copy a page; a Markdown page gets the edition's values for :data:`~.edition.PLACEHOLDERS`."""
    text = src.read_text() if src.suffix == ".md" else ""
    if not any(placeholder in text for placeholder in PLACEHOLDERS):
        copy_file(src, dst)
        return
    import yaml

    repository = yaml.safe_load((paths.stage / "_config.yml").read_text())["repository"]["url"]
    text = substitute(text, substitutions(paths.source, repository))
    atomic_write(dst, lambda fh: fh.write(text.encode()))


def sync_stage(paths: BookPaths) -> None:
    """Mirror the book's non-executed files into the stage and drop what the book no longer has.

    Copies ``_config.yml``, ``_toc.yml`` and every file of ``book/`` except notebooks (the
    stage's notebooks are the executed ones), hidden files and ``_build`` folders; removes
    stage files whose source is gone and
    executed notebooks of chapters that no longer exist (Sphinx would warn about them).
    Also stages MathJax (see :data:`MATHJAX_FILES`), applies the deployment settings of
    :func:`config_overrides` to the staged ``_config.yml``, and writes the edition (version,
    commit, the PDF's address: :mod:`~plateau_lib.book.edition`) into the pages that ask for it.
    """
    overrides = config_overrides()
    src_book, dst_book = paths.source / "book", paths.stage / "book"
    dst_book.mkdir(parents=True, exist_ok=True)
    _write_config(paths.source / "_config.yml", paths.stage / "_config.yml", overrides)
    copy_file(paths.source / "_toc.yml", paths.stage / "_toc.yml")
    wanted = set()
    for src in sorted(src_book.rglob("*")):
        rel = src.relative_to(src_book)
        skipped = any(part.startswith(".") or part in _NOT_BOOK for part in rel.parts)
        if src.is_dir() or skipped or src.suffix == ".ipynb":
            continue
        wanted.add(rel)
        _copy_page(src, dst_book / rel, paths)
    chapters = set(chapter_names(paths.source))
    for dst in sorted(dst_book.rglob("*"), reverse=True):
        rel = dst.relative_to(dst_book)
        if dst.is_dir():
            if not any(dst.iterdir()):
                dst.rmdir()
            continue
        keep = rel in wanted or (dst.suffix == ".ipynb" and rel.parent == Path(".") and dst.stem in chapters)
        if not keep:
            dst.unlink()
    write_api_pages(dst_book)
    stage_mathjax(paths)
