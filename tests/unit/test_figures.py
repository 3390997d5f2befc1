"""What :func:`plateau_lib.figures.save_figure` records in its PNGs for the reader's check.

(The rest of save_figure, its data files and the reference comparison are tested with the
book's pipeline in tests/book/test_book.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plateau_lib import plotting
from plateau_lib.figures import PNG_TEXT_KEYS, save_figure, smallest_text

KEYS = PNG_TEXT_KEYS


def _text_chunks(path) -> dict[str, str]:
    with Image.open(path) as image:
        return dict(image.text)


def _figure():
    fig, axes = plotting.figure(ncols=2, width=6.0, height=2.5, detached=True)
    ax = axes[0, 0]
    ax.plot([1, 2, 3], [3, 1, 2], label="a line")
    ax.set_title("a title", fontsize=11)
    ax.set_xlabel("step", fontsize=10)
    ax.legend(fontsize=9.5)
    image = axes[0, 1].imshow(np.arange(9.0).reshape(3, 3))
    fig.colorbar(image, ax=axes[0, 1]).set_label("colour", fontsize=10)
    for a in axes.flat:
        a.tick_params(labelsize=10)
    return fig, axes


def test_the_png_records_the_smallest_text_its_width_and_resolution(tmp_path):
    fig, axes = _figure()
    axes[0, 1].annotate("small note", (1, 1), fontsize=7.5)
    paths = save_figure(fig, "fig", tmp_path, dpi=80, x=[1, 2, 3])
    assert _text_chunks(paths["png"]) == {
        KEYS["smallest_pt"]: "7.5", KEYS["smallest_text"]: "small note",
        KEYS["width_in"]: "6", KEYS["dpi"]: "80",
    }


@pytest.mark.parametrize("part", ["legend", "colourbar", "tick labels", "title"])
def test_every_kind_of_text_counts(part):
    fig, axes = _figure()
    if part == "legend":
        axes[0, 0].get_legend().get_texts()[0].set_fontsize(6)
    elif part == "colourbar":
        fig.axes[-1].tick_params(labelsize=6)
    elif part == "tick labels":
        axes[0, 0].tick_params(axis="y", labelsize=6)
    else:
        axes[0, 1].set_title("panel", fontsize=6)
    size, _ = smallest_text(fig)
    assert size == 6


def test_hidden_blank_and_out_of_view_text_do_not_count():
    fig, axes = _figure()
    axes[0, 0].text(2, 2, "   ", fontsize=3)  # blank
    axes[0, 0].text(2, 2, "hidden", fontsize=3).set_visible(False)
    axes[0, 0].set_xticks([1, 2, 30], ["1", "2", "far"])
    axes[0, 0].set_xlim(0.5, 3.5)
    for label in axes[0, 0].get_xticklabels():
        label.set_fontsize(3 if label.get_text() == "far" else 10)  # the label outside the view
    spare = fig.add_axes((0.4, 0.4, 0.1, 0.1))
    spare.set_title("off", fontsize=3)
    spare.axis("off")
    spare.set_visible(False)
    assert smallest_text(fig) == (9.5, "a line")


def test_a_figure_without_text_records_only_its_size(tmp_path):
    fig, axes = plotting.figure(width=3.0, height=2.0, detached=True)
    axes[0, 0].axis("off")
    assert smallest_text(fig) is None
    paths = save_figure(fig, "blank", tmp_path, x=[0])
    assert _text_chunks(paths["png"]) == {KEYS["width_in"]: "3", KEYS["dpi"]: "150"}


def test_the_png_stays_reproducible(tmp_path):
    fig, _ = _figure()
    first = save_figure(fig, "fig", tmp_path / "a", x=[1])["png"].read_bytes()
    second = save_figure(fig, "fig", tmp_path / "b", x=[1])["png"].read_bytes()
    assert first == second
    assert b"Software" not in first and b"matplotlib" not in first.lower()
