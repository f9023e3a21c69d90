"""Notifier: the sd_notify datagrams and when the watchdog is on."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from edge.systemd import Notifier


def test_nothing_happens_without_a_notify_socket() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s == 0
    notifier.ready("x")  # no socket, no error


def test_watchdog_pings_at_half_the_interval_for_our_pid_only() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}
    assert Notifier.from_environment(env).watchdog_interval_s == 15.0
    assert (
        Notifier.from_environment({**env, "WATCHDOG_PID": str(os.getpid())}).watchdog_interval_s
        == 15.0
    )
    assert Notifier.from_environment({**env, "WATCHDOG_PID": "1"}).watchdog_interval_s == 0


def test_messages_arrive_as_newline_separated_assignments(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        notifier = Notifier(str(path))
        notifier.ready("connected")
        notifier.status("reconnecting")
        notifier.stopping()
        got = [sock.recv(1024).decode() for _ in range(3)]
    assert got == [
        "READY=1\nSTATUS=connected",
        "STATUS=reconnecting",
        "STOPPING=1\nSTATUS=stopping",
    ]


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    Notifier(str(tmp_path / "gone.sock")).ready("x")
