"""The schema subset: what registration accepts, and the messages that name the field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from edge.errors import InvalidPayload
from edge.protocol.schema import EMPTY, check_schema, prepare

SET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "device": {"type": "string", "maxLength": 8},
        "value": {"type": ["number", "boolean"], "minimum": -1, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "integer"}, "maxItems": 2},
        "kind": {"enum": ["a", "b"]},
        "hold_s": {"type": "number", "exclusiveMinimum": 0},
    },
    "required": ["device"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"value": 1}', "missing field(s): device"),
        ('{"device": "x", "zz": 1, "aa": 2}', "unknown field(s): aa, zz (fields: device, "),
        ('{"device": 5}', "device: expected string, got 5"),
        ('{"device": "much-too-long"}', "device: at most 8 character(s), got 13"),
        ('{"device": "x", "value": "on"}', 'value: expected number or boolean, got "on"'),
        ('{"device": "x", "value": 2}', "value: must be <= 1, got 2"),
        ('{"device": "x", "hold_s": 0}', "hold_s: must be > 0, got 0"),
        ('{"device": "x", "tags": [1, 2.5]}', "tags[1]: expected integer, got 2.5"),
        ('{"device": "x", "tags": [1, 2, 3]}', "tags: at most 2 item(s), got 3"),
        ('{"device": "x", "kind": "c"}', 'kind: expected one of a, b, got "c"'),
        ('{"device": "x", "kind": true}', "kind: expected one of a, b, got true"),
        ('{"device": "x", "value": NaN}', "not a finite number"),
        ("[1]", "payload must be a JSON object, not an array"),
    ],
)
def test_each_refusal_names_the_field(payload: str, message: str) -> None:
    check_schema(SET)
    with pytest.raises(InvalidPayload) as refused:
        prepare(payload, SET)
    assert message in str(refused.value)
    assert refused.value.code == 2000


def test_valid_payloads_come_back_parsed() -> None:
    assert prepare('{"device": "x", "value": true, "tags": []}', SET) == {
        "device": "x",
        "value": True,
        "tags": [],
    }
    assert prepare("", EMPTY) == {}
    assert prepare('{"anything": 1}', {"type": "object", "properties": {}}) == {"anything": 1}


def test_a_payload_over_the_methods_limit_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidPayload, match="over the limit of 64"):
        prepare('{"device": "' + "x" * 100 + '"}', SET, max_bytes=64)


@pytest.mark.parametrize(
    ("schema", "complaint"),
    [
        ({"type": "object", "oneOf": []}, "unsupported schema keyword(s): oneOf"),
        ({"type": "tuple"}, "unsupported type(s): tuple"),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "only be false"),
        ({"type": "object", "properties": {}, "required": ["x"]}, "'x' has no property"),
        ({"type": "object", "properties": {"x": {"pattern": "a"}}}, "params.x: unsupported"),
        ({"type": "string", "x-unknown-code": 2201}, "needs an enum"),
    ],
)
def test_registration_refuses_a_schema_the_validator_would_not_enforce(
    schema: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        check_schema(schema)
