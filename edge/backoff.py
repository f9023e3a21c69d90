"""Backoff: capped exponential delays with full jitter, for every retry loop in the daemon."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """`delay(attempt)` grows as base·2^attempt up to `cap_s`, jittered into [ (1-jitter)·d, d ]."""

    base_s: float = 1.0
    """Delay before the first retry (attempt 0), before jitter."""
    cap_s: float = 30.0
    """Longest delay, before jitter."""
    jitter: float = 0.5
    """Fraction of the delay that is randomised (0 = none, 1 = full jitter)."""
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    """Source of randomness; seed it in tests."""

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt, 32))
        return ceiling * (1.0 - self.jitter * self.rng.random())
