"""DeafnessWatch: notice when data reaches us but is never delivered — pure.

    watch = DeafnessWatch(deaf_after_s=10.0)
    reason = watch.check(samples, now=t)   # every second while connected
    watch.reset()                           # whenever the room is not connected

A sample is one inbound SCTP stream: how much ordered data it holds undelivered, how many
messages it has delivered so far, and whether it overflowed. A stream that holds ordered data
and delivers nothing for `deaf_after_s` of connected time is deaf: whatever it waits for will
not come (the defect of `docs/sctp-ordered-delivery.md`, or any like it). An overflowed stream
is deaf at once.

Why not a probe through the server: livekit-server never forwards a participant's data packet
back to its sender (`BroadcastDataPacketForRoom` skips the source), and server-sent data needs
API credentials the edge may not have. Watching what arrived is exact where a probe would be
a guess: SCTP acknowledges every chunk it holds, so a stuck stream is always visible here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEAF_AFTER_S = 10.0
"""Longer than SCTP takes to fill a gap on a lossy link (three lost retransmissions in a
row at the server's timer backoff), shorter than an RPC caller's patience."""


@dataclass(frozen=True, slots=True)
class StreamSample:
    """One inbound stream as the watch sees it."""

    name: str
    """E.g. `subscriber stream 1`."""
    held: int
    """Ordered fragments and messages received and not yet delivered (an unordered
    fragment blocks nothing else)."""
    delivered: int
    """Messages delivered since the stream was created."""
    overflowed: bool = False


class DeafnessWatch:
    """Tracks, per stream, since when it holds data without delivering any."""

    def __init__(self, *, deaf_after_s: float = DEAF_AFTER_S) -> None:
        self.deaf_after_s = deaf_after_s
        self._stuck: dict[str, tuple[float, int]] = {}
        """Stream name -> (since when, delivered count then)."""

    def reset(self) -> None:
        """Forget every stream (the room is not connected: nothing counts meanwhile)."""
        self._stuck.clear()

    def check(self, samples: Iterable[StreamSample], *, now: float) -> str | None:
        """Why the room is deaf, or None."""
        seen = set()
        for sample in samples:
            seen.add(sample.name)
            if sample.overflowed:
                return f"{sample.name} overflowed its reassembly bound and dropped data"
            if sample.held == 0:
                self._stuck.pop(sample.name, None)
                continue
            since, delivered = self._stuck.get(sample.name, (now, sample.delivered))
            if delivered != sample.delivered:
                since, delivered = now, sample.delivered  # progress: it is only busy
            self._stuck[sample.name] = (since, delivered)
            if now - since >= self.deaf_after_s:
                return (
                    f"{sample.name} holds {sample.held} undelivered chunk(s) "
                    f"and delivered nothing for {now - since:.0f} s"
                )
        for name in set(self._stuck) - seen:
            del self._stuck[name]
        return None
