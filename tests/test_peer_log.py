"""Per-participant log budget: a flood from one peer becomes a few lines and one summary."""

from __future__ import annotations

import logging

import pytest

from edge import daemon
from edge.livekit.room_events import DataReceived
from edge.peer_log import PeerLog
from edge.protocol.packets import UserData
from tests.clock import Clock


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_a_flood_is_cut_to_the_budget_and_summarised(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(1000.0)
    log = PeerLog(logging.getLogger("t"), burst=3, window_s=10.0, clock=clock)
    with caplog.at_level(logging.INFO):
        for i in range(3000):
            log.log(logging.INFO, "op-anna", "packet %d", i)
            if i < 2:
                log.log(logging.WARNING, "op-bob", "bad %d", i)
        clock.now += 10.0
        log.log(logging.INFO, "op-anna", "packet %d", 3000)

    assert _lines(caplog) == [
        "packet 0",
        "bad 0",
        "packet 1",
        "bad 1",
        "packet 2",
        "... and 2997 more from 'op-anna' in the last 10 s",
        "packet 3000",
    ]


def test_the_summary_keeps_the_worst_level_and_comes_on_flush(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = PeerLog(logging.getLogger("t"), burst=1, clock=Clock(1000.0))
    with caplog.at_level(logging.INFO):
        log.log(logging.INFO, "p", "a")
        log.log(logging.WARNING, "p", "b")
        log.log(logging.INFO, "p", "c")
        log.flush()
    assert _lines(caplog) == ["a", "... and 2 more from 'p' in the last 10 s"]
    assert caplog.records[-1].levelno == logging.WARNING


def test_a_quiet_peer_still_gets_its_summary_when_others_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(1000.0)
    log = PeerLog(logging.getLogger("t"), burst=1, window_s=10.0, clock=clock)
    with caplog.at_level(logging.INFO):
        log.log(logging.INFO, "loud", "x")
        log.log(logging.INFO, "loud", "x")
        clock.now += 11.0
        log.log(logging.INFO, "other", "y")
    assert _lines(caplog) == ["x", "... and 1 more from 'loud' in the last 10 s", "y"]


def test_tracked_identities_stay_bounded(caplog: pytest.LogCaptureFixture) -> None:
    log = PeerLog(logging.getLogger("t"), burst=1, max_peers=4, clock=Clock(1000.0))
    with caplog.at_level(logging.INFO):
        for i in range(1000):
            peer = f"p{i}"
            log.log(logging.INFO, peer, "x")
            log.log(logging.INFO, peer, "x")
    assert len(log._peers) == 4
    assert "... and 1 more from 'p0' in the last 10 s" in _lines(caplog)  # evicted, summarised


def test_the_daemon_logs_3000_data_packets_from_one_peer_in_a_few_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    packet = UserData(
        sender_identity="op-flood",
        sender_sid="PA_1",
        payload=b"x",
        topic="t",
        reliable=True,
        sequence=0,
    )
    with caplog.at_level(logging.INFO, logger="edge.daemon"):
        for _ in range(3000):
            daemon._describe(DataReceived(data=packet))
        daemon._PEER_LOG.flush()
    lines = [m for m in _lines(caplog) if "op-flood" in m]
    assert len(lines) <= 10, len(lines)
    assert lines[-1].startswith("... and ")
