"""`edge console` as users start it: the link it prints, what it serves, how it fails."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from edge.token import inspect_token

ROOM = "workshop"


@dataclass
class Console:
    proc: asyncio.subprocess.Process
    link: str

    @property
    def base(self) -> str:
        return self.link.split("#", 1)[0]


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A stand-in for the bundled app: the server must serve exactly these files."""
    path = tmp_path / "dist"
    path.mkdir()
    (path / "index.html").write_text("<!doctype html><title>console</title>")
    (path / "app.js").write_text("console.log('app');")
    (tmp_path / "secret.txt").write_text("not for the browser")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        '[livekit]\nurl = "wss://lk.example.org"\nroom = "workshop"\nidentity = "edge-1"\n'
        'api_key = "key"\napi_secret = "a-secret-that-is-long-enough-for-hmac-0123"\n'
    )
    path.chmod(0o600)
    return path


@pytest.fixture
async def consoles() -> AsyncIterator[list[Console]]:
    running: list[Console] = []
    yield running
    for console in running:
        if console.proc.returncode is None:
            console.proc.kill()
        async with asyncio.timeout(10):
            await console.proc.communicate()  # also closes the pipes


async def start(running: list[Console], *args: str) -> Console:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge",
        "console",
        "--port",
        "0",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(20):
        line = (await proc.stdout.readline()).decode().strip()
    console = Console(proc, line)
    running.append(console)
    return console


async def stderr_of(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    async with asyncio.timeout(20):
        return (await proc.stderr.read()).decode()


async def test_the_link_joins_the_configured_room_with_a_viewer_token(
    consoles: list[Console], config: Path, dist: Path
) -> None:
    console = await start(consoles, "--config", str(config), "--dist", str(dist))
    url = urlsplit(console.link)
    assert (url.scheme, url.hostname, url.path) == ("http", "127.0.0.1", "/")
    params = {k: v[0] for k, v in parse_qs(url.fragment).items()}
    assert params["url"] == "wss://lk.example.org"
    claims = inspect_token(params["token"], now=time.time())
    assert (claims.identity, claims.room, claims.name) == ("console", ROOM, "Operator console")
    assert claims.grants["canPublish"] is False  # a viewer: no media
    assert claims.grants["canPublishData"] is True  # but RPC and data
    assert url.query == ""  # the token never reaches the server (fragment only)

    async with aiohttp.ClientSession() as http:
        async with http.get(console.base) as page:
            assert page.status == 200
            assert "<title>console</title>" in await page.text()
            assert page.headers["Referrer-Policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        async with http.get(console.base + "app.js") as script:
            assert script.status == 200
            assert script.content_type in ("application/javascript", "text/javascript")
        for path in ("nope.js", "..%2fsecret.txt", "%2e%2e/secret.txt"):
            async with http.get(console.base + path) as missing:
                assert missing.status == 404, path

    console.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        assert await console.proc.wait() == 0


async def test_without_credentials_the_page_asks_for_a_token(
    consoles: list[Console], dist: Path
) -> None:
    console = await start(consoles, "--dist", str(dist), "--url", "wss://lk.example.org")
    assert console.link.endswith("/#url=wss%3A%2F%2Flk.example.org")
    console.proc.send_signal(signal.SIGINT)
    assert "no API key and secret to mint a viewer token" in await stderr_of(console.proc)
    assert await console.proc.wait() == 0


async def test_an_unbuilt_console_and_a_busy_port_are_one_clear_line(
    consoles: list[Console], dist: Path, tmp_path: Path
) -> None:
    unbuilt = await start(consoles, "--dist", str(tmp_path / "missing"))
    assert unbuilt.link == ""
    message = await stderr_of(unbuilt.proc)
    assert await unbuilt.proc.wait() == 1
    assert message.strip().splitlines()[-1] == (
        f"edge: console not built: {tmp_path / 'missing' / 'index.html'} is missing"
        " (run tools/setup)"
    )

    first = await start(consoles, "--dist", str(dist))
    port = str(urlsplit(first.link).port)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge",
        "console",
        "--port",
        port,
        "--dist",
        str(dist),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    busy = await stderr_of(proc)
    assert await proc.wait() == 1
    assert f"edge: console: cannot listen on 127.0.0.1:{port}" in busy
