"""LiveKit RPC without I/O: error codes, v1 packet builders and the callee.

`RpcResponder.receive(packet, now, methods=...)` (v1, an `rpc_request` packet) and
`receive_stream(header, now, methods=...)` (v2, the header of a request stream,
`edge.protocol.rpc_v2`) ack every request (before any other check), refuse what they must and
hand out `RpcInvocation`s; `respond()` builds the answer, in the transport the request came by
(a v1 packet, or a v2 `StreamAnswer` for a success). The caller's side is
`edge.protocol.rpc_caller.RpcCaller`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import Any

from livekit.protocol import models as proto_models

from edge.errors import RpcError
from edge.protocol.codes import BUILT_IN_MESSAGES, RpcErrorCode
from edge.protocol.packets import MAX_PACKET_BYTES, OtherPacket
from edge.protocol.rpc_v2 import (
    MAX_V2_PAYLOAD_BYTES,
    MAX_V2_PENDING_BYTES,
    RPC_VERSION_V2,
    RequestHeader,
    StreamAnswer,
    stream_answer,
)

__all__ = [
    "RpcError",
    "RpcErrorCode",
    "RpcInvocation",
    "RpcResponder",
    "built_in",
]

_LOGGER = logging.getLogger(__name__)

RPC_VERSION = 1
MAX_PAYLOAD_BYTES = 15_360
"""Largest request or response payload (UTF-8) that v1 carries."""
ACK_TIMEOUT_S = 7.0
"""How long a caller waits for the ack (the SDKs' `max_round_trip_latency`)."""
DEFAULT_RESPONSE_TIMEOUT_S = 15.0
MIN_HANDLER_TIMEOUT_S = 1.0
MAX_CONCURRENT_HANDLERS = 32
DEDUPE_SIZE = 1024
"""Request ids remembered per responder for spotting retransmits."""
DEDUPE_TTL_S = 120.0
_ENVELOPE_SLACK_BYTES = 16
"""Room.send_packet adds the sequence number and kind after we measure."""


def built_in(code: RpcErrorCode, data: str | None = None) -> RpcError:
    """A built-in error with LiveKit's message for `code`."""
    return RpcError(code, BUILT_IN_MESSAGES[code], data)


def utf8_len(text: str) -> int:
    """Length of `text` in UTF-8 bytes (a lone surrogate counts as one replacement byte)."""
    return len(text.encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RpcInvocation:
    """One incoming call, as a method handler sees it."""

    request_id: str
    caller_identity: str
    """Identity stamped by the server, never taken from the payload."""
    method: str
    payload: str
    response_timeout_s: float
    """How long the caller waits; the handler is cancelled after this."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The payload, parsed and validated against the method's published schema (a method
    registered without one gets `{}` and reads `payload`)."""
    rpc_version: int = RPC_VERSION
    """How the request came: 1 (an `rpc_request` packet) or 2 (a data stream); the answer
    goes back the same way."""


@dataclass(frozen=True, slots=True)
class CallSucceeded:
    """A call we made was answered with a payload."""

    request_id: str
    payload: str


@dataclass(frozen=True, slots=True)
class CallFailed:
    """A call we made failed: an error answer, a timeout or a departure."""

    request_id: str
    error: RpcError


CallOutcome = CallSucceeded | CallFailed
Answer = proto_models.DataPacket | StreamAnswer
"""What a callee sends back: a v1 `rpc_response` packet, or a v2 success as a text stream."""


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """What to do about one request: send `ack`, then `response` or run `invocation`."""

    ack: proto_models.DataPacket
    response: proto_models.DataPacket | None
    """An immediate refusal (unknown method, bad version, busy)."""
    invocation: RpcInvocation | None
    """A handler to run; answer with `RpcResponder.respond`. None with no response: a retransmit."""


def request_packet(
    destination: str, request_id: str, method: str, payload: str, *, response_timeout_ms: int
) -> proto_models.DataPacket:
    """A v1 `rpc_request` to `destination`."""
    request = proto_models.RpcRequest(
        id=request_id,
        method=method,
        payload=payload,
        response_timeout_ms=response_timeout_ms,
        version=RPC_VERSION,
    )
    return proto_models.DataPacket(destination_identities=[destination], rpc_request=request)


def ack_packet(destination: str, request_id: str) -> proto_models.DataPacket:
    """An `rpc_ack` for `request_id`."""
    ack = proto_models.RpcAck(request_id=request_id)
    return proto_models.DataPacket(destination_identities=[destination], rpc_ack=ack)


def response_packet(
    destination: str, request_id: str, *, payload: str | None = None, error: RpcError | None = None
) -> proto_models.DataPacket:
    """An `rpc_response` carrying `error` if given, else `payload` ("" for none)."""
    response = proto_models.RpcResponse(request_id=request_id)
    if error is not None:
        response.error.code = error.code
        response.error.message = error.message
        response.error.data = error.data or ""
    else:
        response.payload = payload or ""
    return proto_models.DataPacket(destination_identities=[destination], rpc_response=response)


def payload_too_large(rpc_version: int, size: int | None = None) -> RpcError:
    """REQUEST_PAYLOAD_TOO_LARGE for a v2 request, its data naming the size and the limit."""
    limit = MAX_V2_PAYLOAD_BYTES if rpc_version == RPC_VERSION_V2 else MAX_PAYLOAD_BYTES
    size_text = "over the limit" if size is None else f"{size} bytes"
    data = f"payload is {size_text}; RPC v{rpc_version} here takes at most {limit} bytes"
    return built_in(RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE, data)


def _timeout_s(timeout_ms: int) -> float:
    return timeout_ms / 1000 if timeout_ms else DEFAULT_RESPONSE_TIMEOUT_S


def fits(packet: proto_models.DataPacket) -> bool:
    """Whether `packet` stays under the Room's packet limit once sequenced."""
    return packet.ByteSize() + _ENVELOPE_SLACK_BYTES <= MAX_PACKET_BYTES


class RpcResponder:
    """The callee side: acks, refusals, de-duplication of retransmits and the handler cap.

    Policy: at most `max_concurrent` handlers run at once. A request beyond that is acked and
    refused at once with APPLICATION_ERROR "too many concurrent calls" instead of queued, so a
    flood costs one ack and one error each and the caller decides whether to retry.
    """

    def __init__(
        self,
        *,
        max_concurrent: int = MAX_CONCURRENT_HANDLERS,
        dedupe_size: int = DEDUPE_SIZE,
        dedupe_ttl_s: float = DEDUPE_TTL_S,
        max_held_bytes: int = MAX_V2_PENDING_BYTES,
    ) -> None:
        """`max_held_bytes` bounds the v2 payloads held by calls not answered yet."""
        self.max_concurrent = max_concurrent
        self.max_held_bytes = max_held_bytes
        self._dedupe_size = dedupe_size
        self._dedupe_ttl_s = dedupe_ttl_s
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._running: set[tuple[str, str]] = set()
        self._held: dict[tuple[str, str], int] = {}
        self.held_bytes = 0
        """UTF-8 bytes of the v2 payloads that running calls hold."""

    @property
    def in_flight(self) -> int:
        """Invocations handed out and not yet answered or discarded."""
        return len(self._running)

    def receive(
        self, packet: OtherPacket, now: float, *, methods: Container[str]
    ) -> RequestReceived | None:
        """React to a v1 `rpc_request`; None if it cannot be answered (no id, not a request)."""
        if packet.kind != "rpc_request" or not packet.packet.rpc_request.id:
            return None
        request = packet.packet.rpc_request
        invocation = RpcInvocation(
            request_id=request.id,
            caller_identity=packet.sender_identity,
            method=request.method,
            payload=request.payload,
            response_timeout_s=_timeout_s(request.response_timeout_ms),
        )
        too_large = None
        if utf8_len(request.payload) > MAX_PAYLOAD_BYTES:  # as the SDKs refuse it
            too_large = built_in(RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE)
        version_ok = request.version == RPC_VERSION
        return self._admit(invocation, now, methods, version_ok=version_ok, too_large=too_large)

    def receive_stream(
        self, header: RequestHeader, now: float, *, methods: Container[str]
    ) -> RequestReceived:
        """React to the header of a v2 request stream. The invocation's `payload` is "": the
        endpoint reads the stream (at most `MAX_V2_PAYLOAD_BYTES`) and fills it in."""
        invocation = RpcInvocation(
            request_id=header.request_id,
            caller_identity=header.caller_identity,
            method=header.method,
            payload="",
            response_timeout_s=_timeout_s(header.response_timeout_ms),
            rpc_version=RPC_VERSION_V2,
        )
        announced = header.payload_bytes
        too_large = None
        if announced is not None and announced > MAX_V2_PAYLOAD_BYTES:
            too_large = payload_too_large(RPC_VERSION_V2, announced)
        return self._admit(
            invocation,
            now,
            methods,
            version_ok=header.version == RPC_VERSION_V2,
            too_large=too_large,
        )

    def _admit(
        self,
        invocation: RpcInvocation,
        now: float,
        methods: Container[str],
        *,
        version_ok: bool,
        too_large: RpcError | None,
    ) -> RequestReceived:
        caller, request_id = invocation.caller_identity, invocation.request_id
        method = invocation.method
        key = (caller, request_id)
        ack = ack_packet(caller, request_id)
        self._expire(now)
        if key in self._seen or key in self._running:
            _LOGGER.debug("rpc %s from %r: retransmit of %s, acked again", method, *key)
            return RequestReceived(ack=ack, response=None, invocation=None)
        self._seen[key] = now
        while len(self._seen) > self._dedupe_size:
            self._seen.popitem(last=False)
        refusal: RpcError | None = None
        if not version_ok:
            refusal = built_in(RpcErrorCode.UNSUPPORTED_VERSION)
        elif method not in methods:
            refusal = built_in(RpcErrorCode.UNSUPPORTED_METHOD)
        elif too_large is not None:
            refusal = too_large
        elif len(self._running) >= self.max_concurrent:
            refusal = RpcError(RpcErrorCode.APPLICATION_ERROR, "too many concurrent calls")
        if refusal is not None:
            busy = refusal.code == RpcErrorCode.APPLICATION_ERROR
            level = logging.WARNING if busy else logging.INFO
            _LOGGER.log(level, "rpc %r from %r refused: %s", method, caller, refusal)
            response = response_packet(caller, request_id, error=refusal)
            return RequestReceived(ack=ack, response=response, invocation=None)
        self._running.add(key)
        return RequestReceived(ack=ack, response=None, invocation=invocation)

    def respond(
        self,
        invocation: RpcInvocation,
        *,
        payload: str | None = None,
        error: RpcError | None = None,
    ) -> Answer:
        """The answer to `invocation` (too large → RESPONSE_PAYLOAD_TOO_LARGE); frees its slot.

        A v2 call's success is a `StreamAnswer`; every error, and every v1 answer, a packet.
        """
        self.discard(invocation)
        caller, request_id = invocation.caller_identity, invocation.request_id
        v2 = invocation.rpc_version == RPC_VERSION_V2
        limit = MAX_V2_PAYLOAD_BYTES if v2 else MAX_PAYLOAD_BYTES
        if error is None and utf8_len(payload or "") > limit:
            error = built_in(RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE)
        answer: Answer
        if error is None and v2:
            answer = stream_answer(caller, request_id, payload or "")
        else:
            answer = response_packet(caller, request_id, payload=payload, error=error)
            if not fits(answer):
                error = built_in(RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE)
                answer = response_packet(caller, request_id, error=error)
        if error is not None and error.code == RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE:
            _LOGGER.warning("rpc %r from %r: response too large", invocation.method, caller)
        return answer

    def with_payload(self, invocation: RpcInvocation, payload: str, size: int) -> RpcInvocation:
        """A v2 invocation with the `payload` (`size` UTF-8 bytes) read from its stream; raise
        APPLICATION_ERROR "too many concurrent calls" if the calls running already hold
        `max_held_bytes` with it. Held until the call is answered or discarded."""
        key = (invocation.caller_identity, invocation.request_id)
        if self.held_bytes + size > self.max_held_bytes:
            detail = f"v2 payloads held by running calls would pass {self.max_held_bytes} bytes"
            raise RpcError(RpcErrorCode.APPLICATION_ERROR, "too many concurrent calls", detail)
        self._held[key] = size
        self.held_bytes += size
        return dataclasses.replace(invocation, payload=payload)

    def discard(self, invocation: RpcInvocation) -> None:
        """Free the slot of an invocation that will not be answered (the room closed)."""
        key = (invocation.caller_identity, invocation.request_id)
        self._running.discard(key)
        self.held_bytes -= self._held.pop(key, 0)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._dedupe_ttl_s:
                return
            del self._seen[key]
