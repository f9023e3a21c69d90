"""Our Room against a real livekit-server, with LiveKit's official SDK on the other side."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

import pytest
from livekit import rtc

from edge.errors import DataError, JoinRefused, RoomError, ServerUnreachable
from edge.livekit.room import (
    ConnectionState,
    DataReceived,
    Disconnected,
    Room,
    RoomOptions,
)
from edge.protocol.participants import AttributesChanged, ParticipantJoined, RoomMetadataChanged
from tests.conftest import OfficialPeerFactory
from tests.e2e.edge_room import EdgeHandle
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, mint_token, set_room_metadata

pytestmark = pytest.mark.e2e
T = TypeVar("T")


EdgeFactory = Callable[..., Awaitable[EdgeHandle]]


@pytest.fixture
async def edge(livekit_server: LiveKitServer, room_name: str) -> AsyncIterator[EdgeFactory]:
    """Join our Room to this test's room; everything is left and closed at teardown."""
    async with AsyncExitStack() as stack, asyncio.TaskGroup() as tg:

        async def join(
            identity: str = "edge-1",
            *,
            name: str | None = "Edge One",
            attributes: dict[str, str] | None = None,
            token: str | None = None,
        ) -> EdgeHandle:
            options = RoomOptions(url=livekit_server.url, attributes=attributes or {})
            token = token or mint_token(
                livekit_server, identity=identity, room=room_name, name=name
            )
            room = await stack.enter_async_context(Room.connect(options, token))
            handle = EdgeHandle(room)
            tg.create_task(handle.collect(), name=f"test.collect:{identity}")
            return handle

        yield join
        await stack.aclose()


