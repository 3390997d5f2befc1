r"""Explorers that respond without a kernel: a grid of precomputed states, one frame each.

The HTML book has no Python kernel, so a live explorer (:mod:`plateau_lib.chapters.explorers`)
would be a picture of one state. Here its controls take the values of a small grid instead
(:class:`ExplorerGrid`: the Cartesian product of a few values per control, e.g. target
:math:`\times` initial scale :math:`\times` width), every state of the grid is computed with
the same library calls the live explorer makes (its ``compute`` and ``draw`` functions) and
rendered to one frame, and the page swaps frames when a control changes
(``book/_static/plateau-explorer.js``, dependency-free, offline).

:func:`compute_frames` computes the states (on a pool of processes) and writes, for state
``k`` of explorer ``name``, into the chapter's output folder:

* ``explorer_<name>_<k>.png``, the frame the page shows (a palette PNG: the figures are line
  drawings, so 8 bits of colour keep them exact at a third of the size);
* ``explorer_<name>_<k>.npz``, the arrays the frame draws and its numbers, compared with the
  references by ``book check`` like every figure's data (wall times go to ``unchecked/``);
* ``unchecked/explorer_<name>.json``, the manifest: the grid, and for each state its control
  values, frame file, the frame's SHA-256 and the line printed under it. The browser check
  (``plateau_lib.book.browse``) compares what the page shows after each change of a control
  with this file.

:func:`static_explorer_html` renders the frames as one HTML block: a labelled ``<select>`` per
grid axis (native, so keyboard accessible; disabled until the script runs), the frame, and
the numbers of the shown state in an ``aria-live`` line.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice
from ..figures import UNCHECKED, atomic_write, save_data
from ..parallel import ExecutorLike
from ..sweeps import sweep
from .explorers import (
    ANLS_CONTROLS,
    GD_CONTROLS,
    AnlsSettings,
    FigureArrays,
    GDSettings,
    anls_arrays,
    compute_anls,
    compute_gd,
    draw_anls,
    draw_gd,
    gd_arrays,
)

__all__ = [
    "FRAME_DPI",
    "GRIDS",
    "PALETTE_COLOURS",
    "ExplorerGrid",
    "Frame",
    "GridAxis",
    "StaticExplorer",
    "compute_frames",
    "explorer_grid",
    "frame_png",
    "load_manifest",
    "static_explorer_html",
]

#: Resolution of the frames (the live explorer's figure, 11 x 3.6 inches, is 990 x 324 pixels).
FRAME_DPI = 90
#: Colours of a frame's palette (the figures use a dozen colours plus their anti-aliased blends).
PALETTE_COLOURS = 128


@dataclass(frozen=True)
class GridAxis:
    """One control of a static explorer: a settings field and the values the grid gives it.

    Attributes
    ----------
    field : str
        The settings field (a field of :class:`~plateau_lib.chapters.explorers.GDSettings` or
        :class:`~plateau_lib.chapters.explorers.AnlsSettings`).
    values : tuple
        The values, in the order the page offers them.
    """

    field: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.values, tuple) or not self.values:
            raise ValueError(f"values of grid axis {self.field!r} must be a non-empty tuple, got {self.values!r}")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"values of grid axis {self.field!r} repeat: {self.values!r}")


@dataclass(frozen=True)
class ExplorerGrid:
    r"""The states of a static explorer: the product of its axes' values over default settings.

    State ``k`` is the ``k``-th element of ``itertools.product`` over the axes' values (the
    last axis varies fastest); its *key* is the axes' value indices joined by ``-`` (``"0-2-1"``),
    which is how the page's script finds the frame of the selected values.

    Attributes
    ----------
    name : {"gd", "anls"}
        Which explorer.
    axes : tuple of GridAxis
        The controls the page shows.
    """

    name: str
    axes: tuple[GridAxis, ...]

    def __post_init__(self) -> None:
        check_choice(self.name, "name", tuple(_EXPLORERS))
        if not self.axes:
            raise ValueError("a grid needs at least one axis")
        fields = [a.field for a in self.axes]
        known = {c.field for c in _EXPLORERS[self.name].controls}
        unknown = [f for f in fields if f not in known]
        if unknown or len(set(fields)) != len(fields):
            raise ValueError(f"grid axes must be distinct controls of the {self.name!r} explorer "
                             f"({', '.join(sorted(known))}), got {fields}")
        defaults = self.defaults()
        for axis in self.axes:
            default = getattr(defaults, axis.field)
            if default not in axis.values:
                raise ValueError(f"grid axis {axis.field!r} must contain the explorer's default {default!r} "
                                 "(the page opens on the default state)")
            for value in axis.values:
                replace(defaults, **{axis.field: value})  # raises on a value the explorer refuses

    def __len__(self) -> int:
        return int(np.prod([len(a.values) for a in self.axes]))

    def defaults(self) -> GDSettings:
        """The live explorer's default settings (the page's first state)."""
        return _EXPLORERS[self.name].settings.defaults()

    def indices(self) -> list[tuple[int, ...]]:
        """Value indices of every state, in state order."""
        return list(itertools.product(*(range(len(a.values)) for a in self.axes)))

    def settings(self) -> list[GDSettings]:
        """The settings of every state, in state order."""
        base = self.defaults()
        return [replace(base, **{a.field: a.values[i] for a, i in zip(self.axes, idx, strict=True)})
                for idx in self.indices()]

    def initial(self) -> int:
        """Index of the state with the explorer's default settings."""
        base = self.defaults()
        target = tuple(a.values.index(getattr(base, a.field)) for a in self.axes)
        return self.indices().index(target)

    @staticmethod
    def key(index: Sequence[int]) -> str:
        """The page's key of a state: its value indices joined by ``-``."""
        return "-".join(str(int(i)) for i in index)


