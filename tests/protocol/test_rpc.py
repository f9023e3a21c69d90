"""RPC v1 without I/O: codes, packets, the callee's responder and the caller's pending calls."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit.protocol import models as proto_models

from edge import errors
from edge.errors import DataError, EdgeError
from edge.protocol import packets
from edge.protocol.codes import BUILT_IN_MESSAGES
from edge.protocol.rpc import (
    RpcError,
    RpcErrorCode,
    RpcInvocation,
    RpcResponder,
    built_in,
)
from edge.protocol.rpc_caller import RpcCaller

KNOWN = frozenset({"greet", "slow"})


def request(
    request_id: str = "req-1",
    method: str = "greet",
    payload: str = "hi",
    *,
    caller: str = "caller",
    timeout_ms: int = 8000,
    version: int = 1,
) -> packets.OtherPacket:
    """An `rpc_request` as it arrives: decoded, with the server-stamped sender."""
    rpc = proto_models.RpcRequest(
        id=request_id,
        method=method,
        payload=payload,
        response_timeout_ms=timeout_ms,
        version=version,
    )
    return packets.OtherPacket(
        kind="rpc_request",
        sender_identity=caller,
        packet=proto_models.DataPacket(participant_identity=caller, rpc_request=rpc),
    )


def as_packet(answer: object) -> proto_models.DataPacket:
    """A v1 answer (a v2 success would be a stream instead)."""
    assert isinstance(answer, proto_models.DataPacket), answer
    return answer


def answered_error(answer: object) -> tuple[int, str, str]:
    packet = as_packet(answer)
    assert packet.WhichOneof("value") == "rpc_response"
    assert packet.rpc_response.WhichOneof("value") == "error"
    error = packet.rpc_response.error
    return error.code, error.message, error.data


# --- codes and errors ----------------------------------------------------------------


def test_built_in_codes_and_messages_match_livekit() -> None:
    assert {c.name: int(c) for c in RpcErrorCode} == {
        "UNSUPPORTED_METHOD": 1400,
        "RECIPIENT_NOT_FOUND": 1401,
        "REQUEST_PAYLOAD_TOO_LARGE": 1402,
        "UNSUPPORTED_SERVER": 1403,
        "UNSUPPORTED_VERSION": 1404,
        "APPLICATION_ERROR": 1500,
        "CONNECTION_TIMEOUT": 1501,
        "RESPONSE_TIMEOUT": 1502,
        "RECIPIENT_DISCONNECTED": 1503,
        "RESPONSE_PAYLOAD_TOO_LARGE": 1504,
        "SEND_FAILED": 1505,
    }
    assert set(BUILT_IN_MESSAGES) == set(RpcErrorCode)
    error = built_in(RpcErrorCode.UNSUPPORTED_METHOD)
    assert (error.code, error.message, error.data) == (
        1400,
        "Method not supported at destination",
        None,
    )
    assert built_in(RpcErrorCode.APPLICATION_ERROR).message == "Application error in method handler"


def test_rpc_error_is_part_of_the_error_tree_and_prints_its_code() -> None:
    assert RpcError is errors.RpcError
    error = RpcError(2001, "boom", '{"x":1}')
    assert isinstance(error, EdgeError)
    assert str(error) == "RPC error 2001: boom"
    assert isinstance(RpcError(RpcErrorCode.RESPONSE_TIMEOUT, "t").code, int)


def test_rpc_error_truncates_message_and_data_without_splitting_characters() -> None:
    error = RpcError(2000, "€" * 100, "é" * 8000)
    assert error.message == "€" * 85  # 255 bytes: an 86th would make 258
    assert error.data == "é" * 7680  # exactly 15 360 bytes
    assert RpcError(1, "x" * 300).message == "x" * 256


@given(st.text(max_size=400), st.text(max_size=20))
def test_truncated_message_is_a_utf8_prefix_within_the_limit(message: str, data: str) -> None:
    error = RpcError(1500, message, data)
    assert len(error.message.encode()) <= 256
    assert message.startswith(error.message)
    assert error.data == data


# --- callee --------------------------------------------------------------------------


def test_request_is_acked_and_invoked_with_the_server_stamped_caller() -> None:
    responder = RpcResponder()
    received = responder.receive(request(timeout_ms=8000), 0.0, methods=KNOWN)
    assert received is not None
    assert received.ack.WhichOneof("value") == "rpc_ack"
    assert received.ack.rpc_ack.request_id == "req-1"
    assert list(received.ack.destination_identities) == ["caller"]
    assert received.response is None
    assert received.invocation == RpcInvocation(
        request_id="req-1",
        caller_identity="caller",
        method="greet",
        payload="hi",
        response_timeout_s=8.0,
    )
    assert responder.in_flight == 1


def test_missing_response_timeout_falls_back_to_the_default() -> None:
    received = RpcResponder().receive(request(timeout_ms=0), 0.0, methods=KNOWN)
    assert received is not None
    assert received.invocation is not None
    assert received.invocation.response_timeout_s == 15.0


def test_unknown_method_is_acked_then_refused_with_1400() -> None:
    received = RpcResponder().receive(request(method="nope"), 0.0, methods=KNOWN)
    assert received is not None
    assert received.invocation is None
    assert received.ack.rpc_ack.request_id == "req-1"
    assert received.response is not None
    assert answered_error(received.response) == (1400, "Method not supported at destination", "")
    assert list(received.response.destination_identities) == ["caller"]


@pytest.mark.parametrize("version", [0, 2, 7])
def test_other_versions_are_acked_then_refused_with_1404(version: int) -> None:
    received = RpcResponder().receive(request(version=version), 0.0, methods=KNOWN)
    assert received is not None
    assert received.response is not None
    assert received.ack.rpc_ack.request_id == "req-1"
    assert answered_error(received.response)[0] == 1404


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        ("x" * 15_360, False),
        ("é" * 7_680, False),  # 15 360 bytes of UTF-8
        ("x" * 15_361, True),
        ("é" * 7_681, True),
        ("x" * 60_000, True),
    ],
)
def test_requests_over_15360_bytes_are_acked_then_refused_with_1402(
    payload: str, refused: bool
) -> None:
    received = RpcResponder().receive(request(payload=payload), 0.0, methods=KNOWN)
    assert received is not None
    assert received.ack.rpc_ack.request_id == "req-1"
    if refused:
        assert received.invocation is None
        assert received.response is not None
        assert answered_error(received.response) == (1402, "Request payload too large", "")
    else:
        assert received.invocation is not None
        assert received.invocation.payload == payload


def test_calls_beyond_the_concurrency_cap_are_refused_until_a_slot_frees() -> None:
    responder = RpcResponder(max_concurrent=2)
    first, second, third = (
        responder.receive(request(f"r{n}"), 0.0, methods=KNOWN) for n in range(3)
    )
    assert first
    assert first.invocation
    assert second
    assert second.invocation
    assert third is not None
    assert third.response is not None
    assert third.invocation is None
    assert answered_error(third.response) == (1500, "too many concurrent calls", "")
    responder.respond(first.invocation, payload="done")
    fourth = responder.receive(request("r3"), 0.0, methods=KNOWN)
    assert fourth is not None
    assert fourth.invocation is not None


def test_a_retransmit_is_acked_again_but_never_invoked_twice() -> None:
    responder = RpcResponder()
    first = responder.receive(request("dup"), 0.0, methods=KNOWN)
    assert first is not None
    assert first.invocation is not None
    again = responder.receive(request("dup"), 1.0, methods=KNOWN)
    assert again is not None
    assert (again.response, again.invocation) == (None, None)
    assert again.ack.rpc_ack.request_id == "dup"
    responder.respond(first.invocation, payload="ok")
    late = responder.receive(request("dup"), 2.0, methods=KNOWN)
    assert late is not None
    assert late.invocation is None
    assert late.response is None
    other_caller = responder.receive(request("dup", caller="someone-else"), 2.0, methods=KNOWN)
    assert other_caller is not None
    assert other_caller.invocation is not None


def test_dedupe_memory_is_bounded_by_count_and_age() -> None:
    responder = RpcResponder(dedupe_size=3, dedupe_ttl_s=10.0)
    for n in range(4):
        received = responder.receive(request(f"r{n}"), 0.0, methods=KNOWN)
        assert received is not None
        assert received.invocation is not None
        responder.respond(received.invocation, payload="")
    # r0 fell out of the 3-entry window; r3 is still remembered until it ages out.
    forgotten = responder.receive(request("r0"), 1.0, methods=KNOWN)
    assert forgotten is not None
    assert forgotten.invocation is not None
    remembered = responder.receive(request("r3"), 9.0, methods=KNOWN)
    assert remembered is not None
    assert remembered.invocation is None
    aged = responder.receive(request("r3"), 10.0, methods=KNOWN)
    assert aged is not None
    assert aged.invocation is not None


def test_requests_without_an_id_or_of_other_kinds_are_not_answered() -> None:
    responder = RpcResponder()
    assert responder.receive(request(""), 0.0, methods=KNOWN) is None
    not_a_request = packets.OtherPacket(
        kind="rpc_ack", sender_identity="caller", packet=proto_models.DataPacket()
    )
    assert responder.receive(not_a_request, 0.0, methods=KNOWN) is None


def invocation(responder: RpcResponder) -> RpcInvocation:
    received = responder.receive(request(), 0.0, methods=KNOWN)
    assert received is not None
    assert received.invocation is not None
    return received.invocation


def test_respond_carries_the_payload_to_the_caller_and_frees_the_slot() -> None:
    responder = RpcResponder()
    packet = as_packet(responder.respond(invocation(responder), payload="hello"))
    assert packet.rpc_response.request_id == "req-1"
    assert packet.rpc_response.payload == "hello"
    assert list(packet.destination_identities) == ["caller"]
    assert responder.in_flight == 0


def test_an_empty_answer_is_still_a_payload() -> None:
    responder = RpcResponder()
    packet = as_packet(responder.respond(invocation(responder), payload=""))
    assert packet.rpc_response.WhichOneof("value") == "payload"


def test_respond_with_an_application_error_keeps_code_message_and_data() -> None:
    responder = RpcResponder()
    packet = responder.respond(invocation(responder), error=RpcError(2001, "nope", '{"why":1}'))
    assert answered_error(packet) == (2001, "nope", '{"why":1}')


@pytest.mark.parametrize("payload", ["x" * 15_361, "é" * 7_681])
def test_oversize_answers_become_1504(payload: str) -> None:
    responder = RpcResponder()
    packet = responder.respond(invocation(responder), payload=payload)
    assert answered_error(packet)[0] == 1504
    assert responder.in_flight == 0


@pytest.mark.parametrize("payload", ["x" * 15_360, "é" * 7_680])
def test_an_answer_of_the_full_rpc_payload_limit_is_sent(payload: str) -> None:
    responder = RpcResponder()
    packet = as_packet(responder.respond(invocation(responder), payload=payload))
    assert packet.rpc_response.payload == payload
    packets.checked_size(packet.SerializeToString())


# --- properties ----------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_break_either_side(data: bytes) -> None:
    try:
        packet = packets.decode(data, reliable=True)
    except DataError:
        return
    if not isinstance(packet, packets.OtherPacket):
        return
    responder = RpcResponder(max_concurrent=1)
    received = responder.receive(packet, 0.0, methods=KNOWN)
    if received is not None:
        assert received.ack.rpc_ack.request_id == packet.packet.rpc_request.id
        packets.checked_size(received.ack.SerializeToString())
    assert responder.in_flight <= 1
    assert RpcCaller().receive(packet, 0.0) == []


requests = st.builds(
    request,
    request_id=st.sampled_from(["a", "b", "c", "d", "e", "f"]),
    method=st.sampled_from(["greet", "slow", "nope", ""]),
    payload=st.text(max_size=30),
    caller=st.sampled_from(["p1", "p2"]),
    timeout_ms=st.integers(0, 2**32 - 1),
    version=st.integers(0, 3),
)


@given(st.lists(st.tuples(requests, st.booleans()), max_size=60), st.integers(1, 8))
def test_no_request_is_ever_invoked_twice_and_state_stays_bounded(
    steps: list[tuple[packets.OtherPacket, bool]], dedupe_size: int
) -> None:
    responder = RpcResponder(max_concurrent=4, dedupe_size=dedupe_size)
    invoked: list[tuple[str, str]] = []
    running: list[RpcInvocation] = []
    for now, (packet, finish_one) in enumerate(steps):
        received = responder.receive(packet, float(now), methods=KNOWN)
        assert received is not None
        assert list(received.ack.destination_identities) == [packet.sender_identity]
        assert received.response is None or received.invocation is None
        if received.invocation is not None:
            invoked.append((received.invocation.caller_identity, received.invocation.request_id))
            running.append(received.invocation)
        if finish_one and running:
            responder.respond(running.pop(0), payload="")
        assert responder.in_flight == len(running) <= 4
    if dedupe_size >= 12:  # every (caller, id) pair fits the window: exactly-once
        assert len(invoked) == len(set(invoked))
