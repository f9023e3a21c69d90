"""ICE restart under a live association: what resuming a LiveKit session rests on.

Two of our PeerConnections talk over the loopback (real aioice checks, DTLS and SCTP). The
offerer restarts ICE as we do for the publisher on resume; the answerer detects the new
credentials in the offer as we do when the server restarts the subscriber's ICE.
"""

from __future__ import annotations

import pytest

from edge.errors import PeerConnectionError
from edge.livekit import peers
from tests.helpers import assert_eventually
from tests.livekit.conftest import MakePeer, Pair


def ufrag(sdp: str) -> str:
    return next(line for line in sdp.splitlines() if line.startswith("a=ice-ufrag:"))


async def test_restart_changes_credentials_and_keeps_the_association(pair: Pair) -> None:
    offerer, answerer, received = pair
    association = offerer._pc.sctp  # the aiortc object behind our adapter: it must survive
    first_offer = offerer._pc.localDescription.sdp
    first_answer = answerer._pc.localDescription.sdp

    offerer.send(b"before", reliable=True)
    offerer.restart_ice()
    offer = await offerer.create_offer()
    offerer.send(b"while restarting", reliable=True)  # on the previous pair
    answer = await answerer.answer_offer(offer)
    await offerer.set_answer(answer)
    await offerer.wait_ice_restarted(timeout_s=10)
    await answerer.wait_ice_restarted(timeout_s=10)
    offerer.send(b"after", reliable=True)

    assert ufrag(offer) != ufrag(first_offer)
    assert ufrag(answer) != ufrag(first_answer)
    await assert_eventually(lambda: received == [b"before", b"while restarting", b"after"])
    assert offerer._pc.sctp is association
    assert offerer.connection_state == answerer.connection_state == "connected"


async def test_a_plain_renegotiation_does_not_restart(pair: Pair) -> None:
    offerer, answerer, received = pair
    before = ufrag(answerer._pc.localDescription.sdp)
    await offerer.set_answer(await answerer.answer_offer(await offerer.create_offer()))
    assert ufrag(answerer._pc.localDescription.sdp) == before
    await answerer.wait_ice_restarted(timeout_s=0.1)  # none in progress: returns at once
    offerer.send(b"still", reliable=True)
    await assert_eventually(lambda: received == [b"still"])


async def test_a_restart_never_answered_times_out_with_a_clear_error(pair: Pair) -> None:
    offerer, _, _ = pair
    offerer.restart_ice()
    await offerer.create_offer()  # the answer never comes
    with pytest.raises(PeerConnectionError, match=r"ICE restart did not complete within 0\.2 s"):
        await offerer.wait_ice_restarted(timeout_s=0.2)


async def test_an_offer_without_ice_credentials_is_refused(pair: Pair) -> None:
    offerer, answerer, received = pair
    offer = await offerer.create_offer()
    stripped = "\r\n".join(line for line in offer.splitlines() if "ice-ufrag" not in line)
    with pytest.raises(PeerConnectionError, match="malformed session description"):
        await answerer.answer_offer(stripped + "\r\n")
    offerer.send(b"unharmed", reliable=True)
    await assert_eventually(lambda: received == [b"unharmed"])


async def test_a_restart_that_finds_no_pair_fails_the_peer_connection(
    pair: Pair, states: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peers, "ICE_RESTART_TIMEOUT_S", 2.0)  # instead of 30 s
    offerer, answerer, _ = pair
    offerer.restart_ice()
    await offerer.create_offer()  # the answerer never sees it: an answer it did not write
    forged = "\r\n".join(
        "a=ice-ufrag:nope"
        if line.startswith("a=ice-ufrag:")
        else "a=ice-pwd:nopenopenopenopenopenope"
        if line.startswith("a=ice-pwd:")
        else line
        for line in answerer._pc.localDescription.sdp.splitlines()
    )
    await offerer.set_answer(forged + "\r\n")
    with pytest.raises(PeerConnectionError, match="publisher: "):
        await offerer.wait_ice_restarted(timeout_s=5)
    assert states["publisher"][-1] == "failed"  # the room ends the session on this


async def test_ice_is_not_restarted_before_it_ever_connected(make_peer: MakePeer) -> None:
    pc = make_peer("publisher", [])
    try:
        pc.create_data_channels()
        await pc.create_offer()
        with pytest.raises(PeerConnectionError, match="before it has connected"):
            pc.restart_ice()
    finally:
        await pc.aclose()