@dataclass(frozen=True)
class _Kind:
    settings: type
    compute: Callable[[Any], Any]
    draw: Callable[[Any], Any]
    arrays: Callable[[Any], FigureArrays]
    controls: tuple


_EXPLORERS: dict[str, _Kind] = {
    "gd": _Kind(GDSettings, compute_gd, draw_gd, gd_arrays, GD_CONTROLS),
    "anls": _Kind(AnlsSettings, compute_anls, draw_anls, anls_arrays, ANLS_CONTROLS),
}

_TARGETS = ("sin_pi", "sin_2pi", "sin_3pi", "sawtooth", "abs", "bump")

#: The grids of the book's two explorers, full and quick. Full: 6 targets x 3 initial scales x
#: 2 widths (36 states) for gradient descent; 6 targets x 3 seeds x 2 ANLS variants (36 states)
#: for ANLS; a state costs about a second of one core, half of it drawing the frame. Quick
#: (``make test``): 2 x 2 states each.
GRIDS: dict[tuple[str, bool], ExplorerGrid] = {
    ("gd", False): ExplorerGrid("gd", (GridAxis("target", _TARGETS), GridAxis("init_scale", (1e-5, 1e-3, 1e-1)),
                                       GridAxis("width", (10, 20)))),
    ("gd", True): ExplorerGrid("gd", (GridAxis("target", ("sin_pi", "sawtooth")),
                                      GridAxis("init_scale", (1e-3, 1e-1)))),
    ("anls", False): ExplorerGrid("anls", (GridAxis("target", _TARGETS), GridAxis("seed", (5, 6, 7)),
                                           GridAxis("variant", ("global", "joint")))),
    ("anls", True): ExplorerGrid("anls", (GridAxis("target", ("sin_pi", "sawtooth")), GridAxis("seed", (5, 6)))),
}


def explorer_grid(name: str, *, quick: bool = False) -> ExplorerGrid:
    """The grid of explorer ``name`` (``"gd"`` or ``"anls"``) in full or quick mode (:data:`GRIDS`)."""
    return GRIDS[(check_choice(name, "name", tuple(_EXPLORERS)), bool(quick))]


