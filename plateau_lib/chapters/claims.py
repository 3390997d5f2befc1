"""Claims at a glance: each chapter's verdict on the paper's claims, computed from its own counts.

Every chapter ends by building one :class:`Claim` per claim it examines from the numbers its
checks and studies measured, and glues them (:func:`glue_claims`): a table at the top of the
chapter, and per claim a verdict and its deciding numbers, which the book's first page pastes
into the claims-at-a-glance table (``{glue:md}`explanation.ipynb::claim_C1_verdict:myst```).
Nothing in those tables is typed: a chapter that no longer glues a claim breaks the strict
build, and a chapter whose checks passed cannot report a checked claim as failing
(:func:`require_consistent`).

A verdict is one of three words, decided by counts alone (:func:`verdict`):

- ``holds``: every counted case satisfies the claim;
- ``holds on some runs``: some do, some do not;
- ``does not hold here``: none does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np

__all__ = ["FAILS", "HOLDS", "SOME", "VERDICTS", "Claim", "claims_table", "glue_claims",
           "plain_text", "require_consistent", "verdict"]

HOLDS = "holds"
SOME = "holds on some runs"
FAILS = "does not hold here"
VERDICTS = (HOLDS, SOME, FAILS)


def verdict(held: int | np.integer, of: int | np.integer) -> str:
    """The verdict of a claim that ``held`` of ``of`` counted cases satisfy (``of >= 1``)."""
    for name, value in (("held", held), ("of", of)):
        if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    held, of = int(held), int(of)
    if of < 1 or not 0 <= held <= of:
        raise ValueError(f"need 0 <= held <= of and of >= 1, got held={held}, of={of}")
    return HOLDS if held == of else FAILS if held == 0 else SOME


@dataclass(frozen=True)
class Claim:
    """One claim of the paper as one chapter found it.

    Attributes
    ----------
    key : str
        ``"C1"`` to ``"C5"``.
    name : str
        The claim in a few words.
    verdict : str
        One of :data:`VERDICTS`.
    numbers : str
        The deciding numbers, one short Markdown phrase (MyST: math allowed).
    section : str
        The label of the section that shows it (cited with ``{ref}``).
    checked : bool
        Whether the chapter's checks assert the claim (then the build stops unless it holds).
    """

    key: str
    name: str
    verdict: str
    numbers: str
    section: str
    checked: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not (len(self.key) == 2 and self.key[0] == "C" and self.key[1] in "12345"):
            raise ValueError(f"key must be one of C1-C5, got {self.key!r}")

    @property
    def verdict_md(self) -> str:
        """The verdict in bold (plain Markdown, so it reads the same in the HTML and the PDF)."""
        return f"**{self.verdict}**"


def require_consistent(claims: Sequence[Claim]) -> None:
    """Raise ``AssertionError`` when a claim the chapter's checks assert is not ``holds``.

    The checks stop the build when a checked claim fails, so a checked claim reported otherwise
    means the table and the checks disagree.
    """
    wrong = [c.key for c in claims if c.checked and c.verdict != HOLDS]
    if wrong:
        raise AssertionError(f"claims {wrong} are checked (their checks passed) but not reported as holding")


def claims_table(claims: Sequence[Claim]) -> str:
    """Markdown: claim | verdict | deciding numbers | section, one row per claim."""
    lines = ["| claim | verdict | deciding numbers | where |", "|---|---|---|---|"]
    lines += [f"| {c.key} {c.name} | {c.verdict_md} | {c.numbers} | {{ref}}`{c.section}` |" for c in claims]
    return "\n".join(lines)


def glue_claims(output_dir: str, chapter: str, claims: Sequence[Claim]) -> None:
    """Glue the chapter's claims table (``claims_<chapter>``) and each claim's verdict and numbers.

    Keys: ``claims_<chapter>`` (Markdown), ``claim_<key>_verdict`` and ``claim_<key>_numbers`` (plain
    text, :func:`plain_text`, which other pages can paste).
    """
    from ..figures import glue_texts, glue_values

    require_consistent(claims)
    # Saved apart from the compared texts: every number in them is already compared where it is glued.
    glue_texts(output_dir, unchecked=True, **{f"claims_{chapter}": claims_table(claims)})
    # Other pages paste these (myst-nb pastes another page's values only as plain text).
    values = {}
    for c in claims:
        values[f"claim_{c.key}_verdict"] = c.verdict
        values[f"claim_{c.key}_numbers"] = plain_text(c.numbers)
    glue_values(output_dir, unchecked=True, **values)


def plain_text(markdown: str) -> str:
    """``markdown`` as plain text: inline math without ``$`` and TeX commands, no emphasis or code marks.

    ``"$L^*(D,S)$ to 1e-12; *determined* cells $\\le$ 3"`` becomes
    ``"L*(D,S) to 1e-12; determined cells ≤ 3"``.
    """
    def math(match: re.Match[str]) -> str:
        tex = match.group(1)
        for command, symbol in _SYMBOLS.items():
            tex = tex.replace(command, symbol)
        return re.sub(r"\\[a-zA-Z]+\s*|[{}^$]", "", tex)

    text = re.sub(r"\$([^$]*)\$", math, markdown)
    text = re.sub(r"(?<![\w)])\*(\S[^*]*?)\*", r"\1", text)
    return text.replace("`", "")


#: TeX commands of the claims' numbers and their plain-text symbols.
_SYMBOLS = {"\\le": "≤", "\\ge": "≥", "\\times": "×", "\\alpha": "α", "\\lambda": "λ"}
