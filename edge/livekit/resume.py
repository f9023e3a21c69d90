"""SessionResume: bring a room session back after its signalling was lost.

An attempt opens a socket that names our participant (the server answers with a
ReconnectResponse, or a `leave` when it no longer has the session), tells the server what we
hold (sync state), restarts ICE on the publisher with an offer of ours, and waits for the
server's ICE restart of the subscriber. The participant, its tracks, its data-channel
associations and everything registered on the room stay as they were. Attempts follow
LiveKit's JS SDK delays until the deadline; then the owner joins anew.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping

from edge.errors import (
    EdgeError,
    JoinRefused,
    PeerConnectionError,
    RoomError,
    ServerLeft,
    ServerUnreachable,
    SignalError,
)
from edge.livekit.peers import PeerConnection
from edge.livekit.publisher import TrackPublisher
from edge.livekit.signal_link import SignalLink

_LOGGER = logging.getLogger(__name__)

RESUME_DELAYS_S = (0.0, 0.3, 1.2, 2.7, 4.8)
"""Waits before each attempt, the last repeating (as LiveKit's JS SDK)."""
REFUSALS_TO_MOVE_ON = 2
"""Attempts in a row the node refused (nothing listens: it is down) before resuming gives up,
when there is another server to join through."""


class SessionResume:
    """Resumes one room session; `run` once per loss."""

    def __init__(
        self,
        *,
        link: SignalLink,
        publications: TrackPublisher,
        publisher: PeerConnection,
        subscriber: PeerConnection,
        url: str,
        others: bool = False,
        connect_timeout_s: float,
        query: Callable[[], Mapping[str, str]],
        token: Callable[[], str],
        sync_state: Callable[[], bytes],
        subscriber_negotiated: Callable[[], bool],
    ) -> None:
        self._link = link
        self._publications = publications
        self._publisher = publisher
        self._subscriber = subscriber
        self._url = url
        self._others = others
        """Other servers of the deployment exist: a node that is down is not waited for."""
        self._connect_timeout_s = connect_timeout_s
        self._query = query
        self._token = token
        self._sync_state = sync_state
        self._subscriber_negotiated = subscriber_negotiated
        self._lost_again = False
        self._attempt_timeout: asyncio.Timeout | None = None

    def signal_lost_again(self) -> None:
        """The socket of the attempt in progress was lost too: that attempt fails now."""
        self._lost_again = True
        if self._attempt_timeout is not None:
            self._attempt_timeout.reschedule(asyncio.get_running_loop().time())

    async def run(self, error: EdgeError, *, timeout_s: float) -> float:
        """Resume; return the outage in seconds, or raise why the session is over.

        `ServerLeft` (or `JoinRefused`): the server no longer has the session;
        `PeerConnectionError`: our network changed, only a new session can work;
        `SignalError`: no attempt succeeded within `timeout_s`.
        """
        started = time.monotonic()
        deadline = started + timeout_s
        last = error
        refusals = 0
        await self._link.aclose()
        for attempt in itertools.count():
            delay = RESUME_DELAYS_S[min(attempt, len(RESUME_DELAYS_S) - 1)]
            if time.monotonic() + delay >= deadline:
                break
            await asyncio.sleep(delay)  # backoff between attempts
            if self._publisher.network_changed or self._subscriber.network_changed:
                raise PeerConnectionError("our network addresses changed: a new session is needed")
            try:
                await self._attempt(deadline)
            except (JoinRefused, ServerLeft) as exc:
                if not (isinstance(exc, JoinRefused) and exc.retryable):
                    raise
                last = exc
            except RoomError as exc:
                last = exc
                refusals = refusals + 1 if isinstance(exc, ServerUnreachable) and exc.refused else 0
                if self._others and refusals >= REFUSALS_TO_MOVE_ON:
                    raise SignalError(f"{exc}; the node is down: joining through another") from None
            else:
                return time.monotonic() - started
            _LOGGER.info("resume attempt %d failed: %s", attempt + 1, last)
        raise SignalError(f"could not resume the session within {timeout_s:g} s: {last}")

    async def _attempt(self, deadline: float) -> None:
        self._lost_again = False
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + deadline - time.monotonic()) as timeout:
                self._attempt_timeout = timeout
                await self._attempt_steps(deadline)
        except TimeoutError:
            if not self._lost_again:  # else reported below
                raise SignalError("the resume did not complete in time") from None
        finally:
            self._attempt_timeout = None
        if self._lost_again:
            raise SignalError("the signal connection was lost again while resuming")

    async def _attempt_steps(self, deadline: float) -> None:
        def remaining() -> float:
            return max(0.1, deadline - time.monotonic())

        if self._subscriber_negotiated():  # else the server has no subscriber ICE to restart
            self._subscriber.expect_ice_restart()
        await self._link.reopen(
            self._url,
            token=self._token(),
            query=self._query(),
            timeout_s=min(remaining(), self._connect_timeout_s),
        )
        await self._link.send(self._sync_state())
        await self._publications.negotiate(timeout_s=remaining(), ice_restart=True)
        await self._publisher.wait_ice_restarted(timeout_s=remaining())
        await self._subscriber.wait_ice_restarted(timeout_s=remaining())
