"""The telemetry wire contract: batches pinned byte for byte, junk rejected, round trips."""

from __future__ import annotations

import contextlib
import json

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import InvalidPayload
from edge.telemetry import codec
from edge.telemetry.codec import CodecError, Reading, Sample

READINGS = (
    Reading(seq=1, time_us=1_700_000_000_000_000, sensor="soc", value=48.5, unit="°C"),
    Reading(seq=2, time_us=1_700_000_000_500_000, sensor="door", value=True, unit=""),
)


def test_a_batch_is_pinned_byte_for_byte() -> None:
    data = codec.encode_batch(READINGS, spool="ab12", dropped=3)
    # Written out by hand from the schema in the codec's docstring: a contract, not a snapshot.
    expected = msgpack.packb(
        {
            "v": 1,
            "spool": "ab12",
            "dropped": 3,
            "readings": [
                [1, 1_700_000_000_000_000, "soc", 48.5, "°C"],
                [2, 1_700_000_000_500_000, "door", True, ""],
            ],
        },
        use_bin_type=True,
    )
    assert data == expected
    # fixmap(4) "v" 1 "spool" "ab12" "dropped" 3 "readings" [[1, uint64 t, "soc", float64 48.5,
    # "°C"], [2, uint64 t, "door", true, ""]]
    assert data.hex() == (
        "84a17601a573706f6f6ca461623132a764726f7070656403a872656164696e677392"
        "9501cf00060a24181e4000a3736f63cb4048400000000000a3c2b043"
        "9502cf00060a241825e120a4646f6f72c3a0"
    )
    assert codec.SCHEMA_VERSION == 1
    assert codec.CONTENT_TYPE == "application/msgpack"


def test_stream_attributes_name_schema_and_range() -> None:
    assert codec.stream_attributes(READINGS, origin="live") == {
        "content_type": "application/msgpack",
        "schema_version": "1",
        "first_seq": "1",
        "last_seq": "2",
        "count": "2",
        "origin": "live",
    }


def test_decoding_gives_back_the_readings_and_ignores_unknown_keys() -> None:
    raw = msgpack.packb(
        {
            "v": 1,
            "spool": "s",
            "dropped": 0,
            "readings": [[5, 10, "t", 1, "u"]],
            "future": "field",
        }
    )
    batch = codec.decode_batch(raw)
    assert batch.readings == (Reading(seq=5, time_us=10, sensor="t", value=1, unit="u"),)
    assert (batch.version, batch.spool, batch.dropped) == (1, "s", 0)


def _batch(**overrides: object) -> bytes:
    top: dict[str, object] = {
        "v": 1,
        "spool": "s",
        "dropped": 0,
        "readings": [[1, 0, "a", 1.0, ""]],
    }
    top.update(overrides)
    return msgpack.packb(top, use_bin_type=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"", "not valid msgpack"),
        (b"\xc1", "not valid msgpack"),
        (msgpack.packb([1, 2]), "expected a map"),
        (_batch(v=2), "unsupported schema version 2"),
        (_batch(dropped=-1), "batch.dropped"),
        (_batch(readings={}), "batch.readings: expected an array"),
        (_batch(readings=[[1, 0, "a", 1.0]]), "readings[0]: expected [seq"),
        (_batch(readings=[[0, 0, "a", 1.0, ""]]), "readings[0]: seq"),
        (_batch(readings=[[1, 0, "", 1.0, ""]]), "readings[0]: sensor"),
        (_batch(readings=[[1, 0, "a", b"raw", ""]]), "readings[0]: value of type bytes"),
        (_batch(readings=[[1, 0, "a", float("nan"), ""]]), "not a finite number"),
        (_batch(readings=[[1, 0, "a", None, ""]]), "value of type NoneType"),
        (_batch(readings=[[2, 0, "a", 1, ""], [2, 0, "a", 1, ""]]), "readings[1]: seq 2 not incr"),
        (_batch(readings=[[1, 0, "a", 1, ""]]) + b"\x00", "not valid msgpack"),
    ],
)
def test_junk_is_rejected_with_a_clear_error(data: bytes, complaint: str) -> None:
    with pytest.raises(CodecError, match=None) as info:
        codec.decode_batch(data)
    assert complaint in str(info.value)


values = st.one_of(
    st.booleans(),
    st.integers(min_value=codec.INT64_MIN, max_value=codec.INT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
names = st.text(min_size=1, max_size=16)


@given(
    st.lists(
        st.tuples(st.integers(0, 2**62), names, values, st.text(max_size=8)),
        max_size=20,
    ),
    st.integers(1, 1000),
    st.integers(0, 2**40),
)
def test_any_valid_batch_round_trips(rows: list, first_seq: int, dropped: int) -> None:  # type: ignore[type-arg]
    readings = tuple(
        Reading(seq=first_seq + i, time_us=t, sensor=s, value=v, unit=u)
        for i, (t, s, v, u) in enumerate(rows)
    )
    batch = codec.decode_batch(codec.encode_batch(readings, spool="x", dropped=dropped))
    assert batch.readings == readings
    for got, want in zip(batch.readings, readings, strict=True):
        assert type(got.value) is type(want.value)  # True stays bool, 1 stays int
    assert batch.dropped == dropped


@given(st.binary(max_size=200))
def test_random_bytes_decode_or_raise_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        codec.decode_batch(data)


@given(names, values, st.text(max_size=8), st.integers(0, 2**62))
def test_spool_rows_round_trip(sensor: str, value: codec.Value, unit: str, t: int) -> None:
    sample = Sample(sensor=sensor, value=value, unit=unit, time_us=t)
    reading = codec.decode_row(7, t, codec.encode_row(sample))
    assert (reading.seq, reading.sensor, reading.value, reading.unit) == (7, sensor, value, unit)


def test_invalid_samples_cannot_be_encoded() -> None:
    with pytest.raises(CodecError, match="finite"):
        codec.encode_row(Sample(sensor="a", value=float("inf"), unit="", time_us=0))
    with pytest.raises(CodecError, match="UTF-8 bytes"):
        codec.encode_row(Sample(sensor="a", value="x" * 300, unit="", time_us=0))


@pytest.mark.parametrize(
    ("payload", "want"),
    [
        ('{"since_seq": 5}', codec.HistoryRequest(since_seq=5, limit=100)),
        ('{"since_us": 9, "limit": 3}', codec.HistoryRequest(since_us=9, limit=3)),
        ('{"since_seq": 0, "limit": 1000}', codec.HistoryRequest(since_seq=0, limit=100)),
    ],
)
def test_history_requests_parse(payload: str, want: codec.HistoryRequest) -> None:
    assert codec.parse_history_request(payload, max_limit=100) == want


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ("nope", "not JSON"),
        ("[]", "JSON object"),
        ("{}", "exactly one"),
        (json.dumps({"since_seq": 1, "since_us": 1}), "exactly one"),
        (json.dumps({"since_seq": -1}), "since_seq"),
        (json.dumps({"since_seq": "1"}), "since_seq"),
        (json.dumps({"since_seq": 1, "limit": 0}), "limit"),
        (json.dumps({"since_seq": 1, "extra": 0}), "unknown field(s): extra"),
    ],
)
def test_bad_history_requests_are_refused(payload: str, complaint: str) -> None:
    with pytest.raises(InvalidPayload) as info:
        codec.parse_history_request(payload, max_limit=100)
    assert complaint in str(info.value)
