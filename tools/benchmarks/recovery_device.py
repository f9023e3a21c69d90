"""What scenario 8's two devices share: the reading rate, the reference's wire format, and how
each reports its connection (`joined` once, then `detected` / `rejoined` per outage).
"""

from __future__ import annotations

import struct

from .wire import Channel

RECOVERY_HZ = 10.0
"""Readings per second, on both devices."""
RECOVERY_TOPIC = "bench.recovery"
"""The official-SDK reference sends each reading as one reliable data packet on this topic."""
EDGE_TELEMETRY_TOPIC = "edge.telemetry"
"""Ours streams msgpack batches of readings here (`edge.telemetry.codec`)."""

_READING = struct.Struct("<qq")
"""seq (from 1) and `time.time_ns() // 1000` when the reading was taken."""
DOWN_STATES = frozenset({"reconnecting", "offline"})


def encode_reading(seq: int, time_us: int) -> bytes:
    return _READING.pack(seq, time_us)


def decode_reading(payload: bytes) -> tuple[int, int]:
    seq, time_us = _READING.unpack_from(payload)
    return int(seq), int(time_us)


class ConnectionReport:
    """Sends `joined` the first time the device is connected, then `detected` when it notices
    a loss and `rejoined` when it is back, each with `at_ns` (`time.monotonic_ns()`)."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._joined = False
        self._down = False

    def state(self, name: str, at_ns: int, *, detail: str = "") -> None:
        """The device's connection is now `name` (`connected`, `reconnecting`, `offline`)."""
        if name == "connected":
            if not self._joined:
                self._joined = True
                self._channel.send("joined", joined_ns=at_ns, detail=detail)
            elif self._down:
                self._down = False
                self._channel.send("rejoined", at_ns=at_ns, detail=detail)
        elif name in DOWN_STATES and self._joined and not self._down:
            self._down = True
            self._channel.send("detected", at_ns=at_ns, detail=detail)
