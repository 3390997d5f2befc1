"""The interactive explorers, driven programmatically through their widgets (no browser)."""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest

from plateau_lib.chapters.explanation_runs import segment_levels
from plateau_lib.chapters.explorers import (
    ANLS_VARIANTS,
    DEFAULT_EXPERIMENT,
    AnlsSettings,
    Control,
    Explorer,
    GDSettings,
    anls_explorer,
    anls_variant_options,
    compute_anls,
    compute_gd,
    draw_gd,
    gd_explorer,
)
from plateau_lib.experiments import Experiment, get_experiment
from plateau_lib.patterns import filtered_changes, nearest_record
from plateau_lib.targets import grid, target_values
from plateau_lib.theory import lstar_of_network

STEPS = 2000  # small budgets keep each recomputation well under a second


@pytest.fixture
def gd():
    return gd_explorer(steps=STEPS)


@pytest.fixture
def anls():
    return anls_explorer(steps=STEPS, sweeps=10)


def _loss_line(explorer: Explorer, panel: int = 0):
    return explorer.figure.axes[panel].lines[0]


# --------------------------------------------------------------------------- settings


def test_defaults_come_from_the_registry():
    e = get_experiment(DEFAULT_EXPERIMENT)
    s = GDSettings.defaults()
    assert (s.target, s.points, s.width, s.init_scale, s.lr, s.steps, s.seed) == (
        e.target, e.m, e.width, e.init_scale, e.options["lr"], e.quick_steps, e.seed)
    a = AnlsSettings.defaults(variant="joint")
    assert a.variant == "joint" and a.width == e.width and a.sweeps > 0


@pytest.mark.parametrize(("field", "value", "error", "message"), [
    ("target", "ridge_2d", ValueError, "target must be one of"),
    ("points", 1, ValueError, "points must be >= 2"),
    ("width", 0, ValueError, "width must be >= 1"),
    ("width", 2.5, TypeError, "width must be an integer"),
    ("init_scale", -1e-3, ValueError, "init_scale must be finite and > 0"),
    ("lr", "0.1", TypeError, "lr must be a real number"),
    ("steps", 0, ValueError, "steps must be >= 1"),
    ("seed", -1, ValueError, "seed must be >= 0"),
])
def test_bad_settings_name_the_field(field, value, error, message):
    with pytest.raises(error, match=re.escape(message)):
        GDSettings.defaults(**{field: value})


def test_bad_anls_settings_name_the_field():
    with pytest.raises(ValueError, match="variant must be one of"):
        AnlsSettings.defaults(variant="fastest")
    with pytest.raises(ValueError, match="sweeps must be >= 1"):
        AnlsSettings.defaults(sweeps=0)


def test_variant_options():
    assert anls_variant_options("global", 0.1) == {"preset": "design"}
    assert anls_variant_options("bounded+polish", 0.05)["polish_lr"] == 0.05
    assert anls_variant_options("joint", 0.1)["criterion"] == "joint"
    with pytest.raises(ValueError, match="variant"):
        anls_variant_options("nope", 0.1)


def test_controls_must_name_settings_fields():
    with pytest.raises(ValueError, match="unknown settings fields: nope"):
        Explorer("x", GDSettings.defaults(steps=STEPS), compute_gd, draw_gd, (Control("nope", "n", "int", 0, 1),),
                 title="t")


# --------------------------------------------------------------------------- computation


