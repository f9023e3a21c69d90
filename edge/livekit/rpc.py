"""RpcEndpoint: LiveKit RPC on one Room, as callee and as caller, v1 or v2 per peer.

    rpc = RpcEndpoint(room)
    rpc.register_method("greet", greet)          # async (RpcInvocation) -> str
    answer = await rpc.perform_rpc("viewer", "ping", "{}")

Handlers run as room-owned tasks named `rpc:<method>`, each under the caller's response
timeout. The endpoint moves the packets: requests, acks and responses, settling (a call to a
method not registered yet waits a little), and calls of its own with their deadlines. What a
call is answered with (the `policy`'s limits and access check, the payload schema, what the
handler returned or raised) is `edge.livekit.rpc_dispatch`. The endpoint itself serves
`edge.describe`: every method with its schema, every code. Everything here runs on the event
loop; the method table is `edge.livekit.rpc_registry`, the protocol decisions live in
`edge.protocol.rpc` and `edge.protocol.rpc_caller`.

Transport, per peer (`edge.protocol.rpc_v2`): a peer whose `client_protocol` is 1 or more is
called over data streams (v2, payloads up to `MAX_V2_PAYLOAD_BYTES`), any other with
`rpc_request` packets (v1, 15 360 bytes). As callee both are served, and each call is answered
the way it came. The streams are `edge.livekit.rpc_streams`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from livekit.protocol import models as proto_models

from edge import wire
from edge.errors import DataError, RoomError, RpcError, StreamError
from edge.livekit.ports import RpcRoom
from edge.livekit.room import ConnectionState, RoomEvent
from edge.livekit.rpc_dispatch import RpcDispatcher, RpcPolicy
from edge.livekit.rpc_registry import MethodRegistry, RpcHandler
from edge.livekit.rpc_streams import (
    RpcStreams,
    answer_read_error,
    read_payload,
    request_read_error,
)
from edge.livekit.stream_readers import TextStreamReader
from edge.protocol import rpc_v2
from edge.protocol.packets import OtherPacket
from edge.protocol.participants import ParticipantLeft
from edge.protocol.payload import MAX_BYTES
from edge.protocol.rpc import (
    ACK_TIMEOUT_S,
    DEFAULT_RESPONSE_TIMEOUT_S,
    MAX_CONCURRENT_HANDLERS,
    Answer,
    CallFailed,
    CallOutcome,
    RequestReceived,
    RpcErrorCode,
    RpcInvocation,
    RpcResponder,
    built_in,
    response_packet,
)
from edge.protocol.rpc_caller import RpcCaller
from edge.protocol.schema import EMPTY, Schema

__all__ = ["RpcEndpoint", "RpcError", "RpcHandler", "RpcInvocation", "RpcPolicy"]

_LOGGER = logging.getLogger(__name__)

SETTLING_S = 3.0
"""After the endpoint is made, a call to a method nobody registered yet waits this long for it
(services register as they start; a peer may call the moment it sees us join)."""


class _AnyMethod:
    """While settling, every method may still appear: acknowledge, decide in `_invoke`."""

    def __contains__(self, method: object) -> bool:
        return True


class RpcEndpoint:
    """Serves registered methods to other participants and calls theirs; one per room."""

    def __init__(
        self,
        room: RpcRoom,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        max_concurrent: int = MAX_CONCURRENT_HANDLERS,
        settling_s: float = SETTLING_S,
        policy: RpcPolicy | None = None,
    ) -> None:
        """Without a `policy`, anyone may call any registered method (a library's default)."""
        self._room = room
        self._methods = MethodRegistry()
        self._responder = RpcResponder(max_concurrent=max_concurrent)
        self._dispatcher = RpcDispatcher(self._methods, self._responder, policy=policy)
        self._policy = policy
        self._caller = RpcCaller(ack_timeout_s=ack_timeout_s)
        self._waiting: dict[str, asyncio.Future[CallOutcome]] = {}
        self._settled_at = _now() + settling_s
        self._registered = asyncio.Event()
        """Set (and cleared) on every registration, to wake calls waiting while settling."""
        room.register_packet_handler("rpc_request", self._on_request)
        room.register_packet_handler("rpc_ack", self._on_reply)
        room.register_packet_handler("rpc_response", self._on_reply)
        self._streams = RpcStreams(
            room, on_request=self._on_request_stream, on_answer=self._on_answer_stream
        )
        # Subscribe now, not when the task first runs, so no departure slips between.
        room.start_task(self._watch_room(room.events()), name="rpc.watch-room")
        self.register_method(
            wire.Method.DESCRIBE,
            self._describe,
            description="Every method with its payload schema, and every error code",
            params=EMPTY,
        )

    def register_method(
        self,
        method: str,
        handler: RpcHandler,
        *,
        description: str = "",
        params: Schema | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        """Answer calls of `method` with `handler`, replacing any earlier one.

        With `params` (the payload's JSON schema, `edge.protocol.schema`), payloads over
        `max_bytes` or not matching it are refused with 2000 before `handler` runs. A
        `description` makes the method appear in `descriptions` and `edge.describe`.
        """
        self._methods.register(
            method, handler, description=description, params=params, max_bytes=max_bytes
        )
        self._registered.set()
        self._registered.clear()

    @property
    def descriptions(self) -> Mapping[str, Mapping[str, Any]]:
        """Described methods: name -> {"description", "params" (a JSON schema)}."""
        return self._methods.descriptions

    def unregister_method(self, method: str) -> None:
        """Stop answering `method` (calls already running finish); unknown names are ignored."""
        self._methods.unregister(method)

    async def perform_rpc(
        self,
        destination: str,
        method: str,
        payload: str,
        *,
        response_timeout_s: float = DEFAULT_RESPONSE_TIMEOUT_S,
    ) -> str:
        """Call `method` on participant `destination`; its answer, or raise `RpcError`.

        A destination whose `client_protocol` takes RPC v2 is called over a data stream (no
        15 360-byte limit); any other, or one not in the room, with a v1 packet.
        """
        now = _now()
        if rpc_v2.uses_v2(self.peer_protocol(destination)):
            request_id, stream = self._caller.request_stream(
                destination, method, payload, response_timeout_s=response_timeout_s, now=now
            )
            send = self._streams.send(stream)
        else:
            request_id, packet = self._caller.request(
                destination, method, payload, response_timeout_s=response_timeout_s, now=now
            )
            send = self._room.send_packet(packet)
        outcome: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = outcome
        try:
            try:
                await send
            except (RoomError, DataError) as exc:
                raise built_in(RpcErrorCode.SEND_FAILED, str(exc)) from exc
            while not outcome.done():
                deadline = self._caller.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - _now())
                await asyncio.wait([outcome], timeout=timeout)
                self._settle(self._caller.poll(_now()))
        finally:
            self._waiting.pop(request_id, None)
            self._caller.cancel(request_id)
        result = outcome.result()
        if isinstance(result, CallFailed):
            _LOGGER.debug("rpc %r to %r failed: %s", method, destination, result.error)
            raise result.error
        return result.payload

    def peer_protocol(self, identity: str) -> int:
        """The `client_protocol` participant `identity` advertised (0 if not in the room)."""
        peer = self._room.remote_participants.get(identity)
        return rpc_v2.CLIENT_PROTOCOL_DEFAULT if peer is None else peer.client_protocol

    # -- callee ----------------------------------------------------------------------------

    def _on_request(self, packet: OtherPacket) -> None:
        if self._room.state is not ConnectionState.CONNECTED:
            return
        settling = _now() < self._settled_at
        methods = _AnyMethod() if settling else self._methods
        received = self._responder.receive(packet, _now(), methods=methods)
        if received is None:
            _LOGGER.debug("dropped an RPC request without an id from %r", packet.sender_identity)
            return
        method = packet.packet.rpc_request.method
        self._room.start_task(self._serve(received, self._invoke), name=f"rpc:{method}")

    async def _serve(
        self, received: RequestReceived, run: Callable[[RpcInvocation], Awaitable[Answer]]
    ) -> None:
        invocation = received.invocation
        try:
            # The ack goes first on the ordered reliable channel, so it precedes the answer.
            await self._send(received.ack)
            if received.response is not None:
                await self._send(received.response)
            elif invocation is not None:
                await self._answer(await run(invocation))
        finally:
            if invocation is not None:
                self._responder.discard(invocation)

    async def _on_request_stream(self, reader: TextStreamReader) -> None:
        """A v2 request: ack on the header, refuse or read the payload, then answer."""
        header = rpc_v2.request_header(reader.info)
        if header is None:
            sender = reader.info.sender_identity
            _LOGGER.info("dropped an RPC request stream without an id or method from %r", sender)
            return
        if self._room.state is not ConnectionState.CONNECTED:
            return
        methods = _AnyMethod() if _now() < self._settled_at else self._methods
        received = self._responder.receive_stream(header, _now(), methods=methods)
        await self._serve(received, functools.partial(self._read_and_invoke, reader))

    async def _read_and_invoke(self, reader: TextStreamReader, invocation: RpcInvocation) -> Answer:
        try:
            payload, size = await read_payload(reader)
            invocation = self._responder.with_payload(invocation, payload, size)
        except (StreamError, RpcError) as exc:
            caller = invocation.caller_identity
            _LOGGER.info("rpc %r from %r refused: %s", invocation.method, caller, exc)
            if isinstance(exc, StreamError):
                exc = request_read_error(exc, reader.info.total_length)
            return self._responder.respond(invocation, error=exc)
        return await self._invoke(invocation)

    @property
    def calls_in_progress(self) -> int:
        """Calls acknowledged and not answered yet."""
        return self._responder.in_flight

    async def _registration(self, invocation: RpcInvocation) -> RpcHandler | None:
        """The handler of the method once registered, if that happens while settling."""
        # Leave the handler half of the caller's time, at the least.
        until = min(self._settled_at, _now() + invocation.response_timeout_s / 2)
        while (handler := self._methods.handler(invocation.method)) is None and _now() < until:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(until - _now()):
                    await self._registered.wait()
        return handler

    async def _describe(self, invocation: RpcInvocation) -> str:
        policy, caller = self._policy, invocation.caller_identity
        if policy is None:
            return self._methods.describe(lambda _method: True)
        return self._methods.describe(lambda method: policy.may_call(caller, method))

    async def _invoke(self, invocation: RpcInvocation) -> Answer:
        handler = self._methods.handler(invocation.method) or await self._registration(invocation)
        return await self._dispatcher.dispatch(handler, invocation)

    # -- caller ----------------------------------------------------------------------------

    def _on_reply(self, packet: OtherPacket) -> None:
        self._settle(self._caller.receive(packet, _now()))

    async def _on_answer_stream(self, reader: TextStreamReader) -> None:
        """A v2 answer: read it whole (bounded) and settle the call it names."""
        sender, request_id = reader.info.sender_identity, rpc_v2.answer_request_id(reader.info)
        if not self._caller.expects_answer(sender, request_id):
            _LOGGER.debug("ignoring an RPC answer stream from %r for %r", sender, request_id)
            return
        try:
            payload, _ = await read_payload(reader)
        except StreamError as exc:
            self._settle(self._caller.answer_failed(sender, request_id, answer_read_error(exc)))
            return
        self._settle(self._caller.receive_answer(sender, request_id, payload))

    async def _watch_room(self, events: AsyncIterator[RoomEvent]) -> None:
        try:
            async for event in events:
                if isinstance(event, ParticipantLeft):
                    self._settle(self._caller.participant_left(event.participant.identity))
        finally:
            # The feed ends after `Disconnected`, and the room cancels this task on close.
            self._settle(self._caller.close())

    def _settle(self, outcomes: list[CallOutcome]) -> None:
        for outcome in outcomes:
            future = self._waiting.get(outcome.request_id)
            if future is not None and not future.done():
                future.set_result(outcome)

    # -- helpers ---------------------------------------------------------------------------

    async def _answer(self, answer: Answer) -> None:
        """Send an answer: a packet, or a v2 success as a stream (1505 if that cannot go)."""
        if isinstance(answer, proto_models.DataPacket):
            await self._send(answer)
            return
        try:
            await self._streams.send(answer)
        except (RoomError, DataError) as exc:
            _LOGGER.info("could not send the answer to %r: %s", answer.destination, exc)
            error = built_in(RpcErrorCode.SEND_FAILED, str(exc))
            await self._send(response_packet(answer.destination, answer.request_id, error=error))

    async def _send(self, packet: proto_models.DataPacket) -> None:
        try:
            await self._room.send_packet(packet)
        except (RoomError, DataError) as exc:
            kind = packet.WhichOneof("value")
            _LOGGER.info("could not send %s to %s: %s", kind, packet.destination_identities, exc)


def _now() -> float:
    return time.monotonic()
