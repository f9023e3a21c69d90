"""Sending streams: packets paced against the reliable channel, one-shot sends, writers.

    async with await streams.stream_bytes(topic="log", name="boot.log") as writer:
        await writer.write(b"...")

Before each packet, `StreamSender` waits until at most `SEND_BUFFER_BYTES` wait in the reliable
data channel, so a large send never queues more than that (plus one packet) in memory. Leaving
a writer's block closes the stream: normally, or after an exception with a trailer whose reason
names it, so receivers fail the stream at once instead of waiting for their idle timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from types import TracebackType
from typing import Self, TypeVar

from livekit.protocol import models as proto_models

from edge.errors import DataError, RoomError
from edge.livekit.ports import StreamRoom
from edge.protocol.streams import OutgoingStream, StreamInfo

SEND_BUFFER_BYTES = 64 * 1024
"""Most bytes we let wait in the reliable channel before queueing the next packet."""
SEND_STALL_TIMEOUT_S = 30.0
"""A reliable channel that takes nothing for this long counts as broken."""

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes sent, total bytes) after each piece."""
W = TypeVar("W", bound="_StreamWriter")


class StreamSender:
    """Sends stream packets on the room's reliable channel, in order and paced."""

    def __init__(self, room: StreamRoom) -> None:
        self._room = room

    async def send(self, packet: proto_models.DataPacket) -> None:
        """Queue one packet once the channel's send queue is short enough."""
        try:
            async with asyncio.timeout(SEND_STALL_TIMEOUT_S):
                await self._room.drain(max_buffered=SEND_BUFFER_BYTES)
        except TimeoutError:
            raise RoomError(
                f"reliable data channel took nothing for {SEND_STALL_TIMEOUT_S:g} s"
            ) from None
        await self._room.send_packet(packet, reliable=True)

    async def send_stream(
        self,
        stream: OutgoingStream,
        pieces: AsyncGenerator[bytes, None],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Header, the chunks of every piece, trailer; aborts the stream if anything fails."""
        total = stream.info.total_length or 0
        await self.send(stream.header())
        try:
            async with contextlib.aclosing(pieces):
                async for piece in pieces:
                    for packet in stream.chunks(piece):
                        await self.send(packet)
                    if on_progress is not None:
                        on_progress(stream.bytes_sent, total)
            if stream.bytes_sent != total:
                raise DataError(f"sent {stream.bytes_sent} bytes of the {total} announced")
        except BaseException as exc:
            # Unpaced: this must not wait (we may be cancelled) and is one small packet.
            with contextlib.suppress(RoomError, DataError):
                await self._room.send_packet(stream.trailer(reason=type(exc).__name__))
            raise
        await self.send(stream.trailer())

    async def open(self, stream: OutgoingStream, writer: type[W]) -> W:
        """Send the header and return a writer for the rest."""
        await self.send(stream.header())
        return writer(stream, self)


class _StreamWriter:
    def __init__(self, stream: OutgoingStream, sender: StreamSender) -> None:
        self._stream = stream
        self._sender = sender
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def info(self) -> StreamInfo:
        """The header we sent."""
        return self._stream.info

    @property
    def bytes_sent(self) -> int:
        """Content bytes queued so far."""
        return self._stream.bytes_sent

    async def aclose(
        self, *, reason: str = "", attributes: Mapping[str, str] | None = None
    ) -> None:
        """Send the trailer (`reason` non-empty aborts the stream); idempotent.

        Raises `DataError` if fewer bytes than an announced `total_length` were written (the
        stream is then closed as aborted).
        """
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            total, sent = self._stream.info.total_length, self._stream.bytes_sent
            if not reason and total is not None and sent != total:
                await self._sender.send(self._stream.trailer(reason="Incomplete"))
                raise DataError(f"stream closed after {sent} of the {total} bytes announced")
            await self._sender.send(self._stream.trailer(reason=reason, attributes=attributes))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose(reason="" if exc_type is None else exc_type.__name__)

    async def _write(self, data: bytes) -> None:
        async with self._lock:
            if self._closed:
                raise DataError(f"stream {self._stream.info.stream_id} is closed")
            for packet in self._stream.chunks(data):
                await self._sender.send(packet)


class ByteStreamWriter(_StreamWriter):
    """An open outgoing byte stream."""

    async def write(self, data: bytes) -> None:
        """Send `data` (split into chunks as needed)."""
        await self._write(data)


class TextStreamWriter(_StreamWriter):
    """An open outgoing text stream."""

    async def write(self, text: str) -> None:
        """Send `text` (split only between characters)."""
        await self._write(text.encode())
