"""The application's RPC error codes: one table, each code with its meaning. Pure.

`ErrorCode` is the daemon's, outside LiveKit's reserved 1001-1999. Every method and the MQTT
bridge answer with them, and `edge.describe` lists them all. `RpcErrorCode` is LiveKit's own
(1400-1505), as every SDK defines them; the console's names for both come from here
(`edge.wire`).
"""

from __future__ import annotations

import enum
from types import MappingProxyType


class ErrorCode(enum.IntEnum):
    """Application error codes (see `MEANINGS`)."""

    INVALID_PAYLOAD = 2000
    UNKNOWN_DEVICE = 2001
    INVALID_VALUE = 2002
    ACCESS_DENIED = 2003
    RATE_LIMITED = 2004
    HARDWARE_ERROR = 2005
    NO_VALUE = 2010
    MEDIA_UNAVAILABLE = 2200
    UNKNOWN_TRACK = 2201


MEANINGS = MappingProxyType(
    {
        ErrorCode.INVALID_PAYLOAD: "the payload does not match the method's published schema",
        ErrorCode.UNKNOWN_DEVICE: "no GPIO device of that name",
        ErrorCode.INVALID_VALUE: "a value out of the device's range",
        ErrorCode.ACCESS_DENIED: "the caller is not allowed (allow-list, lease or MQTT topic)",
        ErrorCode.RATE_LIMITED: "over a method's call limits or an output's max_rate_hz",
        ErrorCode.HARDWARE_ERROR: "the pin library failed; the output is recorded safe",
        ErrorCode.NO_VALUE: "mqtt.read: no value seen on that topic yet",
        ErrorCode.MEDIA_UNAVAILABLE: "the track is off or its device is unavailable",
        ErrorCode.UNKNOWN_TRACK: "no media track of that name",
    }
)
"""What each code means, one line each."""


class RpcErrorCode(enum.IntEnum):
    """LiveKit's built-in RPC error codes."""

    UNSUPPORTED_METHOD = 1400
    RECIPIENT_NOT_FOUND = 1401
    REQUEST_PAYLOAD_TOO_LARGE = 1402
    UNSUPPORTED_SERVER = 1403
    UNSUPPORTED_VERSION = 1404
    APPLICATION_ERROR = 1500
    CONNECTION_TIMEOUT = 1501
    RESPONSE_TIMEOUT = 1502
    RECIPIENT_DISCONNECTED = 1503
    RESPONSE_PAYLOAD_TOO_LARGE = 1504
    SEND_FAILED = 1505


BUILT_IN_MESSAGES = MappingProxyType(
    {
        RpcErrorCode.UNSUPPORTED_METHOD: "Method not supported at destination",
        RpcErrorCode.RECIPIENT_NOT_FOUND: "Recipient not found",
        RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE: "Request payload too large",
        RpcErrorCode.UNSUPPORTED_SERVER: "RPC not supported by server",
        RpcErrorCode.UNSUPPORTED_VERSION: "Unsupported RPC version",
        RpcErrorCode.APPLICATION_ERROR: "Application error in method handler",
        RpcErrorCode.CONNECTION_TIMEOUT: "Connection timeout",
        RpcErrorCode.RESPONSE_TIMEOUT: "Response timeout",
        RpcErrorCode.RECIPIENT_DISCONNECTED: "Recipient disconnected",
        RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE: "Response payload too large",
        RpcErrorCode.SEND_FAILED: "Failed to send",
    }
)
"""LiveKit's message for each of its codes (the SDKs send these)."""
