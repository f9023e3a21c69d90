"""SignalLink: a room session's signalling, over whichever socket is current.

It owns the socket, reads frames into events for the room (`on_event`), sends pings on the
session's schedule, and reports the loss of the socket once (`on_lost`): closed by the server,
an I/O error, or a server silent past the ping timeout. `reopen` replaces a lost socket with
one that resumes the same session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from livekit.protocol import rtc as proto_rtc

from edge.errors import EdgeError, SignalError
from edge.livekit.signal_socket import SignalSocket, first_response
from edge.protocol import signal as sig

if TYPE_CHECKING:
    from edge.livekit.peers import Spawn

_LOGGER = logging.getLogger(__name__)

EventHandler = Callable[[sig.SignalEvent], Awaitable[None]]
LostHandler = Callable[[EdgeError], None]


class SignalLink:
    """The signalling of one room session: its socket, reader and keep-alive."""

    def __init__(
        self,
        socket: SignalSocket,
        session: sig.SignalSession,
        *,
        spawn: Spawn,
        on_event: EventHandler,
        on_lost: LostHandler,
    ) -> None:
        self.session = session
        self._socket = socket
        self._spawn = spawn
        self._on_event = on_event
        self._on_lost = on_lost
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start reading and pinging on the current socket."""
        socket = self._socket
        self._tasks = [
            self._spawn(self._read(socket), "signal-reader"),
            self._spawn(self._keep_alive(socket), "keep-alive"),
        ]

    async def send(self, frame: bytes) -> None:
        """Send one frame; raise `SignalError` if the socket is gone."""
        await self._socket.send(frame)

    async def reopen(
        self, url: str, *, token: str, query: Mapping[str, str], timeout_s: float
    ) -> proto_rtc.ReconnectResponse:
        """Replace the socket with one that resumes the session (`query` names it).

        Raises `ServerLeft` when the server no longer has the session, and another
        `RoomError` when it cannot be reached or does not answer.
        """
        await self.aclose()
        socket = await SignalSocket.connect(url, token=token, query=query, timeout_s=timeout_s)
        self.session.resume(time.monotonic())
        try:
            event = await first_response(socket, self.session, resuming=True)
        except BaseException:
            await socket.aclose()
            raise
        assert isinstance(event, sig.Resumed)
        self._socket = socket
        self.start()
        return event.response

    async def aclose(self) -> None:
        """Stop the reader and keep-alive and close the socket; idempotent."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        await self._socket.aclose()

    async def _read(self, socket: SignalSocket) -> None:
        session = self.session
        try:
            while (frame := await socket.recv()) is not None:
                try:
                    events = session.receive(frame, time.monotonic())
                except SignalError as exc:
                    _LOGGER.warning("%s", exc)
                    continue
                for event in events:
                    await self._on_event(event)
                if session.state is sig.SignalState.CLOSED:
                    return
            self._on_lost(SignalError("signal connection closed by the server"))
        except EdgeError as exc:
            self._on_lost(exc)

    async def _keep_alive(self, socket: SignalSocket) -> None:
        session = self.session
        try:
            while session.state is not sig.SignalState.CLOSED:
                for frame in session.poll(time.monotonic()):
                    await socket.send(frame)
                await asyncio.sleep(max(0.0, session.next_deadline() - time.monotonic()) + 0.01)
        except EdgeError as exc:
            self._on_lost(exc)
