"""SCTP timers: our data channels retransmit on libwebrtc's schedule, not aiortc's 1 s floor.

Two of our PeerConnections talk to each other over the loopback (aiortc puts every candidate
in the SDP), so the association is real; its retransmission timeout is read back after traffic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiortc import rtcsctptransport

from edge.livekit.peers import SCTP_TIMERS, PeerConnection, ice_configuration
from tests.helpers import assert_eventually

AIORTC_RTO_MIN_S = 1.0


def peer(name: str, inbox: list[bytes]) -> PeerConnection:
    return PeerConnection(
        name=name,
        configuration=ice_configuration([]),
        on_message=lambda data, reliable: inbox.append(data),
        on_state=lambda state: None,
        spawn=lambda coro, name: asyncio.get_running_loop().create_task(coro, name=name),
    )


@pytest.fixture
async def pair() -> AsyncIterator[tuple[PeerConnection, PeerConnection, list[bytes]]]:
    """A connected offerer/answerer pair, both channels open; what the answerer received."""
    received: list[bytes] = []
    offerer, answerer = peer("publisher", []), peer("subscriber", received)
    try:
        offerer.create_data_channels()
        await offerer.set_answer(await answerer.answer_offer(await offerer.create_offer()))
        await offerer.wait_channels_open(timeout_s=10)
        await answerer.wait_channels_open(timeout_s=10)
        yield offerer, answerer, received
    finally:
        await offerer.aclose()
        await answerer.aclose()


def association(pc: PeerConnection) -> rtcsctptransport.RTCSctpTransport:
    sctp = pc._pc.sctp  # the aiortc object behind our adapter: what this test inspects
    assert sctp is not None
    return sctp


async def test_a_new_association_starts_from_the_tuned_initial_timeout() -> None:
    pc = peer("publisher", [])
    try:
        pc.create_data_channels()
        await pc.create_offer()  # creates the SCTP transport, not yet started
        assert association(pc)._rto == SCTP_TIMERS.rto_initial_s
        floor, ceiling = rtcsctptransport.SCTP_RTO_MIN, rtcsctptransport.SCTP_RTO_MAX
        assert (floor, ceiling) == (SCTP_TIMERS.rto_min_s, SCTP_TIMERS.rto_max_s)
    finally:
        await pc.aclose()


async def test_after_traffic_the_timeout_settles_on_the_tuned_floor_not_aiortcs(
    pair: tuple[PeerConnection, PeerConnection, list[bytes]],
) -> None:
    offerer, _, received = pair
    for i in range(20):
        offerer.send(f"reading {i}".encode(), reliable=True)
    await assert_eventually(lambda: len(received) == 20)
    sctp = association(offerer)
    await assert_eventually(lambda: sctp._srtt is not None and not sctp._sent_queue)
    # A loopback round trip is well under a millisecond: the timeout is the floor itself.
    assert sctp._rto == pytest.approx(SCTP_TIMERS.rto_min_s)
    assert sctp._rto < AIORTC_RTO_MIN_S / 4
