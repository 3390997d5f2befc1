"""Builders Chapter 1's study tests share (imported by name): a placeholder plateau row, a seed study of given
rows."""

from __future__ import annotations

from plateau_lib.chapters.explanation_runs import PlateauRow
from plateau_lib.chapters.explanation_seeds import SeedStudy, drop_counts, pattern_counts


def stub_row(seed: int, *, exits: bool = True, drop: float = 3.0, n_sig: int = 2, within: bool = True,
             gap: float = 0.0) -> PlateauRow:
    """A plateau row from step 0 to 10 at level 1 with the given verdicts, drop factor and gap (the rest is
    placeholder)."""
    return PlateauRow(seed=seed, start=0.0, end=10.0, level=1.0, lstar=1.0 - gap, gap=gap, n_significant=n_sig,
                      within=within, within_all=within, coverage=1.0, raw_changes=0, filtered_changes=0,
                      exits=exits, index=0, weighted_changes=0 if within else 1, drop_factor=drop)


def stub_study(name: str, rows: list[PlateauRow], seeds: tuple[int, ...]) -> SeedStudy:
    """The seed study of ``rows`` over ``seeds``, counted as seed_study counts them."""
    return SeedStudy(name, seeds, tuple(rows), drop_counts(rows, seeds), pattern_counts(rows))
