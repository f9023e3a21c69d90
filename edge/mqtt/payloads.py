"""Payload checks and JSON helpers of the MQTT bridge, and its error codes — pure."""

from __future__ import annotations

import enum
import json

from edge.errors import RpcError

MAX_PAYLOAD_BYTES = 4096


class BridgeErrorCode(enum.IntEnum):
    """Codes in error replies; GPIO codes (2000-2005) pass through from `dispatch`."""

    INVALID_PAYLOAD = 2000
    ACCESS_DENIED = 2003
    NO_VALUE = 2010
    UNSUPPORTED_METHOD = 1400
    """LiveKit's own code for an unknown method."""
    INTERNAL = 1500


def invalid(message: str) -> RpcError:
    return RpcError(BridgeErrorCode.INVALID_PAYLOAD, message)


def text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise invalid(f"payload is {len(payload)} bytes, over {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(f"payload is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if text.strip():
        json_object(text)
    return text


def json_object(text: str) -> dict[str, object]:
    if len(text.encode("utf-8", "replace")) > MAX_PAYLOAD_BYTES:
        raise invalid(f"payload over {MAX_PAYLOAD_BYTES} bytes")
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise invalid(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("payload must be a JSON object")
    return data


def parsed(result: str) -> object:
    try:
        return json.loads(result)
    except json.JSONDecodeError:
        return result


def encode(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
