"""The services that outlive room sessions: built once from the config, bound to each room.

    services = await open_services(config, simulate=False, pin_factory=None, model="")
    for name, service in services.running().items():
        tg.create_task(service.run(), name=name)

GPIO and the twin always exist, and the log ring unless a fleet runs the board; telemetry,
media and the MQTT bridge only when configured (their libraries load only then). Services
reach one another through listeners, wired here once, in an order that does not matter
(`tests/test_daemon_wiring.py`).
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.access import AccessPolicy
from edge.config import Config
from edge.gpio.room_session import follow_status
from edge.gpio.service import GpioService
from edge.listeners import Unsubscribe
from edge.livekit.twin_publisher import TwinPublisher
from edge.logbook import LogRing
from edge.service import Service
from edge.telemetry.codec import Sample
from edge.telemetry.outbox import Outbox
from edge.telemetry.sampler import TelemetryService
from edge.telemetry.spec import SensorKind
from edge.temperature_mirror import TemperatureMirror

if TYPE_CHECKING:
    from edge.media.service import MediaService
    from edge.mqtt.bridge import MqttBridge
    from edge.mqtt.bridge_links import RoomLink


@dataclass(frozen=True, slots=True)
class Services:
    """What every room session binds to; the daemon owns them for its whole life."""

    gpio: GpioService
    twin: TwinPublisher
    logbook: LogRing | None
    """The recent log lines behind `edge.logs`; None in a fleet (its boards share a log)."""
    telemetry: TelemetryService | None = None
    media: MediaService | None = None
    """Camera and microphone, when configured."""
    bridge: MqttBridge | None = None
    link: RoomLink | None = None
    """Carries MQTT messages into the current room; with `bridge` only."""

    def running(self) -> dict[str, Service]:
        """The services with a task of their own, by task name.

        The MQTT bridge is cancelled with the others after the room was left, so its last
        word to the broker is "offline".
        """
        running: dict[str, Service] = {"daemon.gpio-timers": self.gpio}
        if self.telemetry is not None:
            running["daemon.telemetry"] = self.telemetry
        if self.bridge is not None:
            running["daemon.mqtt"] = self.bridge
        return running


async def open_services(
    config: Config, *, simulate: bool, pin_factory: Any, model: str, keep_logs: bool = True
) -> Services:
    """Build and wire the services `config` asks for (`pin_factory` None: gpiozero's).

    `keep_logs` False: no log ring, so no `edge.logs` (a fleet's boards share one log).
    """
    gpio = GpioService(config.gpio, pin_factory=pin_factory)
    telemetry = await _open_telemetry(config, gpio)
    twin = TwinPublisher()
    bridge = link = None
    if config.mqtt is not None:  # paho and the bridge load only when configured
        from edge.mqtt.bridge_links import RoomLink, open_bridge

        link = RoomLink()
        bridge = open_bridge(
            config.mqtt,
            identity=config.livekit.identity,
            gpio=gpio,
            telemetry=telemetry,
            twin=twin,
            sensors=config.telemetry.sensors,
            model=model,
            link=link,
            policy=AccessPolicy.from_config(config),
        )
    # In a room or not: outputs the fail-safes drive reach the twin, and so MQTT.
    follow_status(gpio, twin.update)
    if telemetry is not None:
        mirror_temperatures(telemetry, twin)
    media = None
    if config.camera is not None or config.microphone is not None:
        from edge.media.service import MediaService

        media = MediaService(
            config.camera, config.microphone, simulate=simulate, publish_status=twin.update
        )
    logbook = LogRing() if keep_logs else None
    return Services(gpio, twin, logbook, telemetry, media, bridge, link)


async def _open_telemetry(config: Config, gpio: GpioService) -> TelemetryService | None:
    if not config.telemetry.sensors:
        return None
    path = config.spool_path
    outbox = await asyncio.to_thread(Outbox.open, path, max_rows=config.telemetry.spool_max_rows)
    telemetry = TelemetryService(config.telemetry, outbox, read_input=gpio.read)
    for spec in config.telemetry.sensors:
        if spec.kind is SensorKind.GPIO:
            gpio.watch(spec.input, functools.partial(telemetry.record_from_thread, spec.name))
    return telemetry


def mirror_temperatures(telemetry: TelemetryService, twin: TwinPublisher) -> Unsubscribe:
    """Readings in °C also appear in the twin as `edge.temperature.<sensor>`, deadbanded."""
    mirror = TemperatureMirror()

    def mirror_reading(sample: Sample) -> None:
        if changes := mirror.changes(sample, time.monotonic()):
            twin.update(changes)

    return telemetry.readings.subscribe(mirror_reading)
