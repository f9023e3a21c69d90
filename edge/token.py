"""Access tokens: mint them with livekit-api, or inspect a static one before using it."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from edge.config import LiveKitConfig
from edge.errors import ClockNotSet, CredentialsError, TokenExpired

_LOGGER = logging.getLogger(__name__)

EARLIEST_PLAUSIBLE_TIME = 1_767_225_600
"""2026-01-01T00:00:00Z: a clock before this is unset, not early."""

NBF_LEEWAY_S = 60.0
"""A token whose `nbf` is this far in the future is still accepted (the server's leeway)."""
DEVICE_SOURCES = ("camera", "microphone")
"""Track sources an edge device may publish."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """What a token claims, read without verifying its signature."""

    identity: str
    """Participant identity (`sub`)."""
    room: str
    """Room the token is for (`video.room`)."""
    name: str
    """Display name (`name`), empty when absent."""
    expires_at: float
    """`exp`, seconds since the epoch."""
    not_before: float | None
    """`nbf`, seconds since the epoch, None when absent."""
    grants: Mapping[str, object]
    """The `video` grant as sent, camelCase keys (read-only)."""


def mint_token(
    *,
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    name: str | None = None,
    ttl_s: int,
    metadata: str | None = None,
    attributes: Mapping[str, str] | None = None,
    observer: bool = False,
) -> str:
    """A signed join token for an edge device, or with `observer` for a viewer (no media)."""
    missing = [
        label
        for label, value in (
            ("api_key", api_key),
            ("api_secret", api_secret),
            ("room", room),
            ("identity", identity),
        )
        if not value
    ]
    if missing:
        raise CredentialsError(f"token: cannot mint without {', '.join(missing)}")
    if ttl_s <= 0:
        raise CredentialsError(f"token: ttl must be positive, got {ttl_s}")
    from livekit import api  # heavy: protobuf and PyJWT

    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=not observer,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=True,
        can_publish_sources=None if observer else list(DEVICE_SOURCES),
    )
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(seconds=ttl_s))
    )
    if name:
        token = token.with_name(name)
    if metadata:
        token = token.with_metadata(metadata)
    if attributes:
        token = token.with_attributes(dict(attributes))
    return token.to_jwt()


def inspect_token(token: str, *, now: float) -> TokenInfo:
    """Decode a JWT's claims without verifying it; CredentialsError if it cannot join at `now`."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise CredentialsError("token: not a JWT (expected three dot-separated parts)")
    claims = _decode_part(parts[1])
    exp = _timestamp(claims, "exp")
    nbf = _timestamp(claims, "nbf")
    if exp is None:
        raise CredentialsError("token: no expiry (exp); the server rejects such tokens")
    if exp <= now:
        raise TokenExpired(f"token: expired at {iso_utc(exp)} (now {iso_utc(now)})")
    if nbf is not None and nbf > now + NBF_LEEWAY_S:
        raise CredentialsError(
            f"token: not valid before {iso_utc(nbf)} (now {iso_utc(now)}; is the clock right?)"
        )
    video = claims.get("video")
    if not isinstance(video, Mapping) or video.get("roomJoin") is not True:
        raise CredentialsError("token: no room-join grant (video.roomJoin)")
    identity, room, name = claims.get("sub"), video.get("room"), claims.get("name", "")
    if not isinstance(identity, str) or not identity:
        raise CredentialsError("token: no participant identity (sub)")
    if not isinstance(room, str) or not room:
        raise CredentialsError("token: no room (video.room)")
    return TokenInfo(
        identity=identity,
        room=room,
        name=name if isinstance(name, str) else "",
        expires_at=exp,
        not_before=nbf,
        grants=MappingProxyType(dict(video)),
    )


def token_for(config: LiveKitConfig, *, now: float) -> str:
    """The configured static token once it passes `inspect_token`, else a freshly minted one.

    Raises `ClockNotSet` while the clock reads a time before this release was built (a board
    without RTC before NTP): minted tokens would not be valid yet, and static ones look expired.
    """
    require_set_clock(now)
    if config.token:
        info = inspect_token(config.token, now=now)
        if (info.identity, info.room) != (config.identity, config.room):
            _LOGGER.warning(
                "static token is for %r in room %r, not the configured %r in room %r; "
                "the server follows the token",
                info.identity,
                info.room,
                config.identity,
                config.room,
            )
        return config.token
    return mint_token(
        api_key=config.api_key,
        api_secret=config.api_secret,
        room=config.room,
        identity=config.identity,
        name=config.name or None,
        ttl_s=config.token_ttl_s,
        metadata=config.metadata or None,
        attributes=config.attributes or None,
    )


def require_set_clock(now: float) -> None:
    """Raise `ClockNotSet` while the clock reads a time before this release was built."""
    if now < EARLIEST_PLAUSIBLE_TIME:
        raise ClockNotSet(
            f"system clock reads {iso_utc(now)}, before this release was built; "
            "waiting for time sync (NTP) before using or minting a token"
        )


def iso_utc(timestamp: float) -> str:
    """`timestamp` as `YYYY-MM-DDTHH:MM:SSZ`, or a plain count of seconds if out of range."""
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    except (OverflowError, ValueError, OSError):
        return f"{timestamp:.0f} s after the epoch"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode_part(part: str) -> Mapping[str, object]:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError):  # also UnicodeDecodeError, JSONDecodeError
        raise CredentialsError("token: not a JWT (payload is not base64url JSON)") from None
    if not isinstance(claims, dict):
        raise CredentialsError("token: not a JWT (payload is not a JSON object)")
    return claims


def _timestamp(claims: Mapping[str, object], key: str) -> float | None:
    value = claims.get(key)
    if value is None:
        return None
    try:
        seconds = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds):
        raise CredentialsError(f"token: {key} is not a number of seconds")
    return seconds
