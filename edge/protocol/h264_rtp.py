"""H.264 access units to RTP packets (RFC 6184, packetization-mode 1), and their resending.

Sans-I/O: bytes in, bytes out. An Annex B access unit is split at its start codes; a NAL unit
that fits one packet goes alone or aggregated with its small neighbours (STAP-A), a larger one
in near-equal fragments (FU-A). Every packet of a frame shares the frame's 90 kHz timestamp and
header extensions; the last one carries the marker bit. `RtpHistory` keeps the latest packets,
bounded, so a receiver's NACK can be answered (RFC 4588 retransmission).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

MAX_PAYLOAD = 1300
"""Largest RTP payload in bytes (with headers, SRTP and UDP a packet stays under 1400)."""
STAP_A = 24
FU_A = 28
_START_CODE = b"\x00\x00\x01"
_HEADER = struct.Struct("!BBHII")
_FU_START, _FU_END = 0x80, 0x40
_NTP_UNIX_OFFSET_S = 2_208_988_800
"""Seconds from the NTP epoch (1900) to the Unix epoch (1970)."""


def split_annexb(access_unit: bytes) -> list[memoryview]:
    """The NAL units of an Annex B access unit, without start codes or trailing zeros.

    Raises ValueError when there is none (no start code, or only empty units).
    """
    view = memoryview(access_unit)
    units = []
    start = access_unit.find(_START_CODE)
    while start >= 0:
        start += 3
        following = access_unit.find(_START_CODE, start)
        end = len(access_unit) if following < 0 else following
        while end > start and access_unit[end - 1] == 0:
            end -= 1  # a NAL unit never ends in a zero byte: these belong to the next start code
        if end > start:
            units.append(view[start:end])
        start = following
    if not units:
        raise ValueError(f"no NAL unit in a {len(access_unit)}-byte access unit (not Annex B?)")
    return units


def header_extension(elements: Sequence[tuple[int, bytes]]) -> bytes:
    """An RTP header extension block (RFC 8285) of (id, value): one-byte form where it can."""
    if not elements:
        return b""
    one_byte = all(0 < i < 15 and 0 < len(v) <= 16 for i, v in elements)
    body = bytearray()
    for ext_id, value in elements:
        if not (0 < ext_id < 256 and len(value) < 256):
            raise ValueError(f"header extension {ext_id} of {len(value)} bytes cannot be encoded")
        if one_byte:
            body += bytes(((ext_id << 4) | (len(value) - 1),)) + value
        else:
            body += bytes((ext_id, len(value))) + value
    body += b"\x00" * (-len(body) % 4)
    profile = 0xBEDE if one_byte else 0x1000
    return struct.pack("!HH", profile, len(body) // 4) + bytes(body)


def abs_send_time(unix_time_s: float) -> int:
    """The abs-send-time extension's value: NTP seconds in 6.18 fixed point, 24 bits."""
    return int((unix_time_s + _NTP_UNIX_OFFSET_S) * (1 << 18)) & 0xFFFFFF


def ntp_time(unix_time_s: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point) of a Unix time, as RTCP sender reports carry."""
    return int((unix_time_s + _NTP_UNIX_OFFSET_S) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


@dataclass(frozen=True, slots=True)
class StreamIds:
    """What identifies the packets of one negotiated video stream."""

    payload_type: int
    ssrc: int
    mid: str | None = None
    """The m-line's mid, sent in the `sdes:mid` extension when that has an id."""
    mid_id: int = 0
    """Negotiated id of the `sdes:mid` extension (0: not negotiated)."""
    abs_send_time_id: int = 0
    """Negotiated id of the `abs-send-time` extension (0: not negotiated)."""

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type < 128:
            raise ValueError(f"RTP payload type {self.payload_type} is not 0-127")
        if not 0 <= self.ssrc < 1 << 32:
            raise ValueError(f"SSRC {self.ssrc} is not a 32-bit value")


