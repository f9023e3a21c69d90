"""RPC between our RpcEndpoint and LiveKit's official SDK, both ways, through a real server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest
from livekit import api, rtc
from livekit.protocol import models as proto_models
from livekit.protocol.room import RoomParticipantIdentity

from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint, RpcError, RpcInvocation, RpcPolicy
from edge.protocol.packets import OtherPacket
from edge.protocol.rpc import ACK_TIMEOUT_S, MAX_CONCURRENT_HANDLERS, RpcErrorCode
from tests.conftest import OfficialPeerFactory
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = pytest.mark.e2e
CALL_BOUND_S = 20.0
"""Upper bound for any one call in these tests (the machine is shared)."""


@dataclass
class Edge:
    """Our room and its RPC endpoint."""

    room: Room
    rpc: RpcEndpoint


EdgeFactory = Callable[..., Awaitable[Edge]]
RoomFactory = Callable[[str], Awaitable[Room]]


@pytest.fixture
async def rooms(livekit_server: LiveKitServer, room_name: str) -> AsyncIterator[RoomFactory]:
    """Join our Rooms to this test's room; all are left at teardown."""
    async with AsyncExitStack() as stack:

        async def join(identity: str) -> Room:
            token = mint_token(livekit_server, identity=identity, room=room_name)
            options = RoomOptions(url=livekit_server.url, attributes={})
            return await stack.enter_async_context(Room.connect(options, token))

        yield join


@pytest.fixture
def edge(rooms: RoomFactory) -> EdgeFactory:
    """Join a Room with an RpcEndpoint (options passed through to the endpoint)."""

    async def join(
        identity: str = "edge-1",
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        settling_s: float = 0.0,
        max_concurrent: int = MAX_CONCURRENT_HANDLERS,
        policy: RpcPolicy | None = None,
    ) -> Edge:
        room = await rooms(identity)
        endpoint = RpcEndpoint(
            room,
            ack_timeout_s=ack_timeout_s,
            settling_s=settling_s,
            max_concurrent=max_concurrent,
            policy=policy,
        )
        return Edge(room, endpoint)

    return join


async def meet(edge: Edge, peer: OfficialPeer) -> None:
    """Wait until both sides see each other (and so can route data)."""
    await peer.wait_participant(edge.room.local_participant.identity)
    await assert_eventually(lambda: peer.identity in edge.room.remote_participants)


async def failure(call: Awaitable[str]) -> RpcError:
    """The RpcError that `call` raises (a test fails if it answers instead)."""
    try:
        answer = await call
    except RpcError as exc:
        return exc
    raise AssertionError(f"expected an RpcError, got the answer {answer!r}")


async def remove_participant(server: LiveKitServer, room: str, identity: str) -> None:
    """Remove a participant through the server API (RoomService.RemoveParticipant)."""
    lkapi = api.LiveKitAPI(
        url=server.http_url, api_key=server.api_key, api_secret=server.api_secret
    )
    try:
        await lkapi.room.remove_participant(RoomParticipantIdentity(room=room, identity=identity))
    finally:
        await lkapi.aclose()


async def official_call(
    peer: OfficialPeer, method: str, payload: str, response_timeout: float
) -> str:
    async with asyncio.timeout(CALL_BOUND_S):
        return await peer.local.perform_rpc(
            destination_identity="edge-1",
            method=method,
            payload=payload,
            response_timeout=response_timeout,
        )


# --- the official SDK calls us ---------------------------------------------------------


