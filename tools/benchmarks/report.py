"""Rows of the result table: ours | official | ratio | target, and how to print them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Check = Callable[[float, float | None], bool]
"""(ours, official) -> target met."""


@dataclass(frozen=True, slots=True)
class Target:
    text: str
    check: Check


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    metric: str
    unit: str
    ours: float | None
    official: float | None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.official:
            return None
        return self.ours / self.official

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.ours is None:
            return None
        return self.target.check(self.ours, self.official)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "metric": self.metric,
            "unit": self.unit,
            "ours": self.ours,
            "official": self.official,
            "ratio": self.ratio,
            "target": self.target.text if self.target else None,
            "passed": self.passed,
            "note": self.note,
        }


def at_most(limit: float, *, times_official: float | None = None, plus: float = 0.0) -> Target:
    """ours ≤ limit, and (when given) ours ≤ times_official x official + plus."""
    text = f"≤ {limit:g}"
    if times_official is not None:
        text += f", ≤ {times_official:g}xoff" + (f"+{plus:g}" if plus else "")

    def check(ours: float, official: float | None) -> bool:
        if ours > limit:
            return False
        if times_official is None:
            return True
        return official is not None and ours <= times_official * official + plus

    return Target(text, check)


def at_least(limit: float, *, times_official: float | None = None) -> Target:
    text = f"≥ {limit:g}" + (f", ≥ {times_official:g}xoff" if times_official else "")

    def check(ours: float, official: float | None) -> bool:
        if ours < limit:
            return False
        if times_official is None:
            return True
        return official is not None and ours >= times_official * official

    return Target(text, check)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(values_ns: Iterable[int]) -> list[float]:
    return [v / 1e6 for v in values_ns]


def render(
    rows: Sequence[Row], skipped: Sequence[tuple[str, str]], *, official: str = "official"
) -> str:
    """The table as text, then the scenarios not measured with their reasons."""
    header = ("scenario", "metric", "ours", official, "ratio", "target", "")
    lines = [header]
    for row in rows:
        verdict = {True: "pass", False: "FAIL", None: ""}[row.passed]
        lines.append(
            (
                row.scenario,
                f"{row.metric} ({row.unit})" if row.unit else row.metric,
                _num(row.ours),
                _num(row.official),
                "" if row.ratio is None else f"{row.ratio:.2f}",
                row.target.text if row.target else "",
                verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = [
            cell.ljust(w) if i < 2 or i >= 5 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append(" | ".join(cells).rstrip())
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    notes = [f"  {row.scenario} {row.metric}: {row.note}" for row in rows if row.note]
    if notes:
        out += ["", "notes:", *notes]
    if skipped:
        out += ["", "not measured yet:", *(f"  {name}: {why}" for name, why in skipped)]
    return "\n".join(out)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
