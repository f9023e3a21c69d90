"""RpcCaller: pending calls, ack and response deadlines, and how each call settles."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from livekit.protocol import models as proto_models

from edge.protocol import packets
from edge.protocol.rpc import CallFailed, CallSucceeded, RpcError, RpcErrorCode, response_packet
from edge.protocol.rpc_caller import RpcCaller


def ack(request_id: str, sender: str = "callee") -> packets.OtherPacket:
    packet = proto_models.DataPacket(rpc_ack=proto_models.RpcAck(request_id=request_id))
    return packets.OtherPacket(kind="rpc_ack", sender_identity=sender, packet=packet)


def response(
    request_id: str,
    *,
    sender: str = "callee",
    payload: str | None = None,
    error: RpcError | None = None,
) -> packets.OtherPacket:
    packet = response_packet("caller", request_id, payload=payload, error=error)
    return packets.OtherPacket(kind="rpc_response", sender_identity=sender, packet=packet)


def make_caller(**kwargs: float) -> RpcCaller:
    ids = (f"id-{n}" for n in itertools.count())
    return RpcCaller(new_id=lambda: next(ids), **kwargs)


def test_request_packet_is_a_v1_request_to_the_destination() -> None:
    caller = make_caller()
    request_id, packet = caller.request("callee", "greet", "hi", response_timeout_s=15, now=0)
    assert request_id == "id-0"
    assert list(packet.destination_identities) == ["callee"]
    rpc = packet.rpc_request
    assert (rpc.id, rpc.method, rpc.payload, rpc.version) == ("id-0", "greet", "hi", 1)
    assert rpc.response_timeout_ms == 8000  # 15 s minus the 7 s ack allowance, like the SDKs
    _, short = caller.request("callee", "greet", "", response_timeout_s=3, now=0)
    assert short.rpc_request.response_timeout_ms == 1000


@pytest.mark.parametrize("payload", ["x" * 15_361, "é" * 7_681])
def test_oversize_requests_are_refused_before_sending(payload: str) -> None:
    caller = make_caller()
    with pytest.raises(RpcError) as info:
        caller.request("callee", "m", payload, response_timeout_s=15, now=0)
    assert info.value.code == RpcErrorCode.REQUEST_PAYLOAD_TOO_LARGE
    assert caller.pending == 0


def test_a_response_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        make_caller().request("callee", "m", "", response_timeout_s=0, now=0)


def test_ack_then_answer_succeeds() -> None:
    caller = make_caller()
    request_id, _ = caller.request("callee", "greet", "hi", response_timeout_s=15, now=0)
    assert caller.receive(ack(request_id), 0.1) == []
    assert caller.receive(response(request_id, payload="hello"), 0.2) == [
        CallSucceeded(request_id, "hello")
    ]
    assert caller.pending == 0
    assert caller.receive(response(request_id, payload="again"), 0.3) == []


def test_no_ack_within_the_ack_timeout_is_a_connection_timeout() -> None:
    caller = make_caller(ack_timeout_s=7.0)
    request_id, _ = caller.request("callee", "m", "", response_timeout_s=15, now=100)
    assert caller.next_deadline() == 107
    assert caller.poll(106.9) == []
    [failed] = caller.poll(107)
    assert isinstance(failed, CallFailed)
    assert failed.request_id == request_id
    assert failed.error.code == RpcErrorCode.CONNECTION_TIMEOUT
    assert caller.next_deadline() is None


def test_the_response_wait_starts_at_the_ack() -> None:
    caller = make_caller(ack_timeout_s=7.0)
    request_id, _ = caller.request("callee", "m", "", response_timeout_s=15, now=0)
    caller.receive(ack(request_id), 5.0)
    caller.receive(ack(request_id), 6.0)  # a repeated ack does not extend the wait
    assert caller.next_deadline() == 20.0
    assert caller.poll(19.9) == []
    [failed] = caller.poll(20.0)
    assert isinstance(failed, CallFailed)
    assert failed.error.code == RpcErrorCode.RESPONSE_TIMEOUT


def test_error_answers_keep_code_message_and_data() -> None:
    caller = make_caller()
    a, _ = caller.request("callee", "m", "", response_timeout_s=15, now=0)
    b, _ = caller.request("callee", "m", "", response_timeout_s=15, now=0)
    [failed_a] = caller.receive(response(a, error=RpcError(2001, "bad", '{"k":2}')), 1)
    [failed_b] = caller.receive(response(b, error=RpcError(2002, "no data")), 1)
    assert isinstance(failed_a, CallFailed)
    assert isinstance(failed_b, CallFailed)
    assert (failed_a.error.code, failed_a.error.message, failed_a.error.data) == (
        2001,
        "bad",
        '{"k":2}',
    )
    assert failed_b.error.data is None


def test_acks_and_answers_from_anyone_but_the_destination_are_ignored() -> None:
    caller = make_caller()
    request_id, _ = caller.request("callee", "m", "", response_timeout_s=15, now=0)
    assert caller.receive(ack(request_id, sender="intruder"), 1) == []
    assert caller.receive(response(request_id, sender="intruder", payload="forged"), 1) == []
    assert caller.next_deadline() == 7.0  # still waiting for the real ack
    assert caller.receive(response(request_id, payload="real"), 2) == [
        CallSucceeded(request_id, "real")
    ]


def test_departures_and_disconnects_fail_calls_with_1503() -> None:
    caller = make_caller()
    to_a, _ = caller.request("a", "m", "", response_timeout_s=15, now=0)
    to_b, _ = caller.request("b", "m", "", response_timeout_s=15, now=0)
    [left] = caller.participant_left("a")
    assert isinstance(left, CallFailed)
    assert left.request_id == to_a
    assert left.error.code == RpcErrorCode.RECIPIENT_DISCONNECTED
    assert caller.participant_left("a") == []
    [closed] = caller.close()
    assert isinstance(closed, CallFailed)
    assert closed.request_id == to_b
    assert closed.error.code == RpcErrorCode.RECIPIENT_DISCONNECTED
    assert caller.pending == 0


def test_cancel_forgets_the_call() -> None:
    caller = make_caller()
    request_id, _ = caller.request("callee", "m", "", response_timeout_s=15, now=0)
    caller.cancel(request_id)
    caller.cancel(request_id)
    assert caller.poll(1000) == []
    assert caller.receive(response(request_id, payload="late"), 1) == []


@given(
    st.lists(
        st.tuples(st.sampled_from(["ack", "ok", "err", "poll", "left"]), st.integers(0, 4)),
        max_size=40,
    )
)
def test_every_call_settles_exactly_once(script: list[tuple[str, int]]) -> None:
    caller = make_caller(ack_timeout_s=7.0)
    ids = [caller.request("callee", "m", "", response_timeout_s=5, now=0)[0] for _ in range(5)]
    settled: list[str] = []
    now = 0.0
    for action, index in script:
        now += 1.0
        request_id = ids[index]
        if action == "ack":
            outcomes = caller.receive(ack(request_id), now)
        elif action == "ok":
            outcomes = caller.receive(response(request_id, payload="x"), now)
        elif action == "err":
            outcomes = caller.receive(response(request_id, error=RpcError(3000, "e")), now)
        elif action == "left":
            outcomes = caller.participant_left("callee")
        else:
            outcomes = caller.poll(now)
        settled.extend(o.request_id for o in outcomes)
    settled.extend(o.request_id for o in caller.poll(now + 7.0 + 5.0))
    assert sorted(settled) == sorted(ids)
    assert caller.pending == 0
