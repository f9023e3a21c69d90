"""One module per scenario; each exports `SCENARIO`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..report import Row
from ..session import Pair

Raw = dict[str, Any]
"""What one run of a scenario measured, as it goes into the JSON file."""


@dataclass(frozen=True, slots=True)
class Params:
    runs: int = 2
    """Runs per SDK; the order alternates (edge first, then official first, ...)."""
    telemetry_count: int = 500
    telemetry_hz: float = 50.0
    telemetry_size: int = 64
    rpc_count: int = 1000
    rpc_payload_size: int = 64
    stream_count: int = 3
    stream_size: int = 1024 * 1024
    attribute_count: int = 50
    attribute_period_s: float = 0.1
    warmup: int = 10


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    measure: Callable[[Pair, Params], Awaitable[Raw]]
    rows: Callable[[Mapping[str, Sequence[Raw]]], list[Row]]


def samples(runs: Sequence[Raw], key: str) -> list[Any]:
    """`key`'s list from every successful run, concatenated."""
    return [value for run in runs if "error" not in run for value in run.get(key, [])]


def total(runs: Sequence[Raw], key: str) -> float | None:
    values = [run[key] for run in runs if key in run]
    return float(sum(values)) if values else None


def mean(runs: Sequence[Raw], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return sum(values) / len(values) if values else None