def test_segment_levels_are_lstar_of_each_segment():
    view = compute_gd(GDSettings.defaults(steps=STEPS))
    r = view.result
    assert view.levels.shape[1] == 3 and len(view.levels) >= 2
    assert view.levels[0, 0] == 0 and view.levels[-1, 1] == r.steps[-1] + 1
    np.testing.assert_array_equal(view.levels[1:, 0], view.levels[:-1, 1])  # consecutive segments
    # the first segment is the saddle of the small initialisation: S is empty, L* = |y|^2/2m
    assert view.levels[0, 2] == pytest.approx(np.mean(view.y**2) / 2, rel=1e-12)
    for start, end, level in view.levels[[0, len(view.levels) // 2, -1]]:
        index = nearest_record(r, (start + end - 1) / 2)
        assert level == lstar_of_network(r.net_at(index), view.X, view.y)
    # the summary's count of changes is the flicker filter's, counted by the patterns module
    assert view.filtered_changes == len(filtered_changes(r)) > 0
    assert f"; {len(filtered_changes(r))} pattern changes after the flicker filter" in view.summary()


def test_segment_levels_of_no_segments_is_empty():
    view = compute_gd(GDSettings.defaults(steps=STEPS))
    assert segment_levels(view.result, view.X, view.y, []).shape == (0, 3)


def test_large_steps_kill_every_neuron_rather_than_diverge():
    view = compute_gd(GDSettings.defaults(steps=300, lr=100.0))
    assert view.result.completed and np.all(view.result.counts[-1] == 0)
    assert view.result.final_loss == pytest.approx(np.mean(view.y**2) / 2)  # the zero network


def test_a_non_finite_run_is_reported_not_analysed(monkeypatch):
    real_run = Experiment.run

    def diverged(self, *args, **kwargs):
        r = real_run(self, *args, **kwargs)
        loss = r.loss.copy()
        loss[-1] = np.inf
        return dataclasses.replace(r, loss=loss, status="failed", message="loss became non-finite at step 300")

    monkeypatch.setattr(Experiment, "run", diverged)
    view = compute_gd(GDSettings.defaults(steps=300))
    assert view.plateaus == [] and view.levels.shape == (0, 3)
    assert view.summary() == "gradient descent stopped: loss became non-finite at step 300"
    draw_gd(view)  # draws without raising


# --------------------------------------------------------------------------- driving the widgets


def test_width_slider_retrains_and_redraws(gd):
    before = _loss_line(gd).get_ydata().copy()
    gd.controls["width"].value = 4
    assert gd.settings.width == 4 and gd.view.result.net.n == 4
    assert len(gd.figure.axes[1].lines) == 4  # one count curve per neuron
    assert not np.array_equal(before, _loss_line(gd).get_ydata())
    np.testing.assert_array_equal(_loss_line(gd).get_ydata(), gd.view.result.loss)


def test_step_size_and_budget_sliders(gd):
    gd.controls["lr"].value = 0.05
    assert gd.settings.lr == pytest.approx(0.05)
    np.testing.assert_array_equal(_loss_line(gd).get_ydata(), gd.view.result.loss)
    gd.controls["steps"].value = 3000
    assert _loss_line(gd).get_xdata()[-1] == 3001  # plotted against step + 1
    assert "after 3000 steps" in gd.view.summary()


def test_target_drop_down_changes_the_data(gd):
    gd.controls["target"].value = "abs"
    data = gd.figure.axes[2].lines[0]  # the data points of the network panel
    X = grid(gd.settings.points, 1)
    np.testing.assert_array_equal(data.get_ydata(), target_values("abs", X))


def test_seed_and_scale_change_the_initial_network(gd):
    first = gd.view.result.params[0].copy()
    gd.controls["seed"].value = 7
    second = gd.view.result.params[0].copy()
    assert not np.array_equal(first, second)
    gd.controls["init_scale"].value = 1e-2
    assert np.abs(gd.view.result.params[0]).max() > 3 * np.abs(second).max()


def test_the_image_widget_follows_the_figure(gd):
    image, status = gd._widgets()["image"], gd._widgets()["status"]
    before = bytes(image.value)
    gd.controls["width"].value = 3
    assert bytes(image.value) != before and bytes(image.value)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "computed in" in status.value and "drawn in" in status.value


def test_an_invalid_value_leaves_the_state_and_shows_the_error(gd):
    settings, figure = gd.settings, gd.figure
    with pytest.raises(ValueError, match="points must be >= 2"):
        gd.update(points=1)
    assert gd.settings is settings and gd.figure is figure
    status = gd._widgets()["status"]
    gd._on_change("points")({"new": 1})
    assert "points must be &gt;= 2" in status.value and gd.settings is settings


def test_anls_variant_changes_only_the_anls_run(anls):
    gd_loss = anls.view.gd.loss.copy()
    before = anls.figure.axes[0].lines[1].get_ydata().copy()
    anls.controls["variant"].value = "joint"
    assert anls.view.anls.final_loss < anls.view.gd.final_loss
    np.testing.assert_array_equal(anls.view.gd.loss, gd_loss)  # same initial network, same GD run
    after = anls.figure.axes[0].lines[1].get_ydata()
    np.testing.assert_array_equal(after, anls.view.anls.loss)
    assert not np.array_equal(before, after)
    assert "ANLS (joint)" in anls.figure.axes[0].get_legend_handles_labels()[1]


def test_anls_sweeps_and_lower_bound(anls):
    anls.controls["variant"].value = "global+polish"
    anls.controls["sweeps"].value = 3
    assert anls.view.anls.nit <= 3
    bound_lines = [ln for ln in anls.figure.axes[0].lines if ln.get_label() == "lower bound (fact 5)"]
    assert len(bound_lines) == 1 and bound_lines[0].get_ydata()[0] == anls.view.lower_bound
    assert anls.view.lower_bound <= min(anls.view.gd.final_loss, anls.view.anls.final_loss)


def test_the_gd_run_is_shared_by_the_variants_and_is_a_fresh_run():
    """The variant and the sweeps do not change gradient descent: it is computed once for them."""
    first = compute_anls(AnlsSettings.defaults(steps=STEPS, variant="global", sweeps=5))
    second = compute_anls(AnlsSettings.defaults(steps=STEPS, variant="joint", sweeps=7))
    assert second.gd is first.gd and second.anls is not first.anls
    experiment = first.settings.experiment()
    fresh = experiment.run(first.settings.seed, net=experiment.initial_network(first.settings.seed))
    for field in ("steps", "loss", "params", "flips"):
        np.testing.assert_array_equal(getattr(first.gd, field), getattr(fresh, field))
    other_seed = compute_anls(AnlsSettings.defaults(steps=STEPS, variant="joint", seed=first.settings.seed + 1))
    assert other_seed.gd is not first.gd and other_seed.gd.loss[0] != first.gd.loss[0]


@pytest.mark.parametrize("variant", ANLS_VARIANTS)
def test_every_variant_runs_and_never_raises_the_loss(anls, variant):
    anls.update(variant=variant)
    assert np.all(np.diff(anls.view.anls.loss) <= 0)


# --------------------------------------------------------------------------- display


def test_static_fallback_is_a_picture_and_a_note(gd):
    page = gd.static_html()
    assert page.startswith('<div class="plateau-explorer-static" data-explorer="gd">')
    (payload,) = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert base64.b64decode(payload)[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'href="running.html"' in page and "Static picture" in page


def test_notebook_display_offers_widget_and_fallback(gd):
    bundle = gd._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == gd.widget.model_id
    assert bundle["text/html"] == gd.static_html()


def test_library_import_does_not_import_ipywidgets():
    code = "import sys, plateau_lib, plateau_lib.chapters.explorers; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
