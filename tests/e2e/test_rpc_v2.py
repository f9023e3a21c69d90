"""RPC v2 through a real server: 1 MiB payloads with LiveKit's official SDK both ways, and a
peer that advertises the old client protocol (0) still served and called with v1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
from livekit import rtc
from livekit.protocol import models as proto_models

from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint, RpcError, RpcInvocation
from edge.protocol import signal
from edge.protocol.packets import OtherPacket
from edge.protocol.participants import Participant
from edge.protocol.rpc import MAX_PAYLOAD_BYTES, RpcErrorCode
from edge.protocol.rpc_v2 import CLIENT_PROTOCOL_RPC_V2
from tests.conftest import OfficialPeerFactory
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, mint_token

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024
CALL_BOUND_S = 60.0
"""Upper bound for one 1 MiB call (the machine is shared)."""

Join = Callable[..., Awaitable[Room]]


@pytest.fixture
async def rooms(
    livekit_server: LiveKitServer, room_name: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Join]:
    """Join our Rooms to this test's room (`client_protocol` overrides what we advertise)."""
    async with AsyncExitStack() as stack:

        async def join(identity: str, *, client_protocol: int | None = None) -> Room:
            token = mint_token(livekit_server, identity=identity, room=room_name)
            options = RoomOptions(url=livekit_server.url, attributes={})
            with monkeypatch.context() as patch:
                if client_protocol is not None:
                    patch.setattr(signal, "CLIENT_PROTOCOL", client_protocol)
                return await stack.enter_async_context(Room.connect(options, token))

        yield join


async def peer_of(room: Room, identity: str) -> Participant:
    """Participant `identity` as `room` sees it, once it does."""
    await assert_eventually(lambda: identity in room.remote_participants)
    return room.remote_participants[identity]


async def echo(invocation: RpcInvocation) -> str:
    return f"{invocation.rpc_version}:{invocation.payload}"


async def official_echo(data: rtc.RpcInvocationData) -> str:
    return data.payload[::-1]


async def test_official_sdk_and_we_call_each_other_with_1_mib(
    rooms: Join, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    viewer.local.register_rpc_method("echo", official_echo)
    room = await rooms("edge-1")
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("echo", echo)
    await viewer.wait_participant("edge-1")
    seen = await peer_of(room, "viewer")
    assert seen.client_protocol >= CLIENT_PROTOCOL_RPC_V2  # what the official SDK advertises
    payload = "ab" * (MIB // 2)
    async with asyncio.timeout(CALL_BOUND_S):
        answer = await viewer.local.perform_rpc(
            destination_identity="edge-1", method="echo", payload=payload, response_timeout=30
        )
    assert answer == f"2:{payload}"  # it came to us as v2, and our 1 MiB answer went back
    async with asyncio.timeout(CALL_BOUND_S):
        assert (
            await rpc.perform_rpc("viewer", "echo", payload, response_timeout_s=30)
            == (payload[::-1])
        )


async def test_the_server_relays_the_client_protocol_we_advertise_to_peers(rooms: Join) -> None:
    await rooms("edge-1")
    other = await rooms("other-edge")
    seen = await peer_of(other, "edge-1")
    assert seen.client_protocol == CLIENT_PROTOCOL_RPC_V2


async def test_an_old_protocol_peer_is_called_and_answered_with_v1(rooms: Join) -> None:
    old = await rooms("old-peer", client_protocol=0)
    replies: list[OtherPacket] = []
    for kind in ("rpc_ack", "rpc_response", "stream_header"):
        old.register_packet_handler(kind, replies.append)
    room = await rooms("edge-1")
    rpc = RpcEndpoint(room, settling_s=0)
    rpc.register_method("echo", echo)
    seen = await peer_of(room, "old-peer")
    assert seen.client_protocol == 0
    await assert_eventually(lambda: "edge-1" in old.remote_participants)

    async def call(request_id: str, payload: str) -> proto_models.RpcResponse:
        request = proto_models.RpcRequest(
            id=request_id, method="echo", payload=payload, response_timeout_ms=5000, version=1
        )
        await old.send_packet(
            proto_models.DataPacket(destination_identities=["edge-1"], rpc_request=request)
        )
        answered = await assert_eventually(
            lambda: [
                r.packet.rpc_response
                for r in replies
                if r.kind == "rpc_response" and r.packet.rpc_response.request_id == request_id
            ]
        )
        return answered[0]

    assert (await call("small", "hi")).payload == "1:hi"
    full = "x" * (MAX_PAYLOAD_BYTES - 2)
    assert (await call("full", full)).payload == f"1:{full}"
    over = await call("over", "x" * MAX_PAYLOAD_BYTES)  # our answer "1:" + 15 360 bytes
    assert over.error.code == RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE
    assert not [r for r in replies if r.kind == "stream_header"]  # never a v2 answer

    # Our calls to it go as v1 packets, refused past 15 360 bytes before anything is sent.
    with pytest.raises(RpcError) as refused:
        await rpc.perform_rpc("old-peer", "echo", "x" * (MAX_PAYLOAD_BYTES + 1))
    assert refused.value.code == RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE
    old_rpc_requests: list[OtherPacket] = []
    old.register_packet_handler("rpc_request", old_rpc_requests.append)
    call_task = asyncio.create_task(rpc.perform_rpc("old-peer", "m", "hello"))
    [request] = await assert_eventually(lambda: old_rpc_requests)
    assert (request.packet.rpc_request.version, request.packet.rpc_request.payload) == (1, "hello")
    ack = proto_models.DataPacket(
        destination_identities=["edge-1"],
        rpc_ack=proto_models.RpcAck(request_id=request.packet.rpc_request.id),
    )
    response = proto_models.DataPacket(
        destination_identities=["edge-1"],
        rpc_response=proto_models.RpcResponse(
            request_id=request.packet.rpc_request.id, payload="v1 answer"
        ),
    )
    await old.send_packet(ack)
    await old.send_packet(response)
    async with asyncio.timeout(CALL_BOUND_S):
        assert await call_task == "v1 answer"