class H264Packetizer:
    """Numbers and packetises the access units of one stream (RTP timestamps at 90 kHz)."""

    def __init__(
        self,
        ids: StreamIds,
        *,
        first_sequence: int,
        timestamp_origin: int,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        if max_payload < 16:
            raise ValueError(f"max_payload {max_payload} leaves no room for a fragment")
        self.ids = ids
        self.sequence = first_sequence & 0xFFFF
        """The sequence number of the next packet."""
        self._origin = timestamp_origin & 0xFFFFFFFF
        self._max = max_payload
        self.payload_octets = 0
        """Payload bytes of the latest access unit's packets (sender reports count these)."""
        self._mid = [(ids.mid_id, ids.mid.encode())] if ids.mid_id and ids.mid is not None else []

    def timestamp(self, pts_us: int) -> int:
        """The 90 kHz RTP timestamp of a frame `pts_us` microseconds into the stream."""
        return (self._origin + pts_us * 9 // 100) & 0xFFFFFFFF

    def packetize(self, access_unit: bytes, pts_us: int, *, send_time_s: float) -> list[bytes]:
        """The RTP packets of one access unit; raises ValueError if it holds no NAL unit."""
        payloads = self._payloads(split_annexb(access_unit))
        elements = list(self._mid)
        if self.ids.abs_send_time_id:
            value = abs_send_time(send_time_s).to_bytes(3, "big")
            elements.append((self.ids.abs_send_time_id, value))
        extension = header_extension(elements)
        first = 0x90 if extension else 0x80
        pt, ssrc, timestamp = self.ids.payload_type, self.ids.ssrc, self.timestamp(pts_us)
        seq = self.sequence
        last = len(payloads) - 1
        packets = []
        pack = _HEADER.pack
        join = b"".join
        for i, chunks in enumerate(payloads):
            header = pack(first, pt | 0x80 if i == last else pt, seq, timestamp, ssrc)
            packets.append(join((header, extension, *chunks)))
            seq = (seq + 1) & 0xFFFF
        self.sequence = seq
        self.payload_octets = sum(map(len, packets)) - len(packets) * (12 + len(extension))
        return packets

    def _payloads(self, units: list[memoryview]) -> list[tuple[bytes | memoryview, ...]]:
        """Each packet's payload as the pieces to concatenate."""
        limit = self._max
        out: list[tuple[bytes | memoryview, ...]] = []
        group: list[memoryview] = []
        size = 1  # the STAP-A header
        for unit in units:
            if len(unit) > limit:
                out.extend(_stap_a(group))
                group, size = [], 1
                out.extend(_fu_a(unit, limit))
            elif size + 2 + len(unit) > limit:
                out.extend(_stap_a(group))
                group, size = [unit], 3 + len(unit)
            else:
                group.append(unit)
                size += 2 + len(unit)
        out.extend(_stap_a(group))
        return out


def _stap_a(group: list[memoryview]) -> list[tuple[bytes | memoryview, ...]]:
    """One packet of these NAL units: a single NAL unit packet, or a STAP-A of several."""
    if not group:
        return []
    if len(group) == 1:
        return [(group[0],)]
    forbidden = max(unit[0] & 0x80 for unit in group)
    nri = max(unit[0] & 0x60 for unit in group)
    pieces: list[bytes | memoryview] = [bytes((forbidden | nri | STAP_A,))]
    for unit in group:
        pieces.append(len(unit).to_bytes(2, "big"))
        pieces.append(unit)
    return [tuple(pieces)]


def _fu_a(unit: memoryview, limit: int) -> list[tuple[bytes | memoryview, ...]]:
    """FU-A fragments of one NAL unit, payloads of near-equal size (differing by at most 1)."""
    header = unit[0]
    indicator = (header & 0xE0) | FU_A
    kind = header & 0x1F
    body = unit[1:]
    count = -(-len(body) // (limit - 2))
    base, larger = divmod(len(body), count)
    out: list[tuple[bytes | memoryview, ...]] = []
    offset = 0
    for i in range(count):
        size = base + (1 if i < larger else 0)
        flags = (_FU_START if i == 0 else 0) | (_FU_END if i == count - 1 else 0)
        out.append((bytes((indicator, flags | kind)), body[offset : offset + size]))
        offset += size
    return out


class RtpHistory:
    """The latest `size` packets sent, by sequence number, to answer NACKs (RFC 4585).

    Bounded: a slot per `sequence % size`, overwritten as the stream goes on, so a NACK for a
    packet older than `size` packets finds nothing. Retransmissions go out on the RTX stream
    (RFC 4588) when one was negotiated, else as the original packet.
    """

    def __init__(self, size: int, *, rtx: StreamIds | None, rtx_first_sequence: int) -> None:
        if size < 1 or size & (size - 1) or size > 1 << 16:
            raise ValueError(f"history size {size} is not a power of two up to 65536")
        self._size = size
        self._slots: list[bytes | None] = [None] * size
        self._rtx = rtx
        self.rtx_sequence = rtx_first_sequence & 0xFFFF
        """The sequence number of the next RTX packet."""

    def add(self, packets: Sequence[bytes]) -> None:
        """Remember packets just sent (plain RTP, before SRTP)."""
        slots, mask = self._slots, self._size - 1
        for packet in packets:
            slots[((packet[2] << 8) | packet[3]) & mask] = packet

    def retransmission(self, sequence: int) -> bytes | None:
        """The packet to resend for a NACKed sequence number; None if it is no longer held."""
        packet = self._slots[sequence & (self._size - 1)]
        if packet is None or (packet[2] << 8) | packet[3] != sequence:
            return None
        if self._rtx is None:
            return packet
        header_len = _header_length(packet)
        header = _HEADER.pack(
            packet[0],
            (packet[1] & 0x80) | self._rtx.payload_type,
            self.rtx_sequence,
            int.from_bytes(packet[4:8], "big"),
            self._rtx.ssrc,
        )
        self.rtx_sequence = (self.rtx_sequence + 1) & 0xFFFF
        return b"".join(
            (header, packet[12:header_len], packet[2:4], memoryview(packet)[header_len:])
        )


def _header_length(packet: bytes) -> int:
    """Fixed header, CSRCs and extension block of an RTP packet."""
    length = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        length += 4 + 4 * int.from_bytes(packet[length + 2 : length + 4], "big")
    return length
