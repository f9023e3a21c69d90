"""The rig itself: a real livekit-server and two official-SDK peers in one room."""

from __future__ import annotations

import pytest
from livekit import rtc

from tests.conftest import OfficialPeerFactory
from tests.helpers import assert_eventually
from tests.official_peer import Received

pytestmark = pytest.mark.e2e


async def test_two_peers_see_each_other_and_exchange_data(
    official_peer: OfficialPeerFactory,
) -> None:
    alice = await official_peer("alice", name="Alice")
    bob = await official_peer("bob")

    # The server batches joins of non-publishing participants: up to 3 s for alice.
    await alice.wait_participant("bob")
    seen_alice = await bob.wait_participant("alice")
    assert seen_alice.name == "Alice"

    await alice.publish_data(b"ping", topic="rig.test")

    received = await assert_eventually(lambda: bob.received, message="bob received no data packet")
    assert received == [Received("alice", "rig.test", b"ping", rtc.DataPacketKind.KIND_RELIABLE)]


async def test_attributes_set_by_one_peer_reach_the_other(
    official_peer: OfficialPeerFactory,
) -> None:
    alice = await official_peer("alice", attributes={"role": "viewer"})
    bob = await official_peer("bob")
    alice_at_bob = await bob.wait_participant("alice")
    assert alice_at_bob.attributes == {"role": "viewer"}

    await alice.set_attributes({"state": "ready"})

    await assert_eventually(
        lambda: ("alice", {"state": "ready"}) in bob.attribute_changes,
        message=lambda: f"bob recorded {bob.attribute_changes}",
    )
    assert alice_at_bob.attributes == {"role": "viewer", "state": "ready"}
