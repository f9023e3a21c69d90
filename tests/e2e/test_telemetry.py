"""Telemetry into a real room: the official SDK decodes our batches, in order, through outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from livekit import rtc

from edge import wire
from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint
from edge.livekit.streams import StreamEndpoint
from edge.protocol.codes import ErrorCode
from edge.telemetry import codec
from edge.telemetry.outbox import Outbox
from edge.telemetry.sampler import TelemetryService
from edge.telemetry.sensors import SimulatedSensor
from edge.telemetry.spec import SensorKind, SensorSpec, TelemetryConfig
from edge.telemetry.uplink import serve_telemetry
from tests.conftest import OfficialPeerFactory, ServerProcess
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = pytest.mark.e2e

TOPIC = "edge.telemetry"
PERIOD_S = 0.05
SPECS = (
    SensorSpec(name="soc", kind=SensorKind.SIMULATED, period_s=PERIOD_S, unit="°C", mean=48),
    SensorSpec(name="load", kind=SensorKind.SIMULATED, period_s=PERIOD_S, seed=2),
)


def attrs(info: rtc.ByteStreamInfo) -> dict[str, str]:
    return info.attributes or {}


@dataclass
class Consumer:
    """What an official-SDK peer's byte-stream handler on the telemetry topic received."""

    streams: list[tuple[rtc.ByteStreamInfo, str, codec.Batch]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def attach(self, peer: OfficialPeer) -> None:
        def on_stream(reader: rtc.ByteStreamReader, sender: str) -> None:
            self.tasks.append(asyncio.create_task(self._read(reader, sender)))

        peer.room.register_byte_stream_handler(TOPIC, on_stream)

    async def _read(self, reader: rtc.ByteStreamReader, sender: str) -> None:
        data = b"".join([chunk async for chunk in reader])
        self.streams.append((reader.info, sender, codec.decode_batch(data)))

    def seqs(self, origin: str = "live") -> list[int]:
        return [
            r.seq
            for info, _, batch in self.streams
            if attrs(info)["origin"] == origin
            for r in batch.readings
        ]

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass
class Edge:
    service: TelemetryService
    join: Callable[[LiveKitServer], Awaitable[Room]]
    stack: AsyncExitStack

    @property
    def outbox(self) -> Outbox:
        return self.service.outbox


EdgeFactory = Callable[..., Awaitable[Edge]]


@pytest.fixture
async def telemetry_edge(room_name: str, tmp_path: Path) -> AsyncIterator[EdgeFactory]:
    """A sampling TelemetryService, and a way to join rooms serving it (as the daemon does)."""
    async with asyncio.TaskGroup() as tg:
        tasks: list[asyncio.Task[None]] = []
        stacks: list[AsyncExitStack] = []

        async def make(**config_overrides: object) -> Edge:
            config = TelemetryConfig(
                sensors=SPECS,
                batch_window_s=0.05,
                **config_overrides,  # type: ignore[arg-type]
            )
            outbox = await asyncio.to_thread(
                Outbox.open, tmp_path / "spool.sqlite3", max_rows=10**5
            )
            sensors = [
                SimulatedSensor("soc", "°C", mean=48, seed=1),
                SimulatedSensor("load", seed=2),
            ]
            service = TelemetryService(config, outbox, sensors=sensors)
            tasks.append(tg.create_task(service.run(), name="test.telemetry"))
            stack = AsyncExitStack()
            stacks.append(stack)

            async def join(server: LiveKitServer) -> Room:
                """Connect a new room session (left when the stack closes)."""
                token = mint_token(server, identity="edge-1", room=room_name)
                options = RoomOptions(url=server.url, attributes={})
                return await stack.enter_async_context(Room.connect(options, token))

            return Edge(service, join, stack)

        try:
            yield make
        finally:
            for stack in stacks:
                await stack.aclose()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def serve(room: Room, edge: Edge) -> None:
    """Start serving telemetry in `room` (a room-owned task, ends with the room)."""
    endpoint = serve_telemetry(
        room, edge.service, streams=StreamEndpoint(room), rpc=RpcEndpoint(room), identity="edge-1"
    )
    room.start_task(endpoint, name="test.serve-telemetry")


@pytest.fixture
async def consumer() -> AsyncIterator[Consumer]:
    box = Consumer()
    yield box
    await box.aclose()


def contiguous(seqs: list[int], first: int = 1) -> bool:
    return seqs == list(range(first, first + len(seqs)))


async def test_an_announced_audience_alone_receives_and_a_late_one_gets_the_backlog(
    telemetry_edge: EdgeFactory,
    livekit_server: LiveKitServer,
    official_peer: OfficialPeerFactory,
) -> None:
    """In a room shared with other edges, only those who ask get the batches (#19)."""
    bystander, asker = Consumer(), Consumer()
    other_edge = await official_peer("edge-2")  # another board: it never asked
    bystander.attach(other_edge)
    edge = await telemetry_edge(audience="announced", confirm_after_s=0.2)
    room = await edge.join(livekit_server)
    serve(room, edge)
    await assert_eventually(lambda: edge.service.last_seq >= 20)  # held: nobody asked yet

    console = await official_peer("console", attributes={wire.Attribute.WANTS_TELEMETRY: "edge-*"})
    asker.attach(console)
    await assert_eventually(lambda: len(asker.seqs()) >= 60, timeout=30)
    seqs = asker.seqs()
    assert contiguous(seqs), seqs  # the readings held while nobody asked came first
    assert bystander.streams == []
    await asker.aclose()
    await bystander.aclose()


async def test_readings_arrive_decoded_in_order_without_gaps(
    telemetry_edge: EdgeFactory,
    livekit_server: LiveKitServer,
    official_peer: OfficialPeerFactory,
    consumer: Consumer,
) -> None:
    viewer = await official_peer("viewer")
    consumer.attach(viewer)
    edge = await telemetry_edge(confirm_after_s=0.2)
    room = await edge.join(livekit_server)
    await viewer.wait_participant("edge-1")
    serve(room, edge)

    await assert_eventually(lambda: len(consumer.seqs()) >= 60, timeout=30)
    seqs = consumer.seqs()
    assert contiguous(seqs), seqs  # from the first reading, no gaps, no duplicates
    spooled = {r.seq: r for r in edge.outbox.read_after(0, limit=10_000).readings}
    received = [r for _, _, batch in consumer.streams for r in batch.readings]
    assert received == [spooled[r.seq] for r in received]  # exactly what was spooled
    assert {r.sensor for r in received} == {"soc", "load"}
    assert {(r.sensor, r.unit) for r in received} == {("soc", "°C"), ("load", "")}
    info, sender, batch = consumer.streams[0]
    assert sender == "edge-1"
    assert (info.topic, info.mime_type) == (TOPIC, "application/msgpack")
    assert attrs(info)["content_type"] == "application/msgpack"
    assert attrs(info)["schema_version"] == "1"
    assert attrs(info)["first_seq"] == str(batch.readings[0].seq)
    assert attrs(info)["last_seq"] == str(batch.readings[-1].seq)
    assert (batch.spool, batch.dropped) == (edge.outbox.spool_id, 0)
    # Batches stay connected long enough to count as delivered: the spool marks them sent.
    await assert_eventually(lambda: edge.outbox.sent_seq >= 60, timeout=10)


async def test_readings_taken_while_the_server_is_down_arrive_after_it_returns(
    telemetry_edge: EdgeFactory, private_livekit_server: ServerProcess, room_name: str
) -> None:
    server = private_livekit_server.server
    first, second = Consumer(), Consumer()
    peers: list[OfficialPeer] = []
    try:
        token = mint_token(server, identity="viewer-1", room=room_name)
        peers.append(await OfficialPeer.connect(server.url, token, identity="viewer-1"))
        first.attach(peers[0])
        edge = await telemetry_edge()
        room = await edge.join(server)
        await peers[0].wait_participant("edge-1")
        serve(room, edge)
        await assert_eventually(lambda: len(first.seqs()) >= 20, timeout=30)

        at_kill = edge.service.last_seq
        private_livekit_server.kill()
        await assert_eventually(lambda: room.disconnect_error is not None, timeout=30)
        await edge.stack.aclose()  # the session is over, as in the daemon's rejoin loop
        await assert_eventually(lambda: edge.service.last_seq >= at_kill + 40, timeout=30)

        private_livekit_server.restart()
        at_restart = edge.service.last_seq
        token = mint_token(server, identity="viewer-2", room=room_name)
        peers.append(await OfficialPeer.connect(server.url, token, identity="viewer-2"))
        second.attach(peers[1])
        room = await edge.join(server)  # a new session with a new Room, as the daemon rejoins
        await peers[1].wait_participant("edge-1")
        serve(room, edge)

        await assert_eventually(
            lambda: (second.seqs() or [0])[-1] >= at_restart,
            timeout=60,
            message=lambda: f"second viewer has {second.seqs()[-5:]}, want up to {at_restart}",
        )
        seqs = second.seqs()
        # Nothing confirmed before the outage, so the new session resends from the start:
        # every reading, each once, in order, including all taken while the server was down.
        assert contiguous(seqs), seqs
        assert set(range(at_kill + 1, at_restart + 1)) <= set(seqs)
    finally:
        for peer in peers:
            await peer.disconnect()
        await first.aclose()
        await second.aclose()


async def test_a_late_joiner_fills_its_gap_through_the_history_rpc(
    telemetry_edge: EdgeFactory,
    livekit_server: LiveKitServer,
    official_peer: OfficialPeerFactory,
    consumer: Consumer,
) -> None:
    edge = await telemetry_edge()
    room = await edge.join(livekit_server)
    serve(room, edge)
    await assert_eventually(lambda: edge.service.last_seq >= 40, timeout=30)

    late = await official_peer("late")
    consumer.attach(late)
    await late.wait_participant("edge-1")
    await assert_eventually(lambda: consumer.seqs(), timeout=30)  # live readings flow
    assert consumer.seqs()[0] > 1  # it missed the start

    reply = json.loads(
        await late.local.perform_rpc(
            destination_identity="edge-1",
            method=wire.Method.TELEMETRY_HISTORY,
            payload=json.dumps({"since_seq": 0}),
            response_timeout=15,
        )
    )
    await assert_eventually(lambda: consumer.seqs("history"), timeout=30)
    [(info, sender, batch)] = [s for s in consumer.streams if attrs(s[0])["origin"] == "history"]
    assert (info.stream_id, sender) == (reply["stream_id"], "edge-1")
    history = [r.seq for r in batch.readings]
    assert contiguous(history)
    assert (reply["count"], reply["first_seq"], reply["last_seq"], reply["more"]) == (
        len(history),
        1,
        history[-1],
        False,
    )
    await assert_eventually(lambda: consumer.seqs()[-1] > history[-1], timeout=30)
    combined = sorted(set(history) | set(consumer.seqs()))
    assert contiguous(combined)  # history + live: no gap left

    # By time as well, with a limit: the first three readings taken at or after the tenth.
    tenth = batch.readings[9]
    expected = [r.seq for r in batch.readings if r.time_us >= tenth.time_us][:3]
    reply = json.loads(
        await late.local.perform_rpc(
            destination_identity="edge-1",
            method=wire.Method.TELEMETRY_HISTORY,
            payload=json.dumps({"since_us": tenth.time_us, "limit": 3}),
            response_timeout=15,
        )
    )
    assert (reply["count"], reply["more"]) == (3, True)
    await assert_eventually(lambda: len(consumer.seqs("history")) == len(history) + 3)
    assert consumer.seqs("history")[-3:] == expected

    with pytest.raises(rtc.RpcError) as refused:
        await late.local.perform_rpc(
            destination_identity="edge-1",
            method=wire.Method.TELEMETRY_HISTORY,
            payload='{"since": 1}',
        )
    assert refused.value.code == ErrorCode.INVALID_PAYLOAD
    assert "unknown field(s): since" in refused.value.message
