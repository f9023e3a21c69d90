"""DataPacket envelope: our encoding, decoding what peers send, limits and de-duplication."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from livekit.protocol import models as proto_models

from edge.errors import DataError
from edge.protocol import packets


def test_reliable_user_packet_round_trips_with_topic_and_sequence() -> None:
    data = packets.encode_user(b"hi", topic="t", destination_identities=["a"], sequence=3)
    parsed = proto_models.DataPacket()
    parsed.ParseFromString(data)
    assert parsed.kind == proto_models.DataPacket.RELIABLE
    assert (parsed.user.payload, parsed.user.topic, parsed.sequence) == (b"hi", "t", 3)
    assert list(parsed.destination_identities) == ["a"]


def test_lossy_packets_carry_no_sequence() -> None:
    parsed = proto_models.DataPacket()
    parsed.ParseFromString(packets.encode_user(b"x", reliable=False, sequence=9))
    assert parsed.kind == proto_models.DataPacket.LOSSY
    assert parsed.sequence == 0


def test_oversize_packet_is_refused_with_sizes_in_the_message() -> None:
    with pytest.raises(DataError, match=r"data packet is \d+ bytes encoded; the limit is 15000"):
        packets.encode_user(b"x" * 15_000)
    packets.encode_user(b"x" * 14_900)


def test_oversize_topic_is_refused() -> None:
    with pytest.raises(DataError, match="topic is 300 bytes"):
        packets.encode_user(b"", topic="t" * 300)


def test_decode_uses_the_server_stamped_identity() -> None:
    packet = proto_models.DataPacket(
        participant_identity="sender",
        participant_sid="PA_s",
        sequence=5,
        user=proto_models.UserPacket(payload=b"p", topic="t", participant_identity="spoofed"),
    )
    decoded = packets.decode(packet.SerializeToString(), reliable=True)
    assert decoded == packets.UserData(
        sender_identity="sender",
        sender_sid="PA_s",
        payload=b"p",
        topic="t",
        reliable=True,
        sequence=5,
    )


def test_decode_keeps_missing_topic_distinct_from_empty() -> None:
    packet = proto_models.DataPacket(user=proto_models.UserPacket(payload=b"p"))
    decoded = packets.decode(packet.SerializeToString(), reliable=False)
    assert isinstance(decoded, packets.UserData)
    assert decoded.topic is None


def test_non_user_packets_are_passed_through_by_kind() -> None:
    packet = proto_models.DataPacket(
        participant_identity="caller", rpc_request=proto_models.RpcRequest(id="1", method="m")
    )
    decoded = packets.decode(packet.SerializeToString(), reliable=True)
    assert isinstance(decoded, packets.OtherPacket)
    assert (decoded.kind, decoded.sender_identity) == ("rpc_request", "caller")


def test_malformed_packet_raises_data_error() -> None:
    with pytest.raises(DataError, match="malformed data packet"):
        packets.decode(b"\x0a\xff", reliable=True)


@given(st.binary(max_size=256))
def test_any_bytes_decode_or_raise_data_error(data: bytes) -> None:
    try:
        decoded = packets.decode(data, reliable=True)
    except DataError:
        return
    assert isinstance(decoded, packets.UserData | packets.OtherPacket)


def test_sequencer_strictly_increases_from_one() -> None:
    seq = packets.ReliableSequencer()
    assert [seq.next() for _ in range(3)] == [1, 2, 3]


def test_duplicate_filter_drops_replays_per_sender_session() -> None:
    dup = packets.DuplicateFilter()
    assert dup.is_new("PA_a", 1)
    assert dup.is_new("PA_a", 2)
    assert not dup.is_new("PA_a", 2)
    assert not dup.is_new("PA_a", 1)
    assert dup.is_new("PA_b", 1)
    assert dup.is_new("PA_a", 0)
    assert dup.is_new("PA_a", 0)  # unsequenced packets are never duplicates
    dup.forget("PA_a")
    assert dup.is_new("PA_a", 1)


# protobuf's pure-Python implementation (32-bit ARM has no compiled wheel) raises
# UnicodeDecodeError, not DecodeError, for a string field that is not UTF-8.
PURE_PYTHON_CHECK = """
from google.protobuf.internal import api_implementation

from edge.errors import DataError, SignalError
from edge.protocol import packets
from tests.protocol.test_signal import frame, joined_session

assert api_implementation.Type() == "python", api_implementation.Type()
try:
    packets.decode(b'"\\x05\\x00\\x00\\x00\\x00\\x80', reliable=True)  # identity not UTF-8
except DataError as exc:
    print("data:", exc)
session = joined_session()
try:
    session.receive(frame(refresh_token="t").replace(b"t", b"\\x80"), 101)
except SignalError as exc:
    print("signal:", exc)
print("state:", session.state.name)
"""


def test_invalid_utf8_is_refused_cleanly_with_pure_python_protobuf() -> None:
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    found = subprocess.run(
        [sys.executable, "-c", PURE_PYTHON_CHECK],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0].startswith("data: malformed data packet (7 bytes)"), lines
    assert lines[1].startswith("signal: malformed signal message"), lines
    assert lines[2] == "state: JOINED"
