"""The MQTT bridge's links: to the daemon's services, and into each room session."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from edge import wire
from edge.access import AccessPolicy
from edge.errors import EdgeError, RpcError
from edge.gpio import methods as gpio_methods
from edge.gpio.service import GpioService
from edge.livekit.ports import DataRoom, MetadataRoom, MethodRegistrar
from edge.livekit.room_events import ConnectionState
from edge.livekit.twin_publisher import TwinPublisher
from edge.mqtt.bridge import PUBLISH_PARAMS, READ_PARAMS, MqttBridge
from edge.mqtt.discovery import sensor_info
from edge.mqtt.payloads import MAX_PAYLOAD_BYTES
from edge.mqtt.spec import MqttConfig
from edge.protocol.participants import RoomMetadataChanged
from edge.protocol.rpc import RpcErrorCode, RpcInvocation
from edge.telemetry.codec import Sample
from edge.telemetry.sampler import TelemetryService
from edge.telemetry.spec import SensorSpec

_LOGGER = logging.getLogger(__name__)


class RoomLink:
    """Forwards allow-listed local topics into whichever room session is current."""

    def __init__(self) -> None:
        self.room: DataRoom | None = None
        self.dropped = 0

    async def forward(self, topic: str, payload: bytes) -> None:
        """Send as a reliable data packet on topic `mqtt/<topic>`; dropped while offline."""
        room = self.room
        if room is None or room.state is not ConnectionState.CONNECTED:
            self.dropped += 1
            return
        try:
            await room.publish_data(payload, topic=wire.Prefix.MQTT_PACKET + topic)
        except EdgeError as exc:
            self.dropped += 1
            _LOGGER.warning("could not forward MQTT message on %r into the room: %s", topic, exc)


def open_bridge(
    config: MqttConfig,
    *,
    identity: str,
    gpio: GpioService,
    telemetry: TelemetryService | None,
    twin: TwinPublisher,
    sensors: Sequence[SensorSpec],
    model: str,
    link: RoomLink,
    policy: AccessPolicy | None = None,
) -> MqttBridge:
    """The bridge for the daemon's lifetime, wired to GPIO commands, readings and the twin.

    Commands pass `policy` (the RPC endpoint's access check) before their method runs.
    """

    async def dispatch(method: str, caller: str, payload: str) -> str:
        # Same methods, access policy, schemas and fail-safes as over RPC.
        if method not in gpio_methods.METHODS:
            raise RpcError(RpcErrorCode.UNSUPPORTED_METHOD, f"no method {method!r}")
        refusal = policy.refusal(caller, method, payload) if policy is not None else None
        if refusal is not None:
            raise refusal
        return await gpio_methods.call(gpio, method, caller, payload)

    bridge = MqttBridge(
        config,
        identity=identity,
        dispatch=dispatch,
        forward=link.forward,
        sensors=[sensor_info(s) for s in sensors],
        outputs=gpio.config.outputs,
        inputs=gpio.config.inputs,
        read_input=gpio.read,
        output_values=lambda: {o.name: gpio.actuator.value(o.name) for o in gpio.config.outputs},
        model=model,
    )
    # Subscribed for as long as the bridge runs; its end unsubscribes them.
    bridge.close_with(twin.changes.subscribe(bridge.publish_state))
    loop = asyncio.get_running_loop()
    for spec in gpio.config.inputs:  # buttons and digital inputs: each change at once

        def changed(value: float, name: str = spec.name) -> None:  # on gpiozero's thread
            loop.call_soon_threadsafe(bridge.publish_input, name, value)

        unwatch = gpio.watch(spec.name, changed)
        if unwatch is not None:
            bridge.close_with(unwatch)
    if telemetry is not None:

        def mirror(sample: Sample) -> None:
            bridge.publish_reading(sample.sensor, sample.value, sample.unit, sample.time_us)  # type: ignore[arg-type]

        bridge.close_with(telemetry.readings.subscribe(mirror))
    return bridge


async def serve_mqtt(
    room: MetadataRoom, bridge: MqttBridge, *, rpc: MethodRegistrar, link: RoomLink
) -> None:
    """Serve mqtt.publish / mqtt.read in `room`, forward into it, mirror its metadata."""

    async def publish(invocation: RpcInvocation) -> str:
        return await bridge.rpc_publish(invocation.params)

    async def read(invocation: RpcInvocation) -> str:
        return await bridge.rpc_read(invocation.params)

    rpc.register_method(
        wire.Method.MQTT_PUBLISH,
        publish,
        description="Publish to an allowed topic of the local MQTT broker",
        params=PUBLISH_PARAMS,
        max_bytes=MAX_PAYLOAD_BYTES,
    )
    rpc.register_method(
        wire.Method.MQTT_READ,
        read,
        description="The last value seen on an allowed MQTT topic",
        params=READ_PARAMS,
        max_bytes=MAX_PAYLOAD_BYTES,
    )
    events = room.events()
    bridge.publish_room_metadata(room.metadata)
    link.room = room
    try:
        async for event in events:
            if isinstance(event, RoomMetadataChanged):
                bridge.publish_room_metadata(event.new)
    finally:
        link.room = None
