"""Per-caller limits on RPC calls: how many at once and how many per second. Pure: no I/O.

    limiter = CallLimiter()
    refusal = limiter.admit("viewer", "telemetry.history", limits, now)   # None: go ahead
    ...
    limiter.release("viewer", "telemetry.history")                       # when answered

Each (caller, method) pair has a token bucket (`rate_per_s`, `burst`) and a count of calls in
flight (`per_caller`); each method has a count of calls in flight over all callers
(`in_flight`). A call over any of them is refused at once, never queued: a flood costs one
ack and one short error per call, and the caller decides when to retry. Idle pairs are
forgotten, so the table stays small however many identities pass through the room.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_TRACKED = 1024
"""Pairs kept before idle ones (full bucket, nothing in flight) are forgotten."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallLimits:
    """The cost bound of one method."""

    per_caller: int
    """Calls of this method one caller may have in flight."""
    in_flight: int
    """Calls of this method in flight over all callers."""
    rate_per_s: float
    """Sustained calls per second one caller may make."""
    burst: int
    """Calls one caller may make at once after being quiet."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    limits: CallLimits
    running: int = 0

    def idle(self, now: float) -> bool:
        """Nothing in flight and the bucket full again: forgetting it loses nothing."""
        refill = self.tokens + (now - self.updated) * self.limits.rate_per_s
        return self.running == 0 and refill >= self.limits.burst


class CallLimiter:
    """Admits or refuses calls against `CallLimits`; one per RPC endpoint."""

    def __init__(self, *, max_tracked: int = MAX_TRACKED) -> None:
        self._max_tracked = max_tracked
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._running: dict[str, int] = {}

    def admit(self, caller: str, method: str, limits: CallLimits, now: float) -> str | None:
        """Count the call in and return None, or return why it is refused (counts nothing)."""
        key = (caller, method)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_idle(now)
            bucket = _Bucket(tokens=float(limits.burst), updated=now, limits=limits)
            self._buckets[key] = bucket
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(limits.burst), bucket.tokens + elapsed * limits.rate_per_s)
        bucket.updated = now
        if bucket.running >= limits.per_caller:
            return f"{caller!r} already has {bucket.running} {method} call(s) in flight"
        if self._running.get(method, 0) >= limits.in_flight:
            return f"{limits.in_flight} {method} call(s) in flight already; try again shortly"
        if bucket.tokens < 1.0:
            return f"over {limits.rate_per_s:g} {method} call(s) per second for {caller!r}"
        bucket.tokens -= 1.0
        bucket.running += 1
        self._running[method] = self._running.get(method, 0) + 1
        return None

    def release(self, caller: str, method: str) -> None:
        """An admitted call was answered (or abandoned)."""
        bucket = self._buckets.get((caller, method))
        if bucket is not None and bucket.running > 0:
            bucket.running -= 1
        running = self._running.get(method, 0)
        if running > 1:
            self._running[method] = running - 1
        else:
            self._running.pop(method, None)

    @property
    def tracked(self) -> int:
        """(caller, method) pairs currently remembered."""
        return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < self._max_tracked:
            return
        for key in [k for k, bucket in self._buckets.items() if bucket.idle(now)]:
            del self._buckets[key]
        # Still full: every pair is in flight or recently busy; the oldest not in flight go.
        while len(self._buckets) >= self._max_tracked:
            oldest = next((k for k, b in self._buckets.items() if b.running == 0), None)
            if oldest is None:
                break  # everything is in flight: bounded by the endpoint's own cap
            del self._buckets[oldest]
