"""How the daemon classifies the end of a session: retry with backoff, or stop for good."""

from __future__ import annotations

import time

import pytest

from edge import daemon as edge_daemon
from edge.config import parse_config
from edge.errors import ClockNotSet
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig
from edge.livekit.twin_publisher import TwinPublisher
from edge.logbook import LogRing
from edge.mqtt.bridge_links import RoomLink
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
    gpio = GpioService(GpioConfig())
    return edge_daemon._Daemon(
        CONFIG, gpio, None, Notifier(None), TwinPublisher(), None, "", RoomLink(), LogRing()
    )


async def test_an_unset_clock_is_retried_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 42.0)  # a Pi without RTC, before NTP
    outcome = await edge_daemon._session(daemon(), None)
    assert isinstance(outcome.error, ClockNotSet)
    assert not outcome.fatal
    assert not outcome.joined


async def test_an_unreachable_server_is_retried() -> None:
    outcome = await edge_daemon._session(daemon(), None)
    assert "cannot reach ws://127.0.0.1:9/rtc" in str(outcome.error)
    assert not outcome.fatal
