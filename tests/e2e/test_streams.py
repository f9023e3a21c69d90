"""Data streams between our StreamEndpoint and LiveKit's official SDK, through a real server."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc
from livekit.protocol import models as proto_models

from edge.errors import StreamError
from edge.livekit import stream_writers
from edge.livekit.packet_router import PacketHandler
from edge.livekit.ports import StreamRoom
from edge.livekit.room import ConnectionState, Room, RoomEvent, RoomOptions
from edge.livekit.stream_readers import ByteStreamReader, TextStreamReader
from edge.livekit.streams import StreamEndpoint
from edge.protocol.stream_reassembler import StreamLimits
from edge.protocol.streams import StreamInfo
from tests.conftest import OfficialPeerFactory
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = pytest.mark.e2e
_LOGGER = logging.getLogger(__name__)

MIB = 1024 * 1024
# Multi-byte characters of every UTF-8 length, long enough to cross several chunk boundaries.
TEXT = "température 21.5 °C · 温度 · 🌡️🔥 · " * 1500


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


EdgeFactory = Callable[..., Awaitable[StreamEndpoint]]


@pytest.fixture
async def edge(livekit_server: LiveKitServer, room_name: str) -> AsyncIterator[EdgeFactory]:
    """Join our Room to this test's room and give it a StreamEndpoint; left at teardown."""
    async with AsyncExitStack() as stack:

        async def join(
            identity: str = "edge-1",
            *,
            through: Callable[[Room], StreamRoom] = lambda room: room,
            **endpoint_options: Any,
        ) -> StreamEndpoint:
            options = RoomOptions(url=livekit_server.url, attributes={})
            token = mint_token(livekit_server, identity=identity, room=room_name)
            room = await stack.enter_async_context(Room.connect(options, token))
            return StreamEndpoint(through(room), **endpoint_options)

        yield join


