"""Markdown tables for the chapters' pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["markdown_table"]


def markdown_table(header: Sequence[str], align: str | Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown (MyST, GitHub) table: ``| a | b |`` lines under a header and an alignment row.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    align : str or sequence of str
        ``"l"`` (``---``) or ``"r"`` (``---:``) per column; one string of such letters, or a
        sequence of them.
    rows : iterable of sequences
        One sequence of cells per line (formatted with ``str``), as many as ``header``.
    """
    header = [str(h) for h in header]
    align = list(align)
    if len(align) != len(header) or any(a not in ("l", "r") for a in align):
        raise ValueError(f"align must give 'l' or 'r' for each of the {len(header)} columns, got {align!r}")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    for k, row in enumerate(rows):
        cells = [str(c) for c in row]
        if len(cells) != len(header):
            raise ValueError(f"row {k} has {len(cells)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
