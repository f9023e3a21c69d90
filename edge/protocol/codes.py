"""The application's RPC error codes: one table, each code with its meaning. Pure.

LiveKit's own codes (1400-1505) are `edge.protocol.rpc.RpcErrorCode`; these are the daemon's,
outside LiveKit's reserved 1001-1999. Every method and the MQTT bridge answer with them, and
`edge.describe` lists them all.
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
