"""sd_notify without a dependency: READY=1, STATUS=, STOPPING=1 and the event-loop watchdog.

The watchdog pings come from a task on the event loop, so a stuck loop stops them (and systemd
restarts us) while a lost network does not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

_LOGGER = logging.getLogger(__name__)


class Notifier:
    """Talks to systemd's notify socket; does nothing when not started by systemd."""

    def __init__(self, address: str | None, *, watchdog_usec: int = 0) -> None:
        self._address = address
        if address and address.startswith("@"):
            self._address = "\0" + address[1:]  # abstract namespace
        self.watchdog_interval_s = watchdog_usec / 1e6 / 2 if watchdog_usec > 0 else 0.0
        """How often to ping: half of systemd's WatchdogSec, or 0 when it is off."""

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """Read NOTIFY_SOCKET and WATCHDOG_USEC (honouring WATCHDOG_PID)."""
        env = os.environ if env is None else env
        usec = int(env.get("WATCHDOG_USEC", "0") or 0)
        pid = env.get("WATCHDOG_PID")
        if pid and pid != str(os.getpid()):
            usec = 0
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        """Whether there is a notify socket at all."""
        return bool(self._address)

    def notify(self, *lines: str) -> None:
        """Send `KEY=value` lines in one datagram; failures are logged, never raised."""
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            _LOGGER.debug("sd_notify failed: %s", exc)

    def ready(self, status: str) -> None:
        """Tell systemd start-up is complete."""
        self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        """Update the one-line status `systemctl status` shows."""
        self.notify(f"STATUS={status}")

    def stopping(self) -> None:
        """Tell systemd we are shutting down."""
        self.notify("STOPPING=1", "STATUS=stopping")

    async def run_watchdog(self) -> None:
        """Ping WATCHDOG=1 from the event loop until cancelled (returns at once when off)."""
        if not self.watchdog_interval_s or not self._address:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_interval_s)
