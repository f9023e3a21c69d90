"""RPC payloads as JSON objects, parsed with bounded cost. Pure: no I/O.

    params = parse_object(invocation.payload)      # -> dict, or raise PayloadError

Every RPC method of the daemon takes a JSON object (or nothing, meaning `{}`). Whatever a
caller sends, parsing answers with a `PayloadError` naming the problem, never with an internal
error:

- more than `max_bytes` of UTF-8: refused before parsing;
- nested deeper than `MAX_DEPTH` arrays/objects: refused before parsing (the stdlib parser
  would otherwise recurse into a `RecursionError`);
- `NaN`, `Infinity`, numbers that overflow a double (`1e400`) and integers outside 64 bits:
  refused, so no handler ever sees a non-finite or unbounded number;
- anything but an object at the top: refused.
"""

from __future__ import annotations

import json
import math
from typing import Any

from edge.errors import InvalidPayload

MAX_BYTES = 15_360
"""LiveKit's limit for an RPC request payload; callers that obey it never see this refusal."""
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted (the daemon's methods need 2)."""
INT_LIMIT = 2**63
"""Integers must lie in [-INT_LIMIT, INT_LIMIT)."""


class PayloadError(InvalidPayload):
    """The payload is not an acceptable JSON object; the message says why."""


def parse_object(
    payload: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """`payload` as a dict (`{}` for an empty or blank payload); `PayloadError` otherwise."""
    size = len(payload.encode("utf-8", "replace"))
    if size > max_bytes:
        raise PayloadError(f"payload of {size} bytes is over the limit of {max_bytes}")
    if not payload.strip():
        return {}
    if payload.count("[") + payload.count("{") > max_depth and nesting_depth(payload) > max_depth:
        raise PayloadError(f"payload nested deeper than {max_depth} levels")
    try:
        data = json.loads(
            payload,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            parse_constant=_no_constant,
        )
    except PayloadError:
        raise
    except ValueError as exc:  # JSONDecodeError, and int() refusing thousands of digits
        raise PayloadError(f"payload is not JSON: {exc}"[:200]) from None
    if not isinstance(data, dict):
        raise PayloadError(f"payload must be a JSON object, not {_kind(data)}")
    return data


def nesting_depth(text: str) -> int:
    """The deepest nesting of `[`/`{` in `text` outside strings (unbalanced text is fine)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PayloadError(f"number {text[:40]} is out of range (not a finite number)")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if not -INT_LIMIT <= value < INT_LIMIT:
        raise PayloadError(f"integer {text[:40]} is outside the 64-bit range")
    return value


def _no_constant(text: str) -> Any:
    raise PayloadError(f"{text} is not a finite number")


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"
