"""The pinned environment is stated once: environment.yml, requirements*.txt and constraints.txt agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalise(name: str) -> str:
    """PEP 503 name normalisation (``Jinja2`` == ``jinja2``, ``sphinx_design`` == ``sphinx-design``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines: list[str], where: str) -> dict[str, str]:
    """``{name: version}`` of ``name==version`` lines; options (``-e``, ``-r``, ``-c``) are skipped.

    Anything else that is not a comment is an error: every requirement must be an exact pin.
    """
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or line.startswith("-"):
            continue
        match = PIN.match(line)
        assert match, f"{where}: {line!r} is not an exact pin (name==version)"
        name = normalise(match.group(1))
        assert name not in pins, f"{where}: {name} pinned twice"
        pins[name] = match.group(3)
    return pins


def requirement_pins(filename: str) -> dict[str, str]:
    return parse_pins((ROOT / filename).read_text().splitlines(), filename)


def environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    return parse_pins([str(item) for item in pip_sections[0]], "environment.yml (pip)")


RUNTIME = requirement_pins("requirements.txt")
DEV = requirement_pins("requirements-dev.txt")
LAB = requirement_pins("requirements-lab.txt")
CONSTRAINTS = requirement_pins("constraints.txt")


def test_runtime_and_dev_pins_do_not_overlap_with_different_versions():
    clash = {k: (RUNTIME[k], DEV[k]) for k in RUNTIME.keys() & DEV.keys() if RUNTIME[k] != DEV[k]}
    assert not clash, f"requirements.txt and requirements-dev.txt disagree: {clash}"


def test_environment_yml_pins_the_run_time_set_at_the_locked_versions():
    actual = environment_pins()
    missing = {k: v for k, v in {**RUNTIME, **LAB}.items() if actual.get(k) != v}
    assert not missing, f"environment.yml lacks (or pins differently) {missing}"
    unlocked = {k: (v, CONSTRAINTS.get(k)) for k, v in actual.items() if CONSTRAINTS.get(k) != v}
    assert not unlocked, f"environment.yml differs from constraints.txt (environment.yml, constraints): {unlocked}"
    tools = {"pytest", "pytest-xdist", "hypothesis", "ruff", "playwright", "uv"} & actual.keys()
    assert not tools, f"environment.yml carries test tools: {sorted(tools)}"


def test_environment_yml_is_closed_under_dependencies():
    """Every run-time dependency of every pinned package is pinned too (read from the installed
    distributions' metadata, markers evaluated here), so Binder and conda get no floating version."""
    from importlib import metadata

    from packaging.requirements import Requirement

    pinned = environment_pins()
    floating = {}
    for name in pinned:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed in this environment (e.g. another platform's dependency)
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            dep = normalise(req.name)
            if dep not in pinned:
                floating.setdefault(name, []).append(dep)
    assert not floating, f"dependencies not pinned in environment.yml: {floating}"


@pytest.mark.parametrize("name", sorted(RUNTIME))
def test_every_runtime_pin_is_in_constraints(name):
    assert name in CONSTRAINTS, f"{name} is pinned in requirements.txt but not in constraints.txt"
    assert CONSTRAINTS[name] == RUNTIME[name], (
        f"{name}: requirements.txt pins {RUNTIME[name]}, constraints.txt {CONSTRAINTS[name]}"
    )


def test_dev_pins_agree_with_constraints():
    differ = {k: (DEV[k], CONSTRAINTS[k]) for k in DEV.keys() & CONSTRAINTS.keys() if DEV[k] != CONSTRAINTS[k]}
    assert not differ, f"requirements-dev.txt and constraints.txt disagree (dev, constraints): {differ}"


def test_environment_python_satisfies_requires_python():
    import tomllib

    from packaging.specifiers import SpecifierSet

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and re.match(r"python\b", d)]
    assert len(pythons) == 1, f"environment.yml must pin python once, found {pythons}"
    version = pythons[0].split("=", 1)[1].lstrip("=")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert version in SpecifierSet(requires), f"environment.yml python={version} but pyproject requires {requires}"


@pytest.mark.parametrize("name", sorted(LAB))
def test_lab_pins_are_in_constraints(name):
    assert CONSTRAINTS.get(name) == LAB[name], f"{name}: requirements-lab.txt and constraints.txt disagree"
