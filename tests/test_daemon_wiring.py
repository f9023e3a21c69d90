"""The daemon's services subscribe to one another's events in any order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig
from edge.livekit.twin_publisher import TwinPublisher
from edge.mqtt.bridge import MqttBridge
from edge.mqtt.bridge_links import RoomLink, open_bridge
from edge.mqtt.spec import MqttConfig
from edge.services import mirror_temperatures
from edge.telemetry.outbox import Outbox
from edge.telemetry.sampler import TelemetryService
from edge.telemetry.spec import TelemetryConfig
from tests.helpers import Thermometer, assert_eventually


@pytest.mark.parametrize("mirror_first", [False, True], ids=["bridge-first", "mirror-first"])
async def test_the_mqtt_bridge_and_the_celsius_mirror_both_see_readings_in_either_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror_first: bool
) -> None:
    outbox = Outbox.open(tmp_path / "spool.sqlite3", max_rows=100)
    telemetry = TelemetryService(TelemetryConfig(), outbox, sensors=[Thermometer()])
    twin = TwinPublisher()
    gpio = GpioService(GpioConfig())
    mirrored: list[tuple[str, float, str]] = []

    def wire_bridge() -> MqttBridge:
        bridge = open_bridge(
            MqttConfig(host="127.0.0.1", port=9), identity="edge", gpio=gpio,
            telemetry=telemetry, twin=twin, sensors=(), model="", link=RoomLink(),
        )  # fmt: skip

        def publish_reading(sensor: str, value: float, unit: str, _time_us: int) -> None:
            mirrored.append((sensor, value, unit))

        monkeypatch.setattr(bridge, "publish_reading", publish_reading)
        return bridge

    if mirror_first:
        mirror_temperatures(telemetry, twin)
        wire_bridge()
    else:
        wire_bridge()
        mirror_temperatures(telemetry, twin)
    try:
        async with asyncio.TaskGroup() as tg:
            sampling = tg.create_task(telemetry.run(), name="test.telemetry")
            await assert_eventually(lambda: bool(mirrored))
            sampling.cancel()
        assert mirrored[0] == ("cpu", 48.5, "°C")
        assert twin.twin.desired.get("edge.temperature.cpu") == "48.5"
    finally:
        telemetry.close()
        gpio.close("test over")
