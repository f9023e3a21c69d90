"""A fake monotonic clock for code that takes `clock: Callable[[], float]`.

Tests move time by hand (`clock.now += 0.5`), so timers, rate limits and timeouts are
checked without sleeping. The start is arbitrary and not zero by default, so code that
treats 0.0 as "never" is not flattered by it.
"""

from __future__ import annotations


class Clock:
    """Reads `now`; nothing moves it but the test."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
