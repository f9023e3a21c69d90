"""RoomLink: MQTT messages go into the current room session, and are counted when they cannot."""

from __future__ import annotations

from edge import wire
from edge.errors import RoomError
from edge.livekit.room_events import ConnectionState
from edge.mqtt.bridge_links import RoomLink
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
