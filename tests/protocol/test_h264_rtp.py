"""H.264 packetisation (RFC 6184 mode 1) and the NACK history, against an independent reader."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.protocol.h264_rtp import (
    H264Packetizer,
    RtpHistory,
    StreamIds,
    abs_send_time,
    header_extension,
    split_annexb,
)

IDS = StreamIds(payload_type=102, ssrc=0x11223344, mid="0", mid_id=1, abs_send_time_id=3)


def escape(body: bytes) -> bytes:
    """A NAL unit body as an encoder writes it: no start-code emulation, last byte non-zero."""
    out = bytearray()
    zeros = 0
    for byte in body:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if not out or out[-1] == 0:
        out.append(0x80)
    return bytes(out)


@st.composite
def nal_units(draw: st.DrawFn) -> bytes:
    nri = draw(st.integers(0, 3))
    kind = draw(st.integers(1, 23))
    body = escape(draw(st.binary(max_size=700)))
    return bytes(((nri << 5) | kind,)) + body


@st.composite
def access_units(draw: st.DrawFn) -> tuple[list[bytes], bytes]:
    units = draw(st.lists(nal_units(), min_size=1, max_size=6))
    stream = b"".join(
        draw(st.sampled_from([b"\x00\x00\x01", b"\x00\x00\x00\x01"])) + u for u in units
    )
    return units, stream


class Parsed:
    """One RTP packet read field by field (written independently of the packetiser)."""

    def __init__(self, packet: bytes) -> None:
        first, second, self.seq, self.ts, self.ssrc = struct.unpack_from("!BBHII", packet)
        assert first >> 6 == 2, "RTP version 2"
        assert first & 0x20 == 0, "no padding"
        self.marker = bool(second & 0x80)
        self.pt = second & 0x7F
        offset = 12 + 4 * (first & 0x0F)
        self.extensions: dict[int, bytes] = {}
        if first & 0x10:
            profile, words = struct.unpack_from("!HH", packet, offset)
            assert profile == 0xBEDE
            block = packet[offset + 4 : offset + 4 + 4 * words]
            i = 0
            while i < len(block):
                if block[i] == 0:
                    i += 1
                    continue
                ext_id, length = block[i] >> 4, (block[i] & 0x0F) + 1
                self.extensions[ext_id] = block[i + 1 : i + 1 + length]
                i += 1 + length
            offset += 4 + 4 * words
        self.payload = packet[offset:]


def reassemble(payloads: list[bytes]) -> list[bytes]:
    """NAL units back from single-NAL, STAP-A and FU-A payloads, in order."""
    units: list[bytes] = []
    fragment: bytearray | None = None
    for payload in payloads:
        kind = payload[0] & 0x1F
        if kind == 24:
            i = 1
            while i < len(payload):
                (size,) = struct.unpack_from("!H", payload, i)
                units.append(payload[i + 2 : i + 2 + size])
                i += 2 + size
            assert i == len(payload)
        elif kind == 28:
            start, end = payload[1] & 0x80, payload[1] & 0x40
            if start:
                assert fragment is None
                fragment = bytearray(((payload[0] & 0xE0) | (payload[1] & 0x1F),))
            assert fragment is not None
            fragment += payload[2:]
            if end:
                units.append(bytes(fragment))
                fragment = None
        else:
            assert fragment is None
            units.append(payload)
    assert fragment is None, "an FU-A without its end fragment"
    return units


@settings(max_examples=150, deadline=None)
@given(
    frames=st.lists(access_units(), min_size=1, max_size=5),
    first_sequence=st.sampled_from([0, 65_530, 65_535, 12_345]),
    origin=st.sampled_from([0, 0xFFFF_FF00, 777]),
    max_payload=st.integers(16, 1300),
)
def test_any_access_unit_comes_back_from_its_packets(
    frames: list[tuple[list[bytes], bytes]], first_sequence: int, origin: int, max_payload: int
) -> None:
    packetizer = H264Packetizer(
        IDS, first_sequence=first_sequence, timestamp_origin=origin, max_payload=max_payload
    )
    expected_seq = first_sequence
    for index, (units, stream) in enumerate(frames):
        pts_us = index * 40_000  # 25 fps
        packets = [Parsed(p) for p in packetizer.packetize(stream, pts_us, send_time_s=1e9)]
        assert reassemble([p.payload for p in packets]) == units
        assert [p.marker for p in packets] == [False] * (len(packets) - 1) + [True]
        for packet in packets:
            assert packet.seq == expected_seq
            expected_seq = (expected_seq + 1) % 65_536
            assert packet.ts == (origin + index * 3_600) % 2**32  # 90 kHz
            assert (packet.pt, packet.ssrc) == (102, 0x11223344)
            assert len(packet.payload) <= max_payload
            assert packet.extensions[1] == b"0"
            assert packet.extensions[3] == abs_send_time(1e9).to_bytes(3, "big")
        fu_sizes = [len(p.payload) for p in packets if p.payload[0] & 0x1F == 28]
        if fu_sizes:
            assert max(fu_sizes) - min(fu_sizes) <= 1 or len(units) > 1
        assert packetizer.payload_octets == sum(len(p.payload) for p in packets)
    assert packetizer.sequence == expected_seq


def test_small_units_share_a_stap_a_and_a_large_one_is_fragmented() -> None:
    sps, pps = b"\x67" + b"\x42" * 10, b"\x68" + b"\xce" * 4
    idr = b"\x65" + bytes(range(1, 251)) * 12  # 3001 bytes
    stream = b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps + b"\x00\x00\x01" + idr
    packetizer = H264Packetizer(IDS, first_sequence=65_535, timestamp_origin=0, max_payload=1200)
    packets = [Parsed(p) for p in packetizer.packetize(stream, 0, send_time_s=0.0)]
    kinds = [p.payload[0] & 0x1F for p in packets]
    assert kinds == [24, 28, 28, 28]
    assert packets[0].payload[0] == 0x60 | 24  # the highest NRI of the two
    assert [p.payload[1] & 0xC0 for p in packets[1:]] == [0x80, 0x00, 0x40]  # start, -, end
    assert [p.seq for p in packets] == [65_535, 0, 1, 2]
    assert [len(p.payload) - 2 for p in packets[1:]] == [1000, 1000, 1000]


def test_without_negotiated_extensions_the_header_is_the_fixed_twelve_bytes() -> None:
    ids = StreamIds(payload_type=96, ssrc=1)
    packetizer = H264Packetizer(ids, first_sequence=0, timestamp_origin=0)
    (packet,) = packetizer.packetize(b"\x00\x00\x01\x41\x9a", 0, send_time_s=0.0)
    assert packet == bytes((0x80, 0x80 | 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x41, 0x9A))


def test_an_access_unit_without_a_start_code_is_refused() -> None:
    with pytest.raises(ValueError, match="no NAL unit in a 4-byte access unit"):
        split_annexb(b"\x65\x88\x84\x00")
    with pytest.raises(ValueError, match="no NAL unit"):
        split_annexb(b"\x00\x00\x01\x00\x00\x00\x01")


def test_trailing_zeros_before_a_start_code_are_not_part_of_the_unit() -> None:
    units = split_annexb(b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x00\x01\x68\xce")
    assert [bytes(u) for u in units] == [b"\x67\x42", b"\x68\xce"]


def test_header_extensions_fall_back_to_two_bytes_for_a_long_value() -> None:
    assert header_extension([(1, b"0")]) == b"\xbe\xde\x00\x01\x10\x30\x00\x00"
    block = header_extension([(1, b"x" * 17)])
    assert block[:6] == b"\x10\x00\x00\x05\x01\x11"
    with pytest.raises(ValueError, match="header extension 1 of 256 bytes"):
        header_extension([(1, b"x" * 256)])


def test_stream_ids_are_checked() -> None:
    with pytest.raises(ValueError, match="payload type 128"):
        StreamIds(payload_type=128, ssrc=1)
    with pytest.raises(ValueError, match="SSRC"):
        StreamIds(payload_type=96, ssrc=1 << 32)


# -- NACK history -------------------------------------------------------------------------

RTX = StreamIds(payload_type=103, ssrc=0x55667788)


def sent(count: int, *, first: int) -> list[bytes]:
    packetizer = H264Packetizer(IDS, first_sequence=first, timestamp_origin=90_000, max_payload=100)
    unit = b"\x00\x00\x01\x65" + bytes(range(1, 200)) * ((count * 98) // 199 + 1)
    packets = packetizer.packetize(unit, 0, send_time_s=5.0)
    assert len(packets) >= count
    return packets[:count]


def test_a_nacked_packet_goes_out_on_the_rtx_stream_with_its_original_sequence() -> None:
    packets = sent(10, first=65_530)
    history = RtpHistory(16, rtx=RTX, rtx_first_sequence=65_535)
    history.add(packets)
    original = Parsed(packets[7])  # sequence 1, after the wrap
    assert original.seq == 1
    first, second = history.retransmission(1), history.retransmission(65_531)
    assert first is not None
    assert second is not None
    rtx = Parsed(first)
    assert (rtx.pt, rtx.ssrc, rtx.seq, rtx.ts) == (103, 0x55667788, 65_535, original.ts)
    assert rtx.extensions == original.extensions
    assert rtx.payload == struct.pack("!H", 1) + original.payload
    assert rtx.marker == original.marker
    assert Parsed(second).seq == 0  # the RTX stream numbers its own packets, wrapping
    assert Parsed(second).payload[:2] == struct.pack("!H", 65_531)


def test_without_rtx_the_original_packet_is_resent() -> None:
    packets = sent(3, first=100)
    history = RtpHistory(8, rtx=None, rtx_first_sequence=0)
    history.add(packets)
    assert history.retransmission(101) == packets[1]


def test_the_history_is_bounded_and_forgets_what_was_overwritten() -> None:
    packets = sent(40, first=0)
    history = RtpHistory(32, rtx=None, rtx_first_sequence=0)
    history.add(packets)
    assert history.retransmission(7) is None  # slot 7 now holds sequence 39
    assert history.retransmission(8) == packets[8]
    assert history.retransmission(39) == packets[39]
    assert history.retransmission(40) is None  # never sent
    assert RtpHistory(4, rtx=None, rtx_first_sequence=0).retransmission(0) is None


def test_history_size_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="history size 100"):
        RtpHistory(100, rtx=None, rtx_first_sequence=0)