async def test_official_peer_sees_edge_join_with_identity_name_and_attributes(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    handle = await edge("edge-1", name="Edge One", attributes={"location": "bench"})
    assert handle.room.state is ConnectionState.CONNECTED
    seen = await viewer.wait_participant("edge-1")
    assert seen.name == "Edge One"
    assert dict(seen.attributes) == {"location": "bench"}
    assert handle.room.local_participant.identity == "edge-1"
    # The edge sees the viewer (in the JoinResponse, or in an update the server may batch).
    await assert_eventually(
        lambda: [j.participant.identity for j in handle.of_type(ParticipantJoined)] == ["viewer"],
        message=lambda: f"edge saw {handle.events}",
    )


async def test_attributes_flow_both_ways(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    handle = await edge(attributes={"location": "bench"})
    await viewer.wait_participant("edge-1")

    await handle.room.set_attributes({"temperature": "21.5", "location": ""})
    await assert_eventually(
        lambda: ("edge-1", {"temperature": "21.5", "location": ""}) in viewer.attribute_changes,
        message=lambda: f"viewer saw {viewer.attribute_changes}",
    )
    assert dict(viewer.participant("edge-1").attributes) == {"temperature": "21.5"}
    assert dict(handle.room.local_participant.attributes) == {"temperature": "21.5"}

    await viewer.set_attributes({"mode": "eco"})
    await assert_eventually(
        lambda: (
            AttributesChanged(identity="viewer", changed={"mode": "eco"}, local=False)
            in handle.events
        ),
        message=lambda: f"edge saw {handle.events}",
    )
    assert handle.room.remote_participants["viewer"].attributes == {"mode": "eco"}


async def test_data_packets_flow_both_ways_with_sender_and_topic(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    handle = await edge()
    await viewer.wait_participant("edge-1")

    await handle.room.publish_data(b"reliable-1", topic="edge.test")
    await handle.room.publish_data(b"lossy-1", topic="edge.lossy", reliable=False)
    await assert_eventually(lambda: len(viewer.received) == 2, message=lambda: f"{viewer.received}")
    by_topic = {r.topic: r for r in viewer.received}
    assert by_topic["edge.test"].payload == b"reliable-1"
    assert by_topic["edge.test"].sender_identity == "edge-1"
    assert by_topic["edge.test"].kind == rtc.DataPacketKind.KIND_RELIABLE
    assert by_topic["edge.lossy"].kind == rtc.DataPacketKind.KIND_LOSSY

    await assert_eventually(lambda: "viewer" in handle.room.remote_participants)
    for n in range(3):
        await viewer.publish_data(f"to-edge-{n}".encode(), topic="cmd")
    await viewer.publish_data(b"quick", topic="lossy-cmd", reliable=False)
    await assert_eventually(
        lambda: len(handle.of_type(DataReceived)) == 4, message=lambda: f"{handle.events}"
    )
    received = [e.data for e in handle.of_type(DataReceived)]
    reliable = [d for d in received if d.reliable]
    assert [d.payload for d in reliable] == [b"to-edge-0", b"to-edge-1", b"to-edge-2"]
    assert {d.sender_identity for d in received} == {"viewer"}
    assert [d.sequence for d in reliable] == sorted(d.sequence for d in reliable)
    assert [d.topic for d in received if not d.reliable] == ["lossy-cmd"]


async def test_data_to_a_destination_reaches_only_that_participant(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    alice = await official_peer("alice")
    bob = await official_peer("bob")
    handle = await edge()
    await alice.wait_participant("edge-1")
    await bob.wait_participant("edge-1")
    await handle.room.publish_data(b"only-bob", topic="t", destination_identities=["bob"])
    await handle.room.publish_data(b"everyone", topic="t")
    await assert_eventually(lambda: [r.payload for r in bob.received] == [b"only-bob", b"everyone"])
    await assert_eventually(lambda: [r.payload for r in alice.received] == [b"everyone"])


async def test_oversize_packet_is_refused_and_the_room_stays_up(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    handle = await edge()
    await viewer.wait_participant("edge-1")
    with pytest.raises(DataError, match="the limit is 15000"):
        await handle.room.publish_data(b"x" * 20_000, topic="big")
    await handle.room.publish_data(b"small", topic="after")
    await assert_eventually(lambda: [r.payload for r in viewer.received] == [b"small"])


async def test_room_metadata_set_through_the_server_api_reaches_the_edge(
    edge: EdgeFactory, livekit_server: LiveKitServer, room_name: str
) -> None:
    handle = await edge()
    await set_room_metadata(livekit_server, room_name, '{"mode":"night"}')
    await assert_eventually(
        lambda: RoomMetadataChanged(old="", new='{"mode":"night"}') in handle.events,
        message=lambda: f"edge saw {handle.events}",
    )
    assert handle.room.metadata == '{"mode":"night"}'


async def test_edge_leave_is_seen_as_a_clean_disconnect(
    livekit_server: LiveKitServer, room_name: str, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    token = mint_token(livekit_server, identity="edge-1", room=room_name)
    async with Room.connect(RoomOptions(url=livekit_server.url, attributes={}), token) as room:
        await viewer.wait_participant("edge-1")
    assert room.state is ConnectionState.DISCONNECTED
    assert room.disconnect_error is None
    await assert_eventually(
        lambda: (
            [(d.identity, d.reason) for d in viewer.disconnected]
            == [("edge-1", "CLIENT_INITIATED")]
        ),
        message=lambda: f"viewer saw {viewer.disconnected}",
    )


async def test_duplicate_identity_evicts_the_older_session_with_a_clear_log(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    viewer = await official_peer("viewer")
    first = await edge("edge-1")
    await viewer.wait_participant("edge-1")
    caplog.set_level(logging.WARNING, logger="edge.livekit.room")
    second = await edge("edge-1")
    error = await asyncio.wait_for(first.room.wait_disconnected(), timeout=15)
    assert error is not None
    assert "DUPLICATE_IDENTITY" in str(error)
    assert [e.final for e in first.of_type(Disconnected)] == [True]
    assert any(
        "another participant joined with our identity" in r.getMessage() for r in caplog.records
    )
    assert second.room.state is ConnectionState.CONNECTED
    await assert_eventually(lambda: viewer.remote("edge-1") is not None)
    assert viewer.participant("edge-1").sid == second.room.local_participant.sid


async def test_missing_metadata_grant_is_reported_clearly(
    livekit_server: LiveKitServer, room_name: str
) -> None:
    from livekit import api

    grants = api.VideoGrants(room_join=True, room=room_name, can_publish_data=True)
    token = api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
    jwt = token.with_identity("edge-1").with_grants(grants).to_jwt()
    async with Room.connect(RoomOptions(url=livekit_server.url, attributes={}), jwt) as room:
        with pytest.raises(RoomError, match="canUpdateOwnMetadata"):
            await room.set_attributes({"a": "1"})
        assert room.state is ConnectionState.CONNECTED


async def test_invalid_token_is_refused_with_the_server_reason(
    livekit_server: LiveKitServer,
) -> None:
    options = RoomOptions(url=livekit_server.url, attributes={})
    with pytest.raises(JoinRefused, match=r"HTTP 401") as info:
        async with Room.connect(options, "not-a-token"):
            pass
    assert info.value.status == 401
    assert not info.value.retryable


async def test_unreachable_server_raises_server_unreachable(unused_tcp_port: int) -> None:
    options = RoomOptions(
        url=f"ws://127.0.0.1:{unused_tcp_port}", attributes={}, connect_timeout_s=3
    )
    with pytest.raises(ServerUnreachable, match="cannot reach"):
        async with Room.connect(options, "x"):
            pass


async def test_packets_arriving_before_their_handler_registers_are_delivered_to_it(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    handle = await edge()
    await viewer.wait_participant("edge-1")
    await assert_eventually(lambda: "viewer" in handle.room.remote_participants)
    call = asyncio.ensure_future(
        viewer.local.perform_rpc(
            destination_identity="edge-1", method="early.bird", payload="p", response_timeout=2.0
        )
    )
    try:
        # We advertise client protocol 1, so the SDK calls over RPC v2: a data stream whose
        # header names the method; nothing here has registered for stream packets yet.
        await assert_eventually(lambda: handle.room.held_packets >= 1)
        received: list[str] = []
        handle.room.register_packet_handler(
            "stream_header",
            lambda p: received.append(p.packet.stream_header.attributes["lk.rpc_request_method"]),
        )
        await assert_eventually(lambda: received == ["early.bird"])
    finally:
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError, rtc.RpcError):
            await call


async def test_data_sent_to_the_edge_right_after_it_connected_arrives(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    handle = await edge()
    # No waiting for the viewer to see us: once connect() returned, we are reachable.
    payloads = [bytes([n]) * 14_000 for n in range(8)]
    for payload in payloads:
        await viewer.publish_data(payload, topic="t", destination_identities=["edge-1"])
    await assert_eventually(
        lambda: [e.data.payload for e in handle.of_type(DataReceived)] == payloads,
        message=lambda: f"edge saw {handle.events}",
    )
