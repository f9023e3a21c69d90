"""GPIO inputs as telemetry: sampled on schedule, and buttons report every press as it happens."""

from __future__ import annotations

import asyncio
import functools
import tomllib
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, InputKind, InputSpec
from edge.telemetry.outbox import Outbox
from edge.telemetry.sampler import MAX_THREAD_HANDOVERS, TelemetryService
from edge.telemetry.spec import SensorKind, SensorSpec, TelemetryConfig
from edge.testing.pins import SimulatedPinFactory
from tests.helpers import assert_eventually

GPIO = GpioConfig(
    inputs=(
        InputSpec(name="door", kind=InputKind.BUTTON, pins=(27,), pull_up=True),
        InputSpec(name="level", kind=InputKind.ADC, pins=(), channel=1),
    )
)
TELEMETRY = TelemetryConfig(
    sensors=(
        SensorSpec(name="door", kind=SensorKind.GPIO, input="door", period_s=60),
        SensorSpec(name="level", kind=SensorKind.GPIO, input="level", period_s=0.05),
    )
)


async def test_inputs_are_sampled_and_button_presses_arrive_as_they_happen(tmp_path: Path) -> None:
    pins = SimulatedPinFactory(GPIO)
    assert pins.adc is not None
    pins.adc.values[1] = 0.25
    gpio = GpioService(GPIO, pin_factory=pins)
    outbox = Outbox.open(tmp_path / "spool.sqlite3", max_rows=10_000)
    telemetry = TelemetryService(TELEMETRY, outbox, read_input=gpio.read)
    assert gpio.watch("door", functools.partial(telemetry.record_from_thread, "door"))
    assert not gpio.watch("level", lambda v: None)  # an ADC has no edges

    def readings(sensor: str) -> list[object]:
        return [r.value for r in outbox.read_after(0, limit=10_000).readings if r.sensor == sensor]

    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(telemetry.run(), name="test.telemetry")
            await assert_eventually(lambda: len(readings("level")) >= 3)
            assert readings("level")[0] == pytest.approx(0.25, abs=0.002)
            await assert_eventually(lambda: readings("door") == [0.0])  # first scheduled read
            pins.pin(27).drive_low()  # pressed
            pins.pin(27).drive_high()  # released
            await assert_eventually(lambda: readings("door") == [0.0, 1.0, 0.0])
            task.cancel()
    finally:
        await telemetry.aclose()
        gpio.close("test over")


async def test_a_flood_of_edges_is_bounded(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "spool.sqlite3", max_rows=100_000)
    telemetry = TelemetryService(
        TelemetryConfig(
            sensors=(SensorSpec(name="b", kind=SensorKind.GPIO, input="b", period_s=3600),)
        ),
        outbox,
        read_input=lambda name: 0.0,
    )
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(telemetry.run(), name="test.telemetry")
        await asyncio.sleep(0)  # let run() note its loop
        # 5 000 edges while the loop is busy (here: running this very code, as a blocked
        # loop would): only MAX_THREAD_HANDOVERS may wait for it, the rest are counted.
        for _ in range(5_000):
            telemetry.record_from_thread("b", 1.0)
        await assert_eventually(lambda: telemetry.failures.get("b", 0) > 0)
        task.cancel()
    await telemetry.aclose()
    reopened = Outbox.open(tmp_path / "spool.sqlite3", max_rows=100_000)
    try:
        readings = reopened.read_after(0, limit=100_000).readings
        taken = sum(r.value == 1.0 for r in readings)  # not the first scheduled read (0.0)
    finally:
        reopened.close()
    assert taken == MAX_THREAD_HANDOVERS
    assert telemetry.failures["b"] == 5_000 - MAX_THREAD_HANDOVERS  # dropped, and counted


def test_a_gpio_sensor_must_name_a_declared_input() -> None:
    text = """
[livekit]
url = "ws://h"
room = "r"
identity = "e"
token = "t"

[[gpio.inputs]]
name = "door"
pin = 27

[[telemetry.sensors]]
name = "s"
kind = "gpio"
input = "window"

[[telemetry.sensors]]
name = "t"
kind = "cpu_load"
input = "door"
"""
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(text), env={})
    assert (
        "telemetry.sensors[0].input: no [[gpio.inputs]] named 'window' (inputs: door)"
        in err.value.issues
    )
    assert "telemetry.sensors[1].input: does not apply to a cpu_load sensor" in err.value.issues
