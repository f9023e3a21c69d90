"""The one error tree of edge-participant.

    EdgeError
    ├── ConfigError (ValueError)          bad config file or field; `issues` lists every problem
    ├── CredentialsError                  no usable token, or it is expired / not yet valid
    │   ├── TokenExpired                  a static token's lifetime is over: give a new one
    │   └── ClockNotSet                   the system clock is unset (no RTC, no NTP yet): retry
    ├── InvalidPayload (ValueError)       [2000] a payload does not match the method's schema
    ├── NoValue (LookupError)             [2010] mqtt.read: nothing seen on that topic yet
    ├── DeviceError                       a GPIO command was refused or failed
    │   ├── UnknownDevice (LookupError)   [2001] no such device
    │   ├── InvalidValue (ValueError)     [2002] wrong type or out of range
    │   ├── AccessDenied (PermissionError)  [2003] caller not allowed, or another holds the lease
    │   ├── RateLimited                   [2004] too many changes per second
    │   └── HardwareError                 [2005] the pin library failed
    ├── MediaError                        [2200] the camera or microphone failed
    │   ├── DeviceUnavailable             [2200] no such device, busy, or unplugged (retried later)
    │   └── UnknownTrack (LookupError)    [2201] no media track of that name
    ├── ProvisionError (ValueError)       a boot partition or image cannot be provisioned
    ├── RpcError                          an RPC failed; `code` and `message` reach the caller
    └── RoomError                         anything on the way to or inside a room
        ├── SignalError                   the signalling WebSocket misbehaved
        │   ├── ServerUnreachable         no TCP/TLS/WebSocket connection could be made (retry)
        │   ├── JoinRefused               server answered the join with an HTTP error or a leave
        │   └── SignalTimeout (TimeoutError)  no join response / ping timeout
        ├── ServerLeft                    the server sent `leave`; `reason` says why
        ├── PeerConnectionError           ICE / DTLS / SCTP failed
        ├── DataError (ValueError)        a data packet is malformed or too large to send
        └── StreamError                   an incoming data stream failed; `reason` says why

A bracketed number is the error's `code` (`edge.protocol.codes.ErrorCode`): raised by an RPC
method or an MQTT command, `wire_error` turns it into that RPC error, in one place. An error
without a code reaching the RPC endpoint becomes LiveKit's 1500.

Errors a user can fix themselves (config, credentials, a refused join) carry a one-line message
meant to be printed without a traceback.
"""

from __future__ import annotations

from edge.protocol.codes import ErrorCode


class EdgeError(Exception):
    """Root of every error raised by edge-participant on purpose."""

    code: int | None = None
    """The RPC error code this error answers with, if it may reach a caller."""


class ConfigError(EdgeError, ValueError):
    """The configuration is invalid; `issues` holds one line per bad field."""

    def __init__(self, issues: list[str] | str) -> None:
        self.issues = [issues] if isinstance(issues, str) else list(issues)
        super().__init__("; ".join(self.issues))


class CredentialsError(EdgeError):
    """No usable access token."""


class TokenExpired(CredentialsError):
    """The static token's lifetime is over: only a new token helps, not a restart."""


class ClockNotSet(CredentialsError):
    """The system clock reads a time before this release existed; tokens would be invalid."""


class RpcError(EdgeError):
    """An RPC failed; `code`, `message` and `data` travel to the caller as LiveKit's RpcError.

    Codes 1001-1999 are LiveKit's built-ins (`edge.protocol.codes.RpcErrorCode`); applications use
    others. `message` is cut to 256 bytes and `data` to 15 360 bytes of UTF-8, as the SDKs do.
    """

    MAX_MESSAGE_BYTES = 256
    MAX_DATA_BYTES = 15_360
    code: int

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        self.code = int(code)
        self.message = _truncate_utf8(message, self.MAX_MESSAGE_BYTES)
        self.data = None if data is None else _truncate_utf8(data, self.MAX_DATA_BYTES)
        super().__init__(f"RPC error {self.code}: {self.message}")


def wire_error(exc: EdgeError) -> RpcError | None:
    """The RPC error `exc` answers with, or None if it carries no code (then: 1500)."""
    if isinstance(exc, RpcError):
        return exc
    if exc.code is None:
        return None
    return RpcError(exc.code, str(exc))


class InvalidPayload(EdgeError, ValueError):
    """A request payload does not match the method's published schema; the message says where."""

    code: int | None = ErrorCode.INVALID_PAYLOAD


class NoValue(EdgeError, LookupError):
    """Nothing has been seen yet where a value was asked for."""

    code = ErrorCode.NO_VALUE


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8 without splitting a character."""
    encoded = text.encode("utf-8", "replace")
    return encoded[:max_bytes].decode("utf-8", "ignore")


class DeviceError(EdgeError):
    """A GPIO command was refused or failed; the output is unchanged or safe."""


class UnknownDevice(DeviceError, LookupError):
    """No device has that name."""

    code = ErrorCode.UNKNOWN_DEVICE


class InvalidValue(DeviceError, ValueError):
    """A value of the wrong type or out of the device's range."""

    code = ErrorCode.INVALID_VALUE


class AccessDenied(DeviceError, PermissionError):
    """The caller is not allowed to do this (allow-list or lease)."""

    code = ErrorCode.ACCESS_DENIED


class RateLimited(DeviceError):
    """The device was changed too often."""

    code = ErrorCode.RATE_LIMITED


class HardwareError(DeviceError):
    """The pin library raised."""

    code = ErrorCode.HARDWARE_ERROR


class MediaError(EdgeError):
    """The camera or microphone failed; the track is unpublished, the daemon keeps running."""

    code = ErrorCode.MEDIA_UNAVAILABLE


class DeviceUnavailable(MediaError):
    """The capture device is missing, busy or was unplugged; worth retrying later."""


class UnknownTrack(MediaError, LookupError):
    """No media track has that name."""

    code = ErrorCode.UNKNOWN_TRACK


class ProvisionError(EdgeError, ValueError):
    """A boot partition or image cannot be provisioned; nothing was written."""


class RoomError(EdgeError):
    """Failure on the way to or inside a room."""


class SignalError(RoomError):
    """The signalling connection failed or sent something we cannot use."""


class ServerUnreachable(SignalError):
    """No connection to the server could be made; worth retrying later."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        """The host answered but nothing listens (the node is down, not our network)."""


class JoinRefused(SignalError):
    """The server refused the join (HTTP status or a `leave` as first message)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.reason = reason
        """The `leave` reason (DisconnectReason name) when the refusal was a leave, else ""."""


class SignalTimeout(SignalError, TimeoutError):
    """The server stopped answering in time."""


class ServerLeft(RoomError):
    """The server asked us to leave; `reason` is the DisconnectReason name."""

    def __init__(self, message: str, *, reason: str, can_reconnect: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.can_reconnect = can_reconnect


class PeerConnectionError(RoomError):
    """A WebRTC peer connection failed."""


class DataError(EdgeError, ValueError):
    """A data packet is invalid or too large to send."""


class StreamError(RoomError):
    """An incoming data stream failed; `reason` is a short name such as `Incomplete`."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
