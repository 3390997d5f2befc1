"""The API reference, one page per module (plateau_lib.book.api_pages)."""

import importlib

import pytest

from plateau_lib.book.api_pages import MARKER, api_modules, write_api_pages


def test_every_public_module_of_the_science_and_chapters_is_listed_and_importable():
    groups = api_modules()
    names = [m for mods in groups.values() for m in mods]
    assert "plateau_lib.network" in names and "plateau_lib.trainers.front_door" in names
    assert "plateau_lib.chapters.claims" in names
    assert not any(m.startswith("plateau_lib.book") for m in names), "the tooling is not API"
    assert not any(part.startswith("_") for m in names for part in m.split("."))
    for m in names:
        importlib.import_module(m)


def test_pages_are_written_the_table_replaces_the_marker_and_stale_pages_go(tmp_path):
    (tmp_path / "api.md").write_text(f"# API reference\n\n{MARKER}\n")
    (tmp_path / "api").mkdir()
    stale = tmp_path / "api" / "plateau_lib.gone.md"
    stale.write_text("# gone\n")
    pages = write_api_pages(tmp_path)
    assert not stale.exists()
    assert {p.stem for p in pages} == {m for mods in api_modules().values() for m in mods}
    page = (tmp_path / "api" / "plateau_lib.network.md").read_text()
    assert ".. automodule:: plateau_lib.network\n   :members:" in page
    index = (tmp_path / "api.md").read_text()
    assert MARKER not in index
    assert "| {doc}`plateau_lib.network <api/plateau_lib.network>` |" in index


def test_an_index_without_the_marker_is_refused(tmp_path):
    (tmp_path / "api.md").write_text("# API reference\n")
    with pytest.raises(ValueError, match="has no line"):
        write_api_pages(tmp_path)


def test_a_book_without_an_api_page_gets_no_pages(tmp_path):
    assert write_api_pages(tmp_path) == []
    assert not (tmp_path / "api").exists()
