"""Findings: one line per check, `ok` / `warn` / `FAIL`, with how to fix what is wrong."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

CHECK_WIDTH = 8
"""Column width of the check name in the report."""


class Level(enum.Enum):
    """How bad a finding is."""

    OK = "ok"
    """Works."""
    WARN = "warn"
    """Works for now, or cannot be judged; worth a look."""
    FAIL = "FAIL"
    """The daemon will not do its job until this is fixed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """The result of one check."""

    check: str
    """Short name of what was checked (`server`, `gpio`, ...)."""
    level: Level
    """ok, warn or FAIL."""
    message: str
    """What was found, in plain words."""
    fix: str = ""
    """What to do about it (warn and FAIL only)."""

    def line(self) -> str:
        """`FAIL  server   cannot connect to ... Fix: ...` on one line."""
        fix = f". Fix: {self.fix}" if self.fix and self.level is not Level.OK else ""
        return f"{self.level.value:<5} {self.check:<{CHECK_WIDTH}} {self.message}{fix}"


def ok(check: str, message: str) -> Finding:
    """A check that passed."""
    return Finding(check=check, level=Level.OK, message=message)


def warn(check: str, message: str, fix: str = "") -> Finding:
    """A check that passed with a reservation."""
    return Finding(check=check, level=Level.WARN, message=message, fix=fix)


def fail(check: str, message: str, fix: str) -> Finding:
    """A check that failed, with what to do about it."""
    return Finding(check=check, level=Level.FAIL, message=message, fix=fix)


def render(findings: Sequence[Finding]) -> str:
    """The report: one line per finding, then a count of each level."""
    counts = {level: sum(f.level is level for f in findings) for level in Level}
    summary = ", ".join(f"{counts[level]} {level.value}" for level in reversed(Level))
    return "".join(f"{f.line()}\n" for f in findings) + f"edge check: {summary}\n"


def failed(findings: Sequence[Finding]) -> bool:
    """Whether any finding is a FAIL."""
    return any(f.level is Level.FAIL for f in findings)
