"""Version policy: declared ranges in pyproject.toml, one tested point of them in constraints.txt.

tools/install and tools/setup install through constraints.txt, so what these tests hold is
what a board gets: every package our code imports is declared with a range, every pin lies
inside its range, and the tests run against the pinned versions.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
RUNTIME = {str(canonicalize_name(r.name)): r for r in map(Requirement, PROJECT["dependencies"])}
EXTRAS = PROJECT["optional-dependencies"]
PI = {str(canonicalize_name(r.name)): r for r in map(Requirement, EXTRAS["pi"])}


def pins() -> dict[str, Version]:
    found = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"constraints.txt: {line!r} is not an exact pin"
            found[str(canonicalize_name(requirement.name))] = Version(spec.version)
    return found


# What edge/ imports from third parties at run time (the board's apt packages aside).
IMPORTED = ["aiortc", "aioice", "av", "aiohttp", "livekit-protocol", "livekit-api", "msgpack"]
IMPORTED += ["paho-mqtt", "gpiozero"]


@pytest.mark.parametrize("name", IMPORTED)
def test_every_imported_library_is_declared_with_a_bounded_range(name: str) -> None:
    requirement = RUNTIME.get(name)
    assert requirement is not None, f"{name} is imported by edge/ but not declared"
    operators = {spec.operator for spec in requirement.specifier}
    assert ">=" in operators, f"{requirement}: no lower bound"
    assert "<" in operators or "<=" in operators, f"{requirement}: no upper bound"


def test_every_declared_range_holds_its_pin() -> None:
    pinned = pins()
    for name, requirement in {**RUNTIME, **PI}.items():
        assert name in pinned, f"{name} is declared but not pinned in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, outside {requirement}"
        )


def test_the_ranges_need_what_our_private_name_use_needs() -> None:
    # ice.py reads aioice's `_closing` (0.12+); gpiozero 2.0.1.post1/.post2 fail on a Pi 5.
    assert not RUNTIME["aioice"].specifier.contains("0.11.0")
    for broken in ("2.0.1.post1", "2.0.1.post2"):
        assert not RUNTIME["gpiozero"].specifier.contains(broken)
    assert RUNTIME["gpiozero"].specifier.contains("2.0.1.post3")


def test_the_official_sdk_stays_out_of_the_runtime_dependencies() -> None:
    # It ships platform wheels only for some systems; a board never needs it.
    assert "livekit" not in RUNTIME


def test_the_tests_run_against_the_pinned_versions() -> None:
    pinned = pins()
    for name in RUNTIME:
        installed = Version(importlib.metadata.version(name))
        assert installed == pinned[name], (
            f"{name} {installed} is installed, constraints.txt pins {pinned[name]}: run tools/setup"
        )
