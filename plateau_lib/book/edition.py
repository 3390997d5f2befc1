r"""Which edition of the book this is: its version, the commit it was built from, its release files.

One version, ``project.version`` of ``pyproject.toml``, names everything a release carries: the
git tag ``v<version>``, the release files (:func:`release_name`), the version on the book's first
page and on the PDF's title page, and the ``version`` of ``CITATION.cff`` (with its
``date-released``), which :func:`citation_problems` checks against ``pyproject.toml``.

**The first page.** The staging step (:func:`plateau_lib.book.stage.sync_stage`) replaces
:data:`PLACEHOLDERS` in the book's Markdown pages by the values of :func:`substitutions`: the
version and commit the book was built from, and the address of the repository's releases, where
each tagged version's PDF is attached (``.github/workflows/release.yml``). The page links to the
list of releases, not to this version's PDF: the book is published from ``main`` (GitHub Pages),
whose version may not be tagged yet, and a link to a release that does not exist would be dead.
The committed pages keep the placeholders, so a page never states a version it was not built from.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from pathlib import Path

__all__ = [
    "PDF_STEM",
    "PLACEHOLDERS",
    "book_version",
    "citation_problems",
    "edition_text",
    "release_name",
    "releases_url",
    "substitute",
    "substitutions",
]

#: The book's file stem: ``plateau-companion.pdf`` locally, ``plateau-companion-<version>-...`` released.
PDF_STEM = "plateau-companion"

#: Placeholders the staging step replaces in the book's Markdown pages (see :func:`substitutions`).
PLACEHOLDERS = ("{{ book_version }}", "{{ book_releases_url }}")

_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z.]+)?$")


def book_version(source: str | os.PathLike[str]) -> str:
    """``project.version`` of ``<source>/pyproject.toml``; ``ValueError`` if it is malformed.

    A book folder without ``pyproject.toml`` (a copy of the pages alone) takes the version of the
    installed library.
    """
    path = Path(source) / "pyproject.toml"
    if not path.exists():
        from importlib.metadata import version as installed_version

        return installed_version("plateau-lib")
    with path.open("rb") as fh:
        version = tomllib.load(fh).get("project", {}).get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ValueError(f"project.version of {path} must be a version such as 1.2.0, got {version!r}")
    return version


def edition_text(source: str | os.PathLike[str]) -> str:
    """``"0.1.0 (commit 1a2b3c4)"``: the version and the commit the book is built from."""
    from .seeds import source_commit  # here: seeds imports the stage, which imports this module

    commit = source_commit(Path(source))
    version = book_version(source)
    return version if commit is None else f"{version} (commit {commit})"


def release_name(version: str, kind: str) -> str:
    """A release file's name: ``plateau-companion-<version>-<kind>`` (``kind`` ``"book.pdf"``, ``"figures.zip"``...)."""
    if not _VERSION.match(version):
        raise ValueError(f"version must be a version such as 1.2.0, got {version!r}")
    if not re.fullmatch(r"[a-z]+(?:-[a-z]+)*\.[a-z0-9.]+", kind):
        raise ValueError(f"kind must be a word and a suffix such as 'book.pdf', got {kind!r}")
    return f"{PDF_STEM}-{version}-{kind}"


def releases_url(repository_url: str) -> str:
    """The repository's list of releases, ``<repository>/releases``: each tagged version's PDF is attached there.

    The page exists before the first tag (it lists none), unlike a download address of a release.
    """
    if not repository_url.startswith(("https://", "http://")):
        raise ValueError(f"repository_url must be an http(s) URL, got {repository_url!r}")
    return f"{repository_url.rstrip('/')}/releases"


def substitutions(source: str | os.PathLike[str], repository_url: str) -> dict[str, str]:
    """The values of :data:`PLACEHOLDERS` for the book at ``source`` published from ``repository_url``."""
    return dict(zip(PLACEHOLDERS, (edition_text(source), releases_url(repository_url)), strict=True))


def substitute(text: str, values: dict[str, str]) -> str:
    """``text`` with every placeholder of ``values`` replaced by its value."""
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def citation_problems(source: str | os.PathLike[str], *, tag: str | None = None,
                      today: dt.date | None = None) -> list[str]:
    """What disagrees between ``CITATION.cff``, ``pyproject.toml`` and (for a release) its git ``tag``.

    ``CITATION.cff`` must carry ``version`` equal to ``project.version`` and a ``date-released``
    (``YYYY-MM-DD``) not after ``today``; ``tag``, if given, must be ``v<version>``. Returns one
    line per problem (empty: consistent).
    """
    import yaml

    source = Path(source)
    version = book_version(source)
    citation = yaml.safe_load((source / "CITATION.cff").read_text())
    problems = []
    if str(citation.get("version")) != version:
        problems.append(f"CITATION.cff version {citation.get('version')!r} is not pyproject.toml's {version!r}")
    released = citation.get("date-released")
    try:
        date = released if isinstance(released, dt.date) else dt.date.fromisoformat(str(released))
    except ValueError:
        problems.append(f"CITATION.cff date-released {released!r} is not a date YYYY-MM-DD")
    else:
        if date > (today or dt.date.today()):
            problems.append(f"CITATION.cff date-released {date} is in the future")
    if tag is not None and tag != f"v{version}":
        problems.append(f"tag {tag!r} is not v{version} (pyproject.toml's version)")
    return problems
