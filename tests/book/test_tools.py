"""The maintenance tools under tools/: the mutation score's classification and the dependency matrix's report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
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


def _many_mutants(root: Path, n: int, killed: set[int]) -> None:
    folder = root / "pkg"
    folder.mkdir(parents=True)
    body = "\n".join(f"def f__mutmut_{k}(x):\n    return x + {k}\n" for k in range(1, n + 1))
    (folder / "mod.py").write_text("def f__mutmut_orig(x):\n    return x\n" + body)
    codes = {f"pkg.mod.f__mutmut_{k}": (1 if k in killed else 0) for k in range(1, n + 1)}
    (folder / "mod.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))


def test_a_sample_is_drawn_by_the_seed_and_only_it_is_scored_with_a_wilson_interval(tmp_path):
    root = tmp_path / "mutants"
    _many_mutants(root, 50, killed=set(range(1, 41)))  # 40 of 50 killed
    sample = mutation_score.draw_sample(root, "pkg/mod.py", 20, seed=3)
    assert len(set(sample)) == 20 and sample == sorted(sample)
    assert sample == mutation_score.draw_sample(root, "pkg/mod.py", 20, seed=3)
    assert sample != mutation_score.draw_sample(root, "pkg/mod.py", 20, seed=4)
    mutation_score.draw_sample(root, "pkg/mod.py", 20, seed=3)
    assert (root / "samples" / "pkg" / "mod.py.txt").read_text().split() == sample
    results = mutation_score.scores(root)["pkg/mod.py"]
    k = sum(int(name.rsplit("_", 1)[1]) <= 40 for name in sample)
    assert results == Counter({("code", "killed"): k, ("code", "survived"): 20 - k, "sample": 20})
    # Wilson's 95% interval, by its formula: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    p, n, z = k / 20, 20, 1.959963984540054
    centre, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = (centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)
    row = mutation_score.table({"pkg/mod.py": results}).splitlines()[2]
    score = f"{k / 20:.0%} (sample of 20; 95%: {low:.0%}-{high:.0%})"
    assert row == f"| pkg/mod.py | {k} | {20 - k} | {score} | 0 | 0 of 0 |"


def test_a_sample_larger_than_the_module_is_refused_in_one_line(tmp_path):
    _many_mutants(tmp_path / "mutants", 5, killed=set())
    script = ROOT / "tools" / "mutation_score.py"
    proc = subprocess.run([sys.executable, str(script), "--mutants", str(tmp_path / "mutants"),
                           "--sample", "pkg/mod.py", "--size", "6"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == "mutation_score: --size must lie in [1, 5] for pkg/mod.py, got 6\n"
    assert not (tmp_path / "mutants" / "samples").exists()


def test_a_sample_naming_mutants_mutmut_no_longer_has_is_refused(tmp_path):
    root = tmp_path / "mutants"
    _many_mutants(root, 10, killed=set())
    sample = mutation_score.draw_sample(root, "pkg/mod.py", 3, seed=0)
    meta = root / "pkg" / "mod.py.meta"
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    del codes[sample[0]]  # the module changed and mutmut regenerated its mutants
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    with pytest.raises(ValueError, match=rf"^the sample of pkg/mod.py names 1 mutant\(s\) .*{sample[0]}"):
        mutation_score.scores(root)


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


def test_the_matrix_rejects_a_bad_worker_count_in_one_line():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "dependency_matrix.py"), "--workers", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1].endswith("--workers must be >= 1, got 0")
