"""StreamReassembler: incoming data-stream packets from every sender → stream events, with limits.

    events = reassembler.receive(packet, sender_identity, now)   # header, chunk or trailer
    events += reassembler.poll(now)                               # idle timeouts

Streams are keyed by (sender identity, stream id). Reads what the SDKs send: v1 (header, chunks,
trailer) and v2 (`inline_content`, `DEFLATE_RAW` compression). A stream ends in exactly one
`StreamCompleted` or `StreamFailed`; headers that never open a stream give a `StreamRejected`.
Streams on topics nobody handles are ignored as the SDKs do: an INFO log, then silence.
"""

from __future__ import annotations

import codecs
import dataclasses
import enum
import logging
import zlib
from collections import OrderedDict
from collections.abc import Callable, Container
from dataclasses import dataclass
from types import MappingProxyType

from livekit.protocol import models as proto_models

from edge.errors import DataError
from edge.protocol.streams import StreamInfo, StreamKey, StreamKind, info_from_header

_LOGGER = logging.getLogger(__name__)
_DEFLATE_RAW = proto_models.DataStream.DEFLATE_RAW
_NO_COMPRESSION = proto_models.DataStream.NONE
_REMEMBERED_DROPS = 1024
"""Ids of ignored or failed streams whose later packets are dropped silently (oldest forgotten)."""


class Failure(enum.Enum):
    """Why a stream failed or was rejected; values are the SDKs' error names where one exists."""

    INVALID_HEADER = "InvalidHeader"
    DUPLICATE_STREAM = "DuplicateStream"
    TOO_MANY_STREAMS = "TooManyStreams"
    UNKNOWN_STREAM = "UnknownStream"
    """A chunk or trailer arrived for a stream whose header we never saw."""
    MISSED_CHUNK = "MissedChunk"
    LENGTH_EXCEEDED = "LengthExceeded"
    INCOMPLETE = "Incomplete"
    ABNORMAL_END = "AbnormalEnd"
    """The sender's trailer carried a reason."""
    TOO_LARGE = "TooLarge"
    """Over `StreamLimits.max_stream_bytes`."""
    OVER_BUDGET = "OverBudget"
    """Over `StreamLimits.max_total_bytes` across open streams."""
    DECOMPRESSION = "Decompression"
    SENDER_LEFT = "SenderLeft"
    TIMED_OUT = "Timeout"
    ABANDONED = "Abandoned"
    """The local consumer gave up (closed its reader, or fell too far behind)."""
    DISCONNECTED = "Disconnected"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamLimits:
    """Bounds on what remote senders can make us hold."""

    max_streams: int = 32
    """Open incoming streams at once, all senders together."""
    max_stream_bytes: int = 16 * 1024 * 1024
    """Content bytes of one stream (after decompression)."""
    max_total_bytes: int = 64 * 1024 * 1024
    """Content bytes received by all open streams together."""
    idle_timeout_s: float = 30.0
    """A stream that receives nothing for this long fails."""


@dataclass(frozen=True, slots=True)
class StreamOpened:
    """A stream on an accepted topic started."""

    info: StreamInfo


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """The next piece of a stream's content, in order."""

    info: StreamInfo
    data: bytes
    text: str
    """Text streams: `data` decoded (a code point cut at the end waits for the next chunk)."""


