"""TemperatureMirror: °C readings as `edge.temperature.<sensor>` twin keys, through a deadband.

    mirror = TemperatureMirror()
    twin.update(mirror.changes(sample, now))   # {} for most readings

A sensor's key changes when its reading moved at least `min_change_c` from the value the twin
has and `min_interval_s` passed since it last changed, or at once when it moved `jump_c` or
more. A slow drift or noise does not make the twin send on every reading. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edge import wire
from edge.telemetry.codec import Sample

CELSIUS = "°C"
MIN_CHANGE_C = 1.0
MIN_INTERVAL_S = 10.0
JUMP_C = 5.0


@dataclass(slots=True, kw_only=True)
class Deadband:
    """Which values of one slowly changing reading are worth passing on."""

    min_change: float = MIN_CHANGE_C
    """A smaller move from the last value passed on is ignored."""
    min_interval_s: float = MIN_INTERVAL_S
    """At most one value per this many seconds ..."""
    jump: float = JUMP_C
    """... unless it moved this much."""
    last: float | None = field(default=None, init=False)
    """The last value passed on."""
    _last_at: float = field(default=-math.inf, init=False)

    def offer(self, value: float, now: float) -> bool:
        """Whether `value` (read at `now`, seconds) is passed on; if so it becomes `last`."""
        if self.last is not None:
            change = abs(value - self.last)
            steady = change < self.min_change or now - self._last_at < self.min_interval_s
            if change < self.jump and steady:
                return False
        self.last, self._last_at = value, now
        return True


@dataclass(slots=True)
class TemperatureMirror:
    """One deadband per °C sensor."""

    bands: dict[str, Deadband] = field(default_factory=dict)

    def changes(self, sample: Sample, now: float) -> dict[str, str | None]:
        """The twin keys `sample` changes: its sensor's key, or nothing."""
        value = sample.value
        if sample.unit != CELSIUS or isinstance(value, bool) or not isinstance(value, int | float):
            return {}
        if not math.isfinite(value):
            return {}
        band = self.bands.setdefault(sample.sensor, Deadband())
        if not band.offer(float(value), now):
            return {}
        return {wire.temperature_key(sample.sensor): f"{value:.1f}"}
