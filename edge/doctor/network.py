"""Network checks: the LiveKit server, the token it will be shown, and the MQTT broker."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

from edge.doctor.context import Context
from edge.doctor.findings import Finding, Level, fail, ok, warn
from edge.errors import CredentialsError
from edge.protocol.signal import join_query, validate_url
from edge.token import EARLIEST_PLAUSIBLE_TIME, inspect_token, iso_utc, mint_token

EXPIRY_WARNING_S = 24 * 3600
"""A static token expiring sooner than this is worth a warning."""
TOKEN_FIX = (
    "mint a new token (edge token), or give api_key + api_secret so the daemon mints its own"
)


def check_server(ctx: Context) -> Finding:
    """A TCP (and TLS) connection to the LiveKit server's host and port (to each, given several).

    With several URLs, some unreachable is a warning (the daemon uses the others) and all
    unreachable a failure.
    """
    if ctx.config is None:
        return ok("server", "not checked: no valid config")
    fix = "check livekit.url, that the server runs, and the network (Wi-Fi, firewall)"
    findings = []
    for url in ctx.config.livekit.url:
        parts = urlsplit(url)
        tls = parts.scheme in ("wss", "https")
        host, port = parts.hostname or "", parts.port or (443 if tls else 80)
        findings.append(_connect("server", ctx, host, port, tls=tls, fix=fix))
    bad = [f for f in findings if f.level is not Level.OK]
    if len(findings) == 1 or not bad:
        return (
            findings[0]
            if len(findings) == 1
            else ok("server", "; ".join(f.message for f in findings))
        )
    if len(bad) == len(findings):
        return fail("server", "; ".join(f.message for f in bad), fix)
    reachable = len(findings) - len(bad)
    message = "; ".join(f.message for f in bad)
    return warn("server", f"{message} ({reachable} of {len(findings)} URLs reachable)", fix)


def check_token(ctx: Context, *, server_reachable: bool) -> Finding:
    """The token is valid now, for how long, and whether the server accepts it."""
    if ctx.config is None:
        return ok("token", "not checked: no valid config")
    lk = ctx.config.livekit
    now = ctx.probes.now()
    if now < EARLIEST_PLAUSIBLE_TIME:
        return warn("token", "cannot be judged while the clock is not set", "see the clock line")
    left = float("inf")
    try:
        if lk.credentials == "token_url":
            return ok("token", f"fetched from {lk.token_url} at every join (not checked here)")
        if lk.credentials == "token":
            info = inspect_token(lk.token, now=now)
            token, left = lk.token, info.expires_at - now
            what = (
                f"static token for {info.identity!r} in room {info.room!r} expires "
                f"{iso_utc(info.expires_at)} (in {_duration(left)})"
            )
        else:
            token = mint_token(
                api_key=lk.api_key,
                api_secret=lk.api_secret,
                room=lk.room,
                identity=lk.identity,
                ttl_s=lk.token_ttl_s,
            )
            what = f"tokens minted with api key {lk.api_key!r}"
    except CredentialsError as exc:
        return fail("token", str(exc), TOKEN_FIX)
    if not server_reachable:
        return warn(
            "token", f"{what}; not shown to the server (unreachable)", "see the server line"
        )
    answer = _validate(ctx, lk.url, token)
    if isinstance(answer, OSError):
        return warn("token", f"{what}; the server did not answer its check ({answer})")
    status, body = answer
    if status in (401, 403):
        return fail("token", f"{what}, but the server refuses it: {body or status}", TOKEN_FIX)
    if status != 200:
        return warn("token", f"{what}; the server's check answered {status}: {body}")
    if left < EXPIRY_WARNING_S:
        return warn("token", f"{what}; the server accepts it, but not for long", TOKEN_FIX)
    return ok("token", f"{what}; the server accepts it")


def check_mqtt(ctx: Context) -> Finding:
    """A TCP connection to the MQTT broker, when one is configured."""
    if ctx.config is None:
        return ok("mqtt", "not checked: no valid config")
    mqtt = ctx.config.mqtt
    if mqtt is None:
        return ok("mqtt", "no [mqtt] section")
    fix = "check [mqtt] host and port, and that the broker (e.g. mosquitto) runs"
    return _connect("mqtt", ctx, mqtt.host, mqtt.port, tls=False, fix=fix)


def _connect(check: str, ctx: Context, host: str, port: int, *, tls: bool, fix: str) -> Finding:
    where = f"{host}:{port}"
    timeout = ctx.probes.timeout_s
    try:
        ctx.probes.connect(host, port, tls, timeout)
    except ssl.SSLCertVerificationError as exc:
        message = f"{where}: TLS certificate rejected ({exc.verify_message})"
        return fail(
            check, message, "check the clock, and that the URL names the certificate's host"
        )
    except ssl.SSLError as exc:
        return fail(check, f"{where}: TLS failed ({exc.reason})", fix)
    except socket.gaierror as exc:
        return fail(check, f"cannot resolve {host} ({exc.strerror})", fix)
    except TimeoutError:
        return fail(check, f"no answer from {where} within {timeout:g} s", fix)
    except OSError as exc:
        return fail(check, f"cannot connect to {where} ({exc.strerror or exc})", fix)
    return Finding(
        check=check,
        level=Level.OK,
        message=f"{where} accepts connections{' (TLS verified)' if tls else ''}",
    )


def _validate(ctx: Context, urls: Sequence[str], token: str) -> tuple[int, str] | OSError:
    """The server's answer to its validate endpoint, from the first URL that answers."""
    error = OSError("no server URL")
    for url in urls:
        try:
            return ctx.probes.http_get(
                validate_url(url, join_query()),
                {"Authorization": f"Bearer {token}"},
                ctx.probes.timeout_s,
            )
        except OSError as exc:
            error = exc
    return error


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{max(seconds, 0) / 60:.0f} min"
