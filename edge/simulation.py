"""SimulatedBoard: synthetic sensors for `edge run --simulate`, laptops and CI."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass(slots=True, kw_only=True)
class SimulatedBoard:
    """A board whose SoC temperature drifts on a slow sine with a little noise."""

    model: str = "Simulated board (edge-participant)"
    """What `device_model` reports for this board."""
    rng: random.Random = field(default_factory=random.Random)
    """Source of noise; seed it for repeatable readings."""

    def soc_temperature_c(self, now: float) -> float:
        """A plausible SoC temperature for time `now` (seconds), in °C, one decimal."""
        return round(48.0 + 6.0 * math.sin(now / 60.0) + self.rng.uniform(-0.3, 0.3), 1)
