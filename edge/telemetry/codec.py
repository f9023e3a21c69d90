"""Telemetry wire format: readings ⇄ msgpack, versioned. Pure: no I/O, no clock.

This is a contract with every consumer (dashboards, loggers); `tests/telemetry/test_codec.py`
pins it byte for byte. Change it only by bumping `SCHEMA_VERSION`.

One **batch** is one byte stream on the telemetry topic (default `edge.telemetry`), its whole
content a msgpack map:

    {
      "v": 1,                       # schema version (int); decoders reject others
      "spool": "3f2a…",             # id of the device's spool (str); changes only if the spool
                                    # file is lost, which restarts `seq` at 1
      "dropped": 0,                 # readings dropped so far by the bounded spool (int, total)
      "readings": [                 # oldest first, `seq` strictly increasing
        [seq, time_us, sensor, value, unit],
        ...
      ]
    }

- `seq` (int ≥ 1): per-device sequence number, +1 per reading, persisted across restarts.
  A gap between batches means readings were dropped (then `dropped` grew) or were not yet
  delivered to you: ask `telemetry.history` for them.
- `time_us` (int): wall-clock time of the reading, µs since the Unix epoch (may jump with NTP;
  `seq` is the order).
- `sensor` (str), `unit` (str, may be empty), `value`: float, int, bool or str.

Stream header (see `stream_attributes`): mime type `application/msgpack`, attributes
`content_type`, `schema_version`, `first_seq`, `last_seq`, `count` and `origin` (`live` for the
regular uplink, `history` for answers to `telemetry.history`).

Unknown map keys are ignored (room for compatible additions); anything else malformed raises
`CodecError` naming what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]

from edge.errors import EdgeError, InvalidPayload
from edge.protocol.schema import Schema, prepare

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/msgpack"
MAX_NAME_BYTES = 64
"""Longest sensor name or unit, UTF-8."""
MAX_TEXT_VALUE_BYTES = 256
"""Longest string value, UTF-8."""
MAX_BATCH_BYTES = 16 * 1024 * 1024
"""Decoders refuse larger batches."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Value = float | int | bool | str


class CodecError(EdgeError, ValueError):
    """Bytes or values that do not fit the telemetry schema."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """A reading before the spool gives it a sequence number."""

    sensor: str
    value: Value
    unit: str
    time_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One spooled reading."""

    seq: int
    time_us: int
    sensor: str
    value: Value
    unit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """A decoded batch."""

    version: int
    spool: str
    dropped: int
    readings: tuple[Reading, ...]


