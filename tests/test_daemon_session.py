"""How the daemon classifies the end of a session: retry with backoff, or stop for good."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest

from edge import daemon as edge_daemon
from edge.backoff import Backoff
from edge.config import parse_config
from edge.errors import ClockNotSet, RoomError, ServerLeft
from edge.failover import Failover
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig
from edge.livekit.twin_publisher import TwinPublisher
from edge.logbook import LogRing
from edge.services import Services
from edge.systemd import Notifier

CONFIG = parse_config(
    {
        "livekit": {
            "url": "ws://127.0.0.1:9",
            "room": "r",
            "identity": "edge",
            "api_key": "k",
            "api_secret": "a-secret-long-enough-for-hmac-sha256-tokens",
        }
    },
    env={},
)


def daemon() -> edge_daemon._Daemon:
    services = Services(GpioService(GpioConfig()), TwinPublisher(), LogRing())
    return edge_daemon._Daemon(CONFIG, services, Notifier(None), "")


async def test_an_unset_clock_is_retried_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 42.0)  # a Pi without RTC, before NTP
    outcome = await edge_daemon._session(daemon())
    assert isinstance(outcome.error, ClockNotSet)
    assert not outcome.fatal
    assert not outcome.joined


async def test_an_unreachable_server_is_retried() -> None:
    outcome = await edge_daemon._session(daemon())
    assert "cannot reach ws://127.0.0.1:9/rtc" in str(outcome.error)
    assert not outcome.fatal


async def test_an_ended_session_is_not_kept_alive_during_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Why a session ended is an exception whose traceback holds the ended session's frames,
    # and so its Room, peer connections and endpoints: about a megabyte of a Pi's memory.
    class Room:
        pass

    rooms: list[weakref.ref[Room]] = []
    alive_during_next: list[bool] = []
    stop = asyncio.Event()

    async def session(daemon: edge_daemon._Daemon) -> edge_daemon._Outcome:
        if not rooms:
            room = Room()
            rooms.append(weakref.ref(room))
            try:
                raise RoomError("disconnected")
            except RoomError as exc:  # its traceback holds this frame, and so `room`
                return edge_daemon._Outcome(exc, fatal=False, joined=True)
        gc.collect()
        alive_during_next.append(rooms[0]() is not None)
        stop.set()
        return edge_daemon._Outcome(RoomError("again"), fatal=False, joined=True)

    monkeypatch.setattr(edge_daemon, "_session", session)
    supervisor = daemon()
    supervisor.failover = Failover(CONFIG.livekit.url, backoff=Backoff(base_s=0.01, cap_s=0.01))
    assert await edge_daemon._run(supervisor, stop=stop) is None
    assert alive_during_next == [False]


def evicted(joined_for_s: float) -> edge_daemon._Outcome:
    error = ServerLeft("pushed out", reason="DUPLICATE_IDENTITY", can_reconnect=False)
    return edge_daemon._Outcome(error, fatal=True, joined=True, joined_for_s=joined_for_s)


@pytest.mark.parametrize(
    ("joined_for", "sessions"),
    [([30.0], 1), ([0.5, 1.0], 2), ([0.0, 25.0], 2)],
    ids=["late: another device", "twice while joining", "forgiven, then late"],
)
async def test_an_eviction_ends_the_daemon_unless_it_may_be_the_servers_own_retry(
    monkeypatch: pytest.MonkeyPatch, joined_for: list[float], sessions: int
) -> None:
    ran: list[float] = []

    async def session(_daemon: edge_daemon._Daemon) -> edge_daemon._Outcome:
        ran.append(joined_for[len(ran)])
        return evicted(ran[-1])

    monkeypatch.setattr(edge_daemon, "_session", session)
    supervisor = daemon()
    supervisor.failover = Failover(CONFIG.livekit.url, backoff=Backoff(base_s=0.01, cap_s=0.01))
    error = await edge_daemon._run(supervisor, stop=asyncio.Event())
    assert isinstance(error, ServerLeft)
    assert error.reason == "DUPLICATE_IDENTITY"
    assert len(ran) == sessions


async def test_an_eviction_while_joining_is_followed_by_a_rejoin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = asyncio.Event()
    ran: list[str] = []

    async def session(_daemon: edge_daemon._Daemon) -> edge_daemon._Outcome:
        ran.append("session")
        if len(ran) == 2:
            stop.set()  # the rejoin happened: the test is over
            return edge_daemon._Outcome(RoomError("stopping"), fatal=False, joined=True)
        return evicted(0.0)

    monkeypatch.setattr(edge_daemon, "_session", session)
    supervisor = daemon()
    supervisor.failover = Failover(CONFIG.livekit.url, backoff=Backoff(base_s=0.01, cap_s=0.01))
    assert await edge_daemon._run(supervisor, stop=stop) is None
    assert ran == ["session", "session"]
