"""Tokens fetched from a token endpoint (`livekit.token_url`), once per join.

    GET <token_url>?identity=<identity>&room=<room>
    Authorization: <token_url_auth>            (when configured)

The answer is the JWT as plain text, or JSON carrying it as `token`, `participantToken` or
`accessToken` (the names LiveKit's token servers and sandbox use). Whatever comes back is
checked like a static token before it is used. A JSON answer may also name the server to join
as `serverUrl` (the same convention); it is tried before the configured `livekit.url`s, and an
invalid one is ignored with a warning.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from edge.config import LiveKitConfig
from edge.errors import CredentialsError, ServerUnreachable
from edge.livekit_config import valid_url
from edge.token import inspect_token, iso_utc

_LOGGER = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024
TOKEN_KEYS = ("token", "participantToken", "accessToken")


@dataclass(frozen=True, slots=True)
class FetchedToken:
    """What the endpoint answered."""

    token: str
    server_url: str = ""
    """The server the endpoint says to join (its `serverUrl`); "" when it names none."""


async def fetch_token(
    config: LiveKitConfig, *, now: float, timeout_s: float = 10.0
) -> FetchedToken:
    """A token for this device from `config.token_url`.

    Raises `ServerUnreachable` when the endpoint cannot be reached or fails (5xx; retried),
    `CredentialsError` when it refuses us (4xx) or answers something that is not a valid token.
    """
    url = _with_query(config.token_url, identity=config.identity, room=config.room)
    shown = urlsplit(config.token_url)._replace(query="", fragment="").geturl()
    headers = {"Authorization": config.token_url_auth} if config.token_url_auth else {}
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            body = await response.content.read(MAX_ANSWER_BYTES + 1)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ServerUnreachable(
            f"token endpoint {shown} unreachable: {exc or 'timed out'}"
        ) from None
    if status >= 500:
        raise ServerUnreachable(f"token endpoint {shown} failed with HTTP {status}")
    if status != 200:
        raise CredentialsError(f"token endpoint {shown} refused us: HTTP {status}")
    if len(body) > MAX_ANSWER_BYTES:
        raise CredentialsError(f"token endpoint {shown} answered more than {MAX_ANSWER_BYTES} B")
    token, server_url = _answer(body)
    if not token:
        raise CredentialsError(
            f"token endpoint {shown} answered no token (expected a JWT, or JSON with "
            + " / ".join(TOKEN_KEYS)
            + ")"
        )
    try:
        info = inspect_token(token, now=now)
    except CredentialsError as exc:
        raise CredentialsError(f"token endpoint {shown}: {exc}") from None
    _LOGGER.info(
        "fetched a token for %r in room %r from %s (valid until %s)",
        info.identity,
        info.room,
        shown,
        iso_utc(info.expires_at),
    )
    if server_url and not valid_url(server_url):
        _LOGGER.warning(
            "token endpoint %s named serverUrl %r, which is not a ws(s):// or http(s):// URL:"
            " using livekit.url",
            shown,
            server_url[:200],
        )
        server_url = ""
    return FetchedToken(token, server_url)


def _answer(body: bytes) -> tuple[str, str]:
    """(token, serverUrl) of the endpoint's answer; "" for what it does not carry."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return "", ""
        if not isinstance(data, dict):
            return "", ""
        tokens = (data.get(key) for key in TOKEN_KEYS)
        token = next((v for v in tokens if isinstance(v, str) and v), "")
        server_url = data.get("serverUrl")
        return token, server_url if isinstance(server_url, str) else ""
    return (text if text.count(".") == 2 and " " not in text else ""), ""


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))
