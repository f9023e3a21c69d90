"""Inbound SCTP reassembly for aiortc: ordered messages in SSN order, whatever their TSN order.

aiortc's `InboundStream` keeps a stream's chunks sorted by TSN and stops at the first one
that does not carry the next expected stream sequence number (SSN). A sender may assign TSNs
in another order than SSNs (RFC 4960 section 6.6; livekit-server's SCTP does so when several
participants' messages for us are interleaved): with TSN 100/SSN 1 then TSN 101/SSN 0 the
expected message is received but never delivered, and everything after it piles up. The
channel is deaf until the association goes away (see `docs/sctp-ordered-delivery.md`).

`StreamReassembly` replaces it, with the same interface aiortc 1.9 to 1.16 use:

- a message is a run of consecutive TSNs from a B(eginning) to an E(nd) fragment, all with
  the same U(nordered) flag and, when ordered, the same SSN;
- an unordered message is delivered as soon as it is complete;
- an ordered one when its SSN is the next expected (serial arithmetic modulo 2^16); complete
  ones that are early wait by SSN; one that is late (a FORWARD TSN skipped its SSN) goes at once;
- `sequence_number` never moves backwards (older aiortc sets it from every FORWARD TSN);
- `prune_chunks(tsn)` drops fragments at or before a FORWARD TSN's cumulative TSN, except a
  message received without a gap up to it (RFC 3758 section 3.6), and returns the bytes freed.

Memory: a conforming peer never has more than our advertised window (aiortc: 1 MiB) held
here. Past `MAX_HELD_BYTES` or `MAX_HELD_CHUNKS` the stream is *overflowed*: what it holds is
dropped, later chunks are dropped, and `overflowed` tells the room's liveness guard, which
ends the session (a new one gets a new association).

`install()` makes aiortc's transports build this class (`rtcsctptransport.InboundStream` is
looked up each time `RTCSctpTransport._get_inbound_stream` creates a stream).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from typing import Any, Protocol

_LOGGER = logging.getLogger(__name__)

FLAG_END = 0x01
"""DATA chunk flags (RFC 4960 section 3.3.1): E, the last fragment of a message."""
FLAG_BEGIN = 0x02
"""B, the first fragment."""
FLAG_UNORDERED = 0x04
"""U, delivered without regard to the SSN."""

MAX_HELD_BYTES = 2 * 1024 * 1024
"""User data one stream may hold undelivered (twice aiortc's advertised window)."""
MAX_HELD_CHUNKS = 16_384
"""Fragments plus complete early messages one stream may hold (its window in 64-byte chunks)."""

_SSN_MODULO = 1 << 16
_TSN_MODULO = 1 << 32

Message = tuple[int, int, bytes]
"""(stream id, payload protocol identifier, user data), as aiortc delivers it."""


class DataChunk(Protocol):
    """The fields of aiortc's `DataChunk` used here."""

    flags: int
    tsn: int
    stream_id: int
    stream_seq: int
    protocol: int
    user_data: bytes


def ssn_before(a: int, b: int) -> bool:
    """Whether SSN `a` precedes `b` (serial number arithmetic, RFC 1982, modulo 2^16)."""
    return a != b and (b - a) % _SSN_MODULO < _SSN_MODULO // 2


def tsn_at_or_before(a: int, b: int) -> bool:
    """Whether TSN `a` is `b` or precedes it (modulo 2^32)."""
    return (b - a) % _TSN_MODULO < _TSN_MODULO // 2


class StreamReassembly:
    """One inbound SCTP stream of an association: fragments in, whole messages out."""

    def __init__(self, *, first_ssn: int = 0) -> None:
        self._expected = first_ssn % _SSN_MODULO
        self._fragments: dict[int, DataChunk] = {}
        """Chunks of incomplete messages, by TSN."""
        self._early: dict[int, Message] = {}
        """Complete ordered messages waiting for an earlier SSN, by SSN."""
        self._ready: deque[Message] = deque()
        self.held_bytes = 0
        """User data received and not yet delivered."""
        self.delivered = 0
        """Messages delivered so far."""
        self.dropped = 0
        """Chunks dropped: duplicate SSNs, or anything after an overflow."""
        self.waited = 0
        """Complete ordered messages that had to wait for an earlier SSN (out of TSN order,
        or behind a message still missing a chunk)."""
        self.overflowed = False

    @property
    def held(self) -> int:
        """Fragments and complete messages received and not yet delivered."""
        return len(self._fragments) + len(self._early) + len(self._ready)

    @property
    def blocked(self) -> int:
        """Ordered fragments and messages held: what waits for something else to arrive
        (unordered fragments wait only for their own message, or its FORWARD TSN)."""
        ordered = sum(1 for c in self._fragments.values() if not c.flags & FLAG_UNORDERED)
        return ordered + len(self._early)

    @property
    def sequence_number(self) -> int:
        """The next SSN to deliver."""
        return self._expected

    @sequence_number.setter
    def sequence_number(self, value: int) -> None:
        if ssn_before(value, self._expected):
            return  # a FORWARD TSN reporting a message again never moves it backwards
        self._expected = value % _SSN_MODULO
        late = sorted(
            (s for s in self._early if ssn_before(s, self._expected)),
            key=lambda s: (s - self._expected) % _SSN_MODULO,
        )
        self._ready.extend(self._early.pop(s) for s in late)
        self._release_in_order()

    def add_chunk(self, chunk: DataChunk) -> None:
        """Take a DATA chunk aiortc has not seen before (it filters duplicate TSNs)."""
        if self.overflowed:
            self.dropped += 1
            return
        self._fragments[chunk.tsn] = chunk
        self.held_bytes += len(chunk.user_data)
        run = self._message_of(chunk)
        if run is not None:
            first = self._fragments[run[0]]
            data = b"".join(self._fragments.pop(tsn).user_data for tsn in run)
            self._complete(first, (chunk.stream_id, first.protocol, data))
        if self.held_bytes > MAX_HELD_BYTES or self.held > MAX_HELD_CHUNKS:
            self._overflow()

    def pop_messages(self) -> Iterator[Message]:
        """Deliverable messages, in delivery order."""
        while self._ready:
            message = self._ready.popleft()
            self.held_bytes -= len(message[2])
            self.delivered += 1
            yield message

    def prune_chunks(self, tsn: int) -> int:
        """Drop fragments at or before a FORWARD TSN's cumulative `tsn`; return bytes freed.

        A message received without a gap up to `tsn` that continues after it is kept.
        """
        keep: set[int] = set()
        last = self._fragments.get(tsn)
        if last is not None and not last.flags & FLAG_END:
            run = self._run_back(last)
            if run is not None:
                keep.update(run)
        freed = 0
        for t in [t for t in self._fragments if tsn_at_or_before(t, tsn) and t not in keep]:
            freed += len(self._fragments.pop(t).user_data)
        self.held_bytes -= freed
        return freed

    # -- internals --------------------------------------------------------------------------

    def _complete(self, first: DataChunk, message: Message) -> None:
        if first.flags & FLAG_UNORDERED:
            self._ready.append(message)
            return
        ssn = first.stream_seq
        if ssn == self._expected:
            self._ready.append(message)
            self._expected = (ssn + 1) % _SSN_MODULO
            self._release_in_order()
        elif ssn_before(ssn, self._expected):
            self._ready.append(message)  # its SSN was skipped by a FORWARD TSN: late, not lost
        elif ssn in self._early:
            _LOGGER.warning("SCTP stream %d: SSN %d received twice; dropped", message[0], ssn)
            self.held_bytes -= len(message[2])
            self.dropped += 1
        else:
            self._early[ssn] = message
            self.waited += 1

    def _release_in_order(self) -> None:
        while (message := self._early.pop(self._expected, None)) is not None:
            self._ready.append(message)
            self._expected = (self._expected + 1) % _SSN_MODULO

    def _message_of(self, chunk: DataChunk) -> list[int] | None:
        """The TSNs of the complete message `chunk` belongs to, None while incomplete."""
        tsns = []
        end = chunk
        while not end.flags & FLAG_END:  # forward first: cheap while fragments arrive in order
            following = self._fragments.get((end.tsn + 1) % _TSN_MODULO)
            if following is None or following.flags & FLAG_BEGIN or not _same(following, chunk):
                return None
            end = following
            tsns.append(end.tsn)
        run = self._run_back(chunk)
        return None if run is None else run + tsns

    def _run_back(self, chunk: DataChunk) -> list[int] | None:
        """TSNs from the first fragment of `chunk`'s message up to `chunk`, None if a gap."""
        tsns = [chunk.tsn]
        start = chunk
        while not start.flags & FLAG_BEGIN:
            previous = self._fragments.get((start.tsn - 1) % _TSN_MODULO)
            if previous is None or previous.flags & FLAG_END or not _same(previous, chunk):
                return None
            start = previous
            tsns.append(start.tsn)
        tsns.reverse()
        return tsns

    def _overflow(self) -> None:
        self.overflowed = True
        dropped = len(self._fragments) + len(self._early)
        _LOGGER.error(
            "SCTP stream: %d byte(s) in %d chunk(s) held undelivered, over the bound "
            "(%d bytes, %d chunks); the stream drops everything from now on",
            self.held_bytes,
            self.held,
            MAX_HELD_BYTES,
            MAX_HELD_CHUNKS,
        )
        self.dropped += dropped
        self._fragments.clear()
        self._early.clear()
        self.held_bytes = sum(len(m[2]) for m in self._ready)


def _same(a: DataChunk, b: DataChunk) -> bool:
    """Whether two chunks may be fragments of one message."""
    if (a.flags ^ b.flags) & FLAG_UNORDERED:
        return False
    return bool(a.flags & FLAG_UNORDERED) or a.stream_seq == b.stream_seq


def install() -> None:
    """Make every aiortc SCTP transport created from now on use `StreamReassembly`. Idempotent."""
    from aiortc import rtcsctptransport

    rtcsctptransport.InboundStream = StreamReassembly  # type: ignore[misc,assignment]


def inbound_streams(sctp_transport: Any) -> dict[int, StreamReassembly]:
    """The inbound streams of an aiortc `RTCSctpTransport` (empty when not ours)."""
    streams = getattr(sctp_transport, "_inbound_streams", {})
    return {k: s for k, s in streams.items() if isinstance(s, StreamReassembly)}
