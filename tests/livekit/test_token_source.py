"""fetch_token against a real HTTP endpoint on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from edge.config import LiveKitConfig
from edge.errors import CredentialsError, ServerUnreachable
from edge.livekit.token_source import FetchedToken, fetch_token
from edge.token import mint_token

SECRET = "a-secret-of-at-least-thirty-two-bytes-for-tests"
Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token(identity: str = "edge-7", ttl_s: int = 600) -> str:
    return mint_token(api_key="k", api_secret=SECRET, room="lab", identity=identity, ttl_s=ttl_s)


@pytest.fixture
async def endpoint() -> AsyncIterator[Callable[[Answer], Awaitable[str]]]:
    """Serve one handler at /token on a free loopback port; return its URL."""
    runners: list[web.AppRunner] = []

    async def serve(answer: Answer) -> str:
        app = web.Application()
        app.router.add_get("/token", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/token"

    yield serve
    for runner in runners:
        await runner.cleanup()


def config(url: str, auth: str = "") -> LiveKitConfig:
    return LiveKitConfig(
        url=("ws://127.0.0.1:7880",),
        room="lab",
        identity="edge-7",
        token_url=url,
        token_url_auth=auth,
    )


async def test_the_endpoint_learns_who_asks_and_its_json_answer_is_used(
    endpoint: Callable[[Answer], Awaitable[str]],
) -> None:
    asked: list[tuple[dict[str, str], str]] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        asked.append((dict(request.query), request.headers.get("Authorization", "")))
        return web.json_response({"serverUrl": "ws://x", "participantToken": token()})

    url = await endpoint(answer)
    fetched = await fetch_token(config(url + "?site=north", "Bearer dev-1"), now=time.time())
    assert fetched.token.count(".") == 2
    assert fetched.server_url == "ws://x"
    assert asked == [({"site": "north", "identity": "edge-7", "room": "lab"}, "Bearer dev-1")]


async def test_a_plain_text_jwt_is_used_as_it_is(
    endpoint: Callable[[Answer], Awaitable[str]],
) -> None:
    jwt = token()

    async def answer(_request: web.Request) -> web.StreamResponse:
        return web.Response(text=jwt + "\n")

    assert await fetch_token(config(await endpoint(answer)), now=time.time()) == FetchedToken(jwt)


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (401, "no", CredentialsError, "refused us: HTTP 401"),
        (503, "busy", ServerUnreachable, "failed with HTTP 503"),
        (200, "<html>login</html>", CredentialsError, "answered no token"),
        (200, json.dumps({"token": 5}), CredentialsError, "answered no token"),
        (200, token(ttl_s=60), CredentialsError, "expired"),  # fetched an hour later
    ],
)
async def test_bad_answers_are_precise_errors(
    endpoint: Callable[[Answer], Awaitable[str]],
    status: int,
    body: str,
    error: type[Exception],
    message: str,
) -> None:
    async def answer(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=body)

    url = await endpoint(answer)
    with pytest.raises(error, match=message) as caught:
        await fetch_token(config(url), now=time.time() + 3600)
    assert "?" not in str(caught.value), "the query (identity, room) is not repeated in errors"


async def test_an_unreachable_endpoint_is_retryable(unused_tcp_port: int) -> None:
    with pytest.raises(ServerUnreachable, match="unreachable"):
        await fetch_token(config(f"http://127.0.0.1:{unused_tcp_port}/token"), now=time.time())
