"""LiveKit config: the `[livekit]` section (where to join, as whom) and its credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

from edge.settings import read_section, setting
from edge.toml_table import Table

ENV_API_KEY = "LIVEKIT_API_KEY"
ENV_API_SECRET = "LIVEKIT_API_SECRET"
ENV_TOKEN = "LIVEKIT_TOKEN"
URL_SCHEMES = ("ws", "wss", "http", "https")
MAX_NAME_BYTES = 256
MAX_METADATA_BYTES = 65536
MAX_ATTRIBUTES_BYTES = 65536
DEFAULT_TOKEN_TTL_S = 21600
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_RESUME_TIMEOUT_S = 15.0
TOKEN_TTL_MIN_S = 60
TOKEN_TTL_MAX_S = 86400 * 30
MAX_CONNECT_TIMEOUT_S = 120.0
MAX_RESUME_S = 300.0
CREDENTIAL_KEYS = ("token", "api_key", "api_secret", "token_url", "token_url_auth")


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveKitConfig:
    """Where to join, as whom, and with which credentials."""

    url: tuple[str, ...] = setting(
        kind="one_or_more",
        check=lambda url: (
            None
            if valid_url(url)
            else f"expected a ws://, wss://, http:// or https:// URL, got {url!r}"
        ),
        doc="Server URL (`ws://`, `wss://`, `http://` or `https://`), or an array of them:"
        " the nodes of one LiveKit deployment, tried in order, staying on the one that works.",
    )
    room: str = setting(kind="string", max_bytes=MAX_NAME_BYTES, doc="Room to join.")
    identity: str = setting(
        kind="string",
        max_bytes=MAX_NAME_BYTES,
        doc="Participant identity, unique per device: a second daemon with the same identity"
        " evicts the first.",
    )
    name: str = setting(
        "",
        kind="string",
        max_bytes=MAX_NAME_BYTES,
        shown_default="the identity",
        doc="Display name.",
    )
    metadata: str = setting(
        "", kind="string", max_bytes=MAX_METADATA_BYTES, doc="Initial participant metadata."
    )
    attributes: Mapping[str, str] = setting(
        MappingProxyType({}),
        kind="attributes",
        max_bytes=MAX_ATTRIBUTES_BYTES,
        doc="Initial participant attributes (the bound counts names and values together).",
    )
    token: str = setting("", kind="string", secret=True, doc="A static access token.")
    api_key: str = setting("", kind="string", doc="API key the daemon signs its own tokens with.")
    api_secret: str = setting("", kind="string", secret=True, doc="API secret matching `api_key`.")
    token_url: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        check=lambda url: (
            None
            if url.startswith(("http://", "https://"))
            else f"expected an http:// or https:// URL, got {url!r}"
        ),
        doc="An `http(s)://` token endpoint, `GET ?identity=...&room=...`, asked before every"
        " join.",
    )
    token_url_auth: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        secret=True,
        doc="Sent as the `Authorization` header to `token_url` (e.g. `Bearer <device secret>`);"
        " only with `token_url`.",
    )
    token_ttl_s: int = setting(
        DEFAULT_TOKEN_TTL_S,
        kind="int",
        low=TOKEN_TTL_MIN_S,
        high=TOKEN_TTL_MAX_S,
        doc="Lifetime of minted tokens, in seconds.",
    )
    connect_timeout_s: float = setting(
        DEFAULT_CONNECT_TIMEOUT_S,
        kind="float",
        low=0,
        high=MAX_CONNECT_TIMEOUT_S,
        open_low=True,
        doc="Longest wait for the server to answer a join.",
    )
    resume_timeout_s: float = setting(
        DEFAULT_RESUME_TIMEOUT_S,
        kind="float",
        low=0,
        high=MAX_RESUME_S,
        doc="How long a lost session is tried to be resumed before joining anew (0: never).",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @property
    def first_url(self) -> str:
        """The preferred server URL (what tools that talk to one server use)."""
        return self.url[0] if self.url else ""

    @property
    def credentials(self) -> Literal["token", "api_key", "token_url"]:
        """`token` (static), `token_url` (fetched per join) or `api_key` (minted here)."""
        if self.token:
            return "token"
        return "token_url" if self.token_url else "api_key"


def read_livekit(table: Table, issues: list[str]) -> tuple[dict[str, Any], bool]:
    """The `[livekit]` keys as declared, and whether every credential key read as a string.

    `issues` is the list `table` reports to; a credential key with a bad value leaves the
    credential checks of `livekit_values` out.
    """
    values = read_section(table, LiveKitConfig)
    bad_paths = {issue.split(":")[0] for issue in issues}
    credentials_read = not bad_paths & {f"livekit.{key}" for key in CREDENTIAL_KEYS}
    if values["token_url_auth"] and not values["token_url"]:
        table.issue("token_url_auth", "only used with token_url")
    urls = values["url"]
    for url in sorted({u for u in urls if urls.count(u) > 1}):
        table.issue("url", f"{url!r} is listed more than once")
    return values, credentials_read


def livekit_values(
    values: Mapping[str, Any],
    *,
    credentials_read: bool,
    env: Mapping[str, str] | None,
    issues: list[str],
) -> dict[str, Any]:
    """`values` with the name defaulted and credentials the file lacks filled from `env`.

    When the file gives no credentials at all, LIVEKIT_API_KEY + LIVEKIT_API_SECRET are
    used, else LIVEKIT_TOKEN; when it gives only one of api_key / api_secret, the
    environment may supply the other. Exactly one kind must result; problems go to `issues`.
    """
    token, api_key, api_secret = (values[k] for k in ("token", "api_key", "api_secret"))
    if credentials_read and values["token_url"]:
        if token or api_key or api_secret:
            issues.append("livekit: give one of token, api_key + api_secret or token_url")
    elif credentials_read:
        token, api_key, api_secret = _credentials(token, api_key, api_secret, env, issues)
    return {
        **values,
        "name": values["name"] or values["identity"],
        "token": token,
        "api_key": api_key,
        "api_secret": api_secret,
    }


def env_api_credentials(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(api_key, api_secret) from LIVEKIT_API_KEY / LIVEKIT_API_SECRET, empty when unset."""
    env = os.environ if env is None else env
    return env.get(ENV_API_KEY, ""), env.get(ENV_API_SECRET, "")


def _credentials(
    token: str, api_key: str, api_secret: str, env: Mapping[str, str] | None, issues: list[str]
) -> tuple[str, str, str]:
    """Fill credentials the file left out from `env`, then check exactly one kind is given."""
    env = os.environ if env is None else env
    if not (token or api_key or api_secret):
        api_key, api_secret = env_api_credentials(env)
        if not (api_key or api_secret):
            token = env.get(ENV_TOKEN, "")
    elif not token:
        api_key = api_key or env.get(ENV_API_KEY, "")
        api_secret = api_secret or env.get(ENV_API_SECRET, "")
    if token and (api_key or api_secret):
        issues.append("livekit: give either token or api_key + api_secret, not both")
    elif not (token or api_key or api_secret):
        issues.append("livekit: give token, api_key + api_secret, or token_url")
    elif api_key and not api_secret:
        issues.append("livekit.api_secret: required when api_key is set")
    elif api_secret and not api_key:
        issues.append("livekit.api_key: required when api_secret is set")
    return token, api_key, api_secret


def valid_url(url: str) -> bool:
    """A ws://, wss://, http:// or https:// URL with a host and a valid port."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError:
        return False
    return parts.scheme in URL_SCHEMES and bool(parts.hostname)
