"""What a test needs from the machine, and the one rule for when it is missing.

Where the environment variable `CI` is set (`.ci/run` sets it), a missing tool fails the test,
naming the tool and what installs it: CI must not go green by skipping what it was meant to
run. Anywhere else the test is skipped with the same sentence, so a laptop without Chromium or
root still runs everything else.

The lanes (`server`, `mqtt`, `browser`, `netns` markers; tests/conftest.py applies them) are
checked here before a test starts; tests and fixtures that need a single program call
`program()`.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

CI_ENV = "CI"
SETUP = "tools/setup installs it"
SBIN = "/usr/sbin:/sbin"


def in_ci() -> bool:
    return bool(os.environ.get(CI_ENV))


def missing(what: str) -> NoReturn:
    """Fail (in CI) or skip (elsewhere) the running test because `what` is missing."""
    if in_ci():
        pytest.fail(f"{what} (this is CI: a missing tool fails the test)", pytrace=False)
    pytest.skip(what)


def find(name: str) -> str | None:
    """A program's path; also looks in the sbin directories a user's PATH may lack."""
    return shutil.which(name) or shutil.which(name, path=SBIN)


def program(name: str, *, package: str | None = None) -> str:
    """The path of program `name`, or `missing()` naming it (and its Debian package)."""
    found = find(name)
    if found is None:
        from_package = f" (Debian package {package})" if package else ""
        missing(f"{name} is not installed{from_package}: {SETUP}")
    return found


def root(why: str) -> None:
    """`missing()` unless this process is root; `why` says what needs it."""
    if os.geteuid() != 0:
        missing(f"needs root: {why}")
