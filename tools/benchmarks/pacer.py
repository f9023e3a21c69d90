"""Scenario 6's camera clock: when each frame is due, and how late it was handed to the track.

Both devices ask the pacer for their next frame and hand it to their SDK as soon as it is
given (ours: the frame returns from the track's source; the official SDK: `capture_frame`).
The clock starts at the first frame asked for (the track is published by then). A frame is
never skipped for being late; it is handed over at once and its lateness (hand-over time
minus due time) recorded, so a slow device sends bursts of late frames. Frames not handed
over by `seconds + LATE_LIMIT_S` after the start are dropped: the camera has run its time
(the daemon's camera holds about that much video before it drops).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

LATE_LIMIT_S = 0.5


@dataclass(frozen=True, slots=True)
class Due:
    index: int
    due_ns: int
    """`time.monotonic_ns()` when the camera would have delivered this frame."""


@dataclass
class FramePacer:
    fps: int
    count: int
    """Frames the camera delivers in its run."""
    clock: Callable[[], int] = time.monotonic_ns
    started: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the first frame is asked for: the camera runs from then on."""
    lateness_ns: list[int] = field(default_factory=list)
    """Hand-over time minus due time of every frame handed over, in order."""
    _start_ns: int | None = None

    def __post_init__(self) -> None:
        if self.fps < 1 or self.count < 1:
            raise ValueError(f"fps and count must be at least 1, not {self.fps}, {self.count}")

    @property
    def handed(self) -> int:
        return len(self.lateness_ns)

    @property
    def interval_ns(self) -> int:
        return 1_000_000_000 // self.fps

    @property
    def deadline_ns(self) -> int | None:
        """When the camera stops (None before it started)."""
        if self._start_ns is None:
            return None
        return self._start_ns + round((self.count / self.fps + LATE_LIMIT_S) * 1e9)

    def due_ns(self, index: int) -> int:
        assert self._start_ns is not None, "not started"
        return self._start_ns + index * 1_000_000_000 // self.fps

    async def next(self) -> Due | None:
        """Wait until the next frame is due, then return it; None once the run is over."""
        now = self.clock()
        if self._start_ns is None:
            self._start_ns = now
            self.started.set()
        deadline = self.deadline_ns
        assert deadline is not None
        if self.handed >= self.count or now > deadline:
            return None
        due = Due(self.handed, self.due_ns(self.handed))
        if due.due_ns > now:
            await asyncio.sleep((due.due_ns - now) / 1e9)
            now = self.clock()
        self.lateness_ns.append(now - due.due_ns)
        return due


def late_frames(lateness_ns: Sequence[int], fps: int) -> int:
    """Frames handed over more than one frame interval after they were due."""
    interval_ns = 1_000_000_000 / fps
    return sum(1 for late in lateness_ns if late > interval_ns)
