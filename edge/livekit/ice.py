"""ICE restart for aiortc: the aioice adapter.

A LiveKit session is resumed (same participant, same tracks, same data-channel association)
only with an ICE restart: the server sends a subscriber offer with new credentials, and the
client restarts its publisher's ICE with an offer of its own. aiortc cannot do either: its ICE
transport starts once, and a later description with new credentials changes nothing.

`RestartableConnection` is aioice's `Connection` plus `restart()`: new local credentials, the
check list emptied, and connectivity checks run again by the next `connect()`. Data keeps
flowing on the previously selected pair until a new one is nominated (RFC 8445 section 9),
so the DTLS and SCTP associations above never see the restart: what was queued during the
outage is retransmitted by SCTP once the new pair is up. `install()` makes aiortc create
these instead of plain connections; like `sctp.tune`, it changes aiortc's module state
in one place.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aioice import Connection
from aioice.ice import ICE_FAILED, StunProtocol, get_host_addresses
from aioice.utils import random_string


class RestartableConnection(Connection):
    """An aioice connection whose ICE session can be restarted in place."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._previous: dict[int, Any] = {}
        """The pairs selected before a restart; they carry data until new ones are nominated."""

    @property
    def closed(self) -> bool:
        """The connection was closed (consent expired, or closed by its owner)."""
        return bool(self._closing or self._closed)

    @property
    def addresses_gone(self) -> bool:
        """A local host candidate's address is no longer on this machine (a new DHCP lease,
        another network): checks over the old sockets cannot succeed, a new session can."""
        hosts = {c.host for c in self._local_candidates if c.type == "host"}
        present = set(get_host_addresses(use_ipv4=self._use_ipv4, use_ipv6=self._use_ipv6))
        return not hosts <= present

    def restart(self, *, remote_username: str | None, remote_password: str | None) -> None:
        """Begin a new ICE session with new local credentials; run `connect()` next.

        The remote credentials come from the offer (we answer) or later from the answer (we
        offer: pass None and set them before `connect()`). Remote candidates are forgotten;
        local ones are kept, so the new checks run over the same sockets. The `connect()` of
        an earlier restart must have been cancelled; the first one, aiortc's, must have ended.
        """
        if self.closed:
            raise ConnectionError("cannot restart ICE: the connection is closed")
        if not self._nominated and not self._previous:
            raise ConnectionError("cannot restart ICE before it has connected")
        if self._nominated:
            self._previous = dict(self._nominated)
        if self._query_consent_task is not None:
            self._query_consent_task.cancel()
            self._query_consent_task = None
        for pair in self._check_list:
            if pair.task is not None:
                pair.task.cancel()
        if not self._check_list_done:
            self._check_list_state.put_nowait(ICE_FAILED)  # a connect() still waiting ends
        self._nominated = {}
        self._nominating = set()
        self._local_username = random_string(4)
        self._local_password = random_string(22)
        self.remote_username = remote_username
        self.remote_password = remote_password
        self._check_list = []
        self._check_list_done = False
        self._check_list_state = asyncio.Queue()
        self._remote_candidates = []
        self._remote_candidates_end = False
        self._early_checks.clear()
        self._early_checks_done = False

    async def connect(self) -> None:
        """Run the checks of the current ICE session; raise `ConnectionError` if they fail."""
        await super().connect()
        self._previous = {}

    def selected_pair(self, component: int) -> Any | None:
        """The pair data goes out on: the nominated one, during a restart the previous one."""
        return self._nominated.get(component) or self._previous.get(component)

    async def sendto(self, data: bytes, component: int) -> None:
        pair = self.selected_pair(component)
        if pair is None:
            raise ConnectionError("Cannot send data, not connected")
        await pair.protocol.send_data(data, pair.remote_addr)

    async def close(self) -> None:
        await super().close()
        self._previous = {}

    def protocol_lost(self, protocol: StunProtocol) -> None:
        if any(pair.protocol is protocol for pair in self._previous.values()):
            self._queue.put_nowait(None)  # the pair data flows on is gone: wake recv()
            return
        super().protocol_lost(protocol)

    async def recvfrom(self) -> tuple[bytes, int]:
        if not self._nominated and not self._previous:
            raise ConnectionError("Cannot receive data, not connected")
        result: tuple[bytes, int] | None = await self._queue.get()
        if result is None:
            raise ConnectionError("Connection lost while receiving data")
        return result


def install() -> None:
    """Make aiortc's ICE gatherers create `RestartableConnection`s; idempotent."""
    from aiortc import rtcicetransport

    setattr(rtcicetransport, "Connection", RestartableConnection)  # noqa: B010 - not exported
