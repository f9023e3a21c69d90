"""StreamEndpoint: LiveKit text and byte data streams over a Room, in both directions.

    streams = StreamEndpoint(room)
    streams.register_byte_stream_handler("photos", save_photo)  # async def save_photo(reader)
    await streams.send_file("snapshot.jpg", topic="photos", on_progress=report)

Incoming packets go through a `StreamReassembler`. Each stream on a registered topic gets a
reader (bounded; see `stream_readers`) and a handler task owned by the room; streams on other
topics are ignored. Sending is paced by `stream_writers.StreamSender`. Stream packets come
through the room's `StreamInbox`, which the RPC endpoint also reads (RPC v2 topics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Container,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any, BinaryIO

from edge.errors import StreamError
from edge.livekit.ports import StreamRoom
from edge.livekit.room import Disconnected
from edge.livekit.stream_inbox import StreamInbox
from edge.livekit.stream_readers import READER_OVERFLOW, ByteStreamReader, TextStreamReader
from edge.livekit.stream_writers import (
    ByteStreamWriter,
    ProgressCallback,
    StreamSender,
    TextStreamWriter,
)
from edge.peer_log import PeerLog
from edge.protocol import rpc_v2
from edge.protocol import stream_reassembler as sr
from edge.protocol import streams as proto_streams
from edge.protocol.packets import OtherPacket
from edge.protocol.participants import ParticipantLeft
from edge.protocol.streams import StreamInfo, StreamKey, StreamKind

_LOGGER = logging.getLogger(__name__)
_PEER_LOG = PeerLog(_LOGGER)
"""Rejected and failed streams are logged per sender within a budget."""

READER_BUFFER_BYTES = 1024 * 1024
"""Default bound on a reader's unread chunks."""

ByteStreamHandler = Callable[[ByteStreamReader], Awaitable[None]]
TextStreamHandler = Callable[[TextStreamReader], Awaitable[None]]


