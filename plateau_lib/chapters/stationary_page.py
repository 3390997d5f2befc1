r"""Chapter 3's page of the catalogues: their tables, the sentence on widths, the numbers the prose quotes.

Of the rows of :func:`~plateau_lib.chapters.stationary_catalogue.stationary_catalogue`: one line
per width (:func:`catalogue_table`), one per kind of stationary point (:func:`stationary_kinds`,
:func:`kinds_table`), at which widths runs reached points of more than one cell
(:func:`describe_widths`), and the glued numbers (:func:`catalogue_values`,
:func:`catalogue_2d_values`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..experiments import get_experiment
from .page import rows_to_arrays
from .stationary_catalogue import LATE_FRACTION, CatalogueRow, CatalogueSettings
from .tables import markdown_table


def describe_widths(rows: Sequence[CatalogueRow], widths: Sequence[int]) -> str:
    """A sentence (Markdown): at which widths runs reached stationary points with more than one cell.

    Then, for the largest width, how its runs ended: at a stationary point with more than one
    cell, at a one-cell stationary point, or with the polish rejected (counts of its runs).
    """
    rows, widths = list(rows), [int(w) for w in widths]
    if not widths:
        raise ValueError("widths must not be empty")
    multi = [w for w in widths if any(r.polished and r.n_cells > 1 and r.width == w for r in rows)]
    if not multi:
        text = "No run reached a stationary point with more than one cell"
    else:
        only = "only " if len(multi) < len(widths) else ""
        which = f"width{'s' if len(multi) > 1 else ''} {', '.join(map(str, multi))}"
        text = f"Stationary points with more than one cell were reached {only}at {which}"
    last = [r for r in rows if r.width == widths[-1]]
    n_multi = sum(r.polished and r.n_cells > 1 for r in last)
    n_one = sum(r.polished and r.n_cells <= 1 for r in last)
    n_rej = sum(not r.polished for r in last)
    if n_multi == 0:
        return (f"{text}; at width {widths[-1]} every run either stops at a one-cell stationary point "
                f"({n_one} of {len(last)}) or ends with its polish rejected ({n_rej} of {len(last)}).")
    return (f"{text}; at width {widths[-1]}, {n_multi} of {len(last)} runs reach one with more than one cell, "
            f"{n_one} stop at a one-cell stationary point and {n_rej} end with the polish rejected.")


def catalogue_table(rows: Sequence[CatalogueRow], widths: Sequence[int]) -> str:
    """A Markdown table of a 1-D catalogue, one line per width.

    Runs, converged runs, polished runs, the distinct stationary levels, the lowest final loss of
    any run, the segmentation lower bound and the two ratios to it (``(bound 0)`` when the bound
    is zero up to round-off).
    """
    cols = rows_to_arrays(rows)
    if not cols:
        raise ValueError("rows must not be empty")
    conv, pol = cols["converged"], cols["polished"]
    header = ["width $n$", "runs", "converged", "stationary (polished)", "stationary levels $L^*$",
              "lowest final loss, any run", "lower bound ($n+1$ pieces)", "lowest level / bound", "lowest loss / bound"]
    lines = []
    for w in widths:
        sel = cols["width"] == w
        levels = sorted({round(v, 6) for v in cols["polished_loss"][sel & pol]})
        lowest = float(np.min(np.where(pol, cols["polished_loss"], cols["loss"])[sel]))
        lb = float(cols["lower_bound"][sel][0])
        ratios = [f"{v / lb:.0f}" if lb > 1e-12 else "(bound 0)" for v in (min(levels, default=np.nan), lowest)]
        cells = [w, sel.sum(), (conv & sel).sum(), (pol & sel).sum(), ", ".join(f"{v:.4g}" for v in levels) or "-",
                 f"{lowest:.3e}", f"{lb:.2e}", *ratios]
        lines.append(["-" if str(c) == "nan" else c for c in cells])
    return markdown_table(header, "l" * 9, lines)


def stationary_kinds(rows: Iterable[CatalogueRow]) -> dict[tuple, list[CatalogueRow]]:
    """The polished runs grouped by kind of stationary point.

    A kind is ``(width, polished loss to 8 decimals, n_cells, n_determined, n_outside, n_shared)``;
    kinds in order of first appearance.
    """
    kinds: dict[tuple, list[CatalogueRow]] = {}
    for r in rows:
        if r.polished:
            key = (r.width, round(r.polished_loss, 8), r.n_cells, r.n_determined, r.n_outside, r.n_shared)
            kinds.setdefault(key, []).append(r)
    return kinds


def kinds_table(rows: Iterable[CatalogueRow]) -> str:
    """A Markdown table of the kinds of stationary point of a catalogue (:func:`stationary_kinds`).

    One line per kind: the seeds that reached it, its cells, and the largest deviation on a
    determined cell and the smallest on an undetermined one (relative to :math:`\\max|y|`).
    """
    header = ["width $n$", "seeds", "loss $= L^*$", "cells", "determined", "outside every active set",
              "shared, undetermined", "largest deviation, determined", "smallest deviation, undetermined"]
    lines = []
    for (w, level, n_cells, n_det, n_out, n_sh), rs in stationary_kinds(rows).items():
        det = max(r.determined_deviation for r in rs)
        und = min(r.undetermined_deviation for r in rs)
        cells = [w, ", ".join(str(r.seed) for r in rs), f"{level:.5f}", n_cells, n_det, n_out, n_sh,
                 f"{det:.1e}", f"{und:.1e}"]
        lines.append([str(c).replace("nan", "-") for c in cells])
    return markdown_table(header, "l" * 9, lines)



def _bound_ratios(rows: Sequence[CatalogueRow], widths: Sequence[int]) -> dict[str, object]:
    """The largest width whose lowest stationary level and bound are positive, and the two ratios there."""
    lowest = {w: min((r.polished_loss for r in rows if r.polished and r.width == w), default=np.nan) for w in widths}
    bound = {w: next((r.lower_bound for r in rows if r.width == w), np.nan) for w in widths}
    width = max((w for w in widths if np.isfinite(lowest[w]) and bound[w] > 1e-12), default=widths[0])
    any_run = min(min(r.loss, r.polished_loss if r.polished else np.inf) for r in rows if r.width == width)
    return {"ratio_width": width, "ratio_value": lowest[width] / bound[width], "ratio_any": any_run / bound[width]}


def catalogue_values(
    rows: Sequence[CatalogueRow], settings: CatalogueSettings, *, quick: bool, show_width: int
) -> dict[str, object]:
    """The numbers the prose quotes about a 1-D catalogue: how its runs ended, and the bound.

    ``show_width`` is the width of the showcased run (how many catalogue runs of that width
    reached a stationary point is quoted beside it).

    Raises
    ------
    ValueError
        If ``rows`` has no converged run or no polished run (the prose quotes both).
    """
    rows = list(rows)
    converged = [r for r in rows if r.converged]
    if not converged or not any(r.polished for r in rows):
        raise ValueError("rows must include a converged run and a polished run")
    cols = rows_to_arrays(rows)
    pol = cols["polished"]
    rejected = [r for r in rows if not r.polished]
    sliding = [r for r in rejected if r.late_changes > 0]
    unconv_pol = [r for r in rows if r.polished and not r.converged]
    X, _ = get_experiment(settings.experiment).data()
    return {
        "late_fraction": LATE_FRACTION, "loss_rtol": settings.loss_rtol,
        "pol_show_width": int(pol[cols["width"] == show_width].sum()),
        "widths": ", ".join(map(str, settings.widths)), "n_seeds": settings.n_seeds(quick),
        "budget": settings.budget(quick), "gtol": settings.gtol,
        "max_bound": max(r.gap_bound / r.lstar for r in converged),
        "n_conv": int(cols["converged"].sum()), "max_gap_conv": max(abs(r.rel_gap) for r in converged),
        "n_unconv_pol": len(unconv_pol), "max_gap_unconv_pol": max((r.rel_gap for r in unconv_pol), default=0.0),
        "n_rejected": len(rejected),
        "median_flips": int(np.median([r.pattern_flips for r in rejected])) if rejected else 0,
        "n_conv_pol": sum(r.polished for r in converged),
        "n_sliding": len(sliding), "n_moving": len(rejected) - len(sliding),
        "max_margin_sliding": max((r.min_margin for r in sliding), default=np.nan),
        "min_margin_polished": min(r.min_margin for r in rows if r.polished),
        "spacing": float(np.diff(np.sort(X[:, 0])).min()),
        "max_gap_sliding": max((r.rel_gap for r in sliding), default=np.nan),
        "max_width": settings.widths[-1],
        "pol_max_width": int(pol[cols["width"] == settings.widths[-1]].sum()),
        **_bound_ratios(rows, settings.widths),
    }


def catalogue_2d_values(rows: Sequence[CatalogueRow], settings: CatalogueSettings, *, quick: bool) -> dict[str, object]:
    """The numbers the prose quotes about a 2-D catalogue: its settings and how its runs ended."""
    rows = list(rows)
    if not rows:
        raise ValueError("rows must not be empty")
    pol = rows_to_arrays(rows)["polished"]
    sliding = [r for r in rows if not r.polished and r.late_changes > 0]
    return {
        "m2": get_experiment(settings.experiment).m, "widths2": ", ".join(map(str, settings.widths)),
        "n_seeds2": settings.n_seeds(quick), "n_runs2": len(rows), "n_pol2": int(pol.sum()),
        "n_rej2": int((~pol).sum()), "n_sliding2": len(sliding),
        "max_margin_sliding2": max((r.min_margin for r in sliding), default=np.nan),
    }


__all__ = [
    "catalogue_2d_values",
    "catalogue_table",
    "catalogue_values",
    "describe_widths",
    "kinds_table",
    "stationary_kinds",
]
