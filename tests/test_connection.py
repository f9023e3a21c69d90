"""ConnectionStatus: the room connection as one state, with its logs, STATUS= and attributes."""

from __future__ import annotations

import logging

import pytest

from edge.connection import ConnectionStatus, LinkState


def state(status: ConnectionStatus) -> LinkState:
    """Read anew each time (mypy would keep a narrowed attribute across calls)."""
    return status.state


def joined(status: ConnectionStatus, now: float) -> None:
    status.joined(room="workshop", identity="edge-pi", now=now)


def test_starts_connecting_and_a_first_join_is_not_a_reconnect() -> None:
    status = ConnectionStatus()
    assert state(status) is LinkState.CONNECTING
    assert status.status_line() == "connecting"
    joined(status, 5.0)
    assert state(status) is LinkState.CONNECTED
    assert status.status_line() == "connected to room 'workshop' as 'edge-pi'"
    assert status.attributes() == {
        "edge.connection": "connected",
        "edge.reconnects": "0",
        "edge.last_outage_s": None,
    }


def test_an_outage_runs_from_the_loss_to_the_next_join_and_is_counted() -> None:
    status = ConnectionStatus()
    joined(status, 0.0)
    status.lost("no message from the server for 15 s", now=100.0)
    assert state(status) is LinkState.RECONNECTING
    assert status.status_line() == "reconnecting: no message from the server for 15 s"
    status.retrying("no message from the server for 15 s", delay_s=0.7, failed=False, now=100.1)
    assert state(status) is LinkState.RECONNECTING
    assert status.status_line() == "reconnecting in 1 s: no message from the server for 15 s"

    status.retrying("cannot reach ws://x/rtc", delay_s=1.6, failed=True, now=110.0)
    assert state(status) is LinkState.OFFLINE
    assert status.status_line() == "offline, retrying in 2 s: cannot reach ws://x/rtc"
    assert status.attributes()["edge.connection"] == "offline"

    joined(status, 121.25)
    assert state(status) is LinkState.CONNECTED
    assert (status.reconnects, status.last_outage_s) == (1, 21.25)
    assert status.attributes() == {
        "edge.connection": "connected",
        "edge.reconnects": "1",
        "edge.last_outage_s": "21.2",
    }
    assert status.status_line().endswith("(reconnect 1, last outage 21.2 s)")


def test_a_session_that_ends_without_a_reported_loss_still_starts_an_outage() -> None:
    status = ConnectionStatus()
    joined(status, 0.0)
    status.retrying("server ended the session: SERVER_SHUTDOWN", delay_s=1, failed=False, now=3.0)
    assert state(status) is LinkState.RECONNECTING
    joined(status, 4.5)
    assert (status.reconnects, status.last_outage_s) == (1, 1.5)


def test_failing_to_join_at_start_goes_offline_and_the_first_join_is_no_reconnect() -> None:
    status = ConnectionStatus()
    status.retrying("cannot reach ws://x/rtc", delay_s=1, failed=True, now=1.0)
    assert state(status) is LinkState.OFFLINE
    joined(status, 9.0)
    assert (status.reconnects, status.last_outage_s) == (0, None)


def test_each_transition_is_logged_once_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.connection")
    status = ConnectionStatus()
    joined(status, 0.0)
    status.lost("peer connection failed (ICE/DTLS)", now=10.0)
    status.lost("peer connection failed (ICE/DTLS)", now=10.5)  # already lost: nothing new
    for attempt in range(3):
        status.retrying("cannot reach ws://x/rtc", delay_s=1, failed=True, now=11.0 + attempt)
    joined(status, 20.0)
    assert [r.getMessage() for r in caplog.records] == [
        "connection: connecting -> connected",
        "connection: connected -> reconnecting (peer connection failed (ICE/DTLS))",
        "connection: reconnecting -> offline (cannot reach ws://x/rtc)",
        "connection: offline -> connected after a 10.0 s outage (reconnect 1)",
    ]
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING", "WARNING", "INFO"]
