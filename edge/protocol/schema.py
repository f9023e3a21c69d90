"""The JSON-schema subset RPC methods publish, and the validator that enforces it. Pure.

    check_schema(schema)                      # at registration: only keywords enforced below
    params = prepare(payload, schema)         # parsed (bounded cost) and validated, or raise

What `edge.describe` publishes is exactly what `prepare` checks. Keywords:

- `type`: "object", "integer", "number", "string", "boolean", "array", "null", or a list
  of them. An integer is a JSON number without fraction or exponent (never a boolean); a
  number is finite.
- objects: `properties`, `required`, `additionalProperties` (only `false`; the default
  allows other fields, as JSON Schema does).
- `enum`; numbers: `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`; strings:
  `minLength`, `maxLength`; arrays: `items`, `maxItems`.
- annotations, not checked: `description`, `title`, `examples`, `default`.
- `x-unknown-code`: on a property with an `enum` of names, a value outside it is looked up
  and not found: answered with this code and "unknown <field> 'x' (known: ...)".

Every refusal is a `SchemaError` (an `InvalidPayload`, 2000 unless `x-unknown-code`) whose
message names the field: `device: expected string, got 5`, `missing field(s): value`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from edge.errors import InvalidPayload
from edge.protocol.codes import ErrorCode
from edge.protocol.payload import MAX_BYTES, parse_object

Schema = Mapping[str, Any]

TYPES = ("object", "integer", "number", "string", "boolean", "array", "null")
KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "items",
        "maxItems",
        "description",
        "title",
        "examples",
        "default",
        "x-unknown-code",
    }
)
EMPTY: Schema = {"type": "object", "properties": {}, "additionalProperties": False}
"""The schema of a method that takes no fields."""


class SchemaError(InvalidPayload):
    """A value does not match its schema; `code` is 2000 or the field's `x-unknown-code`."""

    def __init__(self, message: str, code: int = ErrorCode.INVALID_PAYLOAD) -> None:
        super().__init__(message)
        self.code = code


def prepare(payload: str, schema: Schema, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """`payload` parsed with bounded cost and checked against `schema`; raise `InvalidPayload`."""
    params = parse_object(payload, max_bytes=max_bytes)
    validate(params, schema)
    return params


def validate(value: object, schema: Schema, path: str = "") -> None:
    """Raise `SchemaError` naming the first field of `value` that `schema` refuses."""
    kinds = _types(schema)
    if kinds and not any(_is(value, kind) for kind in kinds):
        raise SchemaError(f"{_at(path)}expected {' or '.join(kinds)}, got {_show(value)}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        options = ", ".join(str(option) for option in schema["enum"])
        if "x-unknown-code" in schema:
            name = path.rpartition(".")[2] or "value"
            raise SchemaError(
                f"unknown {name} {value!r} (known: {options or 'none configured'})",
                schema["x-unknown-code"],
            )
        raise SchemaError(f"{_at(path)}expected one of {options}, got {_show(value)}")
    if isinstance(value, dict):
        _validate_object(value, schema, path)
    elif isinstance(value, list):
        _validate_array(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path)
    elif isinstance(value, str):
        _validate_string(value, schema, path)


def check_schema(schema: Schema, path: str = "params") -> None:
    """Raise `ValueError` if `schema` uses anything `validate` does not enforce."""
    unknown = sorted(set(schema) - KEYWORDS)
    if unknown:
        raise ValueError(f"{path}: unsupported schema keyword(s): {', '.join(unknown)}")
    bad_types = [kind for kind in _types(schema) if kind not in TYPES]
    if bad_types:
        raise ValueError(f"{path}: unsupported type(s): {', '.join(bad_types)}")
    if schema.get("additionalProperties", False) is not False:
        raise ValueError(f"{path}: additionalProperties may only be false")
    if "x-unknown-code" in schema and "enum" not in schema:
        raise ValueError(f"{path}: x-unknown-code needs an enum")
    properties: Mapping[str, Schema] = schema.get("properties", {})
    for key in schema.get("required", ()):
        if key not in properties:
            raise ValueError(f"{path}: required field {key!r} has no property")
    for key, rule in properties.items():
        check_schema(rule, f"{path}.{key}")
    if "items" in schema:
        check_schema(schema["items"], f"{path}[]")


# -- helpers -----------------------------------------------------------------------------


def _validate_object(value: dict[str, Any], schema: Schema, path: str) -> None:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    if schema.get("additionalProperties", True) is False:
        unknown = sorted(set(value) - set(properties))
        if unknown:
            fields = ", ".join(properties) or "none"
            raise SchemaError(
                f"{_at(path)}unknown field(s): {', '.join(unknown)} (fields: {fields})"
            )
    missing = [key for key in schema.get("required", ()) if key not in value]
    if missing:
        raise SchemaError(f"{_at(path)}missing field(s): {', '.join(missing)}")
    for key, item in value.items():
        if key in properties:
            validate(item, properties[key], f"{path}.{key}" if path else key)


def _validate_array(value: list[Any], schema: Schema, path: str) -> None:
    most = schema.get("maxItems")
    if most is not None and len(value) > most:
        raise SchemaError(f"{_at(path)}at most {most} item(s), got {len(value)}")
    if "items" in schema:
        for index, item in enumerate(value):
            validate(item, schema["items"], f"{path}[{index}]")


def _validate_number(value: float, schema: Schema, path: str) -> None:
    if not math.isfinite(value):
        raise SchemaError(f"{_at(path)}expected a finite number")
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    broken = (
        (low is not None and value < low and f">= {low}")
        or (high is not None and value > high and f"<= {high}")
        or (above is not None and value <= above and f"> {above}")
        or (below is not None and value >= below and f"< {below}")
    )
    if broken:
        raise SchemaError(f"{_at(path)}must be {broken}, got {value!r}")


def _validate_string(value: str, schema: Schema, path: str) -> None:
    least, most = schema.get("minLength"), schema.get("maxLength")
    if least is not None and len(value) < least:
        raise SchemaError(f"{_at(path)}at least {least} character(s)")
    if most is not None and len(value) > most:
        raise SchemaError(f"{_at(path)}at most {most} character(s), got {len(value)}")


def _types(schema: Schema) -> Sequence[str]:
    kinds = schema.get("type", ())
    return (kinds,) if isinstance(kinds, str) else tuple(kinds)


def _is(value: object, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)  # number


def _same(value: object, option: object) -> bool:
    """JSON equality: `true` is not `1`."""
    return type(value) is type(option) and value == option


def _at(path: str) -> str:
    return f"{path}: " if path else ""


def _show(value: object) -> str:
    return json.dumps(value)[:40] if not isinstance(value, float) else repr(value)
