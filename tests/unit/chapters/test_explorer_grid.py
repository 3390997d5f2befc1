"""Static explorers: the grid of states, its frames and data on disk, and the page's HTML."""

from __future__ import annotations

import base64
import hashlib
import html.parser
import io
import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from plateau_lib.chapters import explorer_grid as eg
from plateau_lib.chapters.explorer_grid import ExplorerGrid, GridAxis
from plateau_lib.chapters.explorers import (
    AnlsSettings,
    GDSettings,
    compute_anls,
    compute_gd,
    draw_gd,
    gd_explorer,
)
from plateau_lib.figures import UNCHECKED

TWO_TARGETS = ExplorerGrid("gd", (GridAxis("target", ("sin_pi", "sawtooth")),))


@pytest.fixture(scope="module")
def gd_frames(tmp_path_factory):
    out = tmp_path_factory.mktemp("gd")
    return out, eg.compute_frames(TWO_TARGETS, out, executor=1)


# --------------------------------------------------------------------------- the grid


def test_states_are_the_product_of_the_axes_last_fastest():
    grid = ExplorerGrid("gd", (GridAxis("target", ("sin_pi", "abs")), GridAxis("width", (5, 10, 20))))
    assert len(grid) == 6
    assert grid.indices() == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    base = GDSettings.defaults()
    assert grid.settings()[5] == replace(base, target="abs", width=20)
    assert grid.settings()[grid.initial()] == base  # the page opens on the live explorer's defaults
    assert ExplorerGrid.key((1, 2)) == "1-2"


@pytest.mark.parametrize(
    "name, axes, match",
    [
        ("sgd", (GridAxis("target", ("sin_pi",)),), "name"),
        ("gd", (), "at least one axis"),
        ("gd", (GridAxis("colour", ("sin_pi",)),), "distinct controls"),
        ("gd", (GridAxis("variant", ("global",)),), "distinct controls"),  # an ANLS control
        ("gd", (GridAxis("width", (10,)), GridAxis("width", (5, 10))), "distinct controls"),
        ("gd", (GridAxis("width", (5, 20)),), "default 10"),
        ("gd", (GridAxis("width", (0, 10)),), "width"),
        ("anls", (GridAxis("variant", ("global", "newton")),), "variant"),
    ],
)
def test_a_bad_grid_is_refused_naming_what_is_wrong(name, axes, match):
    with pytest.raises(ValueError, match=match):
        ExplorerGrid(name, axes)


@pytest.mark.parametrize("values", [(), ("sin_pi", "sin_pi"), ["sin_pi"]])
def test_an_axis_needs_distinct_values_in_a_tuple(values):
    with pytest.raises(ValueError, match="values of grid axis 'target'"):
        GridAxis("target", values)


@pytest.mark.parametrize("name", ["gd", "anls"])
def test_the_books_grids(name):
    full, quick = eg.explorer_grid(name), eg.explorer_grid(name, quick=True)
    assert 30 <= len(full) <= 80  # the "about 30 to 80 states each"
    assert all(len(axis.values) >= 2 for axis in quick.axes)  # the browser check moves every control
    full_values = {axis.field: set(axis.values) for axis in full.axes}
    for axis in quick.axes:
        assert set(axis.values) <= full_values[axis.field]
    with pytest.raises(ValueError, match="name"):
        eg.explorer_grid("nope")


# --------------------------------------------------------------------------- frames


def test_a_frame_is_the_figure_in_a_palette(tmp_path):
    fig = draw_gd(compute_gd(GDSettings.defaults(steps=500)))
    png = eg.frame_png(fig)
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=eg.FRAME_DPI)
    with Image.open(io.BytesIO(png)) as frame, Image.open(full) as reference:
        assert frame.mode == "P" and len(frame.getpalette()) // 3 <= eg.PALETTE_COLOURS
        assert frame.size == reference.size == (round(11.0 * eg.FRAME_DPI), round(3.6 * eg.FRAME_DPI))
        a = np.asarray(frame.convert("RGB"), dtype=int)
        b = np.asarray(reference.convert("RGB"), dtype=int)
    # Line drawings: the palette keeps almost every pixel to within a few levels of 255.
    assert np.mean(np.abs(a - b).max(axis=2) > 24) < 0.01
    assert len(png) < len(full.getvalue())


def test_frames_data_and_manifest_are_the_computed_states(gd_frames):
    out, explorer = gd_frames
    manifest = eg.load_manifest(out, "gd")
    assert manifest["axes"] == [{"field": "target", "label": "target", "values": ["sin_pi", "sawtooth"]}]
    assert manifest["initial"] == 0
    for k, (state, settings) in enumerate(zip(manifest["states"], TWO_TARGETS.settings(), strict=True)):
        view = compute_gd(settings)  # recomputed here, independently of the saved files
        png = (out / state["frame"]).read_bytes()
        assert state["frame"] == f"explorer_gd_{k:02d}.png" and png == explorer.frames[k].png
        assert state["sha256"] == hashlib.sha256(png).hexdigest()
        assert state["values"] == {"target": settings.target} and state["key"] == str(k)
        assert state["text"] == view.summary()
        with np.load(out / f"explorer_gd_{k:02d}.npz") as data:
            np.testing.assert_array_equal(data["loss"], view.result.loss)
            assert data["final_loss"] == view.result.loss[-1]
            assert f"final loss {float(data['final_loss']):.3g} " in state["text"]
            assert f"; {int(data['plateaus'])} plateau(s) detected;" in state["text"]
            assert f"; {int(data['pattern_changes'])} pattern changes" in state["text"]
            assert f"({int(data['raw_changes'])} raw)" in state["text"]
    assert not (out / UNCHECKED / "explorer_gd_00.npz").exists()  # gradient descent has no wall-time panel
    assert not list(out.rglob(".*")), "temporary files left behind"


