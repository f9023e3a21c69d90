"""PeerConnection: waiting for data channels ends at once when the session is gone."""

from __future__ import annotations

import asyncio

import pytest

from edge.errors import PeerConnectionError
from edge.livekit.peers import PeerConnection, ice_configuration


async def test_abort_wait_fails_a_pending_wait_for_the_data_channels() -> None:
    pc = PeerConnection(
        name="publisher",
        configuration=ice_configuration([]),
        on_message=lambda data, reliable: None,
        on_state=lambda state: None,
        spawn=lambda coro, name: asyncio.get_running_loop().create_task(coro, name=name),
    )
    pc.create_data_channels()
    try:
        asyncio.get_running_loop().call_soon(pc.abort_wait)  # the session ends while we wait
        with pytest.raises(PeerConnectionError, match="closed while opening data channels"):
            async with asyncio.timeout(2):  # an upper bound, far below the 30 s timeout
                await pc.wait_channels_open(timeout_s=30)
    finally:
        await pc.aclose()
