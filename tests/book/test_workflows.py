"""The publishing workflows call the README's commands (they need GitHub and the network, so
CI here cannot run them; this checks what they would run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_readme_commands_are_the_workflows_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    assert _runs(_load("book.yml")["jobs"]["build"]) == ["make book"]
    assert _runs(_load("tests.yml")["jobs"]["test"]) == ["make test"]
    assert _runs(_load("tests.yml")["jobs"]["test-matrix"]) == ["make test-matrix"]
    assert "\ntest-matrix: install\n\t$(BIN)/python tools/dependency_matrix.py\n" in (ROOT / "Makefile").read_text()
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_the_book_is_deployed_from_its_build_on_main_and_weekly():
    wf = _load("book.yml")
    assert wf["on"]["push"]["branches"] == ["main"] and wf["on"]["schedule"]
    upload = [s for s in wf["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert len(upload) == 1 and upload[0]["with"]["path"] == "_build/html"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages")
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["html"]["baseurl"].startswith("https://") and config["html"]["baseurl"].endswith("/")


def test_tests_run_on_pull_requests_and_linkcheck_never_blocks():
    assert "pull_request" in _load("tests.yml")["on"]
    link = _load("linkcheck.yml")
    job = link["jobs"]["linkcheck"]
    assert link["on"]["schedule"] and job["continue-on-error"] is True
    assert any("--builder linkcheck" in run for run in _runs(job))


@pytest.mark.parametrize("name", ["book.yml", "tests.yml", "linkcheck.yml"])
def test_every_job_has_a_time_limit_and_the_pinned_python(name):
    for job in _load(name)["jobs"].values():
        if "steps" in job and any("run" in s for s in job["steps"]):
            assert job["timeout-minutes"] <= 90
            setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
            versions = str(setup[0]["with"]["python-version"]).split() if setup else []
            # the pinned Python, last (the default); the matrix job also sets up the newest
            assert versions and versions[-1] == "3.11"
