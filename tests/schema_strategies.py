"""Hypothesis strategies drawn from a published JSON schema: valid payloads and invalid ones.

Each invalid variant breaks exactly one rule of an otherwise valid payload, so the code it
must get is known without asking the validator: 2000, or the field's `x-unknown-code`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

INVALID_PAYLOAD = 2000
INT64 = 2**63
WRONG_TYPES: tuple[object, ...] = (None, True, "x", 1.5, 3, [], {})
"""Candidates for a value of the wrong type."""


def valid_value(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values `schema` accepts."""
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    kinds = schema.get("type", ())
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    return st.one_of([_valid_of(kind, schema) for kind in kinds])


def valid_payload(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """JSON payloads `schema` accepts."""
    return valid_value(schema).map(json.dumps)


@st.composite
def invalid_payload(draw: st.DrawFn, schema: Mapping[str, Any]) -> tuple[str, int]:
    """(payload, the code it must get): one rule of `schema` broken."""
    properties: Mapping[str, Mapping[str, Any]] = schema.get("properties", {})
    ways = ["not an object", "non-finite", "too deep"]
    if schema.get("required"):
        ways.append("missing")
    if schema.get("additionalProperties") is False:
        ways.append("unknown field")
    if any(_wrong_types(rule) for rule in properties.values()):
        ways.append("wrong type")
    if any(_has_bounds(rule) for rule in properties.values()):
        ways.append("out of range")
    if any("enum" in rule and "string" in _kinds(rule) for rule in properties.values()):
        ways.append("not in enum")
    way = draw(st.sampled_from(ways))
    if way == "not an object":
        return draw(st.sampled_from(["[1]", "5", '"x"', "null", "{", "true"])), INVALID_PAYLOAD
    if way == "too deep":
        return '{"a": ' + "[" * 40 + "]" * 40 + "}", INVALID_PAYLOAD
    params: dict[str, Any] = draw(valid_value(schema))
    if way == "non-finite":
        text = json.dumps(params)
        constant = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400"]))
        return text[:-1] + ("," if params else "") + f'"zz": {constant}}}', INVALID_PAYLOAD
    if way == "missing":
        del params[draw(st.sampled_from(list(schema["required"])))]
    elif way == "unknown field":
        params[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in properties))] = 1
    elif way == "wrong type":
        key = draw(st.sampled_from([k for k, r in properties.items() if _wrong_types(r)]))
        params[key] = draw(st.sampled_from(_wrong_types(properties[key])))
    elif way == "out of range":
        key = draw(st.sampled_from([k for k, r in properties.items() if _has_bounds(r)]))
        params[key] = draw(_out_of_range(properties[key]))
    else:  # not in enum
        key = draw(
            st.sampled_from(
                [k for k, r in properties.items() if "enum" in r and "string" in _kinds(r)]
            )
        )
        rule = properties[key]
        params[key] = draw(st.text(max_size=8).filter(lambda v: v not in rule["enum"]))
        return json.dumps(params), rule.get("x-unknown-code", INVALID_PAYLOAD)
    return json.dumps(params), INVALID_PAYLOAD


def _valid_of(kind: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "object":
        return _valid_object(schema)
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 20))
    if kind == "integer":
        low = schema.get("minimum", -INT64)
        if "exclusiveMinimum" in schema:
            low = int(schema["exclusiveMinimum"]) + 1
        return st.integers(low, schema.get("maximum", INT64 - 1))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1e300))
        high = schema.get("maximum", 1e300)
        exclusive = "exclusiveMinimum" in schema
        return st.floats(low, high, exclude_min=exclusive, allow_nan=False, allow_infinity=False)
    raise AssertionError(f"no strategy for type {kind}")


@st.composite
def _valid_object(draw: st.DrawFn, schema: Mapping[str, Any]) -> dict[str, Any]:
    properties: Mapping[str, Mapping[str, Any]] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    chosen = [k for k in properties if k in required or draw(st.booleans())]
    return {key: draw(valid_value(properties[key])) for key in chosen}


def _kinds(rule: Mapping[str, Any]) -> list[str]:
    kinds = rule.get("type", ())
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _wrong_types(rule: Mapping[str, Any]) -> list[object]:
    kinds = _kinds(rule)
    if not kinds:
        return [v for v in WRONG_TYPES if v not in rule.get("enum", ())]
    return [v for v in WRONG_TYPES if not any(_is(v, kind) for kind in kinds)]


def _is(value: object, kind: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "integer": number and isinstance(value, int),
        "number": number,
    }[kind]


def _has_bounds(rule: Mapping[str, Any]) -> bool:
    return any(k in rule for k in ("minimum", "maximum", "exclusiveMinimum"))


def _out_of_range(rule: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    options: list[st.SearchStrategy[Any]] = []
    integer = _kinds(rule) == ["integer"]
    if "minimum" in rule:
        low = rule["minimum"]
        options.append(st.integers(-(2**40), low - 1) if integer else st.just(low - 0.5))
    if "exclusiveMinimum" in rule:
        options.append(st.just(rule["exclusiveMinimum"]))
    if "maximum" in rule:
        high = rule["maximum"]
        options.append(st.integers(high + 1, 2**40) if integer else st.just(high + 0.5))
    return st.one_of(options)
