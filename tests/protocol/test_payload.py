"""RPC payload parsing: any text in, a dict or one precise PayloadError out, at bounded cost."""

from __future__ import annotations

import json
import math
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.protocol.payload import (
    INT_LIMIT,
    MAX_BYTES,
    MAX_DEPTH,
    PayloadError,
    nesting_depth,
    parse_object,
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def _acceptable(value: object, depth: int = 0) -> bool:
    """Whether `value` (below the top object) obeys the parser's number and depth rules."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -INT_LIMIT <= value < INT_LIMIT
    if isinstance(value, float):
        return math.isfinite(value)
    assert isinstance(value, dict | list)
    children = list(value.values()) if isinstance(value, dict) else value
    return all(_acceptable(child, depth + 1) for child in children)


@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5))
def test_valid_objects_round_trip_or_are_refused_for_a_stated_reason(
    data: dict[str, object],
) -> None:
    text = json.dumps(data)
    if len(text.encode()) > MAX_BYTES:
        with pytest.raises(PayloadError, match="over the limit"):
            parse_object(text)
    elif _acceptable(data):
        assert parse_object(text) == data
    else:
        with pytest.raises(PayloadError, match="64-bit range"):
            parse_object(text)


@given(st.text(max_size=300))
def test_arbitrary_text_gives_a_dict_or_a_payload_error_never_anything_else(text: str) -> None:
    try:
        result: object = parse_object(text)
    except PayloadError as exc:
        result = exc
    assert isinstance(result, dict) or (isinstance(result, PayloadError) and str(result))


@given(st.integers(min_value=MAX_DEPTH + 1, max_value=20_000), st.sampled_from("[{"))
def test_deep_nesting_is_refused_before_the_parser_recurses(depth: int, opener: str) -> None:
    open_, close = ('{"k":', "}") if opener == "{" else ("[", "]")
    body = open_ * (depth - 1) + "1" + close * (depth - 1)
    text = '{"a":' + body + "}"
    if len(text.encode()) > MAX_BYTES:
        with pytest.raises(PayloadError, match="over the limit"):
            parse_object(text)
    else:
        with pytest.raises(PayloadError, match=f"deeper than {MAX_DEPTH}"):
            parse_object(text)


def test_nesting_far_beyond_the_recursion_limit_is_a_payload_error() -> None:
    depth = sys.getrecursionlimit() + 500
    text = '{"a":' + "[" * depth + "]" * depth + "}"
    with pytest.raises(PayloadError, match="deeper than"):
        parse_object(text, max_bytes=10 * depth)


@given(st.text(alphabet='[]{}"\\', max_size=200))
def test_brackets_inside_strings_do_not_count(inner: str) -> None:
    text = json.dumps({"s": inner})
    assert nesting_depth(text) == 1
    assert parse_object(text) == {"s": inner}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"value": 1e400}', "1e400 is out of range"),
        ('{"value": -1e309}', "out of range"),
        ('{"lines": 1e309}', "out of range"),
        ('{"value": NaN}', "NaN is not a finite number"),
        ('{"value": Infinity}', "Infinity is not a finite number"),
        ('{"value": -Infinity}', "Infinity is not a finite number"),
        ('{"value": ' + "9" * 30 + "}", "64-bit range"),
        ('{"value": ' + "9" * 5000 + "}", "not JSON"),
        ("[1, 2]", "not an array"),
        ('"text"', "not a string"),
        ("42", "not a number"),
        ("null", "not null"),
        ("{", "not JSON"),
    ],
)
def test_bad_numbers_and_shapes_get_a_precise_message(text: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_object(text)


def test_empty_and_blank_payloads_mean_no_parameters() -> None:
    assert parse_object("") == {}
    assert parse_object("  \n") == {}


@pytest.mark.parametrize("size", [MAX_BYTES - 1, MAX_BYTES, MAX_BYTES + 1])
def test_the_size_limit_counts_utf8_bytes(size: int) -> None:
    prefix, suffix = '{"s":"', '"}'
    text = prefix + "x" * (size - len(prefix) - len(suffix)) + suffix
    if size > MAX_BYTES:
        with pytest.raises(PayloadError, match=f"{size} bytes is over the limit of {MAX_BYTES}"):
            parse_object(text)
    else:
        assert parse_object(text)["s"].startswith("x")
