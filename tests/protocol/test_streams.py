"""Data streams without I/O: chunking what we send, reassembling what arrives, limits, faults."""

from __future__ import annotations

import logging
import subprocess
import sys
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.protocol import models as proto_models

from edge.errors import DataError
from edge.protocol import streams
from edge.protocol.packets import MAX_PACKET_BYTES
from edge.protocol.stream_reassembler import (
    Failure,
    StreamChunk,
    StreamCompleted,
    StreamEvent,
    StreamFailed,
    StreamLimits,
    StreamOpened,
    StreamReassembler,
    StreamRejected,
)

Packet = proto_models.DataPacket
DS = proto_models.DataStream
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Sizes around the chunk boundary matter most; the rest are spread up to a few chunks.
sizes = st.one_of(st.integers(0, 200), st.integers(14_900, 15_100), st.integers(0, 50_000))
# Text heavy in multi-byte characters (2-, 3- and 4-byte UTF-8) so chunk cuts land inside them.
_pieces = st.text(alphabet=st.sampled_from("aé€😀中\n"), max_size=40)
texts = st.one_of(_pieces, st.builds(lambda piece, n: piece * n, _pieces, st.integers(1, 1_500)))


def byte_packets(data: bytes, **options: object) -> list[Packet]:
    defaults: dict[str, object] = {"stream_id": "s1", "timestamp_ms": 1_700_000_000_000}
    return streams.byte_stream_packets(data, **{**defaults, **options})  # type: ignore[arg-type]


def text_packets(text: str, **options: object) -> list[Packet]:
    defaults: dict[str, object] = {"stream_id": "s1", "timestamp_ms": 1_700_000_000_000}
    return streams.text_stream_packets(text, **{**defaults, **options})  # type: ignore[arg-type]


def feed(
    reassembler: StreamReassembler, packets: list[Packet], sender: str = "alice", now: float = 0.0
) -> list[StreamEvent]:
    return [e for p in packets for e in reassembler.receive(p, sender, now)]


def completed(events: list[StreamEvent]) -> StreamCompleted:
    [done] = [e for e in events if isinstance(e, StreamCompleted)]
    return done


def failure(events: list[StreamEvent]) -> Failure:
    [failed] = [e for e in events if isinstance(e, StreamFailed | StreamRejected)]
    return failed.reason


def header(
    stream_id: str = "s1", topic: str = "t", total: int | None = None, **kw: object
) -> Packet:
    h = DS.Header(stream_id=stream_id, topic=topic, byte_header=DS.ByteHeader(name="f"), **kw)  # type: ignore[arg-type]
    if total is not None:
        h.total_length = total
    return Packet(stream_header=h)


def chunk(index: int, content: bytes, stream_id: str = "s1") -> Packet:
    return Packet(stream_chunk=DS.Chunk(stream_id=stream_id, chunk_index=index, content=content))


def trailer(stream_id: str = "s1", reason: str = "", **attributes: str) -> Packet:
    return Packet(
        stream_trailer=DS.Trailer(stream_id=stream_id, reason=reason, attributes=attributes)
    )


# --- what we send -------------------------------------------------------------------------


@SLOW
@given(size=sizes)
def test_byte_stream_is_header_contiguous_chunks_and_trailer_within_the_packet_limit(
    size: int,
) -> None:
    data = bytes(i % 251 for i in range(size))
    packets = byte_packets(
        data,
        topic="photos",
        name="a.jpg",
        mime_type="image/jpeg",
        attributes={"k": "v"},
        destination_identities=["viewer"],
    )
    kinds = [p.WhichOneof("value") for p in packets]
    assert kinds == ["stream_header", *["stream_chunk"] * (len(packets) - 2), "stream_trailer"]
    h = packets[0].stream_header
    assert (h.stream_id, h.topic, h.mime_type, h.byte_header.name) == (
        "s1",
        "photos",
        "image/jpeg",
        "a.jpg",
    )
    assert h.total_length == size
    assert h.HasField("total_length")
    assert dict(h.attributes) == {"k": "v"}
    chunks = [p.stream_chunk for p in packets[1:-1]]
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert b"".join(c.content for c in chunks) == data
    assert all(0 < len(c.content) <= streams.MAX_CHUNK_BYTES for c in chunks)
    for p in packets:
        assert list(p.destination_identities) == ["viewer"]
        p.sequence = 2**32 - 1  # the largest sequence the room can stamp still fits
        assert p.ByteSize() <= MAX_PACKET_BYTES