async def test_official_caller_gets_our_answer(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    ours = await edge()
    seen: list[RpcInvocation] = []

    async def greet(invocation: RpcInvocation) -> str:
        seen.append(invocation)
        return f"hello {invocation.caller_identity}: {invocation.payload}"

    ours.rpc.register_method("greet", greet)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    assert await official_call(viewer, "greet", "hi ✓", response_timeout=10) == "hello viewer: hi ✓"
    [invocation] = seen
    assert invocation.method == "greet"
    assert invocation.response_timeout_s == 3.0  # the SDK sends max(10 s - 7 s, 1 s)


async def test_a_call_that_arrives_before_its_method_is_registered_is_served(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    # A peer may call the moment it sees us join, before our services have registered.
    ours = await edge(settling_s=60)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    early = asyncio.create_task(official_call(viewer, "late", "x", response_timeout=10))
    await assert_eventually(lambda: ours.rpc.calls_in_progress == 1)

    async def late(invocation: RpcInvocation) -> str:
        return f"late answer to {invocation.payload}"

    ours.rpc.register_method("late", late)
    assert await early == "late answer to x"


async def test_unknown_method_reaches_the_official_caller_as_1400(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    ours = await edge()
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    with pytest.raises(rtc.RpcError) as info:
        await official_call(viewer, "no-such-method", "", response_timeout=10)
    assert (info.value.code, info.value.message) == (1400, "Method not supported at destination")


async def test_handler_rpc_error_reaches_the_official_caller_intact(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    ours = await edge()

    async def refuse(invocation: RpcInvocation) -> str:
        raise RpcError(2001, "not today", '{"retry_in_s":5}')

    ours.rpc.register_method("refuse", refuse)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    with pytest.raises(rtc.RpcError) as info:
        await official_call(viewer, "refuse", "", response_timeout=10)
    assert (info.value.code, info.value.message, info.value.data) == (
        2001,
        "not today",
        '{"retry_in_s":5}',
    )


async def test_handler_crash_is_1500_without_the_details(
    edge: EdgeFactory, official_peer: OfficialPeerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ours = await edge()

    async def crash(invocation: RpcInvocation) -> str:
        raise ValueError("internal detail")

    ours.rpc.register_method("crash", crash)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    with pytest.raises(rtc.RpcError) as info:
        await official_call(viewer, "crash", "", response_timeout=10)
    assert (info.value.code, info.value.message) == (1500, "Application error in method handler")
    assert "internal detail" not in f"{info.value.message} {info.value.data}"
    [record] = [r for r in caplog.records if r.name == "edge.livekit.rpc_dispatch"]
    assert "'viewer'" in record.getMessage()
    assert record.exc_info is not None


async def test_misbehaving_handlers_answer_1500(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    ours = await edge()

    async def own_timeout(invocation: RpcInvocation) -> str:
        raise TimeoutError("an upstream call timed out")  # not the caller's deadline

    async def self_cancel(invocation: RpcInvocation) -> str:
        raise asyncio.CancelledError  # not a cancellation of the handler's task

    async def not_a_string(invocation: RpcInvocation) -> str:
        return 42  # type: ignore[return-value]

    for handler in (own_timeout, self_cancel, not_a_string):
        ours.rpc.register_method(handler.__name__, handler)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    for method in ("own_timeout", "self_cancel", "not_a_string"):
        with pytest.raises(rtc.RpcError) as info:
            await official_call(viewer, method, "", response_timeout=10)
        assert info.value.code == RpcErrorCode.APPLICATION_ERROR, method


async def test_slow_handler_is_cancelled_and_the_caller_gets_1502(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    ours = await edge()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(invocation: RpcInvocation) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    ours.rpc.register_method("slow", slow)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    with pytest.raises(rtc.RpcError) as info:
        # The request carries 1 s; the official caller itself would wait 3 s after the ack.
        await official_call(viewer, "slow", "", response_timeout=3)
    assert info.value.code == RpcErrorCode.RESPONSE_TIMEOUT
    assert started.is_set()
    assert cancelled.is_set()


async def test_an_answer_over_v1s_limit_reaches_the_official_caller_by_rpc_v2(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    # A v1 caller gets 1504 for this answer: tests/e2e/test_rpc_v2.py (an old-protocol peer).
    ours = await edge()

    async def big(invocation: RpcInvocation) -> str:
        return "x" * 20_000

    ours.rpc.register_method("big", big)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    assert await official_call(viewer, "big", "", response_timeout=10) == "x" * 20_000


async def test_calls_beyond_the_cap_are_refused_while_the_first_runs(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    ours = await edge(max_concurrent=1)
    release = asyncio.Event()
    entered: list[str] = []

    async def hold(invocation: RpcInvocation) -> str:
        entered.append(invocation.payload)
        await release.wait()
        return "released"

    ours.rpc.register_method("hold", hold)
    viewer = await official_peer("viewer")
    await meet(ours, viewer)
    async with asyncio.TaskGroup() as tg:
        first = tg.create_task(official_call(viewer, "hold", "first", response_timeout=15))
        await assert_eventually(lambda: entered == ["first"])
        with pytest.raises(rtc.RpcError) as info:
            await official_call(viewer, "hold", "second", response_timeout=15)
        assert (info.value.code, info.value.message) == (1500, "too many concurrent calls")
        release.set()
    assert first.result() == "released"
    assert entered == ["first"]


# --- we call the official SDK ----------------------------------------------------------


async def test_we_get_the_official_callee_answer(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")

    async def echo(data: rtc.RpcInvocationData) -> str:
        return f"{data.caller_identity} said {data.payload}"

    viewer.local.register_rpc_method("echo", echo)
    ours = await edge()
    await meet(ours, viewer)
    async with asyncio.timeout(CALL_BOUND_S):
        answer = await ours.rpc.perform_rpc("viewer", "echo", "ping ✓", response_timeout_s=10)
    assert answer == "edge-1 said ping ✓"


async def test_official_callee_error_reaches_us_intact(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")

    async def refuse(data: rtc.RpcInvocationData) -> str:
        raise rtc.RpcError(2002, "denied", '{"who":"edge-1"}')

    viewer.local.register_rpc_method("refuse", refuse)
    ours = await edge()
    await meet(ours, viewer)
    with pytest.raises(RpcError) as info:
        async with asyncio.timeout(CALL_BOUND_S):
            await ours.rpc.perform_rpc("viewer", "refuse", "", response_timeout_s=10)
    assert (info.value.code, info.value.message, info.value.data) == (
        2002,
        "denied",
        '{"who":"edge-1"}',
    )


async def test_method_the_official_callee_lacks_is_1400(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    ours = await edge()
    await meet(ours, viewer)
    with pytest.raises(RpcError) as info:
        async with asyncio.timeout(CALL_BOUND_S):
            await ours.rpc.perform_rpc("viewer", "nothing-here", "", response_timeout_s=10)
    assert info.value.code == RpcErrorCode.UNSUPPORTED_METHOD


async def test_absent_destination_is_a_connection_timeout(edge: EdgeFactory) -> None:
    ours = await edge(ack_timeout_s=1.5)
    with pytest.raises(RpcError) as info:
        async with asyncio.timeout(CALL_BOUND_S):
            await ours.rpc.perform_rpc("nobody", "anything", "", response_timeout_s=2)
    assert info.value.code == RpcErrorCode.CONNECTION_TIMEOUT


async def test_callee_removed_mid_call_is_recipient_disconnected(
    edge: EdgeFactory,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
) -> None:
    # Removed by the server, the callee cannot answer for itself (a clean leave answers 1503
    # from the official SDK): the 1503 comes from our watch on departures.
    viewer = await official_peer("viewer")
    entered = asyncio.Event()

    async def hang(data: rtc.RpcInvocationData) -> str:
        entered.set()
        await asyncio.Event().wait()
        return "never"

    viewer.local.register_rpc_method("hang", hang)
    ours = await edge()
    await meet(ours, viewer)
    async with asyncio.TaskGroup() as tg:
        call = tg.create_task(failure(ours.rpc.perform_rpc("viewer", "hang", "")))
        async with asyncio.timeout(CALL_BOUND_S):
            await entered.wait()
        await remove_participant(livekit_server, room_name, "viewer")
    error = call.result()
    assert (error.code, error.data) == (RpcErrorCode.RECIPIENT_DISCONNECTED, "left the room")


async def test_our_own_disconnect_ends_pending_calls(
    livekit_server: LiveKitServer, room_name: str, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    entered = asyncio.Event()

    async def hang(data: rtc.RpcInvocationData) -> str:
        entered.set()
        await asyncio.Event().wait()
        return "never"

    viewer.local.register_rpc_method("hang", hang)
    token = mint_token(livekit_server, identity="edge-1", room=room_name)
    options = RoomOptions(url=livekit_server.url, attributes={})
    async with asyncio.TaskGroup() as tg, Room.connect(options, token) as room:
        rpc = RpcEndpoint(room)
        await meet(Edge(room, rpc), viewer)
        call = tg.create_task(failure(rpc.perform_rpc("viewer", "hang", "")))
        async with asyncio.timeout(CALL_BOUND_S):
            await entered.wait()
    error = call.result()
    assert (error.code, error.data) == (RpcErrorCode.RECIPIENT_DISCONNECTED, "room disconnected")
    with pytest.raises(RpcError) as after:
        await rpc.perform_rpc("viewer", "hang", "")
    assert after.value.code == RpcErrorCode.SEND_FAILED


# --- raw packets, for what the official SDKs never send ------------------------------


@dataclass
class RawCaller:
    """A second edge room that sends hand-made RPC packets and records the replies."""

    room: Room
    replies: list[OtherPacket] = field(default_factory=list)

    @classmethod
    async def join(cls, rooms: RoomFactory) -> RawCaller:
        raw = cls(await rooms("raw-caller"))
        for kind in ("rpc_ack", "rpc_response"):
            raw.room.register_packet_handler(kind, raw.replies.append)
        return raw

    async def send(self, request_id: str, method: str, *, version: int = 1) -> None:
        rpc = proto_models.RpcRequest(
            id=request_id, method=method, payload="p", response_timeout_ms=5000, version=version
        )
        packet = proto_models.DataPacket(destination_identities=["edge-1"], rpc_request=rpc)
        await self.room.send_packet(packet)

    def kinds(self, request_id: str) -> list[str]:
        ids = {"rpc_ack": "request_id", "rpc_response": "request_id"}
        return [
            r.kind
            for r in self.replies
            if getattr(getattr(r.packet, r.kind), ids[r.kind]) == request_id
        ]


async def test_retransmitted_request_runs_the_handler_once(
    edge: EdgeFactory, rooms: RoomFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ours = await edge()
    runs: list[str] = []

    async def count(invocation: RpcInvocation) -> str:
        runs.append(invocation.request_id)
        return "counted"

    ours.rpc.register_method("count", count)
    raw = await RawCaller.join(rooms)
    await assert_eventually(lambda: "raw-caller" in ours.room.remote_participants)
    await assert_eventually(lambda: "edge-1" in raw.room.remote_participants)
    caplog.set_level(logging.INFO, logger="edge.protocol.rpc")
    await raw.send("same-id", "count")
    await assert_eventually(lambda: raw.kinds("same-id") == ["rpc_ack", "rpc_response"])
    await raw.send("same-id", "count")
    await raw.send("v2-id", "count", version=2)
    await assert_eventually(lambda: raw.kinds("v2-id") == ["rpc_ack", "rpc_response"])
    assert runs == ["same-id"]
    assert raw.kinds("same-id") == ["rpc_ack", "rpc_response", "rpc_ack"]
    [v2_response] = [r for r in raw.replies if r.kind == "rpc_response"][1:]
    assert v2_response.packet.rpc_response.error.code == RpcErrorCode.UNSUPPORTED_VERSION
    assert any("'raw-caller'" in r.getMessage() for r in caplog.records)


async def test_payloads_of_the_full_15360_byte_limit_pass_both_ways(
    edge: EdgeFactory, official_peer: OfficialPeerFactory
) -> None:
    full = "é" * 7_680  # 15 360 bytes of UTF-8
    viewer = await official_peer("viewer")

    async def official_echo(data: rtc.RpcInvocationData) -> str:
        return data.payload

    viewer.local.register_rpc_method("echo", official_echo)
    ours = await edge()

    async def our_echo(invocation: RpcInvocation) -> str:
        return invocation.payload

    ours.rpc.register_method("echo", our_echo)
    await meet(ours, viewer)
    assert await official_call(viewer, "echo", full, response_timeout=10) == full
    async with asyncio.timeout(CALL_BOUND_S):
        assert await ours.rpc.perform_rpc("viewer", "echo", full, response_timeout_s=10) == full
