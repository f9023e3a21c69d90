"""TwinPublisher: sends the device twin (`edge.twin.Twin`) to the room as participant attributes.

    publisher = TwinPublisher()
    publisher.update({"gpio.relay": "1"})      # from any service, any time; never blocks
    await publisher.run(room)                  # one room session; cancel it when the room ends

`run` wakes on each update, waits until the twin says an update is due (at once for an urgent
key, else after its coalescing interval) and sends one `set_attributes` with only the changed
keys. A refused `canUpdateOwnMetadata` grant is logged
once, as an error that says what to fix, and publishing stops for that session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from edge.errors import RoomError
from edge.listeners import Listeners
from edge.livekit.ports import AttributeSetter
from edge.twin import Refusal, Twin

_LOGGER = logging.getLogger(__name__)

GRANT = "canUpdateOwnMetadata"


class TwinPublisher:
    """Owns a `Twin`; `update` from anywhere on the loop, `run` once per room session."""

    def __init__(self, twin: Twin | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.twin = twin or Twin()
        self._clock = clock
        self._wake = asyncio.Event()
        self.grant_missing = False
        """The server refused our updates for lack of the grant (this session)."""
        self.refused: list[Refusal] = []
        """Every refused key, newest last (bounded)."""
        self.changes: Listeners[[Mapping[str, str]]] = Listeners("twin changes")
        """The whole twin after each accepted change (e.g. for the MQTT `state` topic)."""

    def update(self, changes: Mapping[str, str | None]) -> list[Refusal]:
        """Change twin keys ("" or None deletes); oversize values are refused and logged."""
        before = self.twin.desired
        refusals = self.twin.update(changes)
        for refusal in refusals:
            _LOGGER.warning("twin attribute %r refused, not sent: %s", refusal.key, refusal.reason)
        self.refused = [*self.refused, *refusals][-64:]
        desired = self.twin.desired
        if desired != before:
            self._wake.set()
            self.changes.emit(desired)
        return refusals

    async def run(self, room: AttributeSetter, *, initial: Mapping[str, str] | None = None) -> None:
        """Publish to `room` until cancelled; `initial` = our attributes as the room has them."""
        self.twin.rejoined(initial or {})
        self.grant_missing = False
        while True:
            self._wake.clear()
            due = self.twin.next_due(self._clock())
            delay = None if due is None else due - self._clock()
            if delay is None or delay > 0:
                # Until due, or sooner: an urgent change must not wait for a coalesced one.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            update = self.twin.poll(self._clock())
            if update is not None and not await self._send(room, update) and self.grant_missing:
                return

    async def _send(self, room: AttributeSetter, update: dict[str, str]) -> bool:
        try:
            await room.set_attributes(update)
        except RoomError as exc:
            self.twin.failed(update)
            if GRANT in str(exc):
                self.grant_missing = True
                _LOGGER.error(
                    "the server refuses our participant attributes: the access token lacks the "
                    "%s grant; the device twin is not published until a token with it is used "
                    "(%s)",
                    GRANT,
                    exc,
                )
            else:
                _LOGGER.warning("could not publish %d twin attribute(s): %s", len(update), exc)
            return False
        self.twin.sent(update)
        _LOGGER.debug("twin: sent %s", update)
        return True
