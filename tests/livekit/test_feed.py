"""EventFeed: every subscriber sees every event, bounded, ending at the final event."""

from __future__ import annotations

import pytest

from edge.livekit.feed import EventFeed, Subscription


def feed(maxsize: int = 10) -> EventFeed[str]:
    return EventFeed(maxsize=maxsize, is_last=lambda e: e == "end", name="test feed")


async def drain(sub: Subscription[str]) -> list[str]:
    return [e async for e in sub]


async def test_each_subscriber_gets_backlog_then_events_then_stops_at_the_end() -> None:
    f = feed()
    a = f.subscribe(["hello-a"])
    f.publish("one")
    b = f.subscribe()
    f.publish("two")
    f.publish("end")
    f.publish("after-end")
    assert await drain(a) == ["hello-a", "one", "two", "end"]
    assert await drain(b) == ["two", "end"]


async def test_subscribing_after_the_end_yields_backlog_and_the_end() -> None:
    f = feed()
    f.publish("end")
    assert await drain(f.subscribe(["state"])) == ["state", "end"]


async def test_slow_consumer_loses_oldest_events_and_they_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    f = feed(maxsize=3)
    sub = f.subscribe()
    for n in range(5):
        f.publish(str(n))
    assert f.dropped == 2
    f.publish("end")
    assert await drain(sub) == ["3", "4", "end"]
    assert "test feed: consumer behind, 1 event(s) dropped" in caplog.text
