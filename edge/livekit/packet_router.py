"""PacketRouter: incoming data-channel messages to the room's handlers.

User packets become `DataReceived` events (repeats from a resent reliable packet dropped);
other kinds (RPC, data streams) go to the handler registered for their kind. Packets of a kind
nobody handles yet are held, bounded, because peers may call us the moment they see us join,
before our services have registered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from edge.errors import DataError
from edge.livekit.room_events import DataReceived
from edge.protocol import packets

_LOGGER = logging.getLogger(__name__)

MAX_EARLY_PACKETS = 64
"""Packets held for handlers that register after the join; newer ones are dropped."""

PacketHandler = Callable[[packets.OtherPacket], None]
"""Called (on the event loop, must not block) with each packet of a registered kind."""


class PacketRouter:
    """Decodes and dispatches every message of one room session's data channels."""

    def __init__(self, emit: Callable[[DataReceived], None]) -> None:
        self._emit = emit
        self._handlers: dict[str, PacketHandler] = {}
        self._early: list[packets.OtherPacket] = []
        self._duplicates = packets.DuplicateFilter()

    @property
    def held(self) -> int:
        """Packets held for kinds that no handler has registered for yet."""
        return len(self._early)

    def register(self, kind: str, handler: PacketHandler) -> None:
        """Route packets whose value is `kind` (e.g. `rpc_request`) to `handler`."""
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} packets is already registered")
        self._handlers[kind] = handler
        early = [p for p in self._early if p.kind == kind]
        self._early = [p for p in self._early if p.kind != kind]
        loop = asyncio.get_running_loop()
        for packet in early:  # after the caller has finished registering (e.g. its methods)
            loop.call_soon(handler, packet)

    def receive(self, data: bytes, reliable: bool) -> None:
        """One message from `_reliable` or `_lossy`; malformed ones are logged and dropped."""
        try:
            packet = packets.decode(data, reliable=reliable)
        except DataError as exc:
            _LOGGER.warning("dropped a data packet: %s", exc)
            return
        if isinstance(packet, packets.UserData):
            if self._duplicates.is_new(packet.sender_sid, packet.sequence):
                self._emit(DataReceived(packet))
        elif (handler := self._handlers.get(packet.kind)) is not None:
            handler(packet)
        elif len(self._early) < MAX_EARLY_PACKETS:
            self._early.append(packet)
        else:
            _LOGGER.debug(
                "dropping %s packet from %r: no handler", packet.kind, packet.sender_identity
            )
