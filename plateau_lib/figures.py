"""Save each figure together with the data it plots, so the book's figures can be checked.

A chapter never saves a bare picture. :func:`save_figure` writes ``name.png`` (and, on
request, ``name.svg``) *and* ``name.npz`` holding the arrays the figure draws;
:func:`glue_values` glues scalars for the prose (myst-nb ``glue``) and saves them to a
JSON file beside the figures. ``python -m plateau_lib book check`` compares these data files
with the references committed under ``tests/reference/<chapter>/``, so a figure that stops
coming out of the code fails CI even when the picture "looks the same".

Every file is written to a temporary file in the destination folder and moved into place
with ``os.replace`` (atomic on POSIX and Windows), so an interrupted run never leaves a
half-written figure or data file behind; temporaries start with a dot and the checker
ignores dot-files.

Not every number a figure draws can be compared at a tight tolerance: a quantity that
amplifies round-off (the event times of a gradient-flow trajectory, which move when the last
bits of one step do, and everything measured on the segments between them) differs between
processors that take different SIMD code paths. Such data go to the subfolder
:data:`UNCHECKED` (``save_figure(..., unchecked={...})``, ``glue_values(..., unchecked=True)``):
saved beside the figure for the reader, left out of the comparison with the references.

Images are written without timestamps or software-version metadata, so re-running a
chapter produces byte-identical images when the pixels do not change (clean diffs). A PNG
carries instead what a reader's check needs to tell whether its text is legible as displayed
(:data:`PNG_TEXT_KEYS`, tEXt chunks): the size in points of the smallest text the figure draws,
that text, the figure's width in inches and the resolution of the file. ``book browse`` reads
them and reports a figure whose smallest text shows below 9 pt at the column's width.
"""

from __future__ import annotations

import json
import numbers
import os
import re
import tempfile
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "IMAGE_FORMATS",
    "PNG_TEXT_KEYS",
    "UNCHECKED",
    "atomic_write",
    "glue_texts",
    "glue_values",
    "save_data",
    "save_figure",
    "save_values",
    "smallest_text",
]

#: Subfolder of a chapter's output folder for data that ``book check`` does not compare.
UNCHECKED = "unchecked"

#: Image formats :func:`save_figure` can write, with the metadata that is blanked for
#: reproducible bytes.
IMAGE_FORMATS: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}

#: tEXt keys of the PNGs :func:`save_figure` writes: the smallest font size (points) of any text
#: the figure draws, that text (at most 60 characters), the figure's width (inches) and the
#: file's resolution (pixels per inch). A figure without text has only the last two.
PNG_TEXT_KEYS = {
    "smallest_pt": "plateau:smallest-text-pt",
    "smallest_text": "plateau:smallest-text",
    "width_in": "plateau:figure-width-in",
    "dpi": "plateau:dpi",
}


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of new files: what ``open()`` would give (mkstemp alone would give 0600).
_FILE_MODE = 0o666 & ~_read_umask()

#: The PNG :func:`save_figure` last wrote for each live figure (read by :func:`glue_figure`).
_SAVED_PNG: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Write a file atomically: ``write(fileobj)`` fills a temporary file, then it replaces ``path``.

    The temporary file lives in the destination folder (same file system, so
    ``os.replace`` is atomic) and is removed if ``write`` raises or the run is
    interrupted. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"name must be a file stem of letters, digits, '_' or '-' (no folders, no suffix), got {name!r}"
        )
    return name


def _check_figure(fig: Any) -> Any:
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    return fig


