"""The daemon's room connection as one state, for logs, systemd's STATUS= and attributes — pure.

    status = ConnectionStatus()
    status.joined(room="workshop", identity="edge-pi-01", now=t0)   # connecting -> connected
    status.lost("no message from the server for 15 s", now=t1)    # -> reconnecting
    status.retrying("cannot reach ...", delay_s=2.0, failed=True, now=t2)   # -> offline
    status.joined(room="workshop", identity="edge-pi-01", now=t3)   # -> connected, reconnect 1
    status.status_line()   # "connected to room 'workshop' as 'edge-pi-01' (reconnect 1 after ...)"
    status.attributes()    # {"edge.connection": "connected", "edge.reconnects": "1", ...}

Every transition is logged once (old -> new, and why). An outage lasts from the moment the loss
was noticed (a ping timeout, a failed peer connection, the server's leave) to the next join;
observers in the room see its length after the rejoin, since they cannot see the edge while
it is away (the MQTT bridge mirrors every state as it happens).
"""

from __future__ import annotations

import enum
import logging

from edge import wire

_LOGGER = logging.getLogger(__name__)


class LinkState(enum.Enum):
    """Where the daemon stands with its room."""

    CONNECTING = "connecting"
    """Starting up: the first join is under way."""
    CONNECTED = "connected"
    """In the room."""
    RECONNECTING = "reconnecting"
    """The room was lost; rejoining, and no attempt has failed yet."""
    OFFLINE = "offline"
    """A join attempt failed: the room cannot be reached now; retrying with backoff."""


class ConnectionStatus:
    """The state machine; callers pass `now` (monotonic seconds)."""

    def __init__(self) -> None:
        self.state = LinkState.CONNECTING
        self.reconnects = 0
        self.last_outage_s: float | None = None
        self.reason = ""
        """Why the room was lost or the last attempt failed ("" while connected)."""
        self.retry_in_s: float | None = None
        self._room = ""
        self._identity = ""
        self._lost_at: float | None = None

    def joined(self, *, room: str, identity: str, now: float) -> None:
        """A session joined `room`; ends the outage, if there was one."""
        self._room, self._identity = room, identity
        outage = ""
        if self._lost_at is not None:
            self.reconnects += 1
            self.last_outage_s = max(0.0, now - self._lost_at)
            self._lost_at = None
            outage = f" after a {self.last_outage_s:.1f} s outage (reconnect {self.reconnects})"
        self.reason, self.retry_in_s = "", None
        self._set(LinkState.CONNECTED, outage)

    def lost(self, reason: str, *, now: float) -> None:
        """The joined session ended: the outage starts now."""
        if self.state is not LinkState.CONNECTED:
            return
        self._lost_at = now
        self.reason, self.retry_in_s = reason, None
        self._set(LinkState.RECONNECTING, f" ({reason})", level=logging.WARNING)

    def retrying(self, reason: str, *, delay_s: float, failed: bool, now: float) -> None:
        """The next join is `delay_s` away; `failed`: the last attempt never joined."""
        if self.state is LinkState.CONNECTED:
            self.lost(reason, now=now)
        self.reason, self.retry_in_s = reason, delay_s
        if failed and self.state is not LinkState.OFFLINE:
            self._set(LinkState.OFFLINE, f" ({reason})", level=logging.WARNING)

    def status_line(self) -> str:
        """The one line `systemctl status` shows (it starts with the state's name)."""
        retry = "" if self.retry_in_s is None else f" in {self.retry_in_s:.0f} s"
        match self.state:
            case LinkState.CONNECTING:
                return "connecting"
            case LinkState.CONNECTED:
                line = f"connected to room {self._room!r} as {self._identity!r}"
                if self.last_outage_s is not None:
                    outage = self.last_outage_s
                    line += f" (reconnect {self.reconnects}, last outage {outage:.1f} s)"
                return line
            case LinkState.RECONNECTING:
                return f"reconnecting{retry}: {self.reason}"
            case LinkState.OFFLINE:
                return f"offline, retrying{retry}: {self.reason}"

    def attributes(self) -> dict[str, str | None]:
        """The twin's `edge.connection*` keys (None: not known yet, the key stays absent)."""
        outage = self.last_outage_s
        return {
            wire.Attribute.CONNECTION: self.state.value,
            wire.Attribute.RECONNECTS: str(self.reconnects),
            wire.Attribute.LAST_OUTAGE_S: None if outage is None else f"{outage:.1f}",
        }

    def _set(self, state: LinkState, detail: str, *, level: int = logging.INFO) -> None:
        old, self.state = self.state, state
        _LOGGER.log(level, "connection: %s -> %s%s", old.value, state.value, detail)
