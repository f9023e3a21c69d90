"""Data streams: stream info, and the packets of one outgoing stream (header, chunks, trailer).

We send LiveKit's v1 stream format, which every SDK reads:

    header (`total_length` when known) → chunk 0, 1, 2, … (≤ 15 000 bytes) → trailer

Every packet of a stream carries the same destination identities and must go reliable, in
order. Receiving is `edge.protocol.stream_reassembler`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from livekit.protocol import models as proto_models

from edge.errors import DataError
from edge.protocol.packets import MAX_PACKET_BYTES, MAX_USER_PACKET_BYTES

_DataStream = proto_models.DataStream

MAX_CHUNK_BYTES = 15_000
"""Largest chunk content the SDKs send; ours stay a little under so the packet fits too."""
TEXT_MIME_TYPE = "text/plain"
BYTES_MIME_TYPE = "application/octet-stream"
DEFAULT_NAME = "unknown"
"""`ByteHeader.name` when the sender gives none (the SDKs' default)."""
_ENVELOPE_SLACK_BYTES = 16
"""Room for what `Room.send_packet` adds after we measure a packet (kind, sequence)."""
_MIN_CHUNK_BYTES = 1_024
_LARGEST_INDEX = 2**63 - 1


class StreamKind(enum.Enum):
    """Which SDK handler family a stream belongs to."""

    TEXT = "text"
    BYTES = "bytes"


StreamKey = tuple[str, str]
"""(sender identity, stream id): stream ids are only unique per sender."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamInfo:
    """What a stream header says, plus who sent it."""

    stream_id: str
    kind: StreamKind
    topic: str
    mime_type: str
    sender_identity: str
    """Stamped by the server on incoming streams; "" on streams we send."""
    timestamp_ms: int
    """Sender's clock at open, milliseconds since the epoch."""
    total_length: int | None
    """Bytes (UTF-8 for text, before compression) the sender announced; None when unknown."""
    attributes: Mapping[str, str]
    """Header attributes; on completion, merged with the trailer's."""
    name: str = ""
    """File name of a byte stream; "" for text."""
    reply_to_stream_id: str = ""
    """Text streams: the stream this one answers."""

    @property
    def key(self) -> StreamKey:
        """Identifies the stream among everything being received."""
        return (self.sender_identity, self.stream_id)


def info_from_header(header: _DataStream.Header, sender_identity: str) -> StreamInfo:
    """StreamInfo of an incoming header; raise `DataError` if it names no stream or kind."""
    content = header.WhichOneof("content_header")
    if not header.stream_id or content is None:
        missing = "stream_id" if not header.stream_id else "text_header/byte_header"
        raise DataError(f"stream header from {sender_identity!r} has no {missing}")
    text = content == "text_header"
    return StreamInfo(
        stream_id=header.stream_id,
        kind=StreamKind.TEXT if text else StreamKind.BYTES,
        topic=header.topic,
        mime_type=header.mime_type,
        sender_identity=sender_identity,
        timestamp_ms=header.timestamp,
        total_length=header.total_length if header.HasField("total_length") else None,
        attributes=MappingProxyType(dict(header.attributes)),
        name="" if text else header.byte_header.name,
        reply_to_stream_id=header.text_header.reply_to_stream_id if text else "",
    )


class OutgoingStream:
    """Builds the packets of one stream we send: `header()`, then `chunks()`, then `trailer()`.

    Raises `DataError` at construction if the header packet would exceed 15 000 bytes (large
    attribute maps), and from `chunks()` if more bytes are written than `total_length` says.
    """

    def __init__(self, info: StreamInfo, *, destination_identities: Sequence[str] = ()) -> None:
        self.info = info
        self.bytes_sent = 0
        """Content bytes handed out in chunks so far."""
        self._destinations = list(destination_identities)
        self._next_index = 0
        self._header = self._packet()
        self._header.stream_header.CopyFrom(_header(info))
        size = self._header.ByteSize() + _ENVELOPE_SLACK_BYTES
        if size > MAX_USER_PACKET_BYTES:
            raise DataError(
                f"stream header is {size} bytes encoded ({len(info.attributes)} attribute(s), "
                f"{len(self._destinations)} destination(s)); the limit is {MAX_USER_PACKET_BYTES}"
            )
        probe = self._packet()
        probe.stream_chunk.stream_id = info.stream_id
        probe.stream_chunk.chunk_index = _LARGEST_INDEX
        overhead = probe.ByteSize() + _ENVELOPE_SLACK_BYTES + 3  # + content tag and length
        self.chunk_bytes = min(MAX_CHUNK_BYTES, MAX_PACKET_BYTES - overhead)
        """Largest content of one chunk packet."""
        if self.chunk_bytes < _MIN_CHUNK_BYTES:
            raise DataError(f"stream envelope leaves only {self.chunk_bytes} bytes per chunk")

    def header(self) -> proto_models.DataPacket:
        """The header packet, sent first."""
        return self._header

    def chunks(self, data: bytes) -> Iterator[proto_models.DataPacket]:
        """Chunk packets for the next `data`; text is split only between UTF-8 code points."""
        total = self.info.total_length
        if total is not None and self.bytes_sent + len(data) > total:
            raise DataError(
                f"stream {self.info.stream_id} announced {total} bytes; "
                f"writing {len(data)} more after {self.bytes_sent} exceeds it"
            )
        if self.info.kind is StreamKind.TEXT:
            return self._packets(split_utf8(data, self.chunk_bytes))
        step = self.chunk_bytes
        return self._packets(data[i : i + step] for i in range(0, len(data), step))

    def trailer(
        self, *, reason: str = "", attributes: Mapping[str, str] | None = None
    ) -> proto_models.DataPacket:
        """The trailer packet; a non-empty `reason` tells receivers the stream was aborted."""
        packet = self._packet()
        packet.stream_trailer.stream_id = self.info.stream_id
        packet.stream_trailer.reason = reason
        packet.stream_trailer.attributes.update(attributes or {})
        return packet

    def _packets(self, pieces: Iterator[bytes]) -> Iterator[proto_models.DataPacket]:
        for piece in pieces:
            packet = self._packet()
            chunk = packet.stream_chunk
            chunk.stream_id = self.info.stream_id
            chunk.chunk_index = self._next_index
            chunk.content = piece
            self._next_index += 1
            self.bytes_sent += len(piece)
            yield packet

    def _packet(self) -> proto_models.DataPacket:
        return proto_models.DataPacket(destination_identities=self._destinations)


def outgoing_bytes(
    *,
    stream_id: str,
    timestamp_ms: int,
    topic: str = "",
    name: str = DEFAULT_NAME,
    mime_type: str = BYTES_MIME_TYPE,
    attributes: Mapping[str, str] | None = None,
    total_length: int | None = None,
    destination_identities: Sequence[str] = (),
) -> OutgoingStream:
    """An outgoing byte stream (`total_length` None when the size is not known up front)."""
    info = StreamInfo(
        stream_id=stream_id,
        kind=StreamKind.BYTES,
        topic=topic,
        mime_type=mime_type,
        sender_identity="",
        timestamp_ms=timestamp_ms,
        total_length=total_length,
        attributes=MappingProxyType(dict(attributes or {})),
        name=name,
    )
    return OutgoingStream(info, destination_identities=destination_identities)


def outgoing_text(
    *,
    stream_id: str,
    timestamp_ms: int,
    topic: str = "",
    attributes: Mapping[str, str] | None = None,
    total_length: int | None = None,
    reply_to_stream_id: str = "",
    destination_identities: Sequence[str] = (),
) -> OutgoingStream:
    """An outgoing text stream (`total_length` in UTF-8 bytes, None when not known)."""
    info = StreamInfo(
        stream_id=stream_id,
        kind=StreamKind.TEXT,
        topic=topic,
        mime_type=TEXT_MIME_TYPE,
        sender_identity="",
        timestamp_ms=timestamp_ms,
        total_length=total_length,
        attributes=MappingProxyType(dict(attributes or {})),
        reply_to_stream_id=reply_to_stream_id,
    )
    return OutgoingStream(info, destination_identities=destination_identities)


def byte_stream_packets(
    data: bytes,
    *,
    stream_id: str,
    timestamp_ms: int,
    topic: str = "",
    name: str = DEFAULT_NAME,
    mime_type: str = BYTES_MIME_TYPE,
    attributes: Mapping[str, str] | None = None,
    destination_identities: Sequence[str] = (),
) -> list[proto_models.DataPacket]:
    """Every packet of a one-shot byte stream, `total_length` set."""
    stream = outgoing_bytes(
        stream_id=stream_id,
        timestamp_ms=timestamp_ms,
        topic=topic,
        name=name,
        mime_type=mime_type,
        attributes=attributes,
        total_length=len(data),
        destination_identities=destination_identities,
    )
    return [stream.header(), *stream.chunks(data), stream.trailer()]


def text_stream_packets(
    text: str,
    *,
    stream_id: str,
    timestamp_ms: int,
    topic: str = "",
    attributes: Mapping[str, str] | None = None,
    reply_to_stream_id: str = "",
    destination_identities: Sequence[str] = (),
) -> list[proto_models.DataPacket]:
    """Every packet of a one-shot text stream, `total_length` set to the UTF-8 length."""
    data = text.encode()
    stream = outgoing_text(
        stream_id=stream_id,
        timestamp_ms=timestamp_ms,
        topic=topic,
        attributes=attributes,
        total_length=len(data),
        reply_to_stream_id=reply_to_stream_id,
        destination_identities=destination_identities,
    )
    return [stream.header(), *stream.chunks(data), stream.trailer()]


def split_utf8(data: bytes, limit: int) -> Iterator[bytes]:
    """Pieces of at most `limit` bytes, cut only where a UTF-8 sequence starts."""
    start, size = 0, len(data)
    while start < size:
        end = min(start + limit, size)
        if end < size:
            cut = end
            while cut > start and data[cut] & 0xC0 == 0x80:  # continuation byte
                cut -= 1
            end = cut if cut > start else end  # not UTF-8 at all: cut anywhere
        yield data[start:end]
        start = end


def _header(info: StreamInfo) -> _DataStream.Header:
    header = _DataStream.Header(
        stream_id=info.stream_id,
        timestamp=info.timestamp_ms,
        topic=info.topic,
        mime_type=info.mime_type,
        attributes=dict(info.attributes),
    )
    if info.total_length is not None:
        header.total_length = info.total_length
    if info.kind is StreamKind.TEXT:
        header.text_header.SetInParent()
        header.text_header.operation_type = _DataStream.CREATE
        header.text_header.reply_to_stream_id = info.reply_to_stream_id
    else:
        header.byte_header.SetInParent()
        header.byte_header.name = info.name
    return header
