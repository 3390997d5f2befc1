"""Progress bars for long work (tqdm, which papermill already brings)."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(total: int, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar over ``total`` units, silent when ``enabled`` is false."""
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)