class StreamEndpoint:
    """Sends and receives data streams on one room; create one per room, after it connects."""

    def __init__(
        self,
        room: StreamRoom,
        *,
        limits: sr.StreamLimits | None = None,
        reader_buffer_bytes: int = READER_BUFFER_BYTES,
        quiet_topics: Container[str] = rpc_v2.TOPICS,
    ) -> None:
        """Streams on `quiet_topics` without a handler are ignored silently (the RPC endpoint
        reads them)."""
        self._room = room
        self._sender = StreamSender(room)
        self._reader_buffer_bytes = reader_buffer_bytes
        self._handlers: dict[StreamKind, dict[str, Callable[[Any], Awaitable[None]]]] = {
            StreamKind.BYTES: {},
            StreamKind.TEXT: {},
        }
        self._readers: dict[StreamKey, ByteStreamReader | TextStreamReader] = {}
        self._reassembler = sr.StreamReassembler(
            limits,
            accepts=lambda info: info.topic in self._handlers[info.kind],
            quiet_topics=quiet_topics,
        )
        self._opened = asyncio.Event()
        StreamInbox.of(room).subscribe(self._on_packet)
        room.start_task(self._follow_room(), name="streams.room-events")
        room.start_task(self._expire_idle(), name="streams.idle-timeout")

    @property
    def room(self) -> StreamRoom:
        """The room the streams travel through."""
        return self._room

    # -- receiving -------------------------------------------------------------------------

    def register_byte_stream_handler(self, topic: str, handler: ByteStreamHandler) -> None:
        """Run `handler(reader)` for each byte stream on `topic`; one handler per topic."""
        self._register(StreamKind.BYTES, topic, handler)

    def register_text_stream_handler(self, topic: str, handler: TextStreamHandler) -> None:
        """Run `handler(reader)` for each text stream on `topic`; one handler per topic."""
        self._register(StreamKind.TEXT, topic, handler)

    def unregister_byte_stream_handler(self, topic: str) -> None:
        """Accept no new byte streams on `topic` (open ones continue)."""
        self._handlers[StreamKind.BYTES].pop(topic, None)

    def unregister_text_stream_handler(self, topic: str) -> None:
        """Accept no new text streams on `topic` (open ones continue)."""
        self._handlers[StreamKind.TEXT].pop(topic, None)

    # -- sending ---------------------------------------------------------------------------

    async def send_bytes(
        self,
        data: bytes,
        *,
        topic: str = "",
        name: str = proto_streams.DEFAULT_NAME,
        mime_type: str = proto_streams.BYTES_MIME_TYPE,
        attributes: Mapping[str, str] | None = None,
        destination_identities: Sequence[str] = (),
    ) -> StreamInfo:
        """Send `data` as one byte stream; return its info once the last packet is queued."""
        stream = proto_streams.outgoing_bytes(
            **_ids(),
            topic=topic,
            name=name,
            mime_type=mime_type,
            attributes=attributes,
            total_length=len(data),
            destination_identities=destination_identities,
        )
        await self._sender.send_stream(stream, _once(data))
        return stream.info

    async def send_text(
        self,
        text: str,
        *,
        topic: str = "",
        attributes: Mapping[str, str] | None = None,
        reply_to_stream_id: str = "",
        destination_identities: Sequence[str] = (),
    ) -> StreamInfo:
        """Send `text` as one text stream (split only between characters)."""
        data = text.encode()
        stream = proto_streams.outgoing_text(
            **_ids(),
            topic=topic,
            attributes=attributes,
            total_length=len(data),
            reply_to_stream_id=reply_to_stream_id,
            destination_identities=destination_identities,
        )
        await self._sender.send_stream(stream, _once(data))
        return stream.info

    async def send_file(
        self,
        path: str | os.PathLike[str],
        *,
        topic: str = "",
        name: str | None = None,
        mime_type: str | None = None,
        attributes: Mapping[str, str] | None = None,
        destination_identities: Sequence[str] = (),
        on_progress: ProgressCallback | None = None,
    ) -> StreamInfo:
        """Send a file as a byte stream, read a chunk at a time; name and type from the path."""
        path = Path(path)
        size = (await asyncio.to_thread(path.stat)).st_size
        guessed, _ = mimetypes.guess_type(path.name)
        stream = proto_streams.outgoing_bytes(
            **_ids(),
            topic=topic,
            name=name or path.name,
            mime_type=mime_type or guessed or proto_streams.BYTES_MIME_TYPE,
            attributes=attributes,
            total_length=size,
            destination_identities=destination_identities,
        )
        with await asyncio.to_thread(path.open, "rb") as file:
            pieces = _read_pieces(file, stream.chunk_bytes)
            await self._sender.send_stream(stream, pieces, on_progress=on_progress)
        return stream.info

    async def stream_bytes(
        self,
        *,
        topic: str = "",
        name: str = proto_streams.DEFAULT_NAME,
        mime_type: str = proto_streams.BYTES_MIME_TYPE,
        attributes: Mapping[str, str] | None = None,
        total_length: int | None = None,
        destination_identities: Sequence[str] = (),
    ) -> ByteStreamWriter:
        """Open a byte stream to write piece by piece (size unknown unless `total_length`)."""
        stream = proto_streams.outgoing_bytes(
            **_ids(),
            topic=topic,
            name=name,
            mime_type=mime_type,
            attributes=attributes,
            total_length=total_length,
            destination_identities=destination_identities,
        )
        return await self._sender.open(stream, ByteStreamWriter)

    async def stream_text(
        self,
        *,
        topic: str = "",
        attributes: Mapping[str, str] | None = None,
        reply_to_stream_id: str = "",
        destination_identities: Sequence[str] = (),
    ) -> TextStreamWriter:
        """Open a text stream to write piece by piece."""
        stream = proto_streams.outgoing_text(
            **_ids(),
            topic=topic,
            attributes=attributes,
            reply_to_stream_id=reply_to_stream_id,
            destination_identities=destination_identities,
        )
        return await self._sender.open(stream, TextStreamWriter)

    # -- internals -------------------------------------------------------------------------

    def _register(
        self, kind: StreamKind, topic: str, handler: Callable[[Any], Awaitable[None]]
    ) -> None:
        if topic in self._handlers[kind]:
            raise ValueError(f"a {kind.value} stream handler for topic {topic!r} is registered")
        self._handlers[kind][topic] = handler

    def _on_packet(self, packet: OtherPacket) -> None:
        now = time.monotonic()
        self._dispatch(self._reassembler.receive(packet.packet, packet.sender_identity, now))

    def _dispatch(self, events: Iterable[sr.StreamEvent]) -> None:
        for event in events:
            match event:
                case sr.StreamOpened(info=info):
                    self._open_reader(info)
                case sr.StreamChunk(info=info, data=data, text=text):
                    self._deliver(info, data, text)
                case sr.StreamCompleted(info=info):
                    if (reader := self._readers.pop(info.key, None)) is not None:
                        reader._finish(info)
                case sr.StreamFailed(info=info, reason=reason, detail=detail):
                    if (reader := self._readers.pop(info.key, None)) is not None:
                        message = f"stream {info.stream_id} from {info.sender_identity!r}: {detail}"
                        reader._fail(StreamError(message, reason=reason.value))
                case sr.StreamRejected():
                    _PEER_LOG.log(
                        logging.WARNING,
                        event.sender_identity,
                        "rejected stream %s from %r: %s (%s)",
                        event.stream_id,
                        event.sender_identity,
                        event.reason.value,
                        event.detail,
                    )

    def _open_reader(self, info: StreamInfo) -> None:
        handler = self._handlers[info.kind].get(info.topic)
        if handler is None:  # unregistered since the header was accepted
            self._reassembler.fail(info.key, sr.Failure.ABANDONED)
            return
        reader_type = TextStreamReader if info.kind is StreamKind.TEXT else ByteStreamReader
        reader = reader_type(
            info,
            max_buffered_bytes=self._reader_buffer_bytes,
            on_close=lambda: self._abandon(info.key),
        )
        self._readers[info.key] = reader
        name = f"streams.handler:{info.topic}:{info.stream_id[:8]}"
        self._room.start_task(self._run_handler(handler, reader), name=name)
        self._opened.set()

    def _deliver(self, info: StreamInfo, data: bytes, text: str) -> None:
        reader = self._readers.get(info.key)
        if reader is None:
            return
        if isinstance(reader, TextStreamReader):
            accepted = not text or reader._push(text, len(data))
        else:
            accepted = not data or reader._push(data, len(data))
        if not accepted:
            self._overflow(info, reader)

    def _overflow(self, info: StreamInfo, reader: ByteStreamReader | TextStreamReader) -> None:
        _LOGGER.warning(
            "stream %s on %r: handler fell %d bytes behind; failing it",
            info.stream_id,
            info.topic,
            reader.buffered_bytes,
        )
        del self._readers[info.key]
        detail = f"more than {self._reader_buffer_bytes} bytes unread"
        reader._fail(StreamError(f"stream {info.stream_id}: {detail}", reason=READER_OVERFLOW))
        self._reassembler.fail(info.key, sr.Failure.ABANDONED, detail)

    def _abandon(self, key: StreamKey) -> None:
        if self._readers.pop(key, None) is not None:
            self._reassembler.fail(key, sr.Failure.ABANDONED)

    async def _run_handler(
        self, handler: Callable[[Any], Awaitable[None]], reader: ByteStreamReader | TextStreamReader
    ) -> None:
        info = reader.info
        try:
            await handler(reader)
        except StreamError as exc:
            _PEER_LOG.log(
                logging.WARNING,
                info.sender_identity,
                "stream handler for topic %r: %s",
                info.topic,
                exc,
            )
        except Exception:
            # A handler's bug must not end the room.
            _LOGGER.exception("stream handler for topic %r failed", info.topic)
        finally:
            reader.close()

    async def _follow_room(self) -> None:
        async for event in self._room.events():
            match event:
                case ParticipantLeft(participant=participant):
                    self._dispatch(self._reassembler.sender_left(participant.identity))
                case Disconnected():
                    self._dispatch(self._reassembler.fail_all(sr.Failure.DISCONNECTED))

    async def _expire_idle(self) -> None:
        while True:
            self._opened.clear()
            deadline = self._reassembler.next_deadline()
            delay = None if deadline is None else max(0.0, deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._opened.wait()
            self._dispatch(self._reassembler.poll(time.monotonic()))


def _ids() -> dict[str, Any]:
    """A fresh stream id and the current wall-clock time, as the header wants them."""
    return {"stream_id": str(uuid.uuid4()), "timestamp_ms": int(time.time() * 1000)}


async def _once(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def _read_pieces(file: BinaryIO, size: int) -> AsyncGenerator[bytes, None]:
    while piece := await asyncio.to_thread(file.read, size):
        yield piece
