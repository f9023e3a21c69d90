"""StreamInbox: a room's data-stream packets, handed to every reader of streams on it.

    StreamInbox.of(room).subscribe(on_packet)   # called with each header, chunk and trailer

The room routes each packet kind to one handler; streams have two readers: the
`StreamEndpoint` (application topics) and the `RpcEndpoint` (RPC v2 topics), made in either
order. The first `of(room)` registers the three stream kinds with the room; every subscriber
then sees every stream packet and keeps only the topics it handles (each has its own
reassembler, so a stream costs memory only in the one that accepts it).
"""

from __future__ import annotations

import weakref

from edge.livekit.packet_router import PacketHandler
from edge.livekit.ports import PacketRoom
from edge.protocol.packets import OtherPacket

STREAM_PACKET_KINDS = ("stream_header", "stream_chunk", "stream_trailer")

_INBOXES: dict[int, tuple[weakref.ref[PacketRoom], StreamInbox]] = {}
"""Inboxes by `id(room)` (rooms need not be hashable), each forgotten when its room is."""


class StreamInbox:
    """The one handler of a room's stream packets, fanning them out to subscribers."""

    def __init__(self, room: PacketRoom) -> None:
        """Use `StreamInbox.of(room)`: a room takes one handler per packet kind."""
        self._subscribers: list[PacketHandler] = []
        for kind in STREAM_PACKET_KINDS:
            room.register_packet_handler(kind, self._on_packet)

    @classmethod
    def of(cls, room: PacketRoom) -> StreamInbox:
        """The inbox of `room`, made (and registered with the room) on first use."""
        key = id(room)
        entry = _INBOXES.get(key)
        if entry is not None and entry[0]() is room:
            return entry[1]
        inbox = cls(room)

        def forget(ref: weakref.ref[PacketRoom]) -> None:
            if (held := _INBOXES.get(key)) is not None and held[0] is ref:
                del _INBOXES[key]

        _INBOXES[key] = (weakref.ref(room, forget), inbox)
        return inbox

    def subscribe(self, handler: PacketHandler) -> None:
        """Call `handler` with every stream packet from now on (in arrival order)."""
        self._subscribers.append(handler)

    def _on_packet(self, packet: OtherPacket) -> None:
        for handler in self._subscribers:
            handler(packet)
