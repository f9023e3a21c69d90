"""The device twin seen by an official-SDK participant: coalesced changes, deleted keys."""

from __future__ import annotations

import asyncio

import pytest

from edge.livekit.room import Room, RoomOptions
from edge.livekit.twin_publisher import TwinPublisher
from edge.twin import Twin
from tests.conftest import OfficialPeerFactory
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, mint_token

pytestmark = pytest.mark.e2e


async def test_twin_changes_arrive_coalesced_and_deleted_keys_disappear(
    livekit_server: LiveKitServer, room_name: str, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    token = mint_token(livekit_server, identity="edge-1", room=room_name)
    options = RoomOptions(url=livekit_server.url, attributes={"join.only": "kept"})
    publisher = TwinPublisher(Twin(min_interval_s=1.0))
    async with Room.connect(options, token) as room, asyncio.TaskGroup() as tg:
        initial = room.local_participant.attributes
        task = tg.create_task(publisher.run(room, initial=initial), name="test.twin")
        edge = await viewer.wait_participant("edge-1")
        publisher.update({"edge.status": "online", "edge.note": "temporary"})
        for n in range(30):  # a burst: far more changes than one per interval
            publisher.update({"edge.count": str(n)})
            await asyncio.sleep(0)
        await assert_eventually(
            lambda: edge.attributes.get("edge.count") == "29",
            message=lambda: f"viewer saw {viewer.attribute_changes}",
        )
        counts = [c["edge.count"] for who, c in viewer.attribute_changes if "edge.count" in c]
        assert counts[-1] == "29"
        assert len(counts) <= 3, counts  # coalesced, not 30 updates
        assert edge.attributes.get("edge.note") == "temporary"

        publisher.update({"edge.note": None})
        await assert_eventually(
            lambda: "edge.note" not in edge.attributes,
            message=lambda: f"viewer has {dict(edge.attributes)}",
        )
        assert edge.attributes.get("join.only") == "kept"  # not the twin's to delete
        assert edge.attributes.get("edge.count") == "29"
        task.cancel()
