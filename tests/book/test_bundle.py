"""The release files (plateau_lib.book.bundle) and the release workflow.

The fast tests read figure-drawing cells from small notebooks. The slow one writes the release
of the quick-mode book that the session fixtures ``executed`` and ``built_html`` (conftest.py)
build, and checks that every figure of the built HTML book is in the figure bundle, with the
checksums of the manifest, and that every figure names its cell and library functions.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from plateau_lib import book
from plateau_lib.book.bundle import _drawings, write_release
from plateau_lib.book.edition import book_version, release_name

ROOT = Path(__file__).resolve().parents[2]


def _cell(source: str, tags: tuple[str, ...] = ()) -> dict:
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source, "outputs": []}


def test_drawing_cells_name_their_figure_and_library_functions():
    notebook = {"cells": [
        _cell("quick = True", ("injected-parameters",)),
        _cell("from plateau_lib import plotting as pl\nfrom plateau_lib.chapters import anls_sweep as ch\n"
              "from plateau_lib.figures import save_figure, glue_figure\nimport plateau_lib.theory\n"
              "from plateau_lib.chapters.explorer_grid import compute_frames, explorer_grid\nimport numpy as np"),
        {"cell_type": "markdown", "source": "save_figure(fig, 'not_code', d)"},
        _cell("%matplotlib inline\nfig, ax = pl.figure()\nch.draw_sweep(ax, np.zeros(3))\nch.SETTINGS.n_seeds(1)\n"
              "plateau_lib.theory.kernel(x)\nsave_figure(fig, 'sweep', output_dir, x=1)\n"
              "glue_figure('fig_sweep', fig)"),
        _cell("save_figure(fig, name, output_dir, x=1)"),  # not a literal name: not a recorded figure
        _cell("states = compute_frames(explorer_grid('anls', quick=quick), output_dir)"),
    ]}
    drawings = _drawings(notebook)
    assert [(d.name, d.kind, d.executed_cell) for d in drawings] == [
        ("sweep", "figure", 3), ("explorer_anls", "explorer", 5)]
    assert drawings[0].functions == ("plateau_lib.plotting.figure", "plateau_lib.chapters.anls_sweep.draw_sweep",
                                     "plateau_lib.theory.kernel")
    assert drawings[1].functions == ("plateau_lib.chapters.explorer_grid.compute_frames",
                                     "plateau_lib.chapters.explorer_grid.explorer_grid")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _html_figure_images(html: Path) -> dict[str, bytes]:
    """Every image inside a ``<figure>`` of the built chapter pages, by page and source."""
    images = {}
    for chapter in book.chapter_names(ROOT):
        page = (html / "book" / f"{chapter}.html").read_text()
        for figure in re.findall(r"<figure.*?</figure>", page, flags=re.DOTALL):
            for src in re.findall(r'<img[^>]*src="([^"]+)"', figure):
                images[f"{chapter}: {src}"] = (html / "book" / src).resolve().read_bytes()
    return images


@pytest.mark.slow
def test_the_release_holds_every_figure_of_the_built_book_with_its_checksum(built_html, tmp_path):
    assert built_html.status == 0, "the strict HTML build failed (see test_book.py)"
    paths = built_html.paths
    release = write_release(paths, tmp_path / "release")
    version = book_version(ROOT)
    manifest = json.loads(release.manifest.read_text())
    names = {p.name for p in release.files}
    for kind in ("figures.zip", "notebooks.zip", "html.zip", "constraints.txt", "manifest.json"):
        assert release_name(version, kind) in names
    # every file and every archive member has the manifest's checksum
    sums = dict(reversed(line.split("  ")) for line in (release.folder / "SHA256SUMS").read_text().splitlines())
    for name, entry in manifest["files"].items():
        data = (release.folder / name).read_bytes()
        assert _sha(data) == entry["sha256"] == sums[name] and len(data) == entry["bytes"]
        if name.endswith(".zip"):
            with zipfile.ZipFile(release.folder / name) as archive:
                members = {m: archive.read(m) for m in archive.namelist()}
            assert set(members) == set(entry["members"]), name
            assert all(_sha(members[m]) == entry["members"][m]["sha256"] for m in members), name
    assert sums[release.manifest.name] == _sha(release.manifest.read_bytes())
    with zipfile.ZipFile(release.folder / release_name(version, "figures.zip")) as archive:
        bundle = {m: archive.read(m) for m in archive.namelist()}
    records = json.loads(bundle["figures.json"])["figures"]
    # every figure shown in the built HTML book is one of the bundle's PNGs, byte for byte
    pngs = {_sha(bundle[f]) for r in records for f in r["files"] if f.endswith(".png")}
    shown = _html_figure_images(paths.html)
    assert shown, "no figures found in the built pages"
    missing = [where for where, data in shown.items() if _sha(data) not in pngs]
    assert not missing, f"figures of the book not in the bundle: {missing}"
    # every saved file of the chapters is in the bundle, unchanged
    for path in sorted(paths.figures.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            member = f"figures/{path.relative_to(paths.figures).as_posix()}"
            assert _sha(bundle[member]) == _sha(path.read_bytes()), member
    runs = json.loads(paths.runs.read_text())
    for record in records:
        where = f"{record['chapter']}/{record['name']}"
        committed = json.loads(paths.notebook(record["chapter"]).read_text())["cells"][record["cell"]]
        assert bundle[record["files"][-1]].decode() == "".join(committed["source"]), where
        assert record["files"][0].endswith(".png") and all(f in bundle for f in record["files"]), where
        assert record["functions"], f"{where}: no library function named"
        for name in record["functions"]:
            module, _, attribute = name.rpartition(".")
            assert callable(getattr(importlib.import_module(module), attribute)), name
        run = runs[record["chapter"]]
        assert (record["seed"], record["mode"]) == (run["seed"], "quick" if run["quick"] else "full"), where
    assert {r["kind"] for r in records} == {"figure", "explorer"}


def test_a_release_for_another_tag_is_refused_before_anything_is_written(tmp_path):
    paths = book.BookPaths.for_source(ROOT, output_root=tmp_path)
    with pytest.raises(ValueError, match=r"tag 'v0\.0\.0' is not v"):
        write_release(paths, tmp_path / "release", tag="v0.0.0")
    assert not (tmp_path / "release").exists()


def _workflow(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_the_release_workflow_builds_and_attaches_the_release_on_version_tags():
    wf = _workflow("release.yml")
    assert wf["on"] == {"push": {"tags": ["v*"]}}
    assert wf["permissions"] == {"contents": "write"}
    (job,) = wf["jobs"].values()
    assert job["timeout-minutes"] <= 90
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs[:2] == ["make book", "make pdf"]
    assert '.venv/bin/python -m plateau_lib book bundle --tag "$GITHUB_REF_NAME" --require-pdf' in runs
    assert any(r.startswith('gh release create "$GITHUB_REF_NAME"') and "_build/release/*" in r for r in runs)
    setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
    assert str(setup[0]["with"]["python-version"]) == "3.11"