def check_value(value: object) -> Value:
    """`value` if it is a valid reading value, else raise `CodecError` saying why."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise CodecError("integer value outside the 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError(f"value {value!r} is not a finite number")
        return value
    if isinstance(value, str):
        _check_text("value", value, MAX_TEXT_VALUE_BYTES)
        return value
    raise CodecError(f"value of type {type(value).__name__} (want float, int, bool or str)")


def _check_text(what: str, text: object, max_bytes: int, *, empty: bool = True) -> str:
    if not isinstance(text, str):
        raise CodecError(f"{what}: expected a string, got {type(text).__name__}")
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise CodecError(f"{what}: not valid Unicode") from None
    if size > max_bytes or (not empty and size == 0):
        raise CodecError(f"{what}: expected 1 to {max_bytes} UTF-8 bytes, got {size}")
    return text


def _check_int(what: str, value: object, *, low: int = INT64_MIN) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= INT64_MAX:
        raise CodecError(f"{what}: expected an integer from {low}, got {value!r}"[:200])
    return value


def check_sample(sample: Sample) -> Sample:
    """`sample` if every field fits the schema, else raise `CodecError`."""
    _check_text("sensor", sample.sensor, MAX_NAME_BYTES, empty=False)
    _check_text("unit", sample.unit, MAX_NAME_BYTES)
    _check_int("time_us", sample.time_us, low=0)
    check_value(sample.value)
    return sample


# -- spool rows --------------------------------------------------------------------------


def encode_row(sample: Sample) -> bytes:
    """The spool's stored form of a sample's sensor, value and unit."""
    check_sample(sample)
    return _pack([sample.sensor, sample.value, sample.unit])


def decode_row(seq: object, time_us: object, data: object) -> Reading:
    """A spool row back to a Reading; `CodecError` if the row is corrupt."""
    if not isinstance(data, bytes):
        raise CodecError(f"row data: expected bytes, got {type(data).__name__}")
    fields = _unpack(data)
    if not isinstance(fields, list) or len(fields) != 3:
        raise CodecError("row data: expected [sensor, value, unit]")
    return _reading([seq, time_us, *fields])


# -- batches -----------------------------------------------------------------------------


def encode_batch(readings: Iterable[Reading], *, spool: str, dropped: int) -> bytes:
    """One batch (the content of one byte stream)."""
    rows = [[r.seq, r.time_us, r.sensor, r.value, r.unit] for r in readings]
    return _pack({"v": SCHEMA_VERSION, "spool": spool, "dropped": dropped, "readings": rows})


def encode_batch_head(count: int, *, spool: str, dropped: int) -> bytes:
    """The start of a batch of `count` readings; `encode_rows` pieces follow, oldest first.

    Head and rows together are byte for byte `encode_batch`, so a long batch (a history
    answer) is encoded and sent a piece at a time, never whole in memory.
    """
    packer = msgpack.Packer(use_bin_type=True)
    head: bytes = packer.pack_map_header(4)
    for key, value in (("v", SCHEMA_VERSION), ("spool", spool), ("dropped", dropped)):
        head += packer.pack(key) + packer.pack(value)
    tail: bytes = packer.pack("readings") + packer.pack_array_header(count)
    return head + tail


def encode_rows(readings: Iterable[Reading]) -> bytes:
    """The readings part of a batch started by `encode_batch_head`."""
    return b"".join(_pack([r.seq, r.time_us, r.sensor, r.value, r.unit]) for r in readings)


def decode_batch(data: bytes) -> Batch:
    """Parse and validate a batch; `CodecError` on anything that does not fit."""
    if len(data) > MAX_BATCH_BYTES:
        raise CodecError(f"batch of {len(data)} bytes exceeds {MAX_BATCH_BYTES}")
    top = _unpack(data)
    if not isinstance(top, dict):
        raise CodecError(f"batch: expected a map, got {type(top).__name__}")
    version = top.get("v")
    if version != SCHEMA_VERSION:
        raise CodecError(f"batch: unsupported schema version {version!r} (want {SCHEMA_VERSION})")
    spool = _check_text("batch.spool", top.get("spool"), MAX_NAME_BYTES)
    dropped = _check_int("batch.dropped", top.get("dropped"), low=0)
    rows = top.get("readings")
    if not isinstance(rows, list):
        raise CodecError("batch.readings: expected an array")
    readings: list[Reading] = []
    for index, row in enumerate(rows):
        try:
            reading = _reading(row)
        except CodecError as exc:
            raise CodecError(f"batch.readings[{index}]: {exc}") from None
        if readings and reading.seq <= readings[-1].seq:
            raise CodecError(f"batch.readings[{index}]: seq {reading.seq} not increasing")
        readings.append(reading)
    return Batch(version=version, spool=spool, dropped=dropped, readings=tuple(readings))


def stream_attributes(readings: Iterable[Reading], *, origin: str) -> dict[str, str]:
    """Header attributes of a batch's byte stream."""
    seqs = [r.seq for r in readings]
    first, last = (seqs[0], seqs[-1]) if seqs else (0, 0)
    return range_attributes(first, last, len(seqs), origin=origin)


def range_attributes(first_seq: int, last_seq: int, count: int, *, origin: str) -> dict[str, str]:
    """`stream_attributes` of a batch known by its range (0, 0, 0 when empty)."""
    return {
        "content_type": CONTENT_TYPE,
        "schema_version": str(SCHEMA_VERSION),
        "first_seq": str(first_seq),
        "last_seq": str(last_seq),
        "count": str(count),
        "origin": origin,
    }


# -- history requests --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRequest:
    """`telemetry.history` payload: exactly one of `since_seq` / `since_us`, and a limit."""

    since_seq: int | None = None
    """Readings with a larger seq."""
    since_us: int | None = None
    """Readings taken at or after this wall-clock time (µs since the epoch)."""
    limit: int


HISTORY_PARAMS: Schema = {
    "type": "object",
    "properties": {
        "since_seq": {"type": "integer", "minimum": 0},
        "since_us": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}
"""The published schema of a `telemetry.history` payload."""


def history_request(params: Mapping[str, Any], *, max_limit: int) -> HistoryRequest:
    """The request of validated `params`; `InvalidPayload` unless exactly one `since_*`."""
    if ("since_seq" in params) == ("since_us" in params):
        raise InvalidPayload("give exactly one of since_seq, since_us")
    return HistoryRequest(
        since_seq=params.get("since_seq"),
        since_us=params.get("since_us"),
        limit=min(params.get("limit", max_limit), max_limit),
    )


def parse_history_request(payload: str, *, max_limit: int) -> HistoryRequest:
    """`{"since_seq": n}` or `{"since_us": t}`, optional `"limit"`; `InvalidPayload` otherwise."""
    return history_request(prepare(payload, HISTORY_PARAMS), max_limit=max_limit)


# -- helpers -----------------------------------------------------------------------------


def _reading(row: object) -> Reading:
    if not isinstance(row, list) or len(row) != 5:
        raise CodecError("expected [seq, time_us, sensor, value, unit]")
    seq, time_us, sensor, value, unit = row
    return Reading(
        seq=_check_int("seq", seq, low=1),
        time_us=_check_int("time_us", time_us, low=0),
        sensor=_check_text("sensor", sensor, MAX_NAME_BYTES, empty=False),
        value=check_value(value),
        unit=_check_text("unit", unit, MAX_NAME_BYTES),
    )


def _pack(obj: object) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def _unpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise CodecError(f"not valid msgpack: {exc}"[:200]) from None
