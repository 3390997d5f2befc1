"""The maintenance tools under tools/: the mutation score's classification and the dependency matrix's report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import dependency_matrix  # noqa: E402
import mutation_score  # noqa: E402

MUTANTS = '''
def f__mutmut_orig(x):
    if x < 0:
        raise ValueError(f"x must be >= 0, got {x}")
    return x + 1

def f__mutmut_1(x):
    if x <= 0:
        raise ValueError(f"x must be >= 0, got {x}")
    return x + 1

def f__mutmut_2(x):
    if x < 0:
        raise ValueError(None)
    return x + 1

def f__mutmut_3(x):
    if x < 0:
        raise ValueError("XXx must be >= 0XX")
    return x + 1

def f__mutmut_4(x):
    if x < 0:
        raise ValueError(f"x must be >= 0, got {x}")
    return x - 1
'''


def test_only_mutants_that_change_nothing_but_strings_are_message_mutants():
    # mutant 2 replaces the message by None: that changes the code, not only a string
    assert mutation_score.message_mutants(MUTANTS) == {"f__mutmut_3"}


def test_the_score_counts_code_mutants_and_reports_message_mutants_apart(tmp_path):
    folder = tmp_path / "mutants" / "pkg"
    folder.mkdir(parents=True)
    (folder / "mod.py").write_text(MUTANTS)
    codes = {"pkg.mod.f__mutmut_1": 1, "pkg.mod.f__mutmut_2": 0, "pkg.mod.f__mutmut_3": 0, "pkg.mod.f__mutmut_4": None}
    (folder / "mod.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    results = mutation_score.scores(tmp_path / "mutants")
    assert results == {"pkg/mod.py": Counter({("code", "killed"): 1, ("code", "survived"): 1,
                                              ("code", "unchecked"): 1, ("message", "survived"): 1})}
    lines = mutation_score.table(results).splitlines()
    assert lines[2] == "| pkg/mod.py | 1 | 1 | 50% | 1 | 0 of 1 |"
    assert lines[3] == "| all | 1 | 1 | 50% | 1 | 0 of 1 |"


def test_mutation_score_without_results_is_one_line_exit_2(tmp_path):
    script = ROOT / "tools" / "mutation_score.py"
    proc = subprocess.run([sys.executable, str(script), "--mutants", str(tmp_path / "no")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "run `mutmut run` first" in proc.stderr


def test_the_matrix_pins_the_test_tools_from_the_lock_and_reports_each_variant():
    pins = dependency_matrix.pinned(("pytest", "hypothesis"))
    lock = (ROOT / "constraints.txt").read_text().splitlines()
    assert all(pin in lock for pin in pins) and [p.split("==")[0] for p in pins] == ["pytest", "hypothesis"]
    with pytest.raises(SystemExit, match="no-such-package"):
        dependency_matrix.pinned(("no-such-package",))
    old = dependency_matrix.Outcome(dependency_matrix.VARIANTS["oldest"], {"python": "3.11.7", "numpy": "2.0.0"},
                              {"install": "pass", "unit tests": "FAIL (12 s)"})
    new = dependency_matrix.Outcome(dependency_matrix.VARIANTS["newest"], steps={"install": "FAIL"})
    rows = dependency_matrix.report([old, new]).splitlines()
    assert rows[0] == "| | oldest | newest |"
    assert "| numpy | 2.0.0 | ? |" in rows and "| python | 3.11.7 | ? |" in rows
    assert "| **unit tests** | FAIL (12 s) | not run |" in rows and "| **install** | pass | FAIL |" in rows


def test_the_matrix_rejects_a_bad_job_count_in_one_line():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "dependency_matrix.py"), "--jobs", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1].endswith("--jobs must be >= 1, got 0")
