"""How an executed chapter presents its run: papermill's cell hidden, a banner off the default."""

from __future__ import annotations

import copy

import pytest

from plateau_lib.book.paths import DEFAULT_SEED
from plateau_lib.book.present import BANNER_TAG, present_run, run_banner


def _notebook() -> dict:
    return {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["quick = False\n"]},
        {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": ["quick = True\n"]},
        {"cell_type": "markdown", "metadata": {}, "source": ["Text\n"]},
    ]}


def test_injected_cell_is_hidden_and_published_setting_has_no_banner():
    nb = present_run(_notebook(), quick=False, seed=DEFAULT_SEED)
    assert [c["metadata"]["tags"] for c in nb["cells"]] == [[], ["parameters"],
                                                           ["injected-parameters", "remove-cell"], []]
    assert run_banner(False, DEFAULT_SEED) is None


@pytest.mark.parametrize(("quick", "seed", "words"), [(True, 0, "quick mode"), (True, 3, "seed 3"),
                                                      (False, 7, "seed 7")])
def test_banner_below_the_title_says_how_the_page_ran(quick, seed, words):
    nb = present_run(_notebook(), quick=quick, seed=seed)
    banner = nb["cells"][1]
    assert banner["cell_type"] == "markdown" and BANNER_TAG in banner["metadata"]["tags"]
    text = "".join(banner["source"])
    assert words in text and text.startswith(":::{") and text.rstrip().endswith(":::")
    assert nb["cells"][0]["source"] == ["# Title\n"] and len(nb["cells"]) == 5


def test_presenting_twice_keeps_one_banner_and_leaves_code_alone():
    nb = _notebook()
    code = copy.deepcopy([c["source"] for c in nb["cells"] if c["cell_type"] == "code"])
    present_run(present_run(nb, quick=True, seed=1), quick=True, seed=2)
    banners = [c for c in nb["cells"] if BANNER_TAG in c["metadata"].get("tags", [])]
    assert len(banners) == 1 and "seed 2" in "".join(banners[0]["source"])
    assert [c["source"] for c in nb["cells"] if c["cell_type"] == "code"] == code
    (injected,) = [c for c in nb["cells"] if "injected-parameters" in c["metadata"]["tags"]]
    assert injected["metadata"]["tags"].count("remove-cell") == 1


def test_present_run_rejects_what_is_not_a_notebook():
    with pytest.raises(ValueError, match="notebook must be"):
        present_run({"cells": None}, quick=True, seed=0)
