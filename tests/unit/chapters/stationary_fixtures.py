"""What Chapter 3's study tests share (imported by name): a small catalogue's settings, a placeholder catalogue
row, a stationary point shown cell by cell."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from plateau_lib.chapters.stationary_catalogue import CatalogueRow, CatalogueSettings
from plateau_lib.chapters.stationary_cells import CellExample
from plateau_lib.network import ShallowReLU
from plateau_lib.stationarity import pattern_cells

#: Two widths, two seeds, 6000 steps: a catalogue small enough for unit tests.
SMALL = CatalogueSettings(widths=(3, 5), seeds=2, quick_seeds=2, steps=6_000, quick_steps=6_000)


def stub_row(width: int, polished: bool, n_cells: int) -> CatalogueRow:
    """A catalogue row with only ``width``, ``polished`` and ``n_cells`` meaningful (the rest placeholder)."""
    nan = float("nan")
    return CatalogueRow(width=width, seed=0, nit=1, converged=polished, grad_norm=0.0, loss=1.0, lstar=1.0,
                        rel_gap=0.0, gap_bound=0.0, n_significant=1, last_change=0, late_changes=0, min_margin=1.0,
                        polished=polished, polished_loss=1.0, polished_stationarity=0.0, stationarity_cs=0.0,
                        polished_stationarity_cs=0.0, pattern_flips=0,
                        lower_bound=nan, n_cells=n_cells if polished else -1, n_determined=0, n_outside=0,
                        n_shared=0, determined_deviation=nan, undetermined_deviation=nan, rule_agrees=True)


def example_of(net: ShallowReLU, X: np.ndarray, y: np.ndarray, title: str = "t") -> CellExample:
    """The cells of ``net`` on its neurons with c_j != 0, as the chapter shows them."""
    S = [int(j) for j in np.flatnonzero(net.c != 0)]
    return CellExample(title, net, tuple(S), tuple(pattern_cells(net, X, y, S)), X, y)


def checked_rows() -> list[CatalogueRow]:
    """Two rows for the checks over rows: one polished (scores 1e-12 and 1e-8 at gradient descent's end, a
    determined cell off by 1e-13), one rejected whose numbers (0.5) no check may take."""
    return [replace(stub_row(3, True, 2), polished_stationarity_cs=1e-12, stationarity_cs=1e-8, n_determined=1,
                    determined_deviation=1e-13),
            replace(stub_row(3, False, 1), polished_stationarity_cs=0.5, stationarity_cs=0.5, n_determined=1,
                    determined_deviation=0.5)]
