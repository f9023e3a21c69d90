"""`edge console`: serve the browser console on loopback and print a link that joins the room.

The console is a static web app (`console/`, bundled by `tools/setup` into `console/dist/`):
it talks to LiveKit directly from the browser, so this server only hands out files. The link
carries the LiveKit URL and a viewer token in its fragment, which browsers never send to a
server, so the token stays out of access logs and referrers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from edge.config import (
    DEFAULT_TOKEN_TTL_S,
    TOKEN_TTL_MAX_S,
    TOKEN_TTL_MIN_S,
    LiveKitConfig,
    env_api_credentials,
    load_config,
)
from edge.errors import EdgeError
from edge.token import mint_token

if TYPE_CHECKING:
    from aiohttp import web

_LOGGER = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 7890
DEFAULT_IDENTITY = "console"
DEFAULT_NAME = "Operator console"
DIST_DIR = Path(__file__).resolve().parent.parent / "console" / "dist"
"""Where `tools/setup` puts the bundled app (a source checkout; the app is not in the wheel)."""

HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The app loads nothing from elsewhere; it only opens connections to the LiveKit server.
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss: http: https:; "
        "media-src 'self' blob: mediastream:; img-src 'self' data: blob:; "
        "worker-src 'self' blob:; frame-ancestors 'none'"
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Invitation:
    """What the console page should join, when known."""

    url: str = ""
    """LiveKit signalling URL for the browser ("" = the page asks)."""
    token: str = ""
    """Viewer token ("" = the page asks)."""


def console_link(base: str, invitation: Invitation) -> str:
    """`base` with the LiveKit URL and token in the fragment (only what is known)."""
    params = {"url": invitation.url, "token": invitation.token}
    fragment = urlencode({key: value for key, value in params.items() if value})
    return f"{base}#{fragment}" if fragment else base


def invitation_for(
    lk: LiveKitConfig | None,
    *,
    identity: str,
    name: str,
    room: str = "",
    url: str = "",
    ttl_s: int = DEFAULT_TOKEN_TTL_S,
) -> tuple[Invitation, str]:
    """The invitation and a note for the operator (why no token could be minted, or "")."""
    env_key, env_secret = env_api_credentials()
    api_key = (lk.api_key if lk else "") or env_key
    api_secret = (lk.api_secret if lk else "") or env_secret
    room = room or (lk.room if lk else "")
    url = url or (lk.first_url if lk else "")
    if not (api_key and api_secret):
        return Invitation(url=url), "no API key and secret to mint a viewer token: paste a token"
    if not room:
        return Invitation(url=url), "no room (give --config or --room): paste a token"
    token = mint_token(
        api_key=api_key,
        api_secret=api_secret,
        room=room,
        identity=identity,
        name=name,
        ttl_s=ttl_s,
        observer=True,
    )
    return Invitation(url=url, token=token), ""


def make_app(dist: Path) -> web.Application:
    """An aiohttp app serving the files of `dist` (flat, fixed at start) and nothing else."""
    from aiohttp import web  # heavy: keep `edge --help` fast on a Pi Zero

    files = {p.name: p for p in dist.iterdir() if p.is_file()}

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "index.html"
        path = files.get(name)
        if path is None:
            raise web.HTTPNotFound(text=f"no such file: {name}")
        return web.FileResponse(path, headers=HEADERS)

    app = web.Application()
    app.router.add_get("/", serve)
    app.router.add_get("/{name}", serve)
    return app


async def serve_console(dist: Path, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve `dist` on loopback `port` (0 = any free one) until SIGINT/SIGTERM.

    `on_ready(base_url)` is called once the socket listens.
    """
    from aiohttp import web

    if not (dist / "index.html").is_file():
        raise EdgeError(f"console not built: {dist / 'index.html'} is missing (run tools/setup)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before anyone can know we are up
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(make_app(dist), access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, port)
        try:
            await site.start()
        except OSError as exc:
            raise EdgeError(
                f"console: cannot listen on {LOOPBACK}:{port}: {exc.strerror}"
            ) from None
        on_ready(f"http://{LOOPBACK}:{_bound_port(runner) or port}/")
        await stop.wait()
    finally:
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        with contextlib.suppress(TypeError, IndexError):
            return int(address[1])
    return None


def add_parser(commands: Any) -> None:
    """Register `console` on the `edge` command's subparsers."""
    p: argparse.ArgumentParser = commands.add_parser(
        "console",
        help="serve the browser console on loopback and print a link that joins the room",
    )
    p.add_argument("--config", type=Path, metavar="PATH", help="TOML config: server, room, keys")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument("--identity", default=DEFAULT_IDENTITY, help="the console's identity")
    p.add_argument("--name", default=DEFAULT_NAME, help="the console's display name")
    p.add_argument("--room", help="room to join (default: config)")
    p.add_argument("--url", help="LiveKit URL as the browser reaches it (default: config)")
    p.add_argument("--ttl", type=int, default=DEFAULT_TOKEN_TTL_S, metavar="SECONDS")
    p.add_argument("--dist", type=Path, default=DIST_DIR, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_console)


def run_console(args: argparse.Namespace) -> int:
    """`edge console`: print the link on stdout (one line), notes on stderr, serve until stopped."""
    lk = load_config(args.config).livekit if args.config is not None else None
    if not 0 <= args.port <= 65535:
        raise EdgeError(f"--port: expected 0 to 65535, got {args.port}")
    if not TOKEN_TTL_MIN_S <= args.ttl <= TOKEN_TTL_MAX_S:
        raise EdgeError(f"--ttl: expected {TOKEN_TTL_MIN_S} to {TOKEN_TTL_MAX_S} s, got {args.ttl}")
    invitation, note = invitation_for(
        lk,
        identity=args.identity,
        name=args.name,
        room=args.room or "",
        url=args.url or "",
        ttl_s=args.ttl,
    )

    def ready(base: str) -> None:
        sys.stdout.write(console_link(base, invitation) + "\n")
        sys.stdout.flush()
        if note:
            sys.stderr.write(f"edge console: {note}\n")
        sys.stderr.write("edge console: serving on loopback; Ctrl-C stops it\n")

    asyncio.run(serve_console(args.dist, args.port, ready))
    return 0
