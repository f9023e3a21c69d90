"""serve_gpio's hand-off to the device twin, in and out of the room."""

from __future__ import annotations

import asyncio
import json

from edge.gpio import methods
from edge.gpio.room_session import follow_status, serve_gpio, status_attributes
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, OutputKind, OutputSpec
from edge.testing.fake_room import FakeRoom, MethodRecorder
from edge.testing.pins import SimulatedPinFactory
from tests.helpers import assert_eventually

CONFIG = GpioConfig(
    outputs=(
        OutputSpec(
            name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0, allow=("op-*",)
        ),
    ),
    link_loss_grace_s=0.2,
)


async def test_outputs_driven_safe_while_out_of_the_room_reach_the_twin() -> None:
    pins = SimulatedPinFactory(CONFIG)
    gpio = GpioService(CONFIG, pin_factory=pins)
    twin: dict[str, str] = {}
    try:
        async with asyncio.TaskGroup() as tg:
            timers = tg.create_task(gpio.run(), name="test.gpio-timers")
            follow_status(gpio, twin.update)
            room, rpc = FakeRoom(), MethodRecorder()
            serving = tg.create_task(
                serve_gpio(room, gpio, rpc=rpc, set_attributes=False),
                name="test.serve-gpio",
            )
            await assert_eventually(lambda: "gpio.set" in rpc.methods)  # in the room
            on = json.dumps({"device": "relay", "value": 1})
            await methods.call(gpio, "gpio.set", "op-anna", on)
            await assert_eventually(lambda: twin.get("gpio.relay") == "1")

            serving.cancel()  # the room is gone; the grace timer drives the relay safe
            await assert_eventually(lambda: pins.pin(17).state is False, timeout=5)
            assert twin["gpio.relay"] == "0", "the twin must not keep a stale 'on'"
            failsafe = json.loads(twin["edge.last_failsafe"])
            assert failsafe["what"] == ["relay"]
            assert failsafe["why"].startswith("room connection lost for ")
            timers.cancel()
    finally:
        gpio.close("test over")


def test_each_fail_safe_is_recorded_and_a_pulse_end_is_not() -> None:
    now = [100.0]
    gpio = GpioService(
        CONFIG,
        pin_factory=SimulatedPinFactory(CONFIG),
        clock=lambda: now[0],
        wall_clock=lambda: 1.7e9,
    )
    try:
        assert "edge.last_failsafe" not in status_attributes(gpio)
        gpio.command(
            gpio.actuator.request(device="relay", value=1, caller="op-a", now=100, pulse_s=1)
        )
        now[0] = 101.0
        gpio.apply(gpio.actuator.poll(now[0]))  # the pulse ends: its normal end
        assert gpio.actuator.value("relay") == 0
        assert "edge.last_failsafe" not in status_attributes(gpio)

        gpio.command(gpio.actuator.request(device="relay", value=1, caller="op-a", now=102))
        gpio.participant_left("op-b")  # controls nothing: nothing to record
        assert gpio.last_failsafe is None
        gpio.participant_left("op-a")
        assert status_attributes(gpio)["edge.last_failsafe"] == (
            '{"what":["relay"],"why":"controller \'op-a\' left","at":1700000000}'
        )
    finally:
        gpio.close("daemon stopping")
    assert json.loads(status_attributes(gpio)["edge.last_failsafe"])["why"] == "daemon stopping"
