"""The book's pipeline: committed notebooks, headless execution, reference check, strict build.

The fast tests check the committed sources. The slow ones execute every chapter once in
quick mode into a temporary staging book (a session fixture shared by all of them),
compare the figure data with ``tests/reference``, show the comparison can fail, and build
the HTML strictly. Under ``pytest -n 2`` (``make test``) the workers share that one
execution and that one build (see the ``executed`` and ``built_html`` fixtures in conftest.py).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from plateau_lib import book
from plateau_lib.book import BookPaths, UnknownChapterError
from plateau_lib.book.blas_kernel import BLAS_VARIABLE
from plateau_lib.figures import glue_texts, glue_values, save_data, save_figure, save_values

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CHAPTERS = book.chapter_names(ROOT)
PARAMETERS = ("quick", "seed", "output_dir")

def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


# --------------------------------------------------------------------------------------
# Committed sources


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks in book/"
    assert CHAPTERS, "no chapter notebooks listed in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_without_outputs(path):
    nb = _load(path)
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"{path.name} cell {index}"
        assert cell.get("outputs") == [], f"{where} has outputs; clear them before committing"
        assert cell.get("execution_count") is None, f"{where} has an execution count; clear outputs"
        assert "injected-parameters" not in _tags(cell), f"{where} is papermill's injected cell"
    assert "papermill" not in nb["metadata"], f"{path.name} is an executed (papermill) notebook"
    assert "widgets" not in nb["metadata"], f"{path.name} carries saved widget state"
    assert nb["metadata"].get("kernelspec", {}).get("name") == book.KERNEL_NAME


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_parameters_cell(path):
    cells = [c for c in _load(path)["cells"] if "parameters" in _tags(c)]
    assert len(cells) == 1, f"{path.name} needs exactly one cell tagged 'parameters', found {len(cells)}"
    assert cells[0]["cell_type"] == "code"
    tree = ast.parse("".join(cells[0]["source"]))
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    }
    assert set(PARAMETERS) <= set(values), f"{path.name} parameters cell defines {sorted(values)}"
    assert values["quick"] is False, "the committed default is the full mode"
    assert values["seed"] == book.DEFAULT_SEED
    assert values["output_dir"] == f"_build/figures/{path.stem}"


def test_toc_and_book_folder_agree():
    entries = book.toc_files(ROOT)
    assert len(entries) == len(set(entries)), f"duplicate toc entries: {entries}"
    for entry in entries:
        found = [s for s in (".md", ".ipynb") if (ROOT / f"{entry}{s}").is_file()]
        assert len(found) == 1, f"toc entry {entry!r} must match exactly one .md or .ipynb file, found {found}"
    on_disk = {f"book/{p.stem}" for p in BOOK.iterdir() if p.suffix in (".md", ".ipynb")}
    assert on_disk == set(entries), (
        f"not in _toc.yml: {sorted(on_disk - set(entries))}; in _toc.yml but missing: {sorted(set(entries) - on_disk)}"
    )
    notebooks_in_toc = [Path(e).name for e in entries if (ROOT / f"{e}.ipynb").is_file()]
    assert notebooks_in_toc == CHAPTERS


def test_config_never_executes_and_excludes_non_book_folders():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert {".venv", "_build", "tests", "benchmarks"} <= set(config["exclude_patterns"])
    assert "book/references.bib" in config["bibtex_bibfiles"]
    assert {"amsmath", "colon_fence", "dollarmath"} <= set(config["parse"]["myst_enable_extensions"])


def test_kernel_is_this_interpreter():
    assert os.path.abspath(book.kernel_interpreter()) == os.path.abspath(sys.executable)


def test_unknown_chapter_is_rejected():
    with pytest.raises(UnknownChapterError, match="nope"):
        book.check_chapter_names(["nope"], CHAPTERS)
    assert book.check_chapter_names(None, CHAPTERS) == CHAPTERS
    assert book.check_chapter_names(list(reversed(CHAPTERS)), CHAPTERS) == CHAPTERS  # toc order


# --------------------------------------------------------------------------------------
# figures.py and the comparison (fast)


def test_glue_figure_records_and_closes(capsys):
    import matplotlib.pyplot as plt

    from plateau_lib.figures import glue_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    glue_figure("fig_test", fig)
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        glue_figure("fig_test", object())
    other = plt.figure()
    with pytest.raises(ValueError, match="name"):
        glue_figure("bad name!", other)
    plt.close(other)


def test_glue_figure_glues_the_png_save_figure_wrote(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    import myst_nb

    from plateau_lib.figures import glue_figure, save_figure

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.update({name: value}))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = save_figure(fig, "saved", tmp_path, y=[1, 0])["png"]
    glue_figure("fig_saved", fig)
    assert glued["fig_saved"].data == png.read_bytes()  # the saved picture, not a second drawing
    unsaved, _ = plt.subplots()
    glue_figure("fig_unsaved", unsaved)
    assert glued["fig_unsaved"] is unsaved


def test_save_figure_writes_image_and_data(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 5)
    ax.plot(x, x**2)
    paths = save_figure(fig, "curve", tmp_path / "out", formats=("png", "svg"), x=x, y=x**2)
    plt.close(fig)
    assert set(paths) == {"png", "svg", "npz"}
    assert all(p.is_file() for p in paths.values())
    with np.load(paths["npz"], allow_pickle=False) as data:
        np.testing.assert_array_equal(data["y"], x**2)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")], "temporary files left"
    with pytest.raises(ValueError, match="arrays"):
        save_figure(fig, "curve", tmp_path)
    with pytest.raises(ValueError, match="name"):
        save_figure(fig, "../escape", tmp_path, x=x)
    with pytest.raises(TypeError, match="objects"):
        save_data("bad", tmp_path, x=np.array([object()]))


def test_values_are_plain_json_and_merge(tmp_path):
    save_values("values", tmp_path, a=np.float64(0.5), n=np.int64(3))
    path = glue_values(tmp_path, flag=np.bool_(True))  # outside IPython: saved only
    assert json.loads(path.read_text()) == {"a": 0.5, "flag": True, "n": 3}
    with pytest.raises(TypeError):
        save_values("values", tmp_path, bad={"nested": 1})


def test_comparison_tolerance_and_structure(tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    loss = np.array([1.0, 0.5, 1e-12, 0.0])
    save_data("d", ref, loss=loss, counts=np.array([1, 2, 3]))
    save_values("values", ref, final=0.25, name="gd")

    save_data("d", out, loss=loss * (1 + 1e-9), counts=np.array([1, 2, 3]))
    save_values("values", out, final=0.25 + 1e-12, name="gd")
    assert book.compare_data_dirs(out, ref) == []

    save_data("d", out, loss=loss * (1 + 1e-4), counts=np.array([1, 2, 4]))
    save_values("values", out, final=0.3, name="adam")
    lines = book.compare_data_dirs(out, ref, label="ch")
    assert any("ch/d.npz: array 'loss'" in line and "max rel diff 1.000e-04" in line for line in lines), lines
    assert any("array 'counts'" in line and "1 of 3 entries differ" in line for line in lines), lines
    assert any("array 'final'" in line for line in lines), lines
    assert any("array 'name'" in line for line in lines), lines

    save_data("d", out, loss=loss, extra=np.zeros(2))
    (out / "values.json").unlink()
    save_data("new", out, x=np.zeros(1))
    lines = book.compare_data_dirs(out, ref, label="ch")
    assert any("'counts' missing" in line for line in lines), lines
    assert any("'extra' extra" in line for line in lines), lines
    assert any("values.json: missing" in line for line in lines), lines
    assert any("new.npz: extra" in line for line in lines), lines

    save_data("d", out, loss=loss[:3], counts=np.array([1, 2, 3]))
    assert any("shape" in line for line in book.compare_data_dirs(out, ref))


def test_check_refuses_data_of_a_full_run(tmp_path):
    paths = BookPaths.for_source(ROOT, output_root=tmp_path)
    paths.build.mkdir()
    paths.runs.write_text(json.dumps({name: {"quick": False, "seed": 0} for name in CHAPTERS}))
    lines = book.check_references(paths)
    assert len(lines) >= len(CHAPTERS)
    assert all("quick" in line for line in lines[: len(CHAPTERS)])


# --------------------------------------------------------------------------------------
# Execution, check and build (slow: one quick execution of every chapter, shared)


# The session fixtures ``executed`` (every chapter run once in quick mode) and ``built_html``
# (its strict HTML build, which tests/book/test_browser_check.py opens in a browser) live in
# tests/conftest.py, shared by this module and the browser check.


@pytest.mark.slow
def test_every_chapter_executes_in_quick_mode(executed):
    paths, runs = executed
    failures = [r.message for r in runs if not r.ok]
    assert not failures, "\n".join(failures)
    assert [r.chapter for r in runs] == CHAPTERS
    for name in CHAPTERS:
        nb = _load(paths.staged_notebook(name))
        injected = [c for c in nb["cells"] if "injected-parameters" in _tags(c)]
        assert len(injected) == 1 and "quick = True" in "".join(injected[0]["source"])
        assert "remove-cell" in _tags(injected[0]), "the page shows the parameters once"
        banners = [c for c in nb["cells"] if "run-banner" in _tags(c)]
        assert len(banners) == 1 and "quick mode" in "".join(banners[0]["source"])
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert not [o for o in outputs if o["output_type"] == "error"]
        assert not [o for o in outputs if o.get("name") == "stderr"], f"{name} wrote to stderr"
    assert not list(paths.running.glob("*")), "temporary notebooks left behind"
    assert book.stage_problems(paths) == ([], [])
    assert book.mixed_runs(paths) == []


def test_mixed_runs_name_every_chapter_setting(tmp_path):
    from plateau_lib.book.records import write_runs

    paths = BookPaths.for_source(ROOT, output_root=tmp_path)
    write_runs(paths, {CHAPTERS[0]: {"quick": True, "seed": 0}, CHAPTERS[1]: {"quick": True, "seed": 0}})
    assert book.mixed_runs(paths) == []
    write_runs(paths, {CHAPTERS[0]: {"quick": True, "seed": 0}, CHAPTERS[1]: {"quick": False, "seed": 0}})
    (line,) = book.mixed_runs(paths)
    assert f"{CHAPTERS[0]}: quick mode, seed 0" in line and f"{CHAPTERS[1]}: full mode, seed 0" in line
    assert "--allow-mixed" in line
    write_runs(paths, {CHAPTERS[0]: {"quick": False, "seed": 1}, CHAPTERS[1]: {"quick": False, "seed": 0}})
    assert book.mixed_runs(paths) and book.mixed_runs(paths, [CHAPTERS[0]]) == []


@pytest.mark.slow
def test_glued_figures_are_not_shown_twice(executed):
    """A cell that glues a figure for a {glue:figure} directive must not also show it as output."""
    paths, _ = executed
    for name in CHAPTERS:
        nb = _load(paths.staged_notebook(name))
        for index, cell in enumerate(nb["cells"]):
            outputs = cell.get("outputs", [])
            glued = [o for o in outputs if "application/papermill.record/image/png" in o.get("data", {})]
            shown = [o for o in outputs if "image/png" in o.get("data", {})]
            assert not (glued and shown), f"{name} cell {index} glues a figure and also shows it"


def skip_unless_reference_kernel(paths: BookPaths) -> None:
    """The references repeat only with their OpenBLAS kernel (plateau_lib.book.blas_kernel)."""
    ran, reference = os.environ.get(BLAS_VARIABLE), book.check.reference_kernel(paths)
    if ran != reference:
        pytest.skip(book.check.kernel_mismatch("the chapters", ran, reference))


@pytest.mark.slow
def test_figure_data_match_the_references(executed):
    paths, _ = executed
    skip_unless_reference_kernel(paths)
    assert paths.reference == ROOT / "tests" / "reference"
    assert any(paths.reference.rglob("*.npz")), "no committed reference data"
    lines = book.check_references(paths)
    assert not lines, "\n".join(lines) + "\n(if intended: python -m plateau_lib book refresh-references)"


@pytest.mark.slow
def test_check_detects_a_perturbed_data_file(executed, tmp_path):
    paths, _ = executed
    skip_unless_reference_kernel(paths)
    def float_arrays(path):
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    chapter, data_file, key = next(
        (name, path, key)
        for name in CHAPTERS
        for path in sorted((paths.reference / name).glob("*.npz"))
        for key, v in float_arrays(path).items()
        if v.dtype.kind == "f" and v.size and np.any(v != 0)
    )
    copy = BookPaths.for_source(ROOT, output_root=tmp_path)
    shutil.copytree(paths.build / "figures", copy.figures)
    shutil.copy(paths.runs, copy.runs)
    assert book.check_references(copy) == []

    target = copy.figures / chapter / data_file.name
    arrays = float_arrays(target)
    flat = arrays[key].ravel().copy()
    i = int(np.flatnonzero(flat)[0])
    flat[i] *= 1 + 1e-3
    arrays[key] = flat.reshape(arrays[key].shape)
    save_data(data_file.stem, target.parent, **arrays)
    lines = book.check_references(copy)
    assert len(lines) == 1, lines
    assert f"{chapter}/{data_file.name}: array {key!r}" in lines[0] and "max rel diff" in lines[0]


@pytest.mark.slow
def test_strict_html_build(built_html):
    paths = built_html.paths
    assert built_html.status == 0, f"the strict build failed:\n{built_html.log[-6000:]}"
    html = paths.html
    assert (html / "index.html").is_file()
    for entry in book.toc_files(ROOT):
        assert (html / f"{entry}.html").is_file(), f"no page for {entry}"
    page = (html / "book" / "explanation.html").read_text()
    assert "pasted-text" in page, "glued numbers did not reach the page"


@pytest.mark.slow
def test_strict_build_fails_on_a_warning(tmp_path, capfd):
    """One unresolved reference fails the strict build, and it is the build's only warning (a
    one-page book with the book's configuration, so the test does not depend on the chapters)."""
    source = tmp_path / "src"
    (source / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", source / "_config.yml")
    shutil.copy(BOOK / "references.bib", source / "book" / "references.bib")
    shutil.copytree(BOOK / "_static", source / "book" / "_static")  # the config's static files
    (source / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (source / "book" / "intro.md").write_text("# A page\n\nSee {ref}`no-such-label`.\n")
    broken = BookPaths.for_source(source)
    capfd.readouterr()
    assert book.build_html(broken, strict=True, quiet=True) != 0
    warnings = [line for line in capfd.readouterr().err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "no-such-label" in warnings[0], warnings


@pytest.mark.slow
def test_failing_cell_is_reported_in_one_line(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT / "book", source / "book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, source / name)
    chapter = CHAPTERS[-1]
    nb_path = source / "book" / f"{chapter}.ipynb"
    nb = _load(nb_path)
    # right after the parameters cell, so the chapter fails at once
    at = 1 + next(k for k, c in enumerate(nb["cells"]) if "parameters" in c["metadata"].get("tags", []))
    nb["cells"].insert(
        at, {"cell_type": "code", "execution_count": None, "id": "boom", "metadata": {}, "outputs": [],
             "source": ["x = 1\n", "1 / 0"]}
    )
    nb_path.write_text(json.dumps(nb))
    paths = BookPaths.for_source(source)
    (run,) = book.run_chapters(paths, [chapter], quick=True, progress=False)
    assert not run.ok
    index = at  # counted in the committed notebook, without papermill's injected cell
    assert "\n" not in run.message
    assert f"chapter {chapter!r} failed in cell {index} (0-based)" in run.message
    assert "ZeroDivisionError: division by zero" in run.message
    assert run.notebook == paths.failed / f"{chapter}.ipynb" and run.notebook.is_file()
    assert not paths.staged_notebook(chapter).exists()
    assert not list(paths.running.glob("*"))
    assert book.stage_problems(paths, [chapter])[0], "a failed chapter must count as not executed"


def _tiny_book(source: Path, cells: dict[str, list[str]]) -> BookPaths:
    """A book of one-cell chapters (name -> the cell's source lines) with the book's configuration."""
    (source / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", source / "_config.yml")
    toc = "format: jb-book\nroot: book/intro\nchapters:\n" + "".join(f"  - file: book/{n}\n" for n in cells)
    (source / "_toc.yml").write_text(toc)
    (source / "book" / "intro.md").write_text("# Intro\n")
    for name, lines in cells.items():
        params = {"cell_type": "code", "execution_count": None, "id": "p", "metadata": {"tags": ["parameters"]},
                  "outputs": [], "source": ["quick = False\n", "seed = 0\n", "output_dir = '.'"]}
        body = {"cell_type": "code", "execution_count": None, "id": "b", "metadata": {}, "outputs": [],
                "source": lines}
        nb = {"cells": [params, body], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                   "language": "python"}},
              "nbformat": 4, "nbformat_minor": 5}
        (source / "book" / f"{name}.ipynb").write_text(json.dumps(nb))
    return BookPaths.for_source(source)


@pytest.mark.slow
def test_chapters_at_once_report_in_order_and_record_each_success(tmp_path):
    paths = _tiny_book(tmp_path / "src", {"first": ["import time\n", "time.sleep(1.0)"],
                                         "broken": ["1 / 0"], "third": ["x = 3"]})
    runs = book.run_chapters(paths, quick=True, seed=4, workers=2, progress=False)
    assert [(r.chapter, r.ok) for r in runs] == [("first", True), ("broken", False), ("third", True)]
    assert "ZeroDivisionError" in runs[1].message
    recorded = json.loads(paths.runs.read_text())
    assert set(recorded) == {"first", "third"} and {r["seed"] for r in recorded.values()} == {4}
    assert not list(paths.running.glob("*"))
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        book.run_chapters(paths, workers=0, progress=False)


# --------------------------------------------------------------------------------------
# Deployment settings from the environment


def test_config_overrides_from_the_environment():
    env = {"PLATEAU_REPOSITORY_URL": "https://example.org/me/fork/", "PLATEAU_JUPYTERHUB_URL": " "}
    assert book.config_overrides(env) == {("repository", "url"): "https://example.org/me/fork"}
    assert book.config_overrides({}) == {}
    with pytest.raises(ValueError, match="PLATEAU_JUPYTERHUB_URL must be an http"):
        book.config_overrides({"PLATEAU_JUPYTERHUB_URL": "hub.example.org"})


def test_staged_config_carries_the_overrides(tmp_path, monkeypatch):
    import yaml

    source = tmp_path / "src"
    shutil.copytree(BOOK, source / "book", ignore=shutil.ignore_patterns("_build", "*.ipynb"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, source / name)
    paths = BookPaths.for_source(source, output_root=tmp_path / "out")
    committed = yaml.safe_load((ROOT / "_config.yml").read_text())
    monkeypatch.delenv("PLATEAU_REPOSITORY_URL", raising=False)
    monkeypatch.delenv("PLATEAU_JUPYTERHUB_URL", raising=False)
    book.sync_stage(paths)
    assert (paths.stage / "_config.yml").read_bytes() == (ROOT / "_config.yml").read_bytes()
    monkeypatch.setenv("PLATEAU_JUPYTERHUB_URL", "https://hub.my-university.edu")
    book.sync_stage(paths)
    staged = yaml.safe_load((paths.stage / "_config.yml").read_text())
    assert staged["launch_buttons"]["jupyterhub_url"] == "https://hub.my-university.edu"
    staged["launch_buttons"]["jupyterhub_url"] = committed["launch_buttons"]["jupyterhub_url"]
    assert staged == committed  # nothing else changed


def test_unchecked_data_are_saved_but_not_compared(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    ref, out = tmp_path / "ref", tmp_path / "out"
    for folder, t in ((ref, 1.0), (out, 1.26)):  # an event time that moved by 0.26
        paths = save_figure(fig, "flow", folder, loss=np.array([1.0, 0.5]), unchecked={"t": np.array([0.0, t])})
        glue_values(folder, level=0.5)
        glue_values(folder, unchecked=True, seg_t0=t)
    plt.close(fig)
    assert paths["unchecked"] == out / "unchecked" / "flow.npz" and paths["unchecked"].is_file()
    assert np.load(paths["unchecked"])["t"][1] == 1.26
    assert "t" not in np.load(paths["npz"])
    assert json.loads((out / "unchecked" / "values.json").read_text()) == {"seg_t0": 1.26}
    assert "seg_t0" not in json.loads((out / "values.json").read_text())
    assert book.compare_data_dirs(out, ref) == []
    save_figure(plt.figure(), "flow", out, loss=np.array([1.0, 0.6]), unchecked={"t": np.array([0.0, 1.0])})
    assert book.compare_data_dirs(out, ref), "checked data must still be compared"


def test_glued_texts_are_saved_and_can_be_unchecked(tmp_path):
    path = glue_texts(tmp_path, verdict="C2 holds on 9 of 10 plateaus")
    assert json.loads(path.read_text()) == {"verdict": "C2 holds on 9 of 10 plateaus"}
    loose = glue_texts(tmp_path, unchecked=True, note="timing-dependent")
    assert loose == tmp_path / "unchecked" / "texts.json"
    assert "note" not in json.loads(path.read_text())
    with pytest.raises(TypeError, match="texts must be strings; not: n"):
        glue_texts(tmp_path, n=3)
