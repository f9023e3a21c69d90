"""RpcCaller: the caller side of LiveKit RPC (v1 and v2), without I/O.

`request()` (a v1 packet) or `request_stream()` (a v2 `StreamRequest`, for a peer whose
`client_protocol` says it takes them: `rpc_v2.uses_v2`) builds a request and tracks it;
`receive(packet, now)` applies acks and v1 responses (every error, for both versions),
`receive_answer()` a v2 answer stream, and `poll(now)` applies deadlines, all returning
`CallSucceeded` / `CallFailed` outcomes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from livekit.protocol import models as proto_models

from edge.errors import RpcError
from edge.protocol.packets import OtherPacket
from edge.protocol.rpc import (
    ACK_TIMEOUT_S,
    MAX_PAYLOAD_BYTES,
    MIN_HANDLER_TIMEOUT_S,
    CallFailed,
    CallOutcome,
    CallSucceeded,
    RpcErrorCode,
    built_in,
    fits,
    request_packet,
    utf8_len,
)
from edge.protocol.rpc_v2 import MAX_V2_PAYLOAD_BYTES, StreamRequest, stream_request

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class _Call:
    destination: str
    response_timeout_s: float
    ack_deadline: float
    response_deadline: float | None = None
    """Set when the ack arrives: the response wait starts then."""

    @property
    def deadline(self) -> float:
        return self.ack_deadline if self.response_deadline is None else self.response_deadline


class RpcCaller:
    """The caller side: pending calls, their ack and response deadlines, and their outcomes.

    Timing follows the Rust/Python SDKs: up to `ack_timeout_s` for the ack (else
    CONNECTION_TIMEOUT), then up to the call's response timeout for the answer (else
    RESPONSE_TIMEOUT). The callee is told `max(response timeout - ack timeout, 1 s)`.
    A response that arrives before (or without) its ack is accepted, as the JS SDK does.
    """

    def __init__(
        self,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.ack_timeout_s = ack_timeout_s
        self._new_id = new_id
        self._calls: dict[str, _Call] = {}

    @property
    def pending(self) -> int:
        """Calls not yet settled."""
        return len(self._calls)

    def request(
        self, destination: str, method: str, payload: str, *, response_timeout_s: float, now: float
    ) -> tuple[str, proto_models.DataPacket]:
        """Start a v1 call: its id and the request to send; raise REQUEST_PAYLOAD_TOO_LARGE."""
        handler_timeout_ms = self._handler_timeout_ms(response_timeout_s)
        request_id = self._new_id()
        packet = request_packet(
            destination, request_id, method, payload, response_timeout_ms=handler_timeout_ms
        )
        if utf8_len(payload) > MAX_PAYLOAD_BYTES or not fits(packet):
            raise built_in(RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE)
        self._calls[request_id] = _Call(destination, response_timeout_s, now + self.ack_timeout_s)
        return request_id, packet

    def request_stream(
        self, destination: str, method: str, payload: str, *, response_timeout_s: float, now: float
    ) -> tuple[str, StreamRequest]:
        """Start a v2 call: its id and the stream to send; raise REQUEST_PAYLOAD_TOO_LARGE over
        `MAX_V2_PAYLOAD_BYTES`."""
        handler_timeout_ms = self._handler_timeout_ms(response_timeout_s)
        if utf8_len(payload) > MAX_V2_PAYLOAD_BYTES:
            raise built_in(
                RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE,
                f"payload is {utf8_len(payload)} bytes; RPC v2 here takes at most "
                f"{MAX_V2_PAYLOAD_BYTES} bytes",
            )
        request_id = self._new_id()
        stream = stream_request(
            destination, request_id, method, payload, response_timeout_ms=handler_timeout_ms
        )
        self._calls[request_id] = _Call(destination, response_timeout_s, now + self.ack_timeout_s)
        return request_id, stream

    def expects_answer(self, sender: str, request_id: str) -> bool:
        """Whether a v2 answer stream from `sender` for `request_id` settles a call of ours."""
        call = self._calls.get(request_id)
        return call is not None and call.destination == sender

    def receive_answer(self, sender: str, request_id: str, payload: str) -> list[CallOutcome]:
        """Apply a v2 answer stream, read whole: the call succeeds with `payload`."""
        if not self.expects_answer(sender, request_id):
            _LOGGER.debug("ignoring an answer stream for unknown call %r", request_id)
            return []
        del self._calls[request_id]
        return [CallSucceeded(request_id, payload)]

    def answer_failed(self, sender: str, request_id: str, error: RpcError) -> list[CallOutcome]:
        """A v2 answer stream could not be read (too large, cut off): the call fails."""
        if not self.expects_answer(sender, request_id):
            return []
        return self._fail([request_id], error)

    def _handler_timeout_ms(self, response_timeout_s: float) -> int:
        if response_timeout_s <= 0:
            raise ValueError(f"response timeout must be positive, not {response_timeout_s!r}")
        handler_timeout_s = max(response_timeout_s - self.ack_timeout_s, MIN_HANDLER_TIMEOUT_S)
        return round(handler_timeout_s * 1000)

    def receive(self, packet: OtherPacket, now: float) -> list[CallOutcome]:
        """Apply an `rpc_ack` or `rpc_response`; outcomes of calls it settles."""
        if packet.kind == "rpc_ack":
            request_id = packet.packet.rpc_ack.request_id
        elif packet.kind == "rpc_response":
            request_id = packet.packet.rpc_response.request_id
        else:
            return []
        call = self._calls.get(request_id)
        if call is None or call.destination != packet.sender_identity:
            _LOGGER.debug("ignoring %s for unknown call %r", packet.kind, request_id)
            return []
        if packet.kind == "rpc_ack":
            if call.response_deadline is None:
                call.response_deadline = now + call.response_timeout_s
            return []
        del self._calls[request_id]
        response = packet.packet.rpc_response
        match response.WhichOneof("value"):
            case "error":
                error = response.error
                failure = RpcError(error.code, error.message, error.data or None)
                return [CallFailed(request_id, failure)]
            case "compressed_payload":
                data = "compressed payloads are not supported"
                return [CallFailed(request_id, built_in(RpcErrorCode.APPLICATION_ERROR, data))]
            case _:
                return [CallSucceeded(request_id, response.payload)]

    def poll(self, now: float) -> list[CallOutcome]:
        """Fail calls whose ack or response deadline has passed."""
        outcomes: list[CallOutcome] = []
        for request_id, call in list(self._calls.items()):
            if now >= call.deadline:
                del self._calls[request_id]
                code = (
                    RpcErrorCode.CONNECTION_TIMEOUT
                    if call.response_deadline is None
                    else RpcErrorCode.RESPONSE_TIMEOUT
                )
                outcomes.append(CallFailed(request_id, built_in(code)))
        return outcomes

    def next_deadline(self) -> float | None:
        """When `poll` next has something to do; None with no call pending."""
        return min((call.deadline for call in self._calls.values()), default=None)

    def participant_left(self, identity: str) -> list[CallOutcome]:
        """Fail every call to `identity` with RECIPIENT_DISCONNECTED."""
        gone = [rid for rid, call in self._calls.items() if call.destination == identity]
        return self._fail(gone, built_in(RpcErrorCode.RECIPIENT_DISCONNECTED, "left the room"))

    def close(self) -> list[CallOutcome]:
        """Fail every pending call: our own connection ended."""
        error = built_in(RpcErrorCode.RECIPIENT_DISCONNECTED, "room disconnected")
        return self._fail(list(self._calls), error)

    def cancel(self, request_id: str) -> None:
        """Forget a call whose caller stopped waiting."""
        self._calls.pop(request_id, None)

    def _fail(self, request_ids: list[str], error: RpcError) -> list[CallOutcome]:
        for request_id in request_ids:
            del self._calls[request_id]
        return [CallFailed(request_id, error) for request_id in request_ids]
