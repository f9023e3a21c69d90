"""SCTP timers: our data channels retransmit on libwebrtc's schedule, not aiortc's 1 s floor.

Two of our PeerConnections talk to each other over the loopback (aiortc puts every candidate
in the SDP), so the association is real; its retransmission timeout is read back after traffic.
"""

from __future__ import annotations

import pytest
from aiortc import rtcsctptransport

from edge.livekit.peers import PeerConnection
from edge.livekit.sctp import SCTP_TIMERS
from tests.helpers import assert_eventually
from tests.livekit.conftest import MakePeer, Pair

AIORTC_RTO_MIN_S = 1.0


def association(pc: PeerConnection) -> rtcsctptransport.RTCSctpTransport:
    sctp = pc._pc.sctp  # the aiortc object behind our adapter: what this test inspects
    assert sctp is not None
    return sctp


async def test_a_new_association_starts_from_the_tuned_initial_timeout(
    make_peer: MakePeer,
) -> None:
    pc = make_peer("publisher", [])
    try:
        pc.create_data_channels()
        await pc.create_offer()  # creates the SCTP transport, not yet started
        assert association(pc)._rto == SCTP_TIMERS.rto_initial_s
        floor, ceiling = rtcsctptransport.SCTP_RTO_MIN, rtcsctptransport.SCTP_RTO_MAX
        assert (floor, ceiling) == (SCTP_TIMERS.rto_min_s, SCTP_TIMERS.rto_max_s)
    finally:
        await pc.aclose()


async def test_after_traffic_the_timeout_settles_on_the_tuned_floor_not_aiortcs(
    pair: Pair,
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
