"""RPC v2 framing, without I/O: requests and answers carried by text data streams.

A peer whose `client_protocol` is at least `CLIENT_PROTOCOL_RPC_V2` is called with v2:

    request:  a text stream on topic `lk.rpc_request` to the callee, whose header attributes
              carry the request id, method, response timeout (ms) and version ("2")
    ack:      a v1 `rpc_ack` packet, as soon as the header is read
    answer:   success = a text stream on topic `lk.rpc_response` with the request id attribute;
              an error = a v1 `rpc_response` packet with `error`

The payload is the stream's content, so the 15 360-byte limit of v1 does not apply; ours is
`MAX_V2_PAYLOAD_BYTES` each way. Everything after the transport (access policy, limits,
schemas, error codes) is shared with v1: `edge.protocol.rpc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge.protocol.streams import StreamInfo, StreamKind

CLIENT_PROTOCOL_DEFAULT = 0
"""A peer that advertises nothing: RPC v1, data streams v1."""
CLIENT_PROTOCOL_RPC_V2 = 1
"""The peer takes RPC v2 (requests and answers over data streams)."""
CLIENT_PROTOCOL_DATA_STREAM_V2 = 2
"""The peer also reads single-packet (inline) data streams."""

RPC_VERSION_V2 = 2
REQUEST_TOPIC = "lk.rpc_request"
RESPONSE_TOPIC = "lk.rpc_response"
ATTR_REQUEST_ID = "lk.rpc_request_id"
ATTR_METHOD = "lk.rpc_request_method"
ATTR_RESPONSE_TIMEOUT_MS = "lk.rpc_request_response_timeout_ms"
ATTR_VERSION = "lk.rpc_request_version"
TOPICS = frozenset({REQUEST_TOPIC, RESPONSE_TOPIC})
"""Topics reserved for RPC; the RPC endpoint reads them, not stream handlers."""

MAX_V2_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Largest v2 request we take and answer we send or take (UTF-8 bytes)."""
MAX_V2_PENDING_BYTES = 16 * 1024 * 1024
"""Bytes of v2 requests and answers being received at once, all peers together."""
_MAX_TIMEOUT_MS = 2**32 - 1


def uses_v2(client_protocol: int) -> bool:
    """Whether a peer advertising `client_protocol` is called (and answered) with v2."""
    return client_protocol >= CLIENT_PROTOCOL_RPC_V2


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRequest:
    """A v2 request to send: `payload` as a text stream on `REQUEST_TOPIC` to `destination`."""

    destination: str
    request_id: str
    payload: str
    attributes: Mapping[str, str]
    topic: str = REQUEST_TOPIC


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamAnswer:
    """A v2 success to send: `payload` as a text stream on `RESPONSE_TOPIC` to `destination`."""

    destination: str
    request_id: str
    payload: str
    attributes: Mapping[str, str]
    topic: str = RESPONSE_TOPIC


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHeader:
    """What a v2 request stream's header says (the payload follows as its content)."""

    caller_identity: str
    request_id: str
    method: str
    response_timeout_ms: int
    """0 when the attribute is missing or not a number (the callee's default applies)."""
    version: int
    """0 when the attribute is missing or not a number (refused as unsupported)."""
    payload_bytes: int | None
    """The announced UTF-8 length, None when the sender did not say."""


def stream_request(
    destination: str, request_id: str, method: str, payload: str, *, response_timeout_ms: int
) -> StreamRequest:
    """A v2 request of `method` to `destination`."""
    attributes = {
        ATTR_REQUEST_ID: request_id,
        ATTR_METHOD: method,
        ATTR_RESPONSE_TIMEOUT_MS: str(response_timeout_ms),
        ATTR_VERSION: str(RPC_VERSION_V2),
    }
    return StreamRequest(
        destination=destination, request_id=request_id, payload=payload, attributes=attributes
    )


def stream_answer(destination: str, request_id: str, payload: str) -> StreamAnswer:
    """The v2 success answer to `request_id`."""
    return StreamAnswer(
        destination=destination,
        request_id=request_id,
        payload=payload,
        attributes={ATTR_REQUEST_ID: request_id},
    )


def request_header(info: StreamInfo) -> RequestHeader | None:
    """The request a stream on `REQUEST_TOPIC` opens; None if it cannot be answered (no id or
    method, not a text stream, not that topic)."""
    attributes = info.attributes
    request_id = attributes.get(ATTR_REQUEST_ID, "")
    method = attributes.get(ATTR_METHOD, "")
    if info.topic != REQUEST_TOPIC or info.kind is not StreamKind.TEXT:
        return None
    if not request_id or not method:
        return None
    return RequestHeader(
        caller_identity=info.sender_identity,
        request_id=request_id,
        method=method,
        response_timeout_ms=_number(attributes.get(ATTR_RESPONSE_TIMEOUT_MS)),
        version=_number(attributes.get(ATTR_VERSION)),
        payload_bytes=info.total_length,
    )


def answer_request_id(info: StreamInfo) -> str:
    """The request a stream on `RESPONSE_TOPIC` answers; "" when it names none."""
    if info.topic != RESPONSE_TOPIC or info.kind is not StreamKind.TEXT:
        return ""
    return info.attributes.get(ATTR_REQUEST_ID, "")


def _number(text: str | None) -> int:
    """A non-negative decimal attribute (at most 32 bits, as the v1 field), else 0."""
    if text is None or not text.isascii() or not text.isdecimal():
        return 0
    digits = text.lstrip("0")
    if len(digits) > len(str(_MAX_TIMEOUT_MS)):  # never int() a peer's megabyte of digits
        return 0
    value = int(digits or "0")
    return value if value <= _MAX_TIMEOUT_MS else 0
