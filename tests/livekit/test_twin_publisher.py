"""TwinPublisher against a room stand-in: urgent keys at once, a missing grant reported once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import pytest

from edge.errors import RoomError
from edge.livekit.twin_publisher import TwinPublisher
from edge.twin import Twin


class RefusingRoom:
    def __init__(self) -> None:
        self.calls = 0

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        self.calls += 1
        raise RoomError(
            "server refused to update our participant: NOT_ALLOWED: does not have permission "
            "(the token lacks the canUpdateOwnMetadata grant)"
        )


async def test_a_missing_grant_is_reported_once_and_publishing_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room = RefusingRoom()
    publisher = TwinPublisher(Twin(min_interval_s=0.01))
    publisher.update({"edge.status": "online"})
    async with asyncio.timeout(5):
        await publisher.run(room)  # returns: nothing more to do in this session
    publisher.update({"edge.status": "busy"})
    assert publisher.grant_missing
    assert room.calls == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "lacks the canUpdateOwnMetadata grant" in errors[0].getMessage()


def test_oversize_values_are_logged_and_not_taken(caplog: pytest.LogCaptureFixture) -> None:
    publisher = TwinPublisher(Twin(max_value_bytes=8))
    refusals = publisher.update({"edge.error": "x" * 9})
    assert [r.key for r in refusals] == ["edge.error"]
    assert "edge.error" not in publisher.twin.desired
    assert "twin attribute 'edge.error' refused, not sent: value is 9 bytes" in caplog.text


class RecordingRoom:
    def __init__(self) -> None:
        self.updates: list[dict[str, str]] = []
        self.changed = asyncio.Event()

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        self.updates.append(dict(attributes))
        self.changed.set()

    async def next_update(self) -> dict[str, str]:
        self.changed.clear()
        await self.changed.wait()
        return self.updates[-1]


async def test_an_urgent_change_is_not_held_back_by_a_coalesced_one_waiting() -> None:
    room = RecordingRoom()
    publisher = TwinPublisher(Twin(min_interval_s=3600))
    publisher.update({"edge.rtt_ms": "3"})
    async with asyncio.timeout(5), asyncio.TaskGroup() as tg:
        task = tg.create_task(publisher.run(room), name="test.twin")
        assert await room.next_update() == {"edge.rtt_ms": "3"}
        publisher.update({"edge.rtt_ms": "4"})  # due in an hour
        publisher.update({"gpio.lamp": "1"})
        assert await room.next_update() == {"gpio.lamp": "1", "edge.rtt_ms": "4"}
        publisher.update({"gpio.lamp": "0"})
        assert await room.next_update() == {"gpio.lamp": "0"}
        task.cancel()
