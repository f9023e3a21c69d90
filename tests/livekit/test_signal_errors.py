"""Why a join failed, said precisely and without echoing what the server quoted back."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from edge.errors import ServerUnreachable
from edge.livekit import signal_socket
from edge.livekit.signal_socket import SignalSocket


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (aiohttp.ServerTimeoutError(), "timed out"),
        (aiohttp.ConnectionTimeoutError(), "connection timed out"),
        (OSError(), "OSError"),
    ],
)
async def test_a_failure_without_a_message_still_gives_a_reason(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, reason: str
) -> None:
    async def ws_connect(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr(aiohttp.ClientSession, "ws_connect", ws_connect)
    with pytest.raises(ServerUnreachable) as excinfo:
        await SignalSocket.connect("ws://127.0.0.1:9", token="t", query={}, timeout_s=5)
    assert str(excinfo.value) == f"cannot reach ws://127.0.0.1:9/rtc: {reason}"
    assert not excinfo.value.refused  # a timeout or an unknown failure may be our network


async def test_a_port_nobody_listens_on_is_a_refusal(unused_tcp_port: int) -> None:
    """The host answered with a reset: the node is down, not our network."""
    with pytest.raises(ServerUnreachable) as excinfo:
        await SignalSocket.connect(
            f"ws://127.0.0.1:{unused_tcp_port}", token="t", query={}, timeout_s=5
        )
    assert excinfo.value.refused


@pytest.mark.parametrize(
    ("server_text", "shown"),
    [
        ("invalid token: eyJhbGciOi.eyJzdWIiOiJlZGdlIn0.sig, error: go-jose: bad", "invalid token"),
        ("no permissions to access the room\n", "no permissions to access the room"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJuYW1lIjoic2VjcmV0In0", ""),
        ("x" * 500, ""),
        ("", ""),
    ],
)
def test_the_servers_reason_is_cut_before_anything_it_quotes(server_text: str, shown: str) -> None:
    assert signal_socket._safe_reason(server_text) == shown
