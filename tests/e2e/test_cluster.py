"""Two livekit-server nodes sharing a Redis: the edge and an official-SDK operator meet across
nodes, and when the edge's entry node dies it comes back through the other one.

The room is created on node B before node A exists, so it lives on B; the edge enters through
A (its first URL), the operator through B. Killing A takes away only the edge's signalling: the
room and the operator stay healthy, as in a deployment whose entry node crashes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from livekit import api
from livekit.protocol.room import CreateRoomRequest

from tests.e2e.cluster import Cluster, cluster
from tests.e2e.edge_process import EdgeProcess
from tests.e2e.inbox import Inbox, in_order
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

_LOGGER = logging.getLogger(__name__)
IDENTITY = "edge-cl"

CONFIG = """
[livekit]
url = [{urls}]
room = "{room}"
identity = "{identity}"
api_key = "{api_key}"
api_secret = "{api_secret}"

[telemetry]
batch_window_s = 0.2

[[telemetry.sensors]]
name = "soc"
kind = "simulated"
period_s = 0.1
unit = "°C"
mean = 48.0

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
allow = ["op-*"]
"""


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[Cluster]:
    with cluster(tmp_path) as running:
        yield running


@pytest.fixture
async def operator(two_nodes: Cluster, room_name: str) -> AsyncIterator[OfficialPeer]:
    """The room is created through node B while B is alone; then A joins the cluster."""
    b = two_nodes.add_node().server
    await _create_room(b, room_name)
    two_nodes.add_node()
    peer = await OfficialPeer.connect(
        b.url, mint_token(b, identity="op-anna", room=room_name), identity="op-anna"
    )
    yield peer
    await peer.disconnect()


async def _create_room(server: LiveKitServer, room: str) -> None:
    lkapi = api.LiveKitAPI(
        url=server.http_url, api_key=server.api_key, api_secret=server.api_secret
    )
    try:
        await lkapi.room.create_room(CreateRoomRequest(name=room, empty_timeout=300))
    finally:
        await lkapi.aclose()


async def _edge(two_nodes: Cluster, room: str, workdir: Path) -> EdgeProcess:
    b, a = (node.server for node in two_nodes.nodes)
    config = workdir / "edge.toml"
    config.write_text(
        CONFIG.format(
            urls=f'"{a.url}", "{b.url}"',
            room=room,
            identity=IDENTITY,
            api_key=a.api_key,
            api_secret=a.api_secret,
        )
    )
    config.chmod(0o600)
    return await EdgeProcess.start("run", "--config", str(config), "--simulate", cwd=workdir)


async def _set_relay(op: OfficialPeer, value: int) -> object:
    reply = await op.local.perform_rpc(
        destination_identity=IDENTITY,
        method="gpio.set",
        payload=json.dumps({"device": "relay", "value": value, "hold_s": 60}),
        response_timeout=5.0,
    )
    return json.loads(reply)


async def test_the_edge_and_an_operator_meet_across_nodes(
    two_nodes: Cluster, operator: OfficialPeer, room_name: str, tmp_path: Path
) -> None:
    inbox = Inbox()
    inbox.attach(operator)
    edge = await _edge(two_nodes, room_name, tmp_path)
    try:
        device = await operator.wait_participant(IDENTITY, timeout=30)
        await assert_eventually(lambda: device.attributes.get("edge.status") == "online")
        assert await _set_relay(operator, 1) == {"device": "relay", "value": 1.0}
        await assert_eventually(
            lambda: device.attributes.get("gpio.relay") == "1",
            message=lambda: f"attributes {dict(device.attributes)}; log:\n{edge.log()}",
        )
        await assert_eventually(lambda: len(inbox.readings) >= 10, timeout=30)
        in_order(inbox.readings)
    finally:
        assert await edge.stop() == 0, edge.log()
        await inbox.aclose()


async def test_when_its_entry_node_dies_the_edge_rejoins_through_the_other_and_loses_nothing(
    two_nodes: Cluster, operator: OfficialPeer, room_name: str, tmp_path: Path
) -> None:
    inbox = Inbox()
    inbox.attach(operator)
    edge = await _edge(two_nodes, room_name, tmp_path)
    b, a = two_nodes.nodes
    try:
        await operator.wait_participant(IDENTITY, timeout=30)
        await assert_eventually(lambda: len(inbox.readings) >= 10, timeout=30)
        a.kill()
        killed_at, killed_us = time.monotonic(), time.time_ns() // 1000

        reply: object = await assert_eventually(  # an RpcError counts as "not yet"
            lambda: _set_relay(operator, 0), timeout=45, message=lambda: f"log:\n{edge.log()}"
        )
        assert reply == {"device": "relay", "value": 0}
        outage_s = time.monotonic() - killed_at
        assert any(f"retrying through {b.server.url}" in line for line in edge.lines), edge.log()
        assert not any("could not resume the session within" in line for line in edge.lines), (
            "the resume waited out its timeout on a dead node instead of moving on"
        )
        await assert_eventually(
            lambda: inbox.complete and any(r[1] > killed_us for r in inbox.readings),
            timeout=30,
            message=lambda: f"{len(inbox.readings)} reading(s); log:\n{edge.log()}",
        )
        in_order(inbox.readings)  # resent batches may come twice; none is missing
        _LOGGER.info("entry node killed -> RPC answered through the other: %.1f s", outage_s)
    finally:
        assert await edge.stop() == 0, edge.log()
        await inbox.aclose()