@SLOW
@given(text=texts)
def test_text_chunks_are_each_valid_utf8_and_join_to_the_text(text: str) -> None:
    packets = text_packets(text, reply_to_stream_id="r0")
    h = packets[0].stream_header
    assert h.mime_type == "text/plain"
    assert h.WhichOneof("content_header") == "text_header"
    assert h.text_header.operation_type == DS.CREATE
    assert h.text_header.reply_to_stream_id == "r0"
    assert h.total_length == len(text.encode())
    pieces = [p.stream_chunk.content.decode("utf-8") for p in packets[1:-1]]  # strict: no cut
    assert "".join(pieces) == text


def test_split_utf8_never_cuts_a_character_and_cuts_non_utf8_anywhere() -> None:
    assert list(streams.split_utf8("€€".encode(), 4)) == ["€".encode(), "€".encode()]
    assert list(streams.split_utf8(b"\x80" * 5, 2)) == [b"\x80\x80", b"\x80\x80", b"\x80"]


def test_an_empty_payload_is_a_header_with_zero_length_and_a_trailer() -> None:
    packets = byte_packets(b"")
    assert [p.WhichOneof("value") for p in packets] == ["stream_header", "stream_trailer"]
    assert packets[0].stream_header.HasField("total_length")
    assert completed(feed(StreamReassembler(collect=True), packets)).data == b""


def test_a_header_over_15000_bytes_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(DataError, match=r"stream header is \d+ bytes encoded .*limit is 15000"):
        byte_packets(b"x", attributes={"big": "v" * 15_000})


def test_incremental_stream_has_no_total_length_and_counts_what_was_written() -> None:
    stream = streams.outgoing_bytes(stream_id="s1", timestamp_ms=0, name="log.txt")
    assert not stream.header().stream_header.HasField("total_length")
    packets = [stream.header(), *stream.chunks(b"a" * 20_000), *stream.chunks(b"b")]
    packets.append(stream.trailer(attributes={"lines": "2"}))
    assert stream.bytes_sent == 20_001
    assert [p.stream_chunk.chunk_index for p in packets[1:-1]] == [0, 1, 2]
    done = completed(feed(StreamReassembler(collect=True), packets))
    assert done.data == b"a" * 20_000 + b"b"
    assert done.info.total_length is None
    assert dict(done.info.attributes) == {"lines": "2"}


def test_writing_past_an_announced_length_is_refused() -> None:
    stream = streams.outgoing_bytes(stream_id="s1", timestamp_ms=0, total_length=3)
    with pytest.raises(DataError, match="announced 3 bytes"):
        stream.chunks(b"four")
    assert stream.bytes_sent == 0


# --- what we receive ----------------------------------------------------------------------


@SLOW
@given(size=sizes)
def test_bytes_round_trip_through_the_reassembler(size: int) -> None:
    data = bytes((i * 7) % 256 for i in range(size))
    packets = byte_packets(data, topic="t", name="n", attributes={"a": "1"})
    events = feed(StreamReassembler(collect=True), packets, sender="bob")
    opened = events[0]
    assert isinstance(opened, StreamOpened)
    assert opened.info.sender_identity == "bob"
    assert (opened.info.topic, opened.info.name, opened.info.total_length) == ("t", "n", size)
    assert b"".join(e.data for e in events if isinstance(e, StreamChunk)) == data
    assert completed(events).data == data


@SLOW
@given(text=texts)
def test_text_round_trips_and_incremental_text_never_splits_a_character(text: str) -> None:
    events = feed(StreamReassembler(collect=True), text_packets(text))
    assert "".join(e.text for e in events if isinstance(e, StreamChunk)) == text
    assert completed(events).text == text


def test_text_cut_inside_a_character_by_another_sender_is_still_decoded_whole() -> None:
    data = "😀".encode()
    packets = [
        Packet(stream_header=DS.Header(stream_id="s1", text_header=DS.TextHeader())),
        chunk(0, data[:2]),
        chunk(1, data[2:]),
        trailer(),
    ]
    events = feed(StreamReassembler(), packets)
    assert [e.text for e in events if isinstance(e, StreamChunk)] == ["", "😀"]


def test_trailer_attributes_are_merged_into_the_header_attributes() -> None:
    packets = [header(attributes={"a": "1", "b": "2"}), chunk(0, b"x"), trailer(b="3", c="4")]
    assert dict(completed(feed(StreamReassembler(), packets)).info.attributes) == {
        "a": "1",
        "b": "3",
        "c": "4",
    }


