"""Claims at a glance (plateau_lib.chapters.claims): verdicts from counts, the table, consistency."""

import numpy as np
import pytest

from plateau_lib.chapters.claims import FAILS, HOLDS, SOME, Claim, claims_table, require_consistent, verdict


@pytest.mark.parametrize(("held", "of", "expected"), [(5, 5, HOLDS), (1, 1, HOLDS), (0, 3, FAILS),
                                                      (2, 3, SOME), (np.int64(4), np.int64(7), SOME)])
def test_verdict_is_decided_by_the_counts(held, of, expected):
    assert verdict(held, of) == expected


@pytest.mark.parametrize(("held", "of", "match"), [(1, 0, "of >= 1"), (4, 3, "held <= of"), (-1, 3, "0 <= held")])
def test_verdict_refuses_impossible_counts(held, of, match):
    with pytest.raises(ValueError, match=match):
        verdict(held, of)


@pytest.mark.parametrize("bad", [True, 1.0, "1", None, np.True_])
def test_verdict_refuses_non_integers(bad):
    with pytest.raises(TypeError, match="held must be an integer"):
        verdict(bad, 1)


def test_claim_validates_its_key_and_verdict():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("C1", "plateaus", "mostly", "n", "sec")
    with pytest.raises(ValueError, match="key must be one of C1-C5"):
        Claim("C6", "plateaus", HOLDS, "n", "sec")


def test_table_has_one_row_per_claim_with_its_verdict_numbers_and_section():
    claims = [Claim("C1", "plateaus", HOLDS, "20 of 20 runs", "explanation-seeds"),
              Claim("C2", "constant patterns", SOME, "16 of 16; 10 of 13", "explanation-seeds")]
    lines = claims_table(claims).splitlines()
    assert lines[0] == "| claim | verdict | deciding numbers | where |"
    assert lines[2] == "| C1 plateaus | **holds** | 20 of 20 runs | {ref}`explanation-seeds` |"
    assert lines[3].startswith("| C2 constant patterns | **holds on some runs** | 16 of 16; 10 of 13 |")
    assert len(lines) == 4


def test_a_checked_claim_must_be_reported_as_holding():
    require_consistent([Claim("C1", "plateaus", HOLDS, "n", "s", checked=True),
                        Claim("C2", "patterns", SOME, "n", "s")])
    with pytest.raises(AssertionError, match=r"claims \['C3'\] are checked"):
        require_consistent([Claim("C3", "rates", SOME, "n", "s", checked=True)])


def test_plain_text_keeps_the_words_and_symbols_of_the_markdown():
    from plateau_lib.chapters.claims import plain_text

    text = plain_text("45 runs at $L^*(D,S)$ to 1e-12; every *determined* cell of `plateau_1d` $\\le$ 3")
    assert text == "45 runs at L*(D,S) to 1e-12; every determined cell of plateau_1d ≤ 3"
