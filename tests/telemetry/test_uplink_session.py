"""serve_telemetry over a fake room: what it registers, what it sends, and when it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge import wire
from edge.errors import RoomError
from edge.livekit.streams import StreamEndpoint
from edge.protocol.participants import Participant, ParticipantJoined
from edge.telemetry.outbox import Outbox
from edge.telemetry.sampler import TelemetryService
from edge.telemetry.spec import TelemetryConfig
from edge.telemetry.uplink import serve_telemetry
from edge.testing.fake_room import FakeRoom, MethodRecorder
from tests.helpers import Thermometer, assert_eventually


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    box = Outbox.open(tmp_path / "spool.sqlite3", max_rows=100)
    yield box
    box.close()


def headers(room: FakeRoom) -> list[tuple[str, str]]:
    """(topic, text or bytes) of each stream the room was sent."""
    out = []
    for packet in room.sent:
        if packet.WhichOneof("value") == "stream_header":
            header = packet.stream_header
            out.append((header.topic, header.WhichOneof("content_header") or ""))
    return out


async def test_registers_history_sends_events_and_ends_with_the_room(outbox: Outbox) -> None:
    service = TelemetryService(TelemetryConfig(sensors=()), outbox, sensors=[])
    room, rpc = FakeRoom(), MethodRecorder()
    serving = asyncio.create_task(
        serve_telemetry(room, service, streams=StreamEndpoint(room), rpc=rpc),
        name="test.serve-telemetry",
    )
    try:
        await assert_eventually(lambda: wire.Method.TELEMETRY_HISTORY in rpc.methods)
        service.event("sensor 'x' unavailable")
        await assert_eventually(lambda: ("edge.events", "text_header") in headers(room))
        assert not serving.done()

        room.disconnect(RoomError("link lost"))
        async with asyncio.timeout(5):
            await serving
    finally:
        serving.cancel()
        await room.aclose()
    assert wire.Method.TELEMETRY_HISTORY not in rpc.methods


def participant(identity: str, attributes: dict[str, str]) -> Participant:
    return Participant(
        identity=identity, sid=f"PA_{identity}", name=identity, metadata="",
        attributes=attributes, kind="STANDARD", version=1,
    )  # fmt: skip


async def test_an_announced_audience_gets_the_batches_and_nobody_else(outbox: Outbox) -> None:
    config = TelemetryConfig(sensors=(), audience="announced", batch_window_s=0.01)
    service = TelemetryService(config, outbox, sensors=[Thermometer()])
    room, rpc = FakeRoom(), MethodRecorder()

    def batches() -> list[tuple[str, ...]]:
        return [
            tuple(p.destination_identities)
            for p in room.sent
            if p.WhichOneof("value") == "stream_header" and p.stream_header.topic == config.topic
        ]

    async with asyncio.TaskGroup() as tg:
        sampling = tg.create_task(service.run(), name="test.sampling")
        serving = tg.create_task(
            serve_telemetry(
                room, service, streams=StreamEndpoint(room), rpc=rpc, identity="edge-7"
            ),
            name="test.serve-telemetry",
        )
        await assert_eventually(lambda: service.last_seq >= 1)  # a reading waits in the spool
        room.emit(ParticipantJoined(participant=participant("edge-8", {"edge.status": "online"})))
        wants = {wire.Attribute.WANTS_TELEMETRY: "edge-*"}
        room.emit(ParticipantJoined(participant=participant("console", wants)))
        await assert_eventually(lambda: batches())
        assert set(batches()) == {("console",)}  # never broadcast, never to the other edge
        room.disconnect(RoomError("test over"))
        await serving
        sampling.cancel()
    await room.aclose()
