"""Two of our PeerConnections over the loopback: real ICE, DTLS and SCTP, no server.

aiortc puts every candidate in the SDP, so an offer/answer exchange is all it takes. Tasks the
peer connections start (ICE-restart checks) belong to the `spawn` fixture's TaskGroup.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from edge.livekit.peers import PeerConnection, Spawn, ice_configuration

Pair = tuple[PeerConnection, PeerConnection, list[bytes]]
"""Offerer (our publisher role), answerer (subscriber role), what the answerer received."""
MakePeer = Callable[[str, list[bytes]], PeerConnection]


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    async with asyncio.TaskGroup() as tg:

        def spawn(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
            return tg.create_task(coro, name=name)

        yield spawn


@pytest.fixture
def states() -> dict[str, list[str]]:
    """Connection states each peer of the test reported, by name."""
    return {}


@pytest.fixture
def make_peer(spawn: Spawn, states: dict[str, list[str]]) -> MakePeer:
    """A new PeerConnection called `name` whose messages land in `inbox`."""

    def make(name: str, inbox: list[bytes]) -> PeerConnection:
        states[name] = []
        return PeerConnection(
            name=name,
            configuration=ice_configuration([]),
            on_message=lambda data, reliable: inbox.append(data),
            on_state=states[name].append,
            spawn=spawn,
        )

    return make


@pytest.fixture
async def pair(make_peer: MakePeer) -> AsyncIterator[Pair]:
    """A connected offerer/answerer pair with both data channels open."""
    received: list[bytes] = []
    offerer, answerer = make_peer("publisher", []), make_peer("subscriber", received)
    try:
        offerer.create_data_channels()
        await offerer.set_answer(await answerer.answer_offer(await offerer.create_offer()))
        await offerer.wait_channels_open(timeout_s=10)
        await answerer.wait_channels_open(timeout_s=10)
        yield offerer, answerer, received
    finally:
        await offerer.aclose()
        await answerer.aclose()
