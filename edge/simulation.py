"""SimulatedBoard: what `edge run --simulate` says it runs on, for laptops and CI.

Its readings come from `[[telemetry.sensors]]` with `kind = "simulated"`, like any sensor.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedBoard:
    """A board that exists only in software."""

    model: str = "Simulated board (edge-participant)"
    """What `device_model` reports for this board."""
