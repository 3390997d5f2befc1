"""Markdown tables of the chapters' pages."""

from __future__ import annotations

import pytest

from plateau_lib.chapters.tables import markdown_table


def test_markdown_table_lines():
    text = markdown_table(["a", "b"], "lr", [[1, "x"], (2.5, "")])
    assert text.splitlines() == ["| a | b |", "|---|---:|", "| 1 | x |", "| 2.5 |  |"]
    assert markdown_table(["a"], ["l"], []) == "| a |\n|---|"


@pytest.mark.parametrize(("align", "rows", "match"), [("l", [[1, 2]], "align"), ("lc", [[1, 2]], "align"),
                                                     ("ll", [[1]], "row 0 has 1 cells")])
def test_markdown_table_rejects_mismatches(align, rows, match):
    with pytest.raises(ValueError, match=match):
        markdown_table(["a", "b"], align, rows)