def test_anls_frames_keep_wall_times_out_of_the_compared_data(tmp_path):
    grid = ExplorerGrid("anls", (GridAxis("seed", (5, 6)),))
    eg.compute_frames(grid, tmp_path, executor=1)
    view = compute_anls(AnlsSettings.defaults(seed=6))
    with np.load(tmp_path / "explorer_anls_01.npz") as data:
        assert not {"anls_time", "gd_time", "anls_loss", "sweeps"} & set(data.files)
        np.testing.assert_array_equal(data["gd_loss"], view.gd.loss)
        assert data["lower_bound"] == view.lower_bound
    with np.load(tmp_path / UNCHECKED / "explorer_anls_01.npz") as data:
        assert data["anls_time"].shape == data["anls_loss"].shape == view.anls.loss.shape
        np.testing.assert_array_equal(data["anls_loss"], view.anls.loss)
        assert data["sweeps"] == view.anls.nit and data["anls_final"] == view.anls.final_loss


def test_states_sharing_all_but_the_last_control_keep_their_order(tmp_path):
    """Two seeds x two variants on a pool of two processes: state k is still the k-th settings."""
    grid = ExplorerGrid("anls", (GridAxis("seed", (5, 6)), GridAxis("variant", ("global", "joint"))))
    explorer = eg.compute_frames(grid, tmp_path, executor=2)
    for state, settings in zip(eg.load_manifest(tmp_path, "anls")["states"], grid.settings(), strict=True):
        assert state["values"] == {"seed": settings.seed, "variant": settings.variant}
        assert f"ANLS ({settings.variant})" in state["text"]
    gd_losses = [np.load(tmp_path / f"explorer_anls_{k:02d}.npz")["gd_loss"] for k in range(4)]
    np.testing.assert_array_equal(gd_losses[0], gd_losses[1])  # one seed, one GD run for both variants
    assert not np.array_equal(gd_losses[1], gd_losses[2])
    assert len(explorer.frames) == 4


def test_compute_frames_refuses_what_is_not_a_grid(tmp_path):
    with pytest.raises(TypeError, match="grid must be an ExplorerGrid"):
        eg.compute_frames({"target": ("sin_pi",)}, tmp_path)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- HTML


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._in_data = tag == "script" and "plateau-explorer-data" in (attrs.get("class") or "")

    def handle_data(self, data):
        if self._in_data:
            self.data.append(data)

    def handle_endtag(self, tag):
        self._in_data = False


def test_the_html_has_labelled_disabled_controls_and_every_frame(gd_frames):
    _, explorer = gd_frames
    text = eg.static_explorer_html(explorer, title="GD", note="run it <em>live</em>")
    page = _Page()
    page.feed(text)
    selects = [a for t, a in page.tags if t == "select"]
    labels = [a for t, a in page.tags if t == "label"]
    assert [s["id"] for s in selects] == ["plateau-explorer-gd-target"] == [lab["for"] for lab in labels]
    assert all("disabled" in s for s in selects)  # enabled by the script, so never dead without it
    options = [a for t, a in page.tags if t == "option"]
    assert [o["value"] for o in options] == ["0", "1"] and "selected" in options[0] and "selected" not in options[1]
    frames = json.loads("".join(page.data))["frames"]
    assert set(frames) == {"0", "1"}
    for key, frame in zip(("0", "1"), explorer.frames, strict=True):
        assert base64.b64decode(frames[key]["src"].split(",", 1)[1]) == frame.png
        assert frames[key]["text"] == frame.text
    (img,) = [a for t, a in page.tags if t == "img"]
    assert img["src"] == frames["0"]["src"] and explorer.frames[0].text in img["alt"]
    box = page.tags[0][1]
    assert box["class"] == "plateau-explorer-static" and box["data-state"] == "0" and box["data-explorer"] == "gd"
    assert "run it <em>live</em>" in text and "</script>" not in "".join(page.data)


def test_the_explorer_shows_its_frames_in_the_html(gd_frames):
    _, explorer = gd_frames
    live = gd_explorer(steps=500, frames=explorer)
    html_text = live._repr_mimebundle_()["text/html"]
    assert "plateau-explorer-data" in html_text and "<select" in html_text
    assert "plateau-explorer-data" not in gd_explorer(steps=500).static_html()  # without frames: one picture
    with pytest.raises(ValueError, match="frames must be the precomputed states of the 'anls' explorer"):
        from plateau_lib.chapters.explorers import anls_explorer

        anls_explorer(steps=500, sweeps=2, frames=explorer)
