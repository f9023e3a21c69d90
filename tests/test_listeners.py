"""Listeners: every subscriber called, in order, isolated from the others."""

from __future__ import annotations

import logging

import pytest

from edge.listeners import Listeners, Unsubscribe


def test_every_subscriber_is_called_in_subscription_order() -> None:
    event: Listeners[[int]] = Listeners("numbers")
    seen: list[str] = []
    event.subscribe(lambda n: seen.append(f"a{n}"))
    event.subscribe(lambda n: seen.append(f"b{n}"))
    event.emit(1)
    event.emit(2)
    assert seen == ["a1", "b1", "a2", "b2"]


def test_an_unsubscribed_callback_is_not_called_again_and_unsubscribe_is_idempotent() -> None:
    event: Listeners[[]] = Listeners("ticks")
    seen: list[str] = []
    unsubscribe = event.subscribe(lambda: seen.append("a"))
    event.subscribe(lambda: seen.append("b"))
    event.emit()
    unsubscribe()
    unsubscribe()
    event.emit()
    assert seen == ["a", "b", "b"]
    assert len(event) == 1


def test_unsubscribing_during_an_emit_skips_the_later_subscriber_at_once() -> None:
    event: Listeners[[]] = Listeners("ticks")
    seen: list[str] = []
    later: list[Unsubscribe] = []

    def first() -> None:
        seen.append("first")
        later[0]()

    event.subscribe(first)
    later.append(event.subscribe(lambda: seen.append("second")))
    event.subscribe(lambda: seen.append("third"))
    event.emit()
    event.emit()
    assert seen == ["first", "third", "first", "third"]


def test_a_subscriber_may_unsubscribe_itself_and_one_added_during_an_emit_waits() -> None:
    event: Listeners[[]] = Listeners("ticks")
    seen: list[str] = []
    own: list[Unsubscribe] = []

    def once() -> None:
        seen.append("once")
        own[0]()
        event.subscribe(lambda: seen.append("new"))

    own.append(event.subscribe(once))
    event.emit()
    event.emit()
    assert seen == ["once", "new"]


def test_a_failing_subscriber_is_isolated_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event: Listeners[[int]] = Listeners("numbers")
    seen: list[int] = []

    def broken(_n: int) -> None:
        raise RuntimeError("sink closed")

    event.subscribe(broken)
    event.subscribe(seen.append)
    with caplog.at_level(logging.DEBUG, logger="edge.listeners"):
        for n in range(3):
            event.emit(n)  # nothing reaches the emitter
    assert seen == [0, 1, 2]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert "numbers" in errors[0].getMessage()
    assert "sink closed" in errors[0].getMessage()
    assert errors[0].exc_info is not None


def test_cancellation_and_other_base_exceptions_are_not_swallowed() -> None:
    event: Listeners[[]] = Listeners("ticks")

    def stop() -> None:
        raise KeyboardInterrupt

    event.subscribe(stop)
    with pytest.raises(KeyboardInterrupt):
        event.emit()
