"""How an executed chapter presents its run on the page: one parameters cell, and a banner
when the run is not the published book's (quick mode, or another seed).

Papermill injects the runner's values in a cell of its own below the chapter's
``parameters`` cell. Shown on the page, the two cells would state the parameters twice (and
the committed cell the defaults, not what ran), so the injected cell is removed from the
page and, when the run differs from the published setting (full budgets,
:data:`~plateau_lib.book.paths.DEFAULT_SEED`), an admonition below the title says how the
page was executed. The executed code is untouched: only cell tags and one markdown cell.
"""

from __future__ import annotations

from typing import Any

from .paths import DEFAULT_SEED

__all__ = ["BANNER_TAG", "present_run", "run_banner"]

#: Tag of the banner cell (so a second pass replaces it instead of adding another).
BANNER_TAG = "run-banner"
_INJECTED = "injected-parameters"
_REMOVE = "remove-cell"


def run_banner(quick: bool, seed: int) -> str | None:
    """The MyST admonition for a run in ``quick`` mode or with a ``seed`` other than the default.

    ``None`` for the published setting (full budgets, the default seed).
    """
    if not quick and seed == DEFAULT_SEED:
        return None
    if quick:
        body = (f"This page was executed in **quick mode** with seed {seed}: small budgets and fewer "
                "seeds, the smoke test of continuous integration. Its numbers and figures come from that "
                "run; rates over seeds are measured on fewer runs than in the full book, and the checks "
                "assert only what must hold on every run.")
        kind = "attention"
    else:
        body = (f"This page was executed with seed {seed} (the published book uses seed {DEFAULT_SEED}): "
                "every number and figure below comes from that run.")
        kind = "note"
    return f":::{{{kind}}} How this page was executed\n{body}\n:::\n"


def present_run(notebook: dict[str, Any], *, quick: bool, seed: int) -> dict[str, Any]:
    """Tag papermill's injected cell ``remove-cell`` and put :func:`run_banner` below the title.

    ``notebook`` is an executed notebook as parsed JSON; it is changed in place and returned.
    The banner goes after the first markdown cell (the chapter's title); an earlier banner
    (tag :data:`BANNER_TAG`) is replaced.
    """
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise ValueError("notebook must be a parsed notebook with a list of cells")
    for cell in cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if _INJECTED in tags and _REMOVE not in tags:
            tags.append(_REMOVE)
    cells[:] = [c for c in cells if BANNER_TAG not in c["metadata"].get("tags", [])]
    text = run_banner(bool(quick), int(seed))
    if text is not None:
        title = next((k for k, c in enumerate(cells) if c.get("cell_type") == "markdown"), -1)
        banner = {"cell_type": "markdown", "id": BANNER_TAG, "metadata": {"tags": [BANNER_TAG]},
                  "source": text.splitlines(keepends=True)}
        cells.insert(title + 1, banner)
    return notebook
