"""RoomLink: MQTT messages go into the current room session, and are counted when they cannot."""

from __future__ import annotations

import asyncio

from edge import wire
from edge.errors import RoomError
from edge.livekit.ports import MetadataRoom
from edge.livekit.room_events import ConnectionState
from edge.mqtt.bridge_links import RoomLink
from edge.protocol.participants import RoomMetadataChanged
from edge.testing.fake_room import FakeRoom, Published


async def test_forwards_into_the_connected_room_and_counts_what_it_drops() -> None:
    link = RoomLink()
    await link.forward("lab/in/t", b"21.5")  # no session yet
    assert link.dropped == 1

    room = FakeRoom()
    link.room = room
    await link.forward("lab/in/t", b"22.0")
    assert room.published == [Published(b"22.0", wire.Prefix.MQTT_PACKET + "lab/in/t", True, ())]

    room.state = ConnectionState.RECONNECTING
    await link.forward("lab/in/t", b"22.5")
    room.disconnect(RoomError("gone"))
    await link.forward("lab/in/t", b"23.0")
    assert link.dropped == 3
    assert len(room.published) == 1


async def test_the_fake_room_announces_metadata_changes_to_its_subscribers() -> None:
    fake = FakeRoom()
    room: MetadataRoom = fake
    events = room.events()
    fake.set_room_metadata('{"shift": "night"}')
    async with asyncio.timeout(5):
        event = await anext(events)
    assert event == RoomMetadataChanged(old="", new='{"shift": "night"}')
    assert room.metadata == '{"shift": "night"}'
