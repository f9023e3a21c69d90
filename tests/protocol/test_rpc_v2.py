"""RPC v2 without I/O: the stream framing, the per-peer choice, the callee and the caller."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from livekit.protocol import models as proto_models

from edge.protocol import rpc_v2
from edge.protocol.rpc import (
    MAX_PAYLOAD_BYTES,
    CallFailed,
    CallSucceeded,
    RpcError,
    RpcErrorCode,
    RpcResponder,
)
from edge.protocol.rpc_caller import RpcCaller
from edge.protocol.rpc_v2 import (
    ATTR_METHOD,
    ATTR_REQUEST_ID,
    ATTR_RESPONSE_TIMEOUT_MS,
    ATTR_VERSION,
    MAX_V2_PAYLOAD_BYTES,
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    RequestHeader,
    StreamAnswer,
)
from edge.protocol.streams import StreamInfo, StreamKind

KNOWN = frozenset({"greet"})


def info(
    attributes: dict[str, str],
    *,
    topic: str = REQUEST_TOPIC,
    sender: str = "caller",
    kind: StreamKind = StreamKind.TEXT,
    total_length: int | None = None,
) -> StreamInfo:
    """A stream header as it arrives, stamped with its sender."""
    return StreamInfo(
        stream_id="s-1",
        kind=kind,
        topic=topic,
        mime_type="text/plain",
        sender_identity=sender,
        timestamp_ms=0,
        total_length=total_length,
        attributes=MappingProxyType(attributes),
    )


def header(
    method: str = "greet", *, version: int = 2, timeout_ms: int = 8000, size: int | None = 2
) -> RequestHeader:
    return RequestHeader(
        caller_identity="caller",
        request_id="req-1",
        method=method,
        response_timeout_ms=timeout_ms,
        version=version,
        payload_bytes=size,
    )


def error_of(answer: object) -> tuple[int, str, str]:
    assert isinstance(answer, proto_models.DataPacket)
    assert answer.rpc_response.WhichOneof("value") == "error"
    error = answer.rpc_response.error
    return error.code, error.message, error.data


# --- the per-peer choice -----------------------------------------------------------------


@pytest.mark.parametrize(("protocol", "v2"), [(-1, False), (0, False), (1, True), (2, True)])
def test_a_peer_is_called_with_v2_from_client_protocol_1(protocol: int, v2: bool) -> None:
    assert rpc_v2.uses_v2(protocol) is v2


# --- framing -----------------------------------------------------------------------------

_names = st.text(min_size=1, max_size=64)


@given(request_id=_names, method=_names, timeout_ms=st.integers(0, 2**32 - 1))
def test_a_request_we_send_reads_back_as_the_same_request(
    request_id: str, method: str, timeout_ms: int
) -> None:
    sent = rpc_v2.stream_request("callee", request_id, method, "{}", response_timeout_ms=timeout_ms)
    assert (sent.topic, sent.destination, sent.payload) == (REQUEST_TOPIC, "callee", "{}")
    read = rpc_v2.request_header(info(dict(sent.attributes), total_length=2))
    assert read == RequestHeader(
        caller_identity="caller",
        request_id=request_id,
        method=method,
        response_timeout_ms=timeout_ms,
        version=2,
        payload_bytes=2,
    )


def test_request_attributes_are_livekits_names() -> None:
    sent = rpc_v2.stream_request("callee", "id-1", "greet", "", response_timeout_ms=8000)
    assert dict(sent.attributes) == {
        "lk.rpc_request_id": "id-1",
        "lk.rpc_request_method": "greet",
        "lk.rpc_request_response_timeout_ms": "8000",
        "lk.rpc_request_version": "2",
    }
    answer = rpc_v2.stream_answer("caller", "id-1", "ok")
    assert (answer.topic, dict(answer.attributes)) == (
        "lk.rpc_response",
        {"lk.rpc_request_id": "id-1"},
    )


@pytest.mark.parametrize(
    ("attributes", "topic", "kind"),
    [
        ({ATTR_METHOD: "greet"}, REQUEST_TOPIC, StreamKind.TEXT),
        ({ATTR_REQUEST_ID: "r"}, REQUEST_TOPIC, StreamKind.TEXT),
        ({ATTR_REQUEST_ID: "r", ATTR_METHOD: "greet"}, "chat", StreamKind.TEXT),
        ({ATTR_REQUEST_ID: "r", ATTR_METHOD: "greet"}, REQUEST_TOPIC, StreamKind.BYTES),
    ],
)
def test_a_request_stream_without_id_method_or_text_cannot_be_answered(
    attributes: dict[str, str], topic: str, kind: StreamKind
) -> None:
    assert rpc_v2.request_header(info(attributes, topic=topic, kind=kind)) is None


@given(st.text(max_size=24) | st.from_regex(r"\A0{0,30}[0-9]{1,12}\Z"))
def test_any_timeout_or_version_text_reads_as_a_number_or_0(text: str) -> None:
    attributes = {
        ATTR_REQUEST_ID: "r",
        ATTR_METHOD: "m",
        ATTR_RESPONSE_TIMEOUT_MS: text,
        ATTR_VERSION: text,
    }
    read = rpc_v2.request_header(info(attributes))
    assert read is not None
    plain = text.isascii() and text.isdecimal() and int(text) < 2**32
    expected = int(text) if plain else 0
    assert (read.response_timeout_ms, read.version) == (expected, expected)


def test_an_answer_stream_names_its_request_only_on_the_answer_topic() -> None:
    assert rpc_v2.answer_request_id(info({ATTR_REQUEST_ID: "r"}, topic=RESPONSE_TOPIC)) == "r"
    assert rpc_v2.answer_request_id(info({ATTR_REQUEST_ID: "r"}, topic=REQUEST_TOPIC)) == ""
    assert rpc_v2.answer_request_id(info({}, topic=RESPONSE_TOPIC)) == ""


# --- callee ------------------------------------------------------------------------------


def test_a_v2_request_is_acked_and_invoked_with_its_timeout() -> None:
    received = RpcResponder().receive_stream(header(timeout_ms=5000), 0.0, methods=KNOWN)
    assert received.ack.rpc_ack.request_id == "req-1"
    assert list(received.ack.destination_identities) == ["caller"]
    assert received.response is None
    assert received.invocation is not None
    assert (received.invocation.rpc_version, received.invocation.response_timeout_s) == (2, 5.0)


@pytest.mark.parametrize(
    ("request_header", "code"),
    [
        (header(version=1), RpcErrorCode.UNSUPPORTED_VERSION),
        (header(version=0), RpcErrorCode.UNSUPPORTED_VERSION),
        (header("nope"), RpcErrorCode.UNSUPPORTED_METHOD),
        (header(size=MAX_V2_PAYLOAD_BYTES + 1), RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE),
    ],
)
def test_v2_refusals_are_acked_then_answered_with_a_v1_error_packet(
    request_header: RequestHeader, code: int
) -> None:
    responder = RpcResponder()
    received = responder.receive_stream(request_header, 0.0, methods=KNOWN)
    assert received.ack.WhichOneof("value") == "rpc_ack"
    assert received.invocation is None
    assert error_of(received.response)[0] == code
    assert responder.in_flight == 0


def test_an_announced_oversize_request_is_1402_naming_size_and_limit() -> None:
    size = MAX_V2_PAYLOAD_BYTES + 1
    received = RpcResponder().receive_stream(header(size=size), 0.0, methods=KNOWN)
    _, message, data = error_of(received.response)
    assert message == "Request payload too large"
    assert (
        data == f"payload is {size} bytes; RPC v2 here takes at most {MAX_V2_PAYLOAD_BYTES} bytes"
    )


def test_a_v2_success_is_a_stream_answer_and_an_error_a_packet() -> None:
    responder = RpcResponder()
    first = responder.receive_stream(header(), 0.0, methods=KNOWN).invocation
    assert first is not None
    big = "x" * (MAX_PAYLOAD_BYTES * 70)  # ~1 MiB: over v1's limit, under ours
    answer = responder.respond(first, payload=big)
    assert answer == rpc_v2.stream_answer("caller", "req-1", big)
    second = RpcResponder().receive_stream(header(), 0.0, methods=KNOWN).invocation
    assert second is not None
    failed = responder.respond(second, error=RpcError(2001, "nope"))
    assert error_of(failed)[:2] == (2001, "nope")


def test_a_v2_answer_over_our_limit_is_1504() -> None:
    responder = RpcResponder()
    invocation = responder.receive_stream(header(), 0.0, methods=KNOWN).invocation
    assert invocation is not None
    answer = responder.respond(invocation, payload="x" * (MAX_V2_PAYLOAD_BYTES + 1))
    assert not isinstance(answer, StreamAnswer)
    assert error_of(answer)[0] == RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE
    assert responder.in_flight == 0


def test_v2_calls_share_the_handler_cap_with_v1() -> None:
    responder = RpcResponder(max_concurrent=1)
    assert responder.receive_stream(header(), 0.0, methods=KNOWN).invocation is not None
    busy = responder.receive_stream(
        RequestHeader(
            caller_identity="other",
            request_id="req-2",
            method="greet",
            response_timeout_ms=0,
            version=2,
            payload_bytes=None,
        ),
        0.0,
        methods=KNOWN,
    )
    assert error_of(busy.response)[:2] == (1500, "too many concurrent calls")


# --- caller ------------------------------------------------------------------------------


def caller() -> RpcCaller:
    ids = iter(f"id-{n}" for n in range(100))
    return RpcCaller(new_id=lambda: next(ids))


def test_a_v2_call_carries_any_payload_up_to_our_limit_and_the_handler_timeout() -> None:
    calls = caller()
    payload = "é" * (MAX_PAYLOAD_BYTES)  # 30 720 bytes: v1 refuses it
    request_id, stream = calls.request_stream(
        "callee", "greet", payload, response_timeout_s=15, now=0
    )
    assert (request_id, stream.payload, stream.destination) == ("id-0", payload, "callee")
    assert stream.attributes[ATTR_RESPONSE_TIMEOUT_MS] == "8000"
    with pytest.raises(RpcError) as refused:
        calls.request("callee", "greet", payload, response_timeout_s=15, now=0)
    assert refused.value.code == RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE


def test_a_v2_call_over_our_limit_is_refused_before_sending() -> None:
    calls = caller()
    with pytest.raises(RpcError) as refused:
        calls.request_stream(
            "callee", "m", "x" * (MAX_V2_PAYLOAD_BYTES + 1), response_timeout_s=15, now=0
        )
    assert refused.value.code == RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE
    assert calls.pending == 0


def test_an_answer_stream_settles_only_the_call_to_its_sender() -> None:
    calls = caller()
    request_id, _ = calls.request_stream("callee", "m", "", response_timeout_s=15, now=0)
    assert calls.receive_answer("someone-else", request_id, "forged") == []
    assert calls.receive_answer("callee", "unknown", "late") == []
    assert calls.receive_answer("callee", request_id, "done") == [CallSucceeded(request_id, "done")]
    assert calls.pending == 0


def test_an_unreadable_answer_fails_the_call_with_the_error_given() -> None:
    calls = caller()
    request_id, _ = calls.request_stream("callee", "m", "", response_timeout_s=15, now=0)
    error = RpcError(RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE, "Response payload too large")
    assert calls.answer_failed("callee", request_id, error) == [CallFailed(request_id, error)]
    assert calls.pending == 0


def test_payloads_held_by_running_v2_calls_are_bounded_until_answered() -> None:
    responder = RpcResponder(max_held_bytes=10)
    first = responder.receive_stream(header(), 0.0, methods=KNOWN).invocation
    second = responder.receive_stream(
        RequestHeader(
            caller_identity="other",
            request_id="req-2",
            method="greet",
            response_timeout_ms=0,
            version=2,
            payload_bytes=None,
        ),
        0.0,
        methods=KNOWN,
    ).invocation
    assert first is not None
    assert second is not None
    running = responder.with_payload(first, "é" * 3, 6)
    assert (running.payload, responder.held_bytes) == ("ééé", 6)
    with pytest.raises(RpcError) as busy:
        responder.with_payload(second, "abcdef", 6)
    assert (busy.value.code, busy.value.message) == (1500, "too many concurrent calls")
    assert busy.value.data == "v2 payloads held by running calls would pass 10 bytes"
    responder.respond(running, payload="ok")
    assert responder.held_bytes == 0
    assert responder.with_payload(second, "abcdef", 6).payload == "abcdef"
