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
    loss_count: int = 500
    """Scenario 2: messages per run (at `telemetry_hz`, under `loss_probability`)."""
    loss_probability: float = 0.05
    cut_s: float = 20.0
    """Scenario 8: how long the device's link is cut."""
    video_height: int = 720
    """Scenario 6: 720 (1280x720) or 1080 (1920x1080), 30 fps."""
    video_bitrate: int = 2_000_000
    """Scenario 6: the clip's H.264 bitrate, bit/s."""
    cpu_budget: str = "none"
    """The board whose one core our device runs on (`budget.BOARDS`), or none."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    measure: Callable[[Pair, Params], Awaitable[Raw]]
    rows: Callable[[Mapping[str, Sequence[Raw]]], list[Row]]
    in_namespace: bool = False
    """The device runs in a network namespace (`netns.py`) whose link the scenario faults."""
    devices: Mapping[str, str] | None = None
    """Device modules per implementation, instead of the usual ones."""
    hello: bool = True
    """The device says hello with a first data packet (see `session.open_pair`)."""
    max_runs: int | None = None
    """At most this many runs per SDK, whatever `Params.runs` says (long scenarios)."""
    prepare: Callable[[Params], object] | None = None
    """Run once before the scenario's runs (outside any measured window)."""


def samples(runs: Sequence[Raw], key: str) -> list[Any]:
    """`key`'s list from every successful run, concatenated."""
    return [value for run in runs if "error" not in run for value in run.get(key, [])]


def total(runs: Sequence[Raw], key: str) -> float | None:
    values = [run[key] for run in runs if key in run]
    return float(sum(values)) if values else None


def mean(runs: Sequence[Raw], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return sum(values) / len(values) if values else None
