"""Telemetry as an official-SDK peer receives it: byte-stream batches, in the order sent."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack  # type: ignore[import-untyped]
from livekit import rtc

from tests.official_peer import OfficialPeer


@dataclass
class Inbox:
    """Telemetry batches an official-SDK peer received, in the order their streams began."""

    batches: list[tuple[float, dict[str, Any]] | None] = field(default_factory=list)
    """Per stream, in header order: (monotonic time it completed, decoded batch), or None
    while it is still arriving. (Several streams complete together after an outage; their
    handler tasks may finish in any order, but their headers come in the order they were sent.)"""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def attach(self, peer: OfficialPeer) -> None:
        def on_stream(reader: rtc.ByteStreamReader, _sender: str) -> None:
            self.batches.append(None)
            read = self._read(reader, len(self.batches) - 1)
            self.tasks.append(asyncio.create_task(read, name="test.inbox"))

        peer.room.register_byte_stream_handler("edge.telemetry", on_stream)

    async def _read(self, reader: rtc.ByteStreamReader, slot: int) -> None:
        batch = msgpack.unpackb(b"".join([chunk async for chunk in reader]))
        self.batches[slot] = (time.monotonic(), batch)

    @property
    def complete(self) -> bool:
        return None not in self.batches

    @property
    def readings(self) -> list[list[Any]]:
        """[seq, time_us, sensor, value, unit] in the order sent, duplicates included."""
        return [r for done in self.batches if done is not None for r in done[1]["readings"]]

    def arrived_before(self, at: float) -> list[list[Any]]:
        return [r for done in self.batches if done and done[0] < at for r in done[1]["readings"]]

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def in_order(readings: list[list[Any]]) -> list[int]:
    """What a consumer keeping the highest seq accepts; raise on the first gap."""
    accepted: list[int] = []
    for seq, *_ in readings:
        if accepted and seq <= accepted[-1]:
            continue  # a resent duplicate: recognisable, ignored
        assert not accepted or seq == accepted[-1] + 1, (
            f"gap: {accepted[-1]} then {seq}; received {[r[0] for r in readings]}"
        )
        accepted.append(seq)
    return accepted
