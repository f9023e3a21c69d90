"""Pushed out for our identity: the server's own retry is forgiven once, another device never."""

from __future__ import annotations

import pytest

from edge.errors import JoinRefused, RoomError, ServerLeft
from edge.eviction import FORGIVE_PERIOD_S, GHOST_WINDOW_S, EvictionJudge, is_eviction


def test_an_eviction_long_after_joining_is_another_device() -> None:
    assert EvictionJudge().final(joined_for_s=GHOST_WINDOW_S + 0.1, now=0.0)


def test_one_eviction_while_joining_is_forgiven_and_a_second_soon_after_is_not() -> None:
    judge = EvictionJudge()
    assert not judge.final(joined_for_s=0.0, now=100.0)  # during the join
    assert judge.final(joined_for_s=1.0, now=103.0)  # a device that started with us


def test_forgiveness_comes_back_after_its_period() -> None:
    judge = EvictionJudge()
    assert not judge.final(joined_for_s=2.0, now=0.0)
    assert not judge.final(joined_for_s=2.0, now=FORGIVE_PERIOD_S + 1)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ServerLeft("x", reason="DUPLICATE_IDENTITY", can_reconnect=False), True),
        (JoinRefused("x", reason="DUPLICATE_IDENTITY"), True),
        (ServerLeft("x", reason="PARTICIPANT_REMOVED", can_reconnect=False), False),
        (JoinRefused("x", status=401), False),
        (RoomError("DUPLICATE_IDENTITY"), False),
    ],
)
def test_only_a_leave_for_a_duplicate_identity_is_an_eviction(
    error: RoomError, expected: bool
) -> None:
    assert is_eviction(error) is expected
