"""RPC v2 through a real `RpcEndpoint` on an in-memory room: request streams in, acks and
answer streams out, and the caller's choice of transport per peer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import MappingProxyType

import pytest
from livekit.protocol import models as proto_models

from edge.errors import StreamError
from edge.livekit.packet_router import PacketHandler
from edge.livekit.rpc import RpcEndpoint, RpcError, RpcInvocation
from edge.livekit.rpc_streams import request_read_error
from edge.livekit.stream_inbox import StreamInbox
from edge.livekit.stream_readers import TextStreamReader
from edge.livekit.streams import StreamEndpoint
from edge.protocol import rpc_v2
from edge.protocol import streams as proto_streams
from edge.protocol.participants import Participant
from edge.protocol.rpc import MAX_PAYLOAD_BYTES, RpcErrorCode
from edge.protocol.schema import Schema
from edge.protocol.stream_reassembler import StreamCompleted, StreamReassembler
from edge.testing.fake_room import FakeRoom
from tests.helpers import assert_eventually

MIB = 1024 * 1024
SCHEMA: Schema = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


@pytest.fixture
async def room() -> AsyncIterator[FakeRoom]:
    room = FakeRoom()
    yield room
    await room.aclose()


async def shout(invocation: RpcInvocation) -> str:
    return invocation.payload.upper()


def peer(identity: str, client_protocol: int) -> Participant:
    return Participant(
        identity=identity,
        sid=f"PA_{identity}",
        name="",
        metadata="",
        attributes=MappingProxyType({}),
        kind="STANDARD",
        version=1,
        client_protocol=client_protocol,
    )


def request_stream(
    payload: str,
    *,
    request_id: str = "req-1",
    method: str = "shout",
    announce: bool = True,
    version: str = "2",
) -> list[proto_models.DataPacket]:
    """The packets of a v2 request, as an official SDK sends them."""
    attributes = {
        rpc_v2.ATTR_REQUEST_ID: request_id,
        rpc_v2.ATTR_METHOD: method,
        rpc_v2.ATTR_RESPONSE_TIMEOUT_MS: "8000",
        rpc_v2.ATTR_VERSION: version,
    }
    data = payload.encode()
    stream = proto_streams.outgoing_text(
        stream_id=f"stream-{request_id}",
        timestamp_ms=0,
        topic=rpc_v2.REQUEST_TOPIC,
        attributes=attributes,
        total_length=len(data) if announce else None,
        destination_identities=["edge"],
    )
    return [stream.header(), *stream.chunks(data), stream.trailer()]


def deliver(room: FakeRoom, packets: list[proto_models.DataPacket], sender: str) -> None:
    for packet in packets:
        room.deliver(packet, sender=sender)


def answer_of(room: FakeRoom, request_id: str) -> tuple[str, object]:
    """("stream", text) or ("packet", RpcResponse) answering `request_id`; raises until sent."""
    reassembler = StreamReassembler(collect=True)
    for packet in room.sent:
        if packet.WhichOneof("value") == "rpc_response":
            if packet.rpc_response.request_id == request_id:
                return "packet", packet.rpc_response
            continue
        for event in reassembler.receive(packet, "edge", 0.0):
            if (
                isinstance(event, StreamCompleted)
                and event.info.topic == rpc_v2.RESPONSE_TOPIC
                and rpc_v2.answer_request_id(event.info) == request_id
            ):
                return "stream", event.data.decode()
    raise LookupError(f"no answer to {request_id} yet")


def kinds(room: FakeRoom) -> list[str | None]:
    return [packet.WhichOneof("value") for packet in room.sent]


async def test_a_1_mib_v2_request_is_acked_first_and_answered_by_stream(room: FakeRoom) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("shout", shout)
    deliver(room, request_stream("a" * MIB), sender="caller")
    how, answer = await assert_eventually(lambda: answer_of(room, "req-1"))
    assert (how, answer) == ("stream", "A" * MIB)
    assert kinds(room)[0] == "rpc_ack"
    header = room.sent[1].stream_header
    assert list(room.sent[1].destination_identities) == ["caller"]
    assert (header.topic, dict(header.attributes)) == (
        "lk.rpc_response",
        {"lk.rpc_request_id": "req-1"},
    )
    assert rpc.calls_in_progress == 0


async def test_a_v1_caller_still_gets_1504_for_an_answer_over_15360_bytes(
    room: FakeRoom,
) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("shout", shout)
    response = await room.call("shout", "b" * MAX_PAYLOAD_BYTES)
    assert response.payload == "B" * MAX_PAYLOAD_BYTES
    over = await room.call("shout", "é" * (MAX_PAYLOAD_BYTES // 2 + 1))  # v1 refuses the request
    assert over.error.code == RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE


async def test_a_request_stream_past_our_limit_without_a_length_is_1402(room: FakeRoom) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("shout", shout)
    payload = "c" * (rpc_v2.MAX_V2_PAYLOAD_BYTES + 1)
    deliver(room, request_stream(payload, announce=False), sender="caller")
    how, answer = await assert_eventually(lambda: answer_of(room, "req-1"))
    assert how == "packet"
    assert isinstance(answer, proto_models.RpcResponse)
    assert answer.error.code == RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE
    assert answer.error.data == (
        f"payload is over the limit; RPC v2 here takes at most {rpc_v2.MAX_V2_PAYLOAD_BYTES} bytes"
    )
    assert rpc.calls_in_progress == 0


async def test_v2_payloads_meet_the_same_schema_check_as_v1(room: FakeRoom) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("count", shout, params=SCHEMA)
    deliver(room, request_stream('{"n": "5"}', method="count"), sender="caller")
    how, answer = await assert_eventually(lambda: answer_of(room, "req-1"))
    assert how == "packet"
    assert isinstance(answer, proto_models.RpcResponse)
    assert answer.error.code == 2000


async def test_a_request_stream_of_another_version_is_1404(room: FakeRoom) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("shout", shout)
    deliver(room, request_stream("x", version="3"), sender="caller")
    how, answer = await assert_eventually(lambda: answer_of(room, "req-1"))
    assert how == "packet"
    assert isinstance(answer, proto_models.RpcResponse)
    assert answer.error.code == RpcErrorCode.UNSUPPORTED_VERSION


async def test_a_v2_peer_is_called_by_stream_and_its_answer_stream_settles_the_call(
    room: FakeRoom,
) -> None:
    room.remotes["callee"] = peer("callee", client_protocol=1)
    rpc = RpcEndpoint(room, settling_s=0)
    payload = "d" * MIB
    call = asyncio.create_task(rpc.perform_rpc("callee", "echo", payload))
    await assert_eventually(lambda: "stream_trailer" in kinds(room))
    header = room.sent[0]
    assert header.WhichOneof("value") == "stream_header"
    assert list(header.destination_identities) == ["callee"]
    attributes = dict(header.stream_header.attributes)
    assert header.stream_header.topic == rpc_v2.REQUEST_TOPIC
    assert attributes[rpc_v2.ATTR_METHOD] == "echo"
    assert attributes[rpc_v2.ATTR_VERSION] == "2"
    request_id = attributes[rpc_v2.ATTR_REQUEST_ID]
    sent = b"".join(p.stream_chunk.content for p in room.sent if p.HasField("stream_chunk"))
    assert sent == payload.encode()
    ack = proto_models.DataPacket(rpc_ack=proto_models.RpcAck(request_id=request_id))
    room.deliver(ack, sender="callee")

    def answer(text: str) -> list[proto_models.DataPacket]:
        return proto_streams.text_stream_packets(
            text,
            stream_id=f"answer-{text[:8]}",
            timestamp_ms=0,
            topic=rpc_v2.RESPONSE_TOPIC,
            attributes={rpc_v2.ATTR_REQUEST_ID: request_id},
        )

    # Another participant's answer to our request id comes first, and is not taken for it.
    deliver(room, answer("forged"), sender="someone-else")
    deliver(room, answer("e" * MIB), sender="callee")
    assert await asyncio.wait_for(call, 10) == "e" * MIB


@pytest.mark.parametrize("protocol", [None, 0])
async def test_a_v1_peer_is_called_by_packet_and_refused_past_15360_bytes(
    room: FakeRoom, protocol: int | None
) -> None:
    if protocol is not None:
        room.remotes["callee"] = peer("callee", client_protocol=protocol)
    rpc = RpcEndpoint(room, settling_s=0)
    with pytest.raises(RpcError) as refused:
        await rpc.perform_rpc("callee", "echo", "x" * (MAX_PAYLOAD_BYTES + 1))
    assert refused.value.code == RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE
    assert room.sent == []
    call = asyncio.create_task(rpc.perform_rpc("callee", "echo", "hi"))
    await assert_eventually(lambda: room.sent)
    assert kinds(room) == ["rpc_request"]
    request = room.sent[0].rpc_request
    assert (request.version, request.payload) == (1, "hi")
    response = proto_models.RpcResponse(request_id=request.id, payload="ho")
    room.deliver(proto_models.DataPacket(rpc_response=response), sender="callee")
    assert await asyncio.wait_for(call, 10) == "ho"


async def test_a_request_announcing_100_mib_is_refused_on_its_header(room: FakeRoom) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("shout", shout)
    attributes = {
        rpc_v2.ATTR_REQUEST_ID: "req-1",
        rpc_v2.ATTR_METHOD: "shout",
        rpc_v2.ATTR_RESPONSE_TIMEOUT_MS: "8000",
        rpc_v2.ATTR_VERSION: "2",
    }
    stream = proto_streams.outgoing_text(
        stream_id="huge",
        timestamp_ms=0,
        topic=rpc_v2.REQUEST_TOPIC,
        attributes=attributes,
        total_length=100 * MIB,
    )
    room.deliver(stream.header(), sender="caller")  # nothing else is ever sent
    how, answer = await assert_eventually(lambda: answer_of(room, "req-1"))
    assert how == "packet"
    assert isinstance(answer, proto_models.RpcResponse)
    limit = rpc_v2.MAX_V2_PAYLOAD_BYTES
    assert (answer.error.code, answer.error.data) == (
        RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE,
        f"payload is {100 * MIB} bytes; RPC v2 here takes at most {limit} bytes",
    )
    assert kinds(room) == ["rpc_ack", "rpc_response"]


@pytest.mark.parametrize(
    ("reason", "code", "message"),
    [
        ("TooLarge", 1402, "Request payload too large"),
        ("OverBudget", 1500, "too many concurrent calls"),
        ("SenderLeft", 1500, "Application error in method handler"),
    ],
)
def test_a_request_stream_that_cannot_be_read_whole_is_answered_by_why(
    reason: str, code: int, message: str
) -> None:
    error = request_read_error(StreamError("broken", reason=reason), None)
    assert (error.code, error.message) == (code, message)


@pytest.mark.parametrize("rpc_first", [True, False])
async def test_rpc_and_application_streams_share_the_room_in_either_order(
    room: FakeRoom, rpc_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[str] = []

    async def photos(reader: TextStreamReader) -> None:
        got.append(await reader.read_all())

    if rpc_first:  # the daemon's order
        rpc = RpcEndpoint(room, settling_s=0)
        streams = StreamEndpoint(room)
    else:
        streams = StreamEndpoint(room)
        rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("shout", shout)
    streams.register_text_stream_handler("photos", photos)
    caplog.set_level(logging.INFO, logger="edge.protocol.stream_reassembler")
    deliver(room, request_stream("hi"), sender="caller")
    photo = proto_streams.text_stream_packets(
        "a photo", stream_id="photo-1", timestamp_ms=0, topic="photos"
    )
    deliver(room, photo, sender="caller")
    assert await assert_eventually(lambda: answer_of(room, "req-1")) == ("stream", "HI")
    assert await assert_eventually(lambda: got) == ["a photo"]
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]  # no "ignoring" lines


async def test_each_room_has_one_inbox_even_an_unhashable_one() -> None:
    @dataclass
    class Wrapped:  # a dataclass: unhashable, like a test's wrapper of a room
        room: FakeRoom

        def register_packet_handler(self, kind: str, handler: PacketHandler) -> None:
            self.room.register_packet_handler(kind, handler)

    first, second = Wrapped(FakeRoom()), Wrapped(FakeRoom())
    inbox = StreamInbox.of(first)  # type: ignore[arg-type]
    assert StreamInbox.of(first) is inbox  # type: ignore[arg-type]
    assert StreamInbox.of(second) is not inbox  # type: ignore[arg-type]
    assert set(first.room.handlers) == {"stream_header", "stream_chunk", "stream_trailer"}