# --------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class Frame:
    """One computed state: its frame, the arrays it draws and the line printed under it.

    Attributes
    ----------
    png : bytes
        The frame (:func:`frame_png`).
    arrays, unchecked : dict of str to ndarray
        What the frame draws, compared with the references / saved only (wall times).
    text : str
        The view's one-line summary (final losses, plateaus, pattern changes, ...).
    """

    png: bytes
    arrays: dict[str, Any]
    unchecked: dict[str, Any]
    text: str


def frame_png(fig: Any, dpi: float = FRAME_DPI) -> bytes:
    """Render a figure to a palette PNG (at most :data:`PALETTE_COLOURS` colours, no metadata)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as image:
        quantized = image.convert("RGB").quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    quantized.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _frame(args: tuple[str, GDSettings]) -> Frame:
    name, settings = args
    kind = _EXPLORERS[name]
    view = kind.compute(settings)
    png = frame_png(kind.draw(view))
    arrays = kind.arrays(view)
    return Frame(png, arrays.checked, arrays.unchecked, view.summary())


def _frames(args: tuple[str, Sequence[GDSettings]]) -> list[Frame]:
    """:func:`_frame` of several states in one process, in order (so that they share the ANLS
    explorer's gradient-descent run when only the variant differs)."""
    name, group = args
    return [_frame((name, settings)) for settings in group]


@dataclass(frozen=True)
class StaticExplorer:
    """A grid and its computed frames, which render themselves (:meth:`static_html`).

    The precomputed states a live :class:`~plateau_lib.chapters.explorers.Explorer` shows on a
    page without a kernel (its :class:`~plateau_lib.chapters.explorers.StaticStates`).
    """

    grid: ExplorerGrid
    frames: tuple[Frame, ...]

    @property
    def name(self) -> str:
        """The explorer's name (``"gd"``, ``"anls"``)."""
        return self.grid.name

    def static_html(self, *, title: str, note: str) -> str:
        """The states as one HTML block (:func:`static_explorer_html`)."""
        return static_explorer_html(self, title=title, note=note)

    def manifest(self) -> dict[str, Any]:
        """The grid and, per state, its values, frame file, SHA-256 and printed line (JSON-ready)."""
        name = self.grid.name
        states = []
        for k, (idx, settings, frame) in enumerate(zip(self.grid.indices(), self.grid.settings(), self.frames,
                                                       strict=True)):
            states.append({
                "key": ExplorerGrid.key(idx),
                "values": {a.field: _plain(getattr(settings, a.field)) for a in self.grid.axes},
                "frame": f"explorer_{name}_{k:02d}.png",
                "sha256": hashlib.sha256(frame.png).hexdigest(),
                "text": frame.text,
            })
        axes = [{"field": a.field, "label": _label(name, a.field), "values": [_plain(v) for v in a.values]}
                for a in self.grid.axes]
        return {"explorer": name, "axes": axes, "initial": self.grid.initial(), "states": states}


def compute_frames(grid: ExplorerGrid, output_dir: str | os.PathLike[str], *, executor: ExecutorLike = 2,
                   progress: bool = False) -> StaticExplorer:
    """Compute every state of ``grid``, save its frame, data and the manifest; return them.

    Parameters
    ----------
    grid : ExplorerGrid
    output_dir : path
        The chapter's output folder (see the module docstring for the files).
    executor : int or concurrent.futures.Executor
        Where the states run (:func:`~plateau_lib.sweeps.sweep`): a number of local processes
        (default two) or an executor.
    progress : bool
        Show a progress bar over the states.
    """
    if not isinstance(grid, ExplorerGrid):
        raise TypeError(f"grid must be an ExplorerGrid, got {type(grid).__name__}")
    out = Path(output_dir)
    settings = grid.settings()
    run = len(grid.axes[-1].values)  # states that differ in the last control only: one task
    tasks = [(grid.name, tuple(settings[k:k + run])) for k in range(0, len(settings), run)]
    frames = [frame for group in sweep(_frames, tasks, executor=executor,
                                       progress=progress, desc=f"explorer {grid.name}") for frame in group]
    explorer = StaticExplorer(grid, tuple(frames))
    for k, frame in enumerate(frames):
        stem = f"explorer_{grid.name}_{k:02d}"
        atomic_write(out / f"{stem}.png", lambda fh, png=frame.png: fh.write(png))
        save_data(stem, out, **frame.arrays)
        if frame.unchecked:
            save_data(stem, out / UNCHECKED, **frame.unchecked)
    text = json.dumps(explorer.manifest(), indent=1, ensure_ascii=False) + "\n"
    atomic_write(out / UNCHECKED / f"explorer_{grid.name}.json", lambda fh: fh.write(text.encode()))
    return explorer


def load_manifest(output_dir: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """The manifest :func:`compute_frames` wrote for explorer ``name`` into ``output_dir``."""
    return json.loads((Path(output_dir) / UNCHECKED / f"explorer_{name}.json").read_text())


# --------------------------------------------------------------------------- HTML


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _label(name: str, field: str) -> str:
    return next(c.label for c in _EXPLORERS[name].controls if c.field == field)


def _option_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _controls_html(name: str, axes: Iterable[GridAxis], initial: Sequence[int]) -> str:
    parts = []
    for axis, chosen in zip(axes, initial, strict=True):
        ident = f"plateau-explorer-{name}-{axis.field}"
        options = "".join(
            f'<option value="{i}"{" selected" if i == chosen else ""}>{html.escape(_option_text(v))}</option>'
            for i, v in enumerate(axis.values))
        parts.append(f'<label for="{ident}">{html.escape(_label(name, axis.field))}</label>'
                     f'<select id="{ident}" data-field="{axis.field}" disabled>{options}</select>')
    return f'<div class="plateau-explorer-controls">{"".join(parts)}</div>'


def static_explorer_html(explorer: StaticExplorer, *, title: str, note: str) -> str:
    """The static explorer as one self-contained HTML block (frames inline as ``data:`` URLs).

    The block is ``<div class="plateau-explorer-static" data-explorer=NAME>`` with the controls,
    the initial frame, the numbers of the shown state (``.plateau-explorer-numbers``), ``note``
    (HTML) and the frames as JSON in ``<script type="application/json">``. The book's script
    enables the controls and swaps the frame and the numbers on every change.
    """
    grid, name = explorer.grid, explorer.grid.name
    indices = grid.indices()
    first = grid.initial()
    frames = {
        ExplorerGrid.key(idx): {"src": "data:image/png;base64," + base64.b64encode(f.png).decode("ascii"),
                                "text": f.text}
        for idx, f in zip(indices, explorer.frames, strict=True)
    }
    shown = frames[ExplorerGrid.key(indices[first])]
    data = json.dumps({"frames": frames}, separators=(",", ":")).replace("</", "<\\/")
    alt = html.escape(f"{title}: {shown['text']}", quote=True)
    return (
        f'<div class="plateau-explorer-static" data-explorer="{html.escape(name, quote=True)}" '
        f'data-state="{ExplorerGrid.key(indices[first])}">'
        f'<p class="plateau-explorer-title"><strong>{html.escape(title)}</strong> '
        f"({len(grid)} precomputed states)</p>"
        f"{_controls_html(name, grid.axes, indices[first])}"
        f'<img class="plateau-explorer-frame" src="{shown["src"]}" alt="{alt}"/>'
        f'<p class="plateau-explorer-numbers" aria-live="polite">{html.escape(shown["text"])}</p>'
        f'<p class="plateau-explorer-note">{note}</p>'
        f'<script type="application/json" class="plateau-explorer-data">{data}</script></div>'
    )

