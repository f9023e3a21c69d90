"""What a Room reports: its connection state and the events it emits, in order."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from edge.protocol import packets
from edge.protocol.participants import RoomStateEvent


class ConnectionState(enum.Enum):
    """The room connection, as logs and status show it."""

    CONNECTING = "connecting"
    """Signalling and peer connections are being set up."""
    CONNECTED = "connected"
    """Joined; data channels open."""
    RECONNECTING = "reconnecting"
    """Signalling lost; resuming the session (nothing can be sent meanwhile)."""
    DISCONNECTED = "disconnected"
    """Lost or ended; `Room.disconnect_error` says why."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    """A user data packet from a remote participant."""

    data: packets.UserData


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The signalling connection was lost; the room is resuming its session."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The session was resumed: same participant, tracks and data channels."""

    outage_s: float
    """From losing the connection to having it back."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended; `final` means the server told us not to come back."""

    reason: str
    final: bool


RoomEvent = RoomStateEvent | DataReceived | Reconnecting | Reconnected | Disconnected