def _check_arrays(arrays: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    if not arrays:
        raise ValueError("pass the arrays the figure plots as keyword arguments (e.g. step=..., loss=...)")
    out = {}
    for key, value in arrays.items():
        if not _KEY.match(key):
            raise ValueError(f"array name must be a Python identifier, got {key!r}")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufcUS":
            raise TypeError(
                f"array {key!r} must hold numbers, booleans or strings (no objects), got dtype {arr.dtype}"
            )
        out[key] = arr
    return out


def save_data(name: str, output_dir: str | os.PathLike[str], /, **arrays: ArrayLike) -> Path:
    """Save named arrays to ``output_dir/name.npz`` (uncompressed, no pickles), atomically.

    Returns the path written. Array names must be identifiers; object arrays are refused
    so the file loads with ``allow_pickle=False``.
    """
    name = _check_name(name)
    data = _check_arrays(arrays)
    return atomic_write(Path(output_dir) / f"{name}.npz", lambda fh: np.savez(fh, **data))


def smallest_text(fig: Any) -> tuple[float, str] | None:
    """The smallest font size (points) of any text ``fig`` draws, and that text; ``None`` without text.

    Counted are the texts a draw of the figure actually draws, visible and not blank: titles,
    axis labels, the tick labels in view, legend texts, annotations, colourbar labels, offset
    texts. The figure is drawn without output (:meth:`~matplotlib.figure.Figure.draw_without_rendering`,
    which also runs its layout engine) while :meth:`matplotlib.text.Text.draw` records them, so
    texts of invisible axes or outside the view limits (tick labels a draw would not place) are not
    counted. Of equal sizes the first text drawn is returned.
    """
    from matplotlib.text import Text

    original = Text.draw
    smallest: list[tuple[float, str]] = []

    def recording_draw(self: Text, renderer: Any) -> Any:
        text = self.get_text()
        if self.get_visible() and text.strip() and self.get_figure(root=True) is fig:
            size = float(self.get_fontsize())
            if not smallest or size < smallest[0][0]:
                smallest[:] = [(size, " ".join(text.split()))]
        return original(self, renderer)

    Text.draw = recording_draw
    try:
        fig.draw_without_rendering()
    finally:
        Text.draw = original
    return smallest[0] if smallest else None


def _png_metadata(fig: Any, dpi: float) -> dict[str, str | None]:
    """The PNG metadata :func:`save_figure` writes: no software version, :data:`PNG_TEXT_KEYS`."""
    meta: dict[str, str | None] = dict(IMAGE_FORMATS["png"])
    found = smallest_text(fig)
    if found is not None:
        meta[PNG_TEXT_KEYS["smallest_pt"]] = f"{found[0]:g}"
        meta[PNG_TEXT_KEYS["smallest_text"]] = found[1][:60]
    meta[PNG_TEXT_KEYS["width_in"]] = f"{fig.get_figwidth():g}"
    meta[PNG_TEXT_KEYS["dpi"]] = f"{dpi:g}"
    return meta


def save_figure(
    fig: Any,
    name: str,
    output_dir: str | os.PathLike[str],
    /,
    *,
    formats: tuple[str, ...] = ("png",),
    dpi: int = 150,
    unchecked: Mapping[str, ArrayLike] | None = None,
    **arrays: ArrayLike,
) -> dict[str, Path]:
    """Save a matplotlib figure and the data it plots.

    The PNG records the smallest text the figure draws and its size (:data:`PNG_TEXT_KEYS`;
    :func:`smallest_text`), for the reader's check of ``book browse``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (left open, so the notebook still displays it).
    name : str
        File stem: ``name.png``, ``name.npz`` (letters, digits, ``_``, ``-``).
    output_dir : path
        Folder (created if needed); the chapters' ``output_dir`` parameter.
    formats : tuple of {"png", "svg"}
        Image formats to write.
    dpi : int
        Resolution of raster formats.
    unchecked : mapping of str to array_like, optional
        Arrays the figure draws that amplify round-off (see the module docstring): saved to
        ``UNCHECKED/name.npz``, not compared with the references.
    **arrays : array_like
        The arrays the figure draws, by name (at least one here or in ``unchecked``; any identifier except
        ``formats``, ``dpi`` and ``unchecked``). They are what ``book check`` compares with
        the committed references.

    Returns
    -------
    dict
        ``{"png": Path, ..., "npz": Path}``: every file written (``"npz"`` only with checked
        arrays; ``"unchecked"``: the unchecked data file, if any).
    """
    name, fig = _check_name(name), _check_figure(fig)
    formats = tuple(formats)
    unknown = [f for f in formats if f not in IMAGE_FORMATS]
    if not formats or unknown:
        raise ValueError(f"formats must be a non-empty subset of {tuple(IMAGE_FORMATS)}, got {formats}")
    if not arrays and not unchecked:
        _check_arrays(arrays)  # raises: a figure without its data
    data = _check_arrays(arrays) if arrays else {}
    loose = _check_arrays(unchecked) if unchecked else {}
    out_dir = Path(output_dir)
    paths: dict[str, Path] = {}
    import matplotlib

    # A figure with a layout engine (the book's figures: constrained layout) already fits its
    # canvas; "tight" would draw it once more only to measure it.
    bbox = None if fig.get_layout_engine() is not None else "tight"
    for fmt in formats:
        metadata = _png_metadata(fig, dpi) if fmt == "png" else IMAGE_FORMATS[fmt]
        # a fixed salt makes the SVG element ids, hence the file, reproducible
        with matplotlib.rc_context({"svg.hashsalt": name}):
            paths[fmt] = atomic_write(
                out_dir / f"{name}.{fmt}",
                lambda fh, fmt=fmt, metadata=metadata: fig.savefig(
                    fh, format=fmt, dpi=dpi, bbox_inches=bbox, metadata=metadata
                ),
            )
    if "png" in paths:
        _SAVED_PNG[fig] = paths["png"]
    if data:
        paths["npz"] = atomic_write(out_dir / f"{name}.npz", lambda fh: np.savez(fh, **data))
    if loose:
        paths["unchecked"] = atomic_write(out_dir / UNCHECKED / f"{name}.npz", lambda fh: np.savez(fh, **loose))
    return paths


def _plain(value: object, key: str) -> object:
    """A JSON-ready plain Python value (numpy scalars and arrays converted)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v, key) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    raise TypeError(f"value {key!r} must be a number, bool, string or a list of them, got {type(value).__name__}")


def save_values(name: str, output_dir: str | os.PathLike[str], /, **values: object) -> Path:
    """Save scalars (and lists of scalars) to ``output_dir/name.json``, merging with what is there.

    Numpy scalars become Python numbers. Keys are sorted and the file ends with a newline,
    so it diffs cleanly. Returns the path written.
    """
    name = _check_name(name)
    if not values:
        raise ValueError("pass at least one value as a keyword argument")
    plain = {}
    for key, value in values.items():
        if not _KEY.match(key):
            raise ValueError(f"value name must be a Python identifier, got {key!r}")
        plain[key] = _plain(value, key)
    path = Path(output_dir) / f"{name}.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(plain)
    text = json.dumps(merged, indent=2, sort_keys=True, allow_nan=True) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def glue_values(output_dir: str | os.PathLike[str], /, *, unchecked: bool = False, **values: object) -> Path:
    """Glue numbers for the prose and save them to ``output_dir/values.json`` for ``book check``.

    With ``unchecked=True`` they go to ``UNCHECKED/values.json`` instead, which ``book check``
    does not compare (for numbers that amplify round-off; see the module docstring).

    Inside a notebook each value is glued with ``myst_nb.glue(key, value, display=False)``,
    so the text can quote it as ``{glue:text}`key:.3e```; numpy scalars are converted to
    Python numbers first (numpy 2 prints ``np.float64(0.1)``, which ``glue:text`` cannot
    format). Outside IPython (scripts, tests) the values are only saved.
    Returns the JSON path.
    """
    path = save_values("values", Path(output_dir) / UNCHECKED if unchecked else output_dir, **values)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with myst-nb
        return path
    if get_ipython() is not None:
        from myst_nb import glue

        for key, value in values.items():
            glue(key, _plain(value, key), display=False)
    return path


def glue_texts(output_dir: str | os.PathLike[str], /, *, unchecked: bool = False, **texts: str) -> Path:
    """Glue sentences (Markdown, for ``{glue:md}`key```) and save them to ``output_dir/texts.json``.

    A sentence built from the computation (with its numbers and math) is glued as Markdown, so
    the page renders it; ``book check`` compares the saved text with the references
    (``unchecked=True``: saved to ``UNCHECKED/texts.json`` instead). Returns the JSON path.
    """
    bad = [key for key, text in texts.items() if not isinstance(text, str)]
    if bad:
        raise TypeError(f"texts must be strings; not: {', '.join(bad)}")
    path = save_values("texts", Path(output_dir) / UNCHECKED if unchecked else output_dir, **texts)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with myst-nb
        return path
    if get_ipython() is not None:
        from IPython.display import Markdown
        from myst_nb import glue

        for key, text in texts.items():
            glue(key, Markdown(text), display=False)
    return path


def glue_figure(name: str, fig: Any) -> None:
    """Glue a figure for a ``{glue:figure}`` directive, then close it.

    ``myst_nb.glue(name, ..., display=False)`` records the figure without showing it. If
    :func:`save_figure` wrote a PNG of ``fig``, that file is glued (the page shows exactly the
    saved picture, and the figure is not drawn a second time); otherwise the figure itself.
    Closing it afterwards keeps matplotlib's inline backend from also showing it at the end of
    the cell, which would put the figure on the page twice (once in the cell's output, once
    where the prose places it).
    """
    name, fig = _check_name(name), _check_figure(fig)
    import matplotlib.pyplot as plt
    from IPython.display import Image
    from myst_nb import glue

    png = _SAVED_PNG.pop(fig, None)
    glue(name, Image(filename=str(png)) if png is not None and png.is_file() else fig, display=False)
    plt.close(fig)
