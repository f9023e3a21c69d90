"""serve_gpio's hand-off to the device twin, in and out of the room."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from edge.gpio import methods
from edge.gpio.binding import serve_gpio
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, OutputKind, OutputSpec
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


class QuietRoom:
    """A room in which nothing happens (serve_gpio only listens to it)."""

    async def _nothing(self) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None

    def events(self) -> AsyncIterator[Any]:
        return self._nothing()


class Methods:
    """Where serve_gpio registers its RPC methods."""

    def register_method(self, *_args: object, **_kwargs: object) -> None:
        pass


async def test_outputs_driven_safe_while_out_of_the_room_reach_the_twin() -> None:
    pins = SimulatedPinFactory(CONFIG)
    gpio = GpioService(CONFIG, pin_factory=pins)
    twin: dict[str, str] = {}
    try:
        async with asyncio.TaskGroup() as tg:
            timers = tg.create_task(gpio.run(), name="test.gpio-timers")
            serving = tg.create_task(
                serve_gpio(QuietRoom(), gpio, rpc=Methods(), publish=twin.update),  # type: ignore[arg-type]
                name="test.serve-gpio",
            )
            on = json.dumps({"device": "relay", "value": 1})
            await methods.call(gpio, "gpio.set", "op-anna", on)
            await assert_eventually(lambda: twin.get("gpio.relay") == "1")

            serving.cancel()  # the room is gone; the grace timer drives the relay safe
            await assert_eventually(lambda: pins.pin(17).state is False, timeout=5)
            assert twin["gpio.relay"] == "0", "the twin must not keep a stale 'on'"
            timers.cancel()
    finally:
        gpio.close("test over")