@dataclass
class OfficialInbox:
    """Streams an official peer received, read to the end by tasks this test owns."""

    bytes_: dict[str, tuple[rtc.ByteStreamInfo, str, bytes]] = field(default_factory=dict)
    texts: dict[str, tuple[rtc.TextStreamInfo, str, str]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def attach(self, peer: OfficialPeer, topic: str) -> None:
        def on_bytes(reader: rtc.ByteStreamReader, sender: str) -> None:
            self.tasks.append(asyncio.create_task(self._read_bytes(reader, sender)))

        def on_text(reader: rtc.TextStreamReader, sender: str) -> None:
            self.tasks.append(asyncio.create_task(self._read_text(reader, sender)))

        peer.room.register_byte_stream_handler(topic, on_bytes)
        peer.room.register_text_stream_handler(topic, on_text)

    async def _read_bytes(self, reader: rtc.ByteStreamReader, sender: str) -> None:
        data = b"".join([chunk async for chunk in reader])
        self.bytes_[reader.info.name] = (reader.info, sender, data)

    async def _read_text(self, reader: rtc.TextStreamReader, sender: str) -> None:
        self.texts[reader.info.stream_id] = (reader.info, sender, await reader.read_all())

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def inbox() -> AsyncIterator[OfficialInbox]:
    box = OfficialInbox()
    yield box
    await box.aclose()


@dataclass
class EdgeInbox:
    """What our handlers read: (info, content) or the StreamError a stream ended with."""

    done: list[tuple[StreamInfo, bytes | str]] = field(default_factory=list)
    errors: list[StreamError] = field(default_factory=list)
    received: int = 0
    """Bytes read so far across byte streams."""

    async def read_bytes(self, reader: ByteStreamReader) -> None:
        data = b""
        try:
            async for chunk in reader:
                data += chunk
                self.received += len(chunk)
        except StreamError as exc:
            self.errors.append(exc)
        else:  # info after the end: trailer attributes merged in
            self.done.append((reader.info, data))

    async def read_text(self, reader: TextStreamReader) -> None:
        text = await reader.read_all()
        self.done.append((reader.info, text))


# --- edge sends, official SDK receives ------------------------------------------------------


async def test_official_sdk_receives_our_byte_streams_small_and_1mib(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, inbox: OfficialInbox
) -> None:
    viewer = await official_peer("viewer")
    inbox.attach(viewer, "files")
    streams = await edge()
    await viewer.wait_participant("edge-1")

    small = await streams.send_bytes(
        b"hello",
        topic="files",
        name="small.bin",
        mime_type="application/x-test",
        attributes={"camera": "front"},
    )
    big = payload(MIB)
    started = time.monotonic()
    await streams.send_bytes(big, topic="files", name="big.bin", attributes={"n": "2"})
    await assert_eventually(lambda: "big.bin" in inbox.bytes_, timeout=60)
    elapsed = time.monotonic() - started
    _LOGGER.info("1 MiB edge -> official: %.2f s (%.2f MB/s)", elapsed, MIB / elapsed / 1e6)

    await assert_eventually(lambda: "small.bin" in inbox.bytes_)
    info, sender, data = inbox.bytes_["small.bin"]
    assert (sender, data, info.topic) == ("edge-1", b"hello", "files")
    assert (info.mime_type, info.attributes, info.size) == (
        "application/x-test",
        {"camera": "front"},
        5,
    )
    assert info.stream_id == small.stream_id
    info, sender, data = inbox.bytes_["big.bin"]
    assert sender == "edge-1"
    assert data == big
    assert (info.mime_type, info.attributes, info.size) == (
        "application/octet-stream",
        {"n": "2"},
        MIB,
    )


@dataclass
class SendQueueWatch:
    """Our Room as the streams see it, noting the channel's send buffer before each packet."""

    room: Room
    queued: list[int] = field(default_factory=list)

    @property
    def state(self) -> ConnectionState:
        return self.room.state

    def register_packet_handler(self, kind: str, handler: PacketHandler) -> None:
        self.room.register_packet_handler(kind, handler)

    def start_task(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        return self.room.start_task(coro, name=name)

    def events(self) -> AsyncIterator[RoomEvent]:
        return self.room.events()

    async def drain(self, *, max_buffered: int) -> None:
        await self.room.drain(max_buffered=max_buffered)

    async def send_packet(self, packet: proto_models.DataPacket, *, reliable: bool = True) -> None:
        self.queued.append(self.room._publisher.buffered_amount(reliable=True))
        await self.room.send_packet(packet, reliable=reliable)


async def test_sending_1mib_keeps_the_channel_send_queue_bounded(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, inbox: OfficialInbox
) -> None:
    viewer = await official_peer("viewer")
    inbox.attach(viewer, "files")
    streams = await edge(through=SendQueueWatch)
    await viewer.wait_participant("edge-1")
    watch = streams.room
    assert isinstance(watch, SendQueueWatch)
    queued = watch.queued
    await streams.send_bytes(payload(MIB), topic="files", name="big.bin")
    assert len(queued) > 70
    assert max(queued) <= stream_writers.SEND_BUFFER_BYTES
    await assert_eventually(lambda: "big.bin" in inbox.bytes_, timeout=60)


async def test_official_sdk_receives_our_text_with_multibyte_characters_intact(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, inbox: OfficialInbox
) -> None:
    viewer = await official_peer("viewer")
    inbox.attach(viewer, "chat")
    streams = await edge()
    await viewer.wait_participant("edge-1")
    assert len(TEXT.encode()) > 3 * 15_000

    sent = await streams.send_text(TEXT, topic="chat", attributes={"lang": "mixed"})
    writer = await streams.stream_text(topic="chat")
    for piece in ("Grüße ", "aus ", "dem ", "Pi 🍓"):
        await writer.write(piece)
    await writer.aclose()

    await assert_eventually(lambda: len(inbox.texts) == 2, timeout=30)
    info, sender, text = inbox.texts[sent.stream_id]
    assert (sender, text, info.attributes, info.topic) == (
        "edge-1",
        TEXT,
        {"lang": "mixed"},
        "chat",
    )
    assert inbox.texts[writer.info.stream_id][2] == "Grüße aus dem Pi 🍓"


async def test_official_sdk_receives_our_file_and_incremental_byte_stream(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, inbox: OfficialInbox, tmp_path: Path
) -> None:
    viewer = await official_peer("viewer")
    inbox.attach(viewer, "files")
    streams = await edge()
    await viewer.wait_participant("edge-1")
    photo = tmp_path / "snapshot.jpg"
    photo.write_bytes(payload(100_000, seed=2))
    progress: list[tuple[int, int]] = []

    await streams.send_file(photo, topic="files", on_progress=lambda n, t: progress.append((n, t)))
    async with await streams.stream_bytes(
        topic="files", name="log.txt", mime_type="text/plain"
    ) as w:
        await w.write(b"line 1\n")
        await w.write(b"line 2\n")

    await assert_eventually(lambda: {"snapshot.jpg", "log.txt"} <= inbox.bytes_.keys(), timeout=30)
    info, _, data = inbox.bytes_["snapshot.jpg"]
    assert (data, info.mime_type, info.size) == (photo.read_bytes(), "image/jpeg", 100_000)
    assert progress[-1] == (100_000, 100_000)
    assert [n for n, _ in progress] == sorted(n for n, _ in progress)
    info, _, data = inbox.bytes_["log.txt"]
    assert (data, info.mime_type) == (b"line 1\nline 2\n", "text/plain")


# --- official SDK sends, edge receives ------------------------------------------------------


async def official_and_edge(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, **endpoint_options: object
) -> tuple[OfficialPeer, StreamEndpoint, EdgeInbox]:
    streams = await edge(**endpoint_options)
    box = EdgeInbox()
    streams.register_byte_stream_handler("files", box.read_bytes)
    streams.register_text_stream_handler("chat", box.read_text)
    sender = await official_peer("sender")
    await wait_active(sender, "edge-1")
    return sender, streams, box


async def wait_active(peer: OfficialPeer, identity: str) -> None:
    """Wait until the server reports `identity` ACTIVE: data sent to it earlier may be dropped."""
    await peer.wait_participant(identity)
    await assert_eventually(
        lambda: peer.participant(identity).state == rtc.ParticipantState.PARTICIPANT_STATE_ACTIVE,
        message=f"{identity} never became active for {peer.identity}",
    )


async def test_we_receive_official_byte_streams_with_topic_attributes_and_sender(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    sender, _, box = await official_and_edge(edge, official_peer)
    big = payload(MIB, seed=3)
    await sender.local.send_bytes(b"tiny", topic="files", name="tiny.bin", attributes={"a": "1"})
    started = time.monotonic()
    await sender.local.send_bytes(big, topic="files", name="big.bin", mime_type="application/x-raw")
    await assert_eventually(lambda: len(box.done) == 2, timeout=60)
    elapsed = time.monotonic() - started
    _LOGGER.info("1 MiB official -> edge: %.2f s (%.2f MB/s)", elapsed, MIB / elapsed / 1e6)

    by_name = {info.name: (info, data) for info, data in box.done}
    info, data = by_name["tiny.bin"]
    assert data == b"tiny"
    assert (info.topic, info.sender_identity, dict(info.attributes)) == (
        "files",
        "sender",
        {"a": "1"},
    )
    info, data = by_name["big.bin"]
    assert data == big
    assert (info.mime_type, info.total_length, info.sender_identity) == (
        "application/x-raw",
        MIB,
        "sender",
    )


async def test_we_receive_official_text_incremental_bytes_and_files(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, tmp_path: Path
) -> None:
    sender, _, box = await official_and_edge(edge, official_peer)
    await sender.local.send_text(TEXT, topic="chat", attributes={"lang": "mixed"})
    writer = await sender.local.stream_bytes("parts.bin", topic="files", attributes={"p": "3"})
    for part in (b"one,", b"two,", b"three"):
        await writer.write(part)
    await writer.aclose(attributes={"checksum": "abc"})
    document = tmp_path / "report.pdf"
    document.write_bytes(payload(40_000, seed=4))
    await sender.local.send_file(str(document), topic="files")

    await assert_eventually(lambda: len(box.done) == 3, timeout=30, message=lambda: f"{box.done}")
    [(text_info, text)] = [(i, d) for i, d in box.done if isinstance(d, str)]
    assert text == TEXT
    assert (text_info.topic, dict(text_info.attributes)) == ("chat", {"lang": "mixed"})
    by_name = {i.name: (i, d) for i, d in box.done if isinstance(d, bytes)}
    info, data = by_name["parts.bin"]
    assert data == b"one,two,three"
    assert dict(info.attributes) == {"p": "3", "checksum": "abc"}
    info, data = by_name["report.pdf"]
    assert (data, info.mime_type) == (document.read_bytes(), "application/pdf")


async def test_a_stream_on_an_unhandled_topic_is_dropped_and_later_streams_work(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge")
    sender, _, box = await official_and_edge(edge, official_peer)
    await sender.local.send_bytes(payload(50_000), topic="nobody", name="ignored.bin")
    await sender.local.send_text("also ignored", topic="nobody")
    await sender.local.send_bytes(b"wanted", topic="files", name="wanted.bin")
    await assert_eventually(lambda: len(box.done) == 1)
    assert box.done[0][1] == b"wanted"
    assert "no handler for topic 'nobody'" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_slow_handler_fails_its_stream_instead_of_buffering_without_limit(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    streams = await edge(reader_buffer_bytes=64 * 1024)
    sender = await official_peer("sender")
    await wait_active(sender, "edge-1")
    go = asyncio.Event()
    outcome: list[object] = []

    async def slow(reader: ByteStreamReader) -> None:
        await go.wait()
        received = 0
        try:
            async for chunk in reader:
                received += len(chunk)
        except StreamError as exc:
            outcome.append(exc.reason)
        outcome.append(received)

    streams.register_byte_stream_handler("files", slow)
    await sender.local.send_bytes(payload(MIB), topic="files", name="big.bin")
    await assert_eventually(lambda: streams._reassembler.open_streams == 0, timeout=30)
    go.set()
    await assert_eventually(lambda: len(outcome) == 2)
    reason, received = outcome
    assert reason == "ReaderOverflow"
    assert 0 < received <= 64 * 1024  # type: ignore[operator]


async def test_a_sender_leaving_mid_stream_fails_our_reader(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    sender, streams, box = await official_and_edge(
        edge, official_peer, limits=StreamLimits(idle_timeout_s=60)
    )
    # A participant who leaves before the server told us about them leaves no trace to act on.
    room = streams.room
    assert isinstance(room, Room)
    await assert_eventually(lambda: "sender" in room.remote_participants)
    writer = await sender.local.stream_bytes("partial.bin", topic="files")
    await writer.write(b"first half")
    await assert_eventually(lambda: box.received == len(b"first half"))
    await sender.disconnect()
    await assert_eventually(lambda: box.errors, timeout=20, message=lambda: f"{box.done}")
    assert box.errors[0].reason == "SenderLeft"
    assert box.done == []