def test_streams_are_keyed_by_sender_so_equal_ids_do_not_mix() -> None:
    r = StreamReassembler(collect=True)
    events = feed(r, [header()], "alice") + feed(r, [header()], "bob")
    events += feed(r, [chunk(0, b"A"), trailer()], "alice") + feed(
        r, [chunk(0, b"B"), trailer()], "bob"
    )
    done = {e.info.sender_identity: e.data for e in events if isinstance(e, StreamCompleted)}
    assert done == {"alice": b"A", "bob": b"B"}


@pytest.mark.parametrize(
    ("packets", "reason"),
    [
        ([chunk(0, b"x")], Failure.UNKNOWN_STREAM),
        ([Packet(stream_header=DS.Header(stream_id="s1"))], Failure.INVALID_HEADER),
        ([header(compression=7)], Failure.INVALID_HEADER),
        ([header(), chunk(1, b"x")], Failure.MISSED_CHUNK),
        ([header(total=2), chunk(0, b"abc")], Failure.LENGTH_EXCEEDED),
        ([header(total=4), chunk(0, b"abc"), trailer()], Failure.INCOMPLETE),
        ([header(), chunk(0, b"abc"), trailer(reason="user cancelled")], Failure.ABNORMAL_END),
        (
            [header(compression=DS.DEFLATE_RAW), chunk(0, b"\xff\xff not deflate")],
            Failure.DECOMPRESSION,
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Failure) else "",
)
def test_broken_streams_fail_with_a_reason(packets: list[Packet], reason: Failure) -> None:
    r = StreamReassembler()
    assert failure(feed(r, packets)) is reason
    assert (r.open_streams, r.total_bytes) == (0, 0)
    # Whatever else that stream sends is dropped silently.
    assert feed(r, [chunk(5, b"late"), trailer()]) == []


def test_abnormal_end_carries_the_senders_reason() -> None:
    events = feed(StreamReassembler(), [header(), trailer(reason="disk full")])
    [failed] = events[1:]
    assert isinstance(failed, StreamFailed)
    assert failed.detail == "disk full"


def test_a_repeated_chunk_is_ignored_and_the_stream_completes() -> None:
    packets = [header(total=2), chunk(0, b"a"), chunk(0, b"a"), chunk(1, b"b"), trailer()]
    assert completed(feed(StreamReassembler(collect=True), packets)).data == b"ab"


def test_a_second_header_for_an_open_stream_is_rejected_and_the_first_continues() -> None:
    r = StreamReassembler(collect=True)
    events = feed(r, [header(), header(), chunk(0, b"x"), trailer()])
    assert failure(events[:2]) is Failure.DUPLICATE_STREAM
    assert completed(events).data == b"x"


def test_unknown_topic_is_ignored_with_an_info_log_and_later_streams_still_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    r = StreamReassembler(accepts=lambda info: info.topic == "wanted", collect=True)
    assert feed(r, [header(topic="other"), chunk(0, b"x"), chunk(1, b"y"), trailer()]) == []
    assert "no handler for topic 'other'" in caplog.text
    assert (
        completed(feed(r, [header("s2", "wanted"), chunk(0, b"ok", "s2"), trailer("s2")])).data
        == b"ok"
    )


def test_a_sender_leaving_fails_only_their_streams() -> None:
    r = StreamReassembler()
    feed(r, [header(), chunk(0, b"x")], "alice")
    feed(r, [header()], "bob")
    [failed] = r.sender_left("alice")
    assert isinstance(failed, StreamFailed)
    assert (failed.info.sender_identity, failed.reason) == ("alice", Failure.SENDER_LEFT)
    assert r.open_streams == 1
    assert r.total_bytes == 0


def test_idle_streams_time_out_from_their_last_packet() -> None:
    r = StreamReassembler(StreamLimits(idle_timeout_s=10))
    assert r.next_deadline() is None
    feed(r, [header()], now=100.0)
    feed(r, [chunk(0, b"x")], now=105.0)
    assert r.next_deadline() == 115.0
    assert r.poll(114.0) == []
    [failed] = r.poll(115.5)
    assert isinstance(failed, StreamFailed)
    assert failed.reason is Failure.TIMED_OUT
    assert r.next_deadline() is None


def test_limit_on_open_streams() -> None:
    r = StreamReassembler(StreamLimits(max_streams=2))
    feed(r, [header("a"), header("b")])
    assert failure(feed(r, [header("c")])) is Failure.TOO_MANY_STREAMS
    assert feed(r, [chunk(0, b"x", "c")]) == []
    feed(r, [trailer("a")])
    assert isinstance(feed(r, [header("d")])[0], StreamOpened)


def test_limit_on_one_streams_size_announced_or_actual() -> None:
    r = StreamReassembler(StreamLimits(max_stream_bytes=10))
    assert failure(feed(r, [header("a", total=11)])) is Failure.TOO_LARGE
    assert (
        failure(feed(r, [header("b"), chunk(0, b"x" * 6, "b"), chunk(1, b"x" * 5, "b")]))
        is Failure.TOO_LARGE
    )


def test_limit_on_bytes_across_open_streams() -> None:
    r = StreamReassembler(StreamLimits(max_total_bytes=10))
    feed(r, [header("a"), chunk(0, b"x" * 6, "a"), header("b")])
    assert failure(feed(r, [chunk(0, b"x" * 5, "b")])) is Failure.OVER_BUDGET
    assert r.total_bytes == 6
    feed(r, [trailer("a")])
    assert r.total_bytes == 0


# --- v2: inline content and raw-deflate compression ----------------------------------------


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


def test_inline_content_is_a_whole_stream_in_the_header() -> None:
    events = feed(StreamReassembler(collect=True), [header(total=5, inline_content=b"hello")])
    assert [type(e) for e in events] == [StreamOpened, StreamChunk, StreamCompleted]
    assert completed(events).data == b"hello"


def test_compressed_inline_content_is_inflated() -> None:
    data = b"abc" * 1000
    packet = header(total=len(data), inline_content=deflate_raw(data), compression=DS.DEFLATE_RAW)
    assert completed(feed(StreamReassembler(collect=True), [packet])).data == data


@SLOW
@given(text=texts)
def test_compressed_chunked_text_round_trips(text: str) -> None:
    data = deflate_raw(text.encode())
    cuts = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    h = DS.Header(stream_id="s1", text_header=DS.TextHeader(), compression=DS.DEFLATE_RAW)
    h.total_length = len(text.encode())
    packets = [Packet(stream_header=h), *(chunk(i, c) for i, c in enumerate(cuts)), trailer()]
    events = feed(StreamReassembler(collect=True), packets)
    assert "".join(e.text for e in events if isinstance(e, StreamChunk)) == text
    assert completed(events).text == text


def test_a_decompression_bomb_stops_at_the_stream_limit() -> None:
    bomb = deflate_raw(b"\0" * 1_000_000)
    r = StreamReassembler(StreamLimits(max_stream_bytes=10_000))
    events = feed(r, [header(compression=DS.DEFLATE_RAW), chunk(0, bomb)])
    assert failure(events) is Failure.TOO_LARGE
    assert r.total_bytes == 0


# --- faults -------------------------------------------------------------------------------

mutations = st.lists(
    st.tuples(
        st.sampled_from(["drop", "dup", "swap", "flip", "index", "total"]), st.integers(0, 10**6)
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(size=st.integers(0, 40_000), ops=mutations)
def test_corrupted_packet_sequences_never_crash_and_end_each_stream_once(
    size: int, ops: list[tuple[str, int]]
) -> None:
    packets = byte_packets(bytes(size)) + text_packets("é" * (size // 2), stream_id="s2")
    for op, n in ops:
        i = n % len(packets)
        if op == "drop":
            del packets[i]
        elif op == "dup":
            packets.insert(i, packets[i])
        elif op == "swap":
            packets[i], packets[-1 - i] = packets[-1 - i], packets[i]
        elif op == "flip":
            raw = bytearray(packets[i].SerializeToString())
            raw[n % len(raw)] ^= 1 << (n % 8)
            mutated = Packet()
            try:
                mutated.ParseFromString(bytes(raw))
            except Exception:  # noqa: BLE001 - unparsable bytes never reach the reassembler
                continue
            packets[i] = mutated
        elif op == "index" and packets[i].HasField("stream_chunk"):
            packets[i].stream_chunk.chunk_index = n
        elif op == "total" and packets[i].HasField("stream_header"):
            packets[i].stream_header.total_length = n
        if not packets:
            return
    r = StreamReassembler(StreamLimits(max_stream_bytes=30_000), collect=True)
    events = feed(r, packets) + r.fail_all(Failure.DISCONNECTED)
    opened = [e.info.key for e in events if isinstance(e, StreamOpened)]
    ended = [e.info.key for e in events if isinstance(e, StreamCompleted | StreamFailed)]
    assert sorted(opened) == sorted(ended)
    assert (r.open_streams, r.total_bytes) == (0, 0)


def test_the_pure_stream_modules_do_not_load_asyncio_or_aiortc() -> None:
    code = (
        "import sys, edge.protocol.streams, edge.protocol.stream_reassembler\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'aiortc', 'av')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
