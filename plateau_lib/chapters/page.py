"""Printed lines of the chapters: short, readable at the book's column width, never an object's repr.

The chapters print what they measured so a reader can see it beside the code. A dataclass repr
(``TrainResult(method='gd', nit=20000, ...)``) runs past the column and reads as debugging
output; these helpers give one short line instead, with numbers rounded to what the text uses.

Beside them, what the chapters' page helpers share: the words of their sentences
(:func:`plural`, :func:`share`, :func:`join_words`, :func:`relation`), the check of a mapping's
keys (:func:`require_keys`), :class:`FigureData`, the arrays a figure draws as they are saved,
:class:`DrawnFigure`, a figure with those arrays, and :func:`rows_to_arrays`, the columns of a list
of dataclass rows as arrays to save beside a figure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..result import TrainResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DrawnFigure", "FigureData", "fields_line", "join_words", "number", "plural", "relation", "require_keys",
           "rows_to_arrays", "run_line", "share"]


def number(value: Any, digits: int = 4) -> str:
    """``value`` for a printed line: integers as they are, floats to ``digits`` significant digits.

    ``None`` (a quantity that was never reached) prints as ``"never"``, not as ``None``.
    """
    if value is None:
        return "never"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        v = float(value)
        return "inf" if math.isinf(v) else f"{v:.{digits}g}"
    if isinstance(value, tuple | list) and len(value) <= 8:
        return "(" + ", ".join(number(v, digits) for v in value) + ")"
    return str(value)


def fields_line(obj: Any, fields: Iterable[str] | None = None, *, digits: int = 4) -> str:
    """``name: field value, field value, ...`` for a dataclass ``obj`` (its fields, or ``fields``).

    Raises ``TypeError`` when ``obj`` is not a dataclass instance.
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"obj must be a dataclass instance, got {type(obj).__name__}")
    names = list(fields) if fields is not None else [f.name for f in dataclasses.fields(obj)]
    parts = [f"{n.replace('_', ' ')} {number(getattr(obj, n), digits)}" for n in names]
    return ", ".join(parts)


def run_line(result: TrainResult, label: str | None = None) -> str:
    """One line for a training run: method, iterations, final loss, pattern changes, time and status.

    ``"gd: 20000 steps, final loss 0.001685, 2428 pattern changes, 0.90 s, budget"``; the unit of
    an iteration is the method's (steps, sweeps, integrator steps, neurons).
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    unit = {"anls": "sweeps", "oga": "neurons", "flow": "integrator steps"}.get(result.method, "steps")
    head = f"{label}: " if label is not None else f"{result.method}: "
    return (f"{head}{result.nit} {unit}, final loss {result.final_loss:.4g}, "
            f"{len(result.pattern_changes)} pattern changes, {result.wall_time:.2f} s, {result.status}")


# --------------------------------------------------------------------------- the words of the sentences


def relation(a: float, b: float) -> str:
    """``a`` against ``b`` in words: ``"below"``, ``"above"`` or ``"equal to"``."""
    return "below" if a < b else ("above" if a > b else "equal to")


def plural(k: int, what: str) -> str:
    """``"1 sweep"``, ``"3 sweeps"``."""
    return f"{k} {what}" if k == 1 else f"{k} {what}s"


def share(k: int, n: int, what: str = "seeds") -> str:
    """``"all 10 seeds"`` if ``k == n``, else ``"7 of the 10 seeds"``."""
    return f"all {n} {what}" if k == n else f"{k} of the {n} {what}"


def join_words(items: Sequence[str]) -> str:
    """``"a, b and c"``."""
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def require_keys(mapping: Mapping[str, Any], keys: Sequence[str], name: str) -> None:
    """Raise ``ValueError`` naming ``name`` and the missing keys unless ``mapping`` has every one of ``keys``."""
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{name} must have the keys {', '.join(keys)}; missing: {', '.join(missing)}")


@dataclass(frozen=True)
class FigureData:
    """The arrays a figure draws, as :func:`~plateau_lib.figures.save_figure` saves them.

    Attributes
    ----------
    arrays : dict of str to array
        Compared with the references by ``book check``.
    unchecked : dict of str to array
        Saved for the reader, not compared (they amplify round-off).
    timing : dict of str to array
        Data with wall-clock times (:func:`~plateau_lib.figures.save_data` to the unchecked folder).
    """

    arrays: dict[str, Any] = field(default_factory=dict)
    unchecked: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class DrawnFigure:
    """A figure of a chapter and the arrays it draws, for :func:`~plateau_lib.figures.save_figure`.

    Attributes
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    data : dict of str to ndarray
        Arrays compared with the committed references (``save_figure(fig, name, dir, **data)``).
    unchecked : dict of str to ndarray
        Arrays that amplify round-off (the gradient flow's): saved, not compared
        (``save_figure(..., unchecked=unchecked)``).
    """

    fig: Figure
    data: dict[str, NDArray] = field(default_factory=dict)
    unchecked: dict[str, NDArray] = field(default_factory=dict)


def rows_to_arrays(rows: Sequence) -> dict[str, NDArray]:
    """Columns of a list of dataclass rows as arrays (for saving beside a figure)."""
    if not rows:
        return {}
    names = [f.name for f in dataclasses.fields(rows[0])]
    return {name: np.array([dataclasses.asdict(r)[name] for r in rows]) for name in names}
