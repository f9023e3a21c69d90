"""RPC v2 with LiveKit's JS client (the console's `livekit-client`) in Chromium: 1 MiB both ways.

The page is a blank one served on the loopback address (so Chromium lets it reach the local
server): the client's UMD build is loaded into it and driven by expressions, so this tests the
SDK as any web app uses it, not the console.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint, RpcInvocation
from edge.protocol.rpc_v2 import CLIENT_PROTOCOL_RPC_V2
from tests.console.browser import CONSOLE_DIR, Browser
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, mint_token

pytestmark = pytest.mark.e2e
UMD = CONSOLE_DIR / "node_modules" / "livekit-client" / "dist" / "livekit-client.umd.js"
MIB = 1024 * 1024


@pytest.fixture
async def edge_room(livekit_server: LiveKitServer, room_name: str) -> AsyncIterator[Room]:
    token = mint_token(livekit_server, identity="edge-1", room=room_name)
    async with Room.connect(RoomOptions(url=livekit_server.url, attributes={}), token) as room:
        yield room


@pytest.fixture
async def blank_page() -> AsyncIterator[str]:
    """The URL of an empty page served from 127.0.0.1."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>rpc</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


async def echo(invocation: RpcInvocation) -> str:
    return f"{invocation.rpc_version}:{invocation.payload}"


async def test_the_js_client_and_we_call_each_other_with_1_mib(
    browser: Browser,
    blank_page: str,
    livekit_server: LiveKitServer,
    room_name: str,
    edge_room: Room,
) -> None:
    rpc = RpcEndpoint(edge_room, settling_s=0)
    rpc.register_method("echo", echo)
    await browser.goto(blank_page)
    await browser.add_script(UMD)
    token = mint_token(livekit_server, identity="web", room=room_name)
    joined = f"""(async () => {{
        const room = new LivekitClient.Room();
        await room.connect({json.dumps(livekit_server.url)}, {json.dumps(token)});
        room.registerRpcMethod('reverse', async (data) => [...data.payload].reverse().join(''));
        window.lkRoom = room;
        return room.localParticipant.identity;
    }})()"""
    assert await browser.evaluate(joined) == "web"
    await assert_eventually(lambda: "web" in edge_room.remote_participants)
    assert edge_room.remote_participants["web"].client_protocol >= CLIENT_PROTOCOL_RPC_V2
    await assert_eventually(
        lambda: browser.evaluate("window.lkRoom.remoteParticipants.has('edge-1')")
    )
    called = """(async () => {
        const payload = 'ab'.repeat(512 * 1024);
        const answer = await window.lkRoom.localParticipant.performRpc({
            destinationIdentity: 'edge-1', method: 'echo', payload, responseTimeout: 30000,
        });
        return [answer.length, answer.slice(0, 4), answer === '2:' + payload];
    })()"""
    assert await browser.evaluate(called) == [MIB + 2, "2:ab", True]
    payload = "xy" * (MIB // 2)
    assert await rpc.perform_rpc("web", "reverse", payload, response_timeout_s=30) == payload[::-1]
