"""PeerConnection: waiting for data channels ends at once when the session is gone."""

from __future__ import annotations

import asyncio

import pytest

from edge.errors import PeerConnectionError
from tests.livekit.conftest import MakePeer


async def test_abort_wait_fails_a_pending_wait_for_the_data_channels(
    make_peer: MakePeer,
) -> None:
    pc = make_peer("publisher", [])
    pc.create_data_channels()
    try:
        asyncio.get_running_loop().call_soon(pc.abort_wait)  # the session ends while we wait
        with pytest.raises(PeerConnectionError, match="closed while opening data channels"):
            async with asyncio.timeout(2):  # an upper bound, far below the 30 s timeout
                await pc.wait_channels_open(timeout_s=30)
    finally:
        await pc.aclose()
