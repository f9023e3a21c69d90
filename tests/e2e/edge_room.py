"""Our Room under test: every event it emits, collected as they come."""

from __future__ import annotations

from typing import TypeVar

from edge.livekit.room import Room, RoomEvent

T = TypeVar("T")


class EdgeHandle:
    """Our Room plus every event it emitted, collected by a background task."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.events: list[RoomEvent] = []

    async def collect(self) -> None:
        async for event in self.room.events():
            self.events.append(event)

    def of_type(self, kind: type[T]) -> list[T]:
        return [e for e in self.events if isinstance(e, kind)]
