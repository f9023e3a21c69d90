"""Payload checks and JSON helpers of the MQTT bridge — pure.

Refusals are `edge.errors` with their codes (`edge.protocol.codes`), answered as RPC's are.
"""

from __future__ import annotations

import json

from edge.errors import InvalidPayload
from edge.protocol.payload import parse_object

MAX_PAYLOAD_BYTES = 4096


def invalid(message: str) -> InvalidPayload:
    return InvalidPayload(message)


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
    """`text` as a JSON object, parsed with bounded cost (`{}` for blank text)."""
    return parse_object(text, max_bytes=MAX_PAYLOAD_BYTES)


def parsed(result: str) -> object:
    try:
        return json.loads(result)
    except json.JSONDecodeError:
        return result


def encode(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
