"""The edition (plateau_lib.book.edition): one version for the package, the citation, the release
files and the first page; CITATION.cff and .zenodo.json agree with pyproject.toml and each other."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml

from plateau_lib import book
from plateau_lib.book import BookPaths
from plateau_lib.book.edition import (
    PLACEHOLDERS,
    book_version,
    citation_problems,
    release_name,
    releases_url,
    substitutions,
)

ROOT = Path(__file__).resolve().parents[2]


def _citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def test_citation_carries_the_version_and_date_of_pyproject():
    assert citation_problems(ROOT) == []
    assert str(_citation()["version"]) == book_version(ROOT)


def _source_with(tmp_path: Path, citation: dict) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "CITATION.cff").write_text(yaml.safe_dump(citation, sort_keys=False))
    return tmp_path


def test_a_citation_that_disagrees_is_reported(tmp_path):
    version = book_version(ROOT)
    stale = _source_with(tmp_path, {**_citation(), "version": "0.0.1"})
    assert citation_problems(stale) == [f"CITATION.cff version '0.0.1' is not pyproject.toml's '{version}'"]
    future = _source_with(tmp_path, {**_citation(), "date-released": "2999-01-01"})
    assert citation_problems(future) == ["CITATION.cff date-released 2999-01-01 is in the future"]
    undated = _source_with(tmp_path, {**_citation(), "date-released": "last week"})
    assert citation_problems(undated) == ["CITATION.cff date-released 'last week' is not a date YYYY-MM-DD"]
    assert citation_problems(ROOT, tag=f"v{version}") == []
    assert citation_problems(ROOT, tag="v9.9.9") == [f"tag 'v9.9.9' is not v{version} (pyproject.toml's version)"]
    released = dt.date.fromisoformat(str(_citation()["date-released"]))
    assert citation_problems(ROOT, today=released) == []
    assert citation_problems(ROOT, today=released - dt.timedelta(days=1))  # the day before its release


def test_zenodo_metadata_agrees_with_the_citation():
    zenodo = json.loads((ROOT / ".zenodo.json").read_text())
    citation = _citation()
    assert zenodo["upload_type"] == "software"
    assert zenodo["title"] == citation["title"]
    assert zenodo["license"] == citation["license"]
    assert [c["name"] for c in zenodo["creators"]] == [a["name"] for a in citation["authors"]]
    assert zenodo["keywords"] == citation["keywords"]
    paper = {r["identifier"] for r in zenodo["related_identifiers"] if r["relation"] == "isSupplementTo"}
    assert {i["value"] for ref in citation["references"] for i in ref["identifiers"]} <= paper
    assert "version" not in zenodo, "Zenodo takes the version from the release's tag"


def test_release_names_and_the_releases_address():
    assert release_name("0.1.0", "figures.zip") == "plateau-companion-0.1.0-figures.zip"
    assert releases_url("https://github.com/me/fork/") == "https://github.com/me/fork/releases"
    with pytest.raises(ValueError, match="version must be"):
        release_name("latest", "book.pdf")
    with pytest.raises(ValueError, match="kind must be"):
        release_name("0.1.0", "../book.pdf")
    with pytest.raises(ValueError, match="repository_url must be"):
        releases_url("github.com/me/fork")


def test_the_staged_first_page_names_the_edition(tmp_path, monkeypatch):
    """The placeholders of a page are replaced in the stage (the committed page keeps them); a
    page without placeholders is copied byte for byte."""
    monkeypatch.delenv("PLATEAU_REPOSITORY_URL", raising=False)
    source = tmp_path / "src"
    (source / "book").mkdir(parents=True)
    for name in ("_config.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, source / name)
    (source / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/other\n")
    line = "This is version {{ book_version }} of the book; its PDF: <{{ book_releases_url }}>.\n"
    (source / "book" / "intro.md").write_text(f"# Intro\n\n{line}")
    (source / "book" / "other.md").write_text("# Other {{ unknown }}\n")
    shutil.copy(ROOT / "book" / "api.md", source / "book" / "api.md")  # the stage splits the API page
    paths = BookPaths.for_source(source, output_root=tmp_path / "out")
    book.sync_stage(paths)
    staged = (paths.stage / "book" / "intro.md").read_text()
    values = substitutions(source, yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"])
    assert not any(p in staged for p in PLACEHOLDERS)
    assert values["{{ book_version }}"].startswith(book_version(ROOT)) and values["{{ book_version }}"] in staged
    assert f"<{values['{{ book_releases_url }}']}>" in staged
    assert (paths.stage / "book" / "other.md").read_bytes() == (source / "book" / "other.md").read_bytes()
    monkeypatch.setenv("PLATEAU_REPOSITORY_URL", "https://example.org/me/fork")
    book.sync_stage(paths)
    assert "<https://example.org/me/fork/releases>" in (paths.stage / "book" / "intro.md").read_text()
