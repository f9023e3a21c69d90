"""A reproducible burst of malformed MQTT commands through a real mosquitto.

Every message is refused with an error reply, no output leaves its safe value, and the bridge
keeps serving a good command afterwards.
"""

from __future__ import annotations

import json
import random

from edge.gpio.service import GpioService
from edge.mqtt.bridge import MqttBridge
from edge.mqtt.client import MqttState
from edge.testing.pins import SimulatedPinFactory
from tests.helpers import assert_eventually
from tests.mqtt.conftest import Broker
from tests.mqtt.peer import MqttPeer
from tests.mqtt.test_bridge import BASE, config, gpio_dispatch, running
from tests.mqtt.test_bridge import gpio as gpio  # the fixture, re-exported

SEED = 20261123
COUNT = 300
METHODS = ("gpio.set", "gpio.pulse", "gpio.lease", "system.reboot", "gpio.set%", "x" * 200)


def bad_payload(rng: random.Random) -> bytes:
    """Something no method accepts: broken bytes/JSON, or JSON naming no real device."""
    match rng.randrange(7):
        case 0:
            return rng.randbytes(rng.randrange(0, 64))
        case 1:
            return b"\xff\xfe" + "ü".encode("utf-16-le")  # not UTF-8
        case 2:
            return json.dumps([1, 2, {"device": "relay"}]).encode()
        case 3:
            value = rng.choice([1, True, "on", None, 1e308, -1, [1]])
            return json.dumps(
                {"device": rng.choice(["relay ", "RELAY", "", "fan2"]), "value": value}
            ).encode()
        case 4:
            return json.dumps(
                {"device": "relay", "value": rng.choice(["1", None, [], 2, -1, 1.5])}
            ).encode()
        case 5:
            return b"{" * rng.randrange(1, 5000)
        case _:
            return json.dumps({"device": "relay", "value": 1, "extra": rng.random()}).encode()


async def test_a_burst_of_malformed_commands_is_refused_and_nothing_moves(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio: tuple[GpioService, SimulatedPinFactory]
) -> None:
    service, pins = gpio
    bridge = MqttBridge(config(mosquitto), identity="pi-1", dispatch=gpio_dispatch(service))
    mqtt_peer.subscribe(f"{BASE}/reply/#")
    rng = random.Random(SEED)
    async with running(bridge, gpio=service):
        await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED)
        for index in range(COUNT):
            method = rng.choice(METHODS)
            mqtt_peer.publish(f"{BASE}/cmd/{method}/fuzz{index}", bad_payload(rng))
        await assert_eventually(
            lambda: bridge.rejected_commands >= COUNT,
            timeout=30,
            message=lambda: f"{bridge.rejected_commands} of {COUNT} refused",
        )
        assert bridge.rejected_commands == COUNT
        assert pins.pin(17).state is False
        assert service.actuator.value("fan") == 0
        assert bridge.client.state is MqttState.CONNECTED

        mqtt_peer.publish(f"{BASE}/cmd/gpio.set/after", '{"device": "relay", "value": 1}')
        await assert_eventually(lambda: pins.pin(17).state is True)
