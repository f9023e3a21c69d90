"""DataPacket envelope: encode our user packets, decode what arrives on the data channels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from livekit.protocol import models as proto_models

from edge.errors import DataError

MAX_PACKET_BYTES = 16_384
"""Largest encoded DataPacket we send at all: an RPC with a full 15 360-byte payload fits.

Peers accept up to min(SCTP max-message-size, 64 000) bytes, as the official SDKs send."""
MAX_USER_PACKET_BYTES = 15_000
"""Largest user data packet or stream header: LiveKit's documented guidance."""
MAX_TOPIC_BYTES = 256
LOSSY_ADVISED_BYTES = 1_200
"""Above this a lossy packet spans several SCTP chunks and is lost if any one of them is."""


@dataclass(frozen=True, slots=True)
class UserData:
    """A user data packet from a remote participant."""

    sender_identity: str
    """Identity stamped by the server (never taken from the payload)."""
    sender_sid: str
    payload: bytes
    topic: str | None
    reliable: bool
    """Whether it came over the reliable channel."""
    sequence: int
    """The sender's reliable sequence number (0 = unsequenced)."""


@dataclass(frozen=True, slots=True)
class OtherPacket:
    """A packet of a kind handled elsewhere (RPC, streams, ...): decoded, not interpreted."""

    kind: str
    """The DataPacket `value` oneof name, e.g. `rpc_request`."""
    sender_identity: str
    packet: proto_models.DataPacket


Packet = UserData | OtherPacket


class ReliableSequencer:
    """Stamps reliable packets with a per-session sequence that strictly increases from 1."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """The next sequence number."""
        self._last += 1
        return self._last


class DuplicateFilter:
    """Drops reliable packets already seen from the same sender session (by sid and sequence)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def is_new(self, sender_sid: str, sequence: int) -> bool:
        """True unless `sequence` was already seen from `sender_sid`; 0 is never a duplicate."""
        if sequence == 0 or not sender_sid:
            return True
        if sequence <= self._last.get(sender_sid, 0):
            return False
        self._last[sender_sid] = sequence
        return True

    def forget(self, sender_sid: str) -> None:
        """Drop state for a participant session that ended."""
        self._last.pop(sender_sid, None)


def encode_user(
    payload: bytes,
    *,
    topic: str | None = None,
    reliable: bool = True,
    destination_identities: Sequence[str] = (),
    sequence: int = 0,
) -> bytes:
    """Serialize a user packet; raise `DataError` if it is too large to send."""
    if topic is not None and len(topic.encode()) > MAX_TOPIC_BYTES:
        raise DataError(f"topic is {len(topic.encode())} bytes; the limit is {MAX_TOPIC_BYTES}")
    user = proto_models.UserPacket(payload=payload)
    if topic is not None:
        user.topic = topic
    packet = proto_models.DataPacket(
        kind=proto_models.DataPacket.RELIABLE if reliable else proto_models.DataPacket.LOSSY,
        user=user,
        destination_identities=list(destination_identities),
        sequence=sequence if reliable else 0,
    )
    return checked_size(packet.SerializeToString(), limit=MAX_USER_PACKET_BYTES)


def checked_size(data: bytes, *, limit: int = MAX_PACKET_BYTES) -> bytes:
    """`data` unchanged if it is at most `limit` bytes; raise `DataError` otherwise."""
    if len(data) > limit:
        raise DataError(
            f"data packet is {len(data)} bytes encoded; the limit is {limit} "
            "(send larger payloads as a byte stream)"
        )
    return data


def decode(data: bytes, *, reliable: bool) -> Packet:
    """Parse one data-channel message; raise `DataError` if it is not a DataPacket."""
    packet = proto_models.DataPacket()
    try:
        packet.ParseFromString(data)
    except (DecodeError, UnicodeDecodeError) as exc:  # the latter: pure-Python protobuf
        raise DataError(f"malformed data packet ({len(data)} bytes): {exc}") from exc
    kind = packet.WhichOneof("value")
    if kind == "user":
        user = packet.user
        return UserData(
            sender_identity=packet.participant_identity or user.participant_identity,
            sender_sid=packet.participant_sid or user.participant_sid,
            payload=user.payload,
            topic=user.topic if user.HasField("topic") else None,
            reliable=reliable,
            sequence=packet.sequence,
        )
    return OtherPacket(
        kind=kind or "empty", sender_identity=packet.participant_identity, packet=packet
    )