@dataclass(frozen=True, slots=True)
class StreamCompleted:
    """The stream ended normally; `info.attributes` include the trailer's."""

    info: StreamInfo
    data: bytes
    """All content when the reassembler collects, else b""."""

    @property
    def text(self) -> str:
        """`data` as text (invalid UTF-8 replaced)."""
        return self.data.decode(errors="replace")


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The stream ended abnormally; nothing more comes from it."""

    info: StreamInfo
    reason: Failure
    detail: str


@dataclass(frozen=True, slots=True)
class StreamRejected:
    """A header (or a chunk with no header) that did not open a stream."""

    sender_identity: str
    stream_id: str
    reason: Failure
    detail: str


StreamEvent = StreamOpened | StreamChunk | StreamCompleted | StreamFailed | StreamRejected


@dataclass(slots=True)
class _Open:
    info: StreamInfo
    last_activity: float
    next_index: int = 0
    received: int = 0
    buffer: bytearray | None = None
    inflater: zlib._Decompress | None = None
    decoder: codecs.IncrementalDecoder | None = None


class StreamReassembler:
    """Turns stream packets into events; `accepts(info)` says whether a topic is handled."""

    def __init__(
        self,
        limits: StreamLimits | None = None,
        *,
        accepts: Callable[[StreamInfo], bool] = lambda info: True,
        collect: bool = False,
        quiet_topics: Container[str] = frozenset(),
    ) -> None:
        """`quiet_topics` are read elsewhere (RPC v2): ignored without the INFO log."""
        self.limits = limits or StreamLimits()
        self._accepts = accepts
        self._quiet_topics = quiet_topics
        self._collect = collect
        self._open: dict[StreamKey, _Open] = {}
        self._dropped: OrderedDict[StreamKey, None] = OrderedDict()
        self.total_bytes = 0
        """Content bytes received by the streams open now."""

    @property
    def open_streams(self) -> int:
        """How many streams are open."""
        return len(self._open)

    def receive(
        self, packet: proto_models.DataPacket, sender_identity: str, now: float
    ) -> list[StreamEvent]:
        """Events caused by one stream packet (other packet kinds give none)."""
        kind = packet.WhichOneof("value")
        if kind == "stream_header":
            return self._header(packet.stream_header, sender_identity, now)
        if kind == "stream_chunk":
            chunk = packet.stream_chunk
            return self._chunk(chunk, (sender_identity, chunk.stream_id), now)
        if kind == "stream_trailer":
            trailer = packet.stream_trailer
            return self._trailer(trailer, (sender_identity, trailer.stream_id))
        return []

    def poll(self, now: float) -> list[StreamEvent]:
        """Fail streams idle for longer than `idle_timeout_s`."""
        timeout = self.limits.idle_timeout_s
        idle = [key for key, s in self._open.items() if now - s.last_activity > timeout]
        return [e for key in idle for e in self.fail(key, Failure.TIMED_OUT, f"idle {timeout:g} s")]

    def next_deadline(self) -> float | None:
        """When `poll` may next have something to do; None while no stream is open."""
        if not self._open:
            return None
        return min(s.last_activity for s in self._open.values()) + self.limits.idle_timeout_s

    def sender_left(self, identity: str) -> list[StreamEvent]:
        """Fail the open streams of a participant who left."""
        keys = [key for key in self._open if key[0] == identity]
        events = [e for key in keys for e in self.fail(key, Failure.SENDER_LEFT, identity)]
        for key in [key for key in self._dropped if key[0] == identity]:
            del self._dropped[key]
        return events

    def fail(self, key: StreamKey, reason: Failure, detail: str = "") -> list[StreamEvent]:
        """End an open stream with `reason`; its later packets are dropped silently."""
        stream = self._open.pop(key, None)
        if stream is None:
            return []
        self.total_bytes -= stream.received
        self._drop(key)
        return [StreamFailed(stream.info, reason, detail or reason.value)]

    def fail_all(self, reason: Failure, detail: str = "") -> list[StreamEvent]:
        """End every open stream (e.g. we left the room)."""
        return [e for key in list(self._open) for e in self.fail(key, reason, detail)]

    # -- packets ---------------------------------------------------------------------------

    def _header(
        self, header: proto_models.DataStream.Header, sender: str, now: float
    ) -> list[StreamEvent]:
        key = (sender, header.stream_id)
        try:
            info = info_from_header(header, sender)
        except DataError as exc:
            return self._reject(key, Failure.INVALID_HEADER, str(exc))
        if key in self._open:
            return [StreamRejected(sender, header.stream_id, Failure.DUPLICATE_STREAM, "")]
        if not self._accepts(info):
            level = logging.DEBUG if info.topic in self._quiet_topics else logging.INFO
            _LOGGER.log(
                level,
                "ignoring %s stream %s from %r: no handler for topic %r",
                info.kind.value,
                info.stream_id,
                sender,
                info.topic,
            )
            self._drop(key)
            return []
        limits = self.limits
        if len(self._open) >= limits.max_streams:
            return self._reject(key, Failure.TOO_MANY_STREAMS, f"{limits.max_streams} open")
        if (info.total_length or 0) > limits.max_stream_bytes:
            detail = f"{info.total_length} bytes announced, limit {limits.max_stream_bytes}"
            return self._reject(key, Failure.TOO_LARGE, detail)
        if header.compression not in (_NO_COMPRESSION, _DEFLATE_RAW):
            return self._reject(key, Failure.INVALID_HEADER, f"compression {header.compression}")
        stream = _Open(info=info, last_activity=now)
        if self._collect:
            stream.buffer = bytearray()
        if header.compression == _DEFLATE_RAW:
            stream.inflater = zlib.decompressobj(wbits=-15)
        if info.kind is StreamKind.TEXT:
            stream.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._open[key] = stream
        events: list[StreamEvent] = [StreamOpened(info)]
        if header.HasField("inline_content"):
            events += self._content(key, stream, header.inline_content)
            if key in self._open:
                events += self._finish(key, proto_models.DataStream.Trailer())
        return events

    def _chunk(
        self, chunk: proto_models.DataStream.Chunk, key: StreamKey, now: float
    ) -> list[StreamEvent]:
        stream = self._open.get(key)
        if stream is None:
            if key in self._dropped:
                return []
            return self._reject(key, Failure.UNKNOWN_STREAM, f"chunk {chunk.chunk_index}")
        if chunk.chunk_index < stream.next_index:
            _LOGGER.debug("dropping repeated chunk %d of %s", chunk.chunk_index, key)
            return []
        if chunk.chunk_index > stream.next_index:
            detail = f"expected chunk {stream.next_index}, got {chunk.chunk_index}"
            return self.fail(key, Failure.MISSED_CHUNK, detail)
        stream.next_index += 1
        stream.last_activity = now
        return self._content(key, stream, chunk.content)

    def _trailer(
        self, trailer: proto_models.DataStream.Trailer, key: StreamKey
    ) -> list[StreamEvent]:
        if key not in self._open:
            if key in self._dropped:
                del self._dropped[key]
                return []
            return self._reject(key, Failure.UNKNOWN_STREAM, "trailer")
        return self._finish(key, trailer)

    # -- helpers ---------------------------------------------------------------------------

    def _content(self, key: StreamKey, stream: _Open, content: bytes) -> list[StreamEvent]:
        limits = self.limits
        if stream.inflater is not None:
            room = limits.max_stream_bytes - stream.received
            try:
                content = stream.inflater.decompress(content, room + 1)
            except zlib.error as exc:
                return self.fail(key, Failure.DECOMPRESSION, str(exc))
            if stream.inflater.unconsumed_tail:
                return self.fail(key, Failure.TOO_LARGE, f"over {limits.max_stream_bytes} bytes")
        stream.received += len(content)
        self.total_bytes += len(content)
        total = stream.info.total_length
        if total is not None and stream.received > total:
            detail = f"{stream.received} bytes received, {total} announced"
            return self.fail(key, Failure.LENGTH_EXCEEDED, detail)
        if stream.received > limits.max_stream_bytes:
            return self.fail(key, Failure.TOO_LARGE, f"over {limits.max_stream_bytes} bytes")
        if self.total_bytes > limits.max_total_bytes:
            return self.fail(key, Failure.OVER_BUDGET, f"over {limits.max_total_bytes} bytes")
        if not content:
            return []
        if stream.buffer is not None:
            stream.buffer += content
        text = stream.decoder.decode(content) if stream.decoder is not None else ""
        return [StreamChunk(stream.info, content, text)]

    def _finish(
        self, key: StreamKey, trailer: proto_models.DataStream.Trailer
    ) -> list[StreamEvent]:
        stream = self._open[key]
        events: list[StreamEvent] = []
        if stream.decoder is not None and (tail := stream.decoder.decode(b"", final=True)):
            events.append(StreamChunk(stream.info, b"", tail))
        total = stream.info.total_length
        if trailer.reason:
            return events + self.fail(key, Failure.ABNORMAL_END, trailer.reason)
        if total is not None and stream.received != total:
            detail = f"{stream.received} bytes received, {total} announced"
            return events + self.fail(key, Failure.INCOMPLETE, detail)
        del self._open[key]
        self.total_bytes -= stream.received
        info = stream.info
        if trailer.attributes:
            merged = {**info.attributes, **trailer.attributes}
            info = dataclasses.replace(info, attributes=MappingProxyType(merged))
        return [*events, StreamCompleted(info, bytes(stream.buffer or b""))]

    def _reject(self, key: StreamKey, reason: Failure, detail: str) -> list[StreamEvent]:
        self._drop(key)
        return [StreamRejected(key[0], key[1], reason, detail)]

    def _drop(self, key: StreamKey) -> None:
        self._dropped[key] = None
        self._dropped.move_to_end(key)
        while len(self._dropped) > _REMEMBERED_DROPS:
            self._dropped.popitem(last=False)
