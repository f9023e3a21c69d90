"""SignalSocket: the WebSocket that carries SignalRequest/SignalResponse frames (aiohttp)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from http import HTTPStatus

import aiohttp
from livekit.protocol import rtc as proto_rtc

from edge.errors import JoinRefused, ServerLeft, ServerUnreachable, SignalError, SignalTimeout
from edge.protocol import signal as sig
from edge.protocol.signal import rtc_url, validate_url

_LOGGER = logging.getLogger(__name__)

MAX_FRAME_BYTES = 4 * 1024 * 1024
"""Largest signal frame accepted (a JoinResponse for a big room is well under this)."""
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


class SignalSocket:
    """One open signalling WebSocket; binary frames only."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._session = session
        self._ws = ws

    @classmethod
    async def connect(
        cls, url: str, *, token: str, query: Mapping[str, str], timeout_s: float
    ) -> SignalSocket:
        """Open the socket; raise `JoinRefused` (server said no) or `ServerUnreachable`."""
        endpoint = rtc_url(url)
        headers = {"Authorization": f"Bearer {token}"}
        session = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(timeout_s):
                ws = await session.ws_connect(
                    endpoint,
                    params=dict(query),
                    headers=headers,
                    max_msg_size=MAX_FRAME_BYTES,
                    autoping=True,
                )
        except aiohttp.WSServerHandshakeError as exc:
            detail = await _refusal_detail(session, url, query, headers)
            await session.close()
            reason = detail or _http_reason(exc.status)
            raise JoinRefused(
                f"server refused the join (HTTP {exc.status}): {reason}",
                status=exc.status,
                retryable=exc.status in _RETRYABLE_STATUS,
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            await session.close()
            raise ServerUnreachable(
                f"cannot reach {endpoint}: {_describe(exc)}", refused=_refused(exc)
            ) from None
        except TimeoutError:
            await session.close()
            raise ServerUnreachable(
                f"cannot reach {endpoint}: no answer within {timeout_s:g} s"
            ) from None
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def send(self, data: bytes) -> None:
        """Send one frame; raise `SignalError` if the socket is closed."""
        try:
            await self._ws.send_bytes(data)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            raise SignalError(f"signal socket closed while sending: {exc}") from None

    async def recv(self) -> bytes | None:
        """Next binary frame, or None once the socket is closed."""
        while True:
            msg = await self._ws.receive()
            if msg.type is aiohttp.WSMsgType.BINARY:
                data: bytes = msg.data
                return data
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                return None
            if msg.type is aiohttp.WSMsgType.ERROR:
                _LOGGER.warning("signal socket error: %s", self._ws.exception())
                return None
            _LOGGER.debug("ignoring %s frame on the signal socket", msg.type.name)

    @property
    def closed(self) -> bool:
        """True once either side closed the socket."""
        return self._ws.closed

    async def aclose(self) -> None:
        """Close with code 1000; idempotent."""
        try:
            if not self._ws.closed:
                async with asyncio.timeout(2.0):
                    await self._ws.close()
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            _LOGGER.debug("signal socket did not close cleanly")
        finally:
            await self._session.close()


async def _refusal_detail(
    session: aiohttp.ClientSession, url: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> str:
    """The server's plain-text reason for a refused join, from its validate endpoint."""
    try:
        async with (
            asyncio.timeout(3.0),
            session.get(validate_url(url, query), headers=headers) as resp,
        ):
            text = await resp.text()
    except (aiohttp.ClientError, OSError, TimeoutError):
        return ""
    return _safe_reason(text)


_SAFE_REASON = re.compile(r"[A-Za-z][A-Za-z ,'-]{0,59}")


def _safe_reason(text: str) -> str:
    """The server's reason without what follows it: its reply may quote the token's claims.

    livekit-server answers e.g. `invalid token: <token>, error: ...`; only a short plain-words
    lead (`invalid token`) is kept, never anything after the first colon.
    """
    lead = " ".join(text.split(":", 1)[0].split())
    return lead if _SAFE_REASON.fullmatch(lead) else ""


def _http_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no reason given"


def _refused(exc: BaseException) -> bool:
    """Whether the server's host refused the connection (nothing listens on the port)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return isinstance(exc.os_error, ConnectionRefusedError)
    return isinstance(exc, ConnectionRefusedError)


def _describe(exc: BaseException) -> str:
    """`str(exc)`, or the exception's type when its message is empty (aiohttp's timeouts)."""
    text = str(exc).strip()
    return text or {
        "ServerTimeoutError": "timed out",
        "ConnectionTimeoutError": "connection timed out",
    }.get(type(exc).__name__, type(exc).__name__)


async def join_response(socket: SignalSocket, session: sig.SignalSession) -> proto_rtc.JoinResponse:
    event = await first_response(socket, session, resuming=False)
    assert isinstance(event, sig.Joined)
    return event.response


async def first_response(
    socket: SignalSocket, session: sig.SignalSession, *, resuming: bool
) -> sig.Joined | sig.Resumed:
    """The server's answer to a join (or resume); raise if it refuses or says nothing."""
    what = "resume" if resuming else "join"
    try:
        async with asyncio.timeout(sig.JOIN_RESPONSE_TIMEOUT_S):
            frame = await socket.recv()
    except TimeoutError:
        raise SignalTimeout(
            f"no {what} response within {sig.JOIN_RESPONSE_TIMEOUT_S:g} s"
        ) from None
    if frame is None:
        raise SignalError(f"server closed the signal connection before answering the {what}")
    for event in session.receive(frame, time.monotonic()):
        if isinstance(event, sig.Joined | sig.Resumed):
            return event
        if isinstance(event, sig.LeaveReceived):
            suffix = sig.leave_hint(event.reason)
            if resuming:
                raise ServerLeft(
                    f"server cannot resume the session: {event.reason}{suffix}",
                    reason=event.reason,
                    can_reconnect=not event.final,
                )
            raise JoinRefused(
                f"server refused the join: {event.reason}{suffix}", reason=event.reason
            )
    raise SignalError(f"server did not answer the {what}")
