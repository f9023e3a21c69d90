"""GPIO through RPC: the official SDK calls, mock pins prove what happened, fail-safes fire."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest
from livekit import rtc

from edge.gpio.room_session import serve_gpio
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, InputKind, InputSpec, OutputKind, OutputSpec
from edge.livekit.room import ConnectionState, Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint
from edge.testing.pins import SimulatedPinFactory
from tests.conftest import OfficialPeerFactory, ServerProcess
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = pytest.mark.e2e

OPS = ("op-*",)
CONFIG = GpioConfig(
    outputs=(
        OutputSpec(
            name="relay",
            kind=OutputKind.DIGITAL,
            pins=(17,),
            safe_value=0,
            active_high=False,
            allow=OPS,
        ),
        OutputSpec(name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0, allow=OPS),
        OutputSpec(name="servo", kind=OutputKind.SERVO, pins=(12,), safe_value=0, allow=OPS),
        OutputSpec(
            name="motor",
            kind=OutputKind.MOTOR,
            pins=(20, 21),
            safe_value=0,
            max_rate_hz=1,
            allow=OPS,
        ),
        OutputSpec(name="buzzer", kind=OutputKind.BUZZER, pins=(22,), safe_value=0, allow=OPS),
        OutputSpec(
            name="heater",
            kind=OutputKind.DIGITAL,
            pins=(5,),
            safe_value=0,
            max_hold_s=0.6,
            allow=OPS,
        ),
    ),
    inputs=(
        InputSpec(name="button", kind=InputKind.BUTTON, pins=(27,), pull_up=True),
        InputSpec(name="range", kind=InputKind.DISTANCE, pins=(24, 25), max_distance_m=2.0),
        InputSpec(name="pot", kind=InputKind.ADC, pins=(), chip="MCP3008", channel=0),
    ),
    link_loss_grace_s=0.5,
)
SAFETY_MARGIN_S = 1.0
"""Outputs must be safe within this long after a trigger."""


@dataclass
class GpioEdge:
    room: Room
    gpio: GpioService
    pins: SimulatedPinFactory

    def pin(self, number: int) -> object:
        return self.pins.pin(number).state


JoinEdge = Callable[..., Awaitable[GpioEdge]]


@pytest.fixture
async def gpio_edge(room_name: str) -> AsyncIterator[JoinEdge]:
    """Our Room serving the GPIO methods on mock pins, joined to `server` on demand."""
    tasks: list[asyncio.Task[None]] = []
    async with AsyncExitStack() as stack, asyncio.TaskGroup() as tg:

        async def join(server: LiveKitServer, identity: str = "edge-1") -> GpioEdge:
            pins = SimulatedPinFactory(CONFIG)
            gpio = GpioService(CONFIG, pin_factory=pins)
            stack.callback(gpio.close, "test over")
            tasks.append(tg.create_task(gpio.run(), name="test.gpio-timers"))
            token = mint_token(server, identity=identity, room=room_name)
            room = await stack.enter_async_context(
                Room.connect(RoomOptions(url=server.url, attributes={}), token)
            )
            serve = serve_gpio(room, gpio, rpc=RpcEndpoint(room))
            tasks.append(tg.create_task(serve, name="test.serve-gpio"))
            return GpioEdge(room, gpio, pins)

        yield join
        await stack.aclose()
        for task in tasks:  # the service loops run until cancelled
            task.cancel()


class Raw(str):
    """A payload sent as it is, not JSON-encoded."""


async def call(
    peer: OfficialPeer, method: str, payload: object = None, *, to: str = "edge-1"
) -> object:
    text = payload if isinstance(payload, Raw) else "" if payload is None else json.dumps(payload)
    reply = await peer.local.perform_rpc(
        destination_identity=to, method=method, payload=text, response_timeout=5.0
    )
    return json.loads(reply)


async def refused(peer: OfficialPeer, method: str, payload: object) -> rtc.RpcError:
    with pytest.raises(rtc.RpcError) as info:
        await call(peer, method, payload)
    return info.value


async def test_every_device_kind_is_driven_and_read_through_rpc(
    gpio_edge: JoinEdge, livekit_server: LiveKitServer, official_peer: OfficialPeerFactory
) -> None:
    op = await official_peer("op-anna")
    edge = await gpio_edge(livekit_server)
    await op.wait_participant("edge-1")
    assert edge.pin(17) is True  # active-low relay starts off

    assert await call(op, "gpio.set", {"device": "relay", "value": 1}) == {
        "device": "relay",
        "value": 1,
    }
    assert edge.pin(17) is False
    await call(op, "gpio.set", {"device": "fan", "value": 0.4})
    assert edge.pin(18) == 0.4
    await call(op, "gpio.set", {"device": "servo", "value": -1})
    assert edge.pin(12) == pytest.approx(0.05)
    await call(op, "gpio.set", {"device": "motor", "value": 0.75})
    assert (edge.pin(20), edge.pin(21)) == (0.75, 0)
    await call(op, "gpio.set", {"device": "buzzer", "value": True})
    assert edge.pin(22) is True

    assert await call(op, "gpio.read", {"device": "button"}) == {"device": "button", "value": 0}
    edge.pins.pin(27).drive_low()
    assert await call(op, "gpio.read", {"device": "button"}) == {"device": "button", "value": 1}
    distance = await call(op, "gpio.read", {"device": "range"})
    assert isinstance(distance, dict)
    assert 0 < distance["value"] <= 2.0
    assert edge.pins.adc is not None
    edge.pins.adc.values[0] = 0.75
    adc = await call(op, "gpio.read", {"device": "pot"})
    assert isinstance(adc, dict)
    assert adc["value"] == pytest.approx(0.75, abs=0.002)

    described = await call(op, "edge.describe")
    assert isinstance(described, dict)
    assert "gpio.set" in described["methods"]


async def test_errors_reach_the_official_caller_with_code_and_message(
    gpio_edge: JoinEdge, livekit_server: LiveKitServer, official_peer: OfficialPeerFactory
) -> None:
    op = await official_peer("op-anna")
    viewer = await official_peer("viewer")
    edge = await gpio_edge(livekit_server)
    await op.wait_participant("edge-1")
    await viewer.wait_participant("edge-1")

    error = await refused(op, "gpio.set", Raw("not json at all"))
    assert (error.code, "payload is not JSON" in error.message) == (2000, True)
    error = await refused(op, "gpio.set", {"device": "lamp", "value": 1})
    assert (error.code, error.message) == (
        2001,
        "no output named 'lamp' (outputs: buzzer, fan, heater, motor, relay, servo)",
    )
    error = await refused(op, "gpio.set", {"device": "fan", "value": 7})
    assert (error.code, error.message) == (2002, "fan: value must be from 0 to 1, got 7")
    error = await refused(viewer, "gpio.set", {"device": "relay", "value": 1})
    assert (error.code, error.message) == (2003, "'viewer' may not actuate 'relay'")
    await call(op, "gpio.set", {"device": "motor", "value": 0.5})
    error = await refused(op, "gpio.set", {"device": "motor", "value": -0.5})
    assert (error.code, error.message) == (2004, "motor: at most 1 changes per second")
    error = await refused(op, "gpio.toggle", {"device": "relay"})
    assert error.code == rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD
    assert edge.pin(17) is True  # nothing of that touched the relay
    assert (edge.pin(20), edge.pin(21)) == (0.5, 0)


async def test_lease_keeps_a_second_operator_out_and_shows_in_attributes(
    gpio_edge: JoinEdge, livekit_server: LiveKitServer, official_peer: OfficialPeerFactory
) -> None:
    anna = await official_peer("op-anna")
    ben = await official_peer("op-ben")
    edge = await gpio_edge(livekit_server)
    await anna.wait_participant("edge-1")
    await ben.wait_participant("edge-1")
    await call(anna, "gpio.lease", {"action": "acquire", "duration_s": 30})
    error = await refused(ben, "gpio.set", {"device": "relay", "value": 1})
    assert (error.code, error.message) == (2003, "outputs are leased to 'op-anna'")
    await assert_eventually(
        lambda: ben.participant("edge-1").attributes.get("edge.lease") == "op-anna",
        message=lambda: f"ben saw {ben.attribute_changes}",
    )
    await call(anna, "gpio.lease", {"action": "release"})
    await call(ben, "gpio.set", {"device": "relay", "value": 1})
    assert edge.pin(17) is False
    await assert_eventually(
        lambda: ben.participant("edge-1").attributes.get("gpio.relay") == "1",
        message=lambda: f"ben saw {ben.attribute_changes}",
    )


async def test_hold_expiry_drives_the_output_safe_in_time(
    gpio_edge: JoinEdge, livekit_server: LiveKitServer, official_peer: OfficialPeerFactory
) -> None:
    op = await official_peer("op-anna")
    edge = await gpio_edge(livekit_server)
    await op.wait_participant("edge-1")
    await call(op, "gpio.set", {"device": "heater", "value": 1, "hold_s": 0.3})
    assert edge.pin(5) is True
    await assert_eventually(lambda: edge.pin(5) is False, timeout=0.3 + SAFETY_MARGIN_S)
    # Renewal keeps it on: the dead-man interval (0.6 s) restarts on every set.
    await call(op, "gpio.set", {"device": "heater", "value": 1})
    await call(op, "gpio.set", {"device": "heater", "value": 1})
    assert edge.pin(5) is True
    await assert_eventually(lambda: edge.pin(5) is False, timeout=0.6 + SAFETY_MARGIN_S)


async def test_controller_leaving_drives_its_outputs_safe(
    gpio_edge: JoinEdge, livekit_server: LiveKitServer, official_peer: OfficialPeerFactory
) -> None:
    anna = await official_peer("op-anna")
    ben = await official_peer("op-ben")
    edge = await gpio_edge(livekit_server)
    await anna.wait_participant("edge-1")
    await ben.wait_participant("edge-1")
    await call(anna, "gpio.set", {"device": "relay", "value": 1})
    await call(ben, "gpio.set", {"device": "fan", "value": 0.5})
    await anna.disconnect()
    await assert_eventually(lambda: "op-anna" not in edge.room.remote_participants, timeout=15)
    await assert_eventually(lambda: edge.pin(17) is True, timeout=SAFETY_MARGIN_S)
    assert edge.pin(18) == 0.5  # ben's output is his to keep


async def test_losing_the_room_drives_outputs_safe_after_the_grace(
    gpio_edge: JoinEdge, private_livekit_server: ServerProcess, room_name: str
) -> None:
    server = private_livekit_server.server
    edge = await gpio_edge(server)
    token = mint_token(server, identity="op-anna", room=room_name)
    op = await OfficialPeer.connect(server.url, token, identity="op-anna")
    try:
        await op.wait_participant("edge-1")
        await call(op, "gpio.set", {"device": "relay", "value": 1})
        await call(op, "gpio.set", {"device": "motor", "value": -1})
        assert edge.pin(17) is False
        private_livekit_server.kill()
        # Noticed (the room then tries to resume): the grace starts now, not when it gives up.
        await assert_eventually(lambda: edge.room.state is not ConnectionState.CONNECTED)
        lost_at = time.monotonic()
        await assert_eventually(
            lambda: edge.pin(17) is True and edge.pin(21) == 0,
            timeout=CONFIG.link_loss_grace_s + SAFETY_MARGIN_S,
        )
        assert time.monotonic() - lost_at >= CONFIG.link_loss_grace_s * 0.9  # the grace is honoured
    finally:
        await op.disconnect()


async def test_a_controller_that_leaves_before_we_heard_it_join_still_triggers_safe(
    gpio_edge: JoinEdge, livekit_server: LiveKitServer, official_peer: OfficialPeerFactory
) -> None:
    edge = await gpio_edge(livekit_server)
    quick = await official_peer("op-quick")  # the server announces it to us only seconds later
    await call(quick, "gpio.set", {"device": "relay", "value": 1})
    assert edge.pin(17) is False
    await quick.disconnect()
    await assert_eventually(lambda: edge.pin(17) is True, timeout=10)
