"""Resuming a session: the signalling connection dies, the session survives.

The edge reaches the server's signalling port through a TCP relay (`tests/e2e/relay.py`);
media and data go straight to the server over ICE/UDP. Dropping the relay's connections is a
real fault: the WebSocket's TCP connection is gone, the peer connections are not. The other
side is LiveKit's official SDK.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from edge.errors import RoomError
from edge.livekit.room import (
    ConnectionState,
    DataReceived,
    Disconnected,
    Reconnected,
    Reconnecting,
    Room,
    RoomOptions,
)
from tests.conftest import OfficialPeerFactory
from tests.e2e.edge_room import EdgeHandle
from tests.e2e.relay import SignalRelay
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, mint_token

pytestmark = pytest.mark.e2e


@pytest.fixture
async def relay(livekit_server: LiveKitServer) -> AsyncIterator[SignalRelay]:
    relay = SignalRelay.to(livekit_server.url)
    try:
        yield relay
    finally:
        await relay.aclose()


@pytest.fixture
async def edge(
    livekit_server: LiveKitServer, room_name: str, relay: SignalRelay
) -> AsyncIterator[EdgeHandle]:
    url = await relay.start()
    token = mint_token(livekit_server, identity="edge-1", room=room_name)
    options = RoomOptions(url=url, attributes={"role": "sensor"}, resume_timeout_s=10.0)
    async with AsyncExitStack() as stack, asyncio.TaskGroup() as tg:
        room = await stack.enter_async_context(Room.connect(options, token))
        handle = EdgeHandle(room)
        tg.create_task(handle.collect(), name="test.collect")
        yield handle
        await stack.aclose()


async def test_lost_signal_connection_is_resumed_in_the_same_session(
    edge: EdgeHandle, relay: SignalRelay, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    await viewer.wait_participant("edge-1")
    sid = edge.room.local_participant.sid

    relay.drop()
    await assert_eventually(lambda: edge.of_type(Reconnected), message=lambda: f"{edge.events}")
    assert [type(e) for e in edge.events if isinstance(e, Reconnecting | Reconnected)] == [
        Reconnecting,
        Reconnected,
    ]
    assert edge.room.state is ConnectionState.CONNECTED
    assert edge.room.local_participant.sid == sid
    assert relay.accepted == 2  # the join and one resume

    # Data both ways, signalling (attributes) both ways, in the same session.
    await edge.room.publish_data(b"after-resume", topic="t")
    await assert_eventually(lambda: [r.payload for r in viewer.received] == [b"after-resume"])
    await viewer.publish_data(b"to-edge", topic="cmd")
    await assert_eventually(
        lambda: [e.data.payload for e in edge.of_type(DataReceived)] == [b"to-edge"]
    )
    await edge.room.set_attributes({"state": "resumed"})
    await assert_eventually(
        lambda: (
            dict(viewer.participant("edge-1").attributes) == {"role": "sensor", "state": "resumed"}
        )
    )
    # The official SDK never saw the edge leave: no departure, the same participant.
    assert viewer.disconnected == []
    assert viewer.participant("edge-1").sid == sid
    assert not edge.of_type(Disconnected)


async def test_resume_retries_until_the_server_is_reachable_again(
    edge: EdgeHandle, relay: SignalRelay, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    await viewer.wait_participant("edge-1")
    relay.refusing = True
    relay.drop()
    await assert_eventually(lambda: edge.room.state is ConnectionState.RECONNECTING)
    with pytest.raises(RoomError, match="reconnecting"):  # nothing sent meanwhile
        await edge.room.publish_data(b"lost?", topic="t")
    await assert_eventually(lambda: relay.refused >= 3, message=lambda: f"{relay.refused}")
    assert edge.room.state is ConnectionState.RECONNECTING
    relay.refusing = False
    await assert_eventually(lambda: edge.of_type(Reconnected), message=lambda: f"{edge.events}")
    await edge.room.publish_data(b"back", topic="t")
    await assert_eventually(lambda: [r.payload for r in viewer.received] == [b"back"])
    assert viewer.disconnected == []


async def test_server_side_ice_restart_keeps_the_data_flowing(
    edge: EdgeHandle, official_peer: OfficialPeerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    viewer = await official_peer("viewer")
    await viewer.wait_participant("edge-1")
    caplog.set_level(logging.INFO, logger="edge.livekit.peers")
    await edge.room.simulate_scenario(switch_candidate_protocol=0)  # the server restarts ICE
    await assert_eventually(
        lambda: "subscriber: ICE restarted" in caplog.text, message=lambda: caplog.text
    )
    await viewer.publish_data(b"after-restart", topic="cmd")
    await assert_eventually(
        lambda: [e.data.payload for e in edge.of_type(DataReceived)] == [b"after-restart"]
    )
    await edge.room.publish_data(b"edge-after-restart", topic="t")
    await assert_eventually(lambda: [r.payload for r in viewer.received] == [b"edge-after-restart"])
    assert edge.room.state is ConnectionState.CONNECTED


async def test_a_signal_connection_lost_again_while_resuming_is_resumed_again(
    edge: EdgeHandle, relay: SignalRelay, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    await viewer.wait_participant("edge-1")
    sid = edge.room.local_participant.sid
    # The server closes the socket of the next resume right after taking us back.
    await edge.room.simulate_scenario(disconnect_signal_on_resume=True)
    await edge.room.set_attributes({"step": "1"})  # answered after the scenario: it is armed
    relay.drop()
    await assert_eventually(lambda: edge.of_type(Reconnected), message=lambda: f"{edge.events}")
    assert relay.accepted == 3  # the join, the resume the server cut short, the one that held
    assert edge.room.local_participant.sid == sid
    await edge.room.publish_data(b"after", topic="t")
    await assert_eventually(lambda: [r.payload for r in viewer.received] == [b"after"])
    assert viewer.disconnected == []


async def test_a_session_the_server_dropped_ends_the_room_for_a_new_join(
    edge: EdgeHandle, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    await viewer.wait_participant("edge-1")
    await edge.room.simulate_scenario(node_failure=True)  # the server forgets the session
    await assert_eventually(lambda: edge.of_type(Disconnected), message=lambda: f"{edge.events}")
    [ended] = edge.of_type(Disconnected)
    assert not ended.final  # the owner joins anew
    assert edge.of_type(Reconnected) == []
    assert edge.room.state is ConnectionState.DISCONNECTED
