"""The bridge against a real mosquitto, with a plain paho client on the other side."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from edge.errors import EdgeError
from edge.gpio import methods
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, OutputKind, OutputSpec
from edge.mqtt.bridge import Dispatch, MqttBridge
from edge.mqtt.client import MqttState
from edge.mqtt.discovery import SensorInfo
from edge.mqtt.spec import MqttConfig
from edge.testing.pins import SimulatedPinFactory
from tests.helpers import assert_eventually
from tests.mqtt.conftest import Broker
from tests.mqtt.ha_rules import problems
from tests.mqtt.peer import MqttPeer

GPIO = GpioConfig(
    outputs=(
        OutputSpec(
            name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0, allow=("mqtt:*",)
        ),
        OutputSpec(name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0, allow=("op-*",)),
    )
)
BASE = "edge/pi-1"


def config(broker: Broker, **overrides: object) -> MqttConfig:
    fields: dict[str, object] = {
        "host": broker.host,
        "port": broker.port,
        "publish_allow": ("lab/out/#",),
        "read_allow": ("lab/in/#",),
        "forward": ("lab/in/#",),
        "rpc_allow": ("op-*",),
    }
    return MqttConfig(**(fields | overrides))  # type: ignore[arg-type]


@asynccontextmanager
async def running(bridge: MqttBridge, *, gpio: GpioService | None = None) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(bridge.run(), name="test.bridge")]
        if gpio is not None:
            tasks.append(tg.create_task(gpio.run(), name="test.gpio-timers"))
        try:
            async with asyncio.timeout(10):
                await bridge.started.wait()  # its tasks run; the broker may not be reached yet
            yield
        finally:
            for task in tasks:
                task.cancel()


def gpio_dispatch(gpio: GpioService) -> Dispatch:
    async def dispatch(method: str, caller: str, payload: str) -> str:
        return await methods.call(gpio, method, caller, payload)

    return dispatch


@pytest.fixture
async def gpio() -> AsyncIterator[tuple[GpioService, SimulatedPinFactory]]:
    pins = SimulatedPinFactory(GPIO)
    service = GpioService(GPIO, pin_factory=pins)
    yield service, pins
    service.close("test over")


def reply(peer: MqttPeer, topic: str) -> dict[str, object]:
    payload = peer.last(topic)
    assert payload is not None
    data = json.loads(payload)
    assert isinstance(data, dict)
    return data


async def test_readings_state_and_availability_reach_the_broker(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    bridge = MqttBridge(config(mosquitto), identity="pi-1", sensors=[SensorInfo("soc", "°C")])
    mqtt_peer.subscribe(f"{BASE}/#")
    async with running(bridge):
        await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/availability") == b"online")
        bridge.publish_reading("soc", 48.5, "°C", 1_700_000_000_000_000)
        bridge.publish_state({"edge.status": "online", "gpio.relay": "1"})
        await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/sensor/soc"))
        assert json.loads(mqtt_peer.last(f"{BASE}/sensor/soc") or b"") == {
            "value": 48.5,
            "unit": "°C",
            "time_us": 1_700_000_000_000_000,
        }
        await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/output/relay") == b"1")
    # A newcomer sees the retained state and a clean "offline" after the bridge stopped.
    late = MqttPeer(mosquitto.host, mosquitto.port)
    try:
        late.subscribe(f"{BASE}/#")
        await assert_eventually(lambda: late.last(f"{BASE}/availability") == b"offline")
        await assert_eventually(lambda: late.last(f"{BASE}/state"))
        # edge.status stays out: "availability" (with its Last Will) is the status on MQTT.
        assert json.loads(late.last(f"{BASE}/state") or b"") == {"gpio.relay": "1"}
        assert late.seen(f"{BASE}/state")[-1].retain
    finally:
        late.close()


async def test_a_command_drives_a_mock_pin_and_is_answered(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio: tuple[GpioService, SimulatedPinFactory]
) -> None:
    service, pins = gpio
    bridge = MqttBridge(config(mosquitto), identity="pi-1", dispatch=gpio_dispatch(service))
    mqtt_peer.subscribe(f"{BASE}/reply/#")
    async with running(bridge, gpio=service):
        await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED)
        mqtt_peer.publish(f"{BASE}/cmd/gpio.set", '{"device": "relay", "value": 1}')
        await assert_eventually(lambda: pins.pin(17).state is True)
        await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/reply/gpio.set"))
        assert reply(mqtt_peer, f"{BASE}/reply/gpio.set") == {
            "ok": True,
            "result": {"device": "relay", "value": 1},
        }
        # The allow-list sees caller mqtt:<who>: the fan is for operators only.
        mqtt_peer.publish(f"{BASE}/cmd/gpio.set/ha", '{"device": "fan", "value": 1}')
        await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/reply/gpio.set/ha"))
        assert reply(mqtt_peer, f"{BASE}/reply/gpio.set/ha") == {
            "ok": False,
            "error": {"code": 2003, "message": "'mqtt:ha' may not actuate 'fan'"},
        }
        assert pins.pin(18).state == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe", "payload is not UTF-8 text (invalid start byte at byte 0)"),
        (b"{not json", "payload is not JSON: Expecting property name enclosed in double quotes"),
        (b"[1, 2]", "payload must be a JSON object"),
        (b"{}" + b" " * 5000, "payload is 5002 bytes, over 4096"),
    ],
)
async def test_bad_command_payloads_get_an_error_reply_and_the_bridge_goes_on(
    mosquitto: Broker,
    mqtt_peer: MqttPeer,
    gpio: tuple[GpioService, SimulatedPinFactory],
    payload: bytes,
    message: str,
) -> None:
    service, pins = gpio
    bridge = MqttBridge(config(mosquitto), identity="pi-1", dispatch=gpio_dispatch(service))
    mqtt_peer.subscribe(f"{BASE}/reply/#")
    async with running(bridge, gpio=service):
        await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED)
        mqtt_peer.publish(f"{BASE}/cmd/gpio.set/bad", payload)
        await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/reply/gpio.set/bad"))
        error = reply(mqtt_peer, f"{BASE}/reply/gpio.set/bad")["error"]
        assert isinstance(error, dict)
        assert error["code"] == 2000
        assert str(error["message"]).startswith(message)
        assert pins.pin(17).state is False
        # Still serving:
        mqtt_peer.publish(f"{BASE}/cmd/gpio.set/good", '{"device": "relay", "value": 1}')
        await assert_eventually(lambda: pins.pin(17).state is True)


async def test_unknown_and_retained_commands_are_refused(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio: tuple[GpioService, SimulatedPinFactory]
) -> None:
    service, pins = gpio
    mqtt_peer.publish(f"{BASE}/cmd/gpio.set/old", '{"device":"relay","value":1}', retain=True)
    bridge = MqttBridge(config(mosquitto), identity="pi-1", dispatch=gpio_dispatch(service))
    mqtt_peer.subscribe(f"{BASE}/reply/#")
    try:
        async with running(bridge, gpio=service):
            await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/reply/gpio.set/old"))
            error = reply(mqtt_peer, f"{BASE}/reply/gpio.set/old")["error"]
            assert isinstance(error, dict)
            assert error["code"] == 2000
            assert str(error["message"]).startswith("retained commands are refused")
            mqtt_peer.publish(f"{BASE}/cmd/system.reboot", "{}")
            await assert_eventually(lambda: mqtt_peer.last(f"{BASE}/reply/system.reboot"))
            error = reply(mqtt_peer, f"{BASE}/reply/system.reboot")["error"]
            assert isinstance(error, dict)
            assert error["code"] == 1400
            assert pins.pin(17).state is False
    finally:
        mqtt_peer.publish(f"{BASE}/cmd/gpio.set/old", b"", retain=True)


async def test_mqtt_publish_and_read_honour_the_allow_lists(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    forwarded: list[tuple[str, bytes]] = []

    async def forward(topic: str, payload: bytes) -> None:
        forwarded.append((topic, payload))

    bridge = MqttBridge(config(mosquitto), identity="pi-1", forward=forward)
    mqtt_peer.subscribe("lab/#")
    mqtt_peer.publish("lab/in/door", '{"open": true}', retain=True)
    try:
        async with running(bridge):
            await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED)
            answer = await bridge.rpc_publish({"topic": "lab/out/lamp", "payload": "on"})
            assert json.loads(answer) == {"topic": "lab/out/lamp", "queued": False}
            await assert_eventually(lambda: mqtt_peer.last("lab/out/lamp") == b"on")

            # Remembered for mqtt.read in the same step that hands it to `forward`.
            await assert_eventually(lambda: ("lab/in/door", b'{"open": true}') in forwarded)
            read = await bridge.rpc_read({"topic": "lab/in/door"})
            assert json.loads(read) == {
                "topic": "lab/in/door",
                "payload": '{"open": true}',
                "retained": True,
            }

            # Who may call at all is the RPC policy's (`mqtt.rpc_allow`); the topic is the bridge's.
            cases = [
                ({"topic": "lab/secret", "payload": "x"}, 2003, "not allowed"),
                ({"topic": "lab/out/+", "payload": "x"}, 2000, "wildcards"),
            ]
            for params, code, text in cases:
                with pytest.raises(EdgeError) as info:
                    await bridge.rpc_publish(params)
                assert (info.value.code, text in str(info.value)) == (code, True)
            with pytest.raises(EdgeError) as info:
                await bridge.rpc_read({"topic": "lab/in/nothing"})
            assert info.value.code == 2010
    finally:
        mqtt_peer.publish("lab/in/door", b"", retain=True)


async def test_home_assistant_discovery_configs_are_valid(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    bridge = MqttBridge(
        config(mosquitto),
        identity="pi-1",
        sensors=[SensorInfo("soc", "°C", "temperature")],
        outputs=GPIO.outputs,
    )
    mqtt_peer.subscribe("homeassistant/+/pi-1/+/config")
    async with running(bridge):
        topics = {
            "homeassistant/sensor/pi-1/soc/config": "sensor",
            "homeassistant/switch/pi-1/relay/config": "switch",
            "homeassistant/sensor/pi-1/output_fan/config": "sensor",  # read-only: op-* only
        }
        await assert_eventually(lambda: all(mqtt_peer.last(t) for t in topics))
    for topic, component in topics.items():
        data = json.loads(mqtt_peer.last(topic) or b"")
        assert problems(topic, data) == []
        assert topic.split("/")[1] == component
        assert data["availability_topic"] == f"{BASE}/availability"
        assert data["unique_id"].startswith("edge_pi-1_")
        assert data["device"]["identifiers"] == ["edge_pi-1"]
    switch = json.loads(mqtt_peer.last("homeassistant/switch/pi-1/relay/config") or b"")
    assert switch["command_topic"] == f"{BASE}/cmd/gpio.set/ha"
    assert json.loads(switch["payload_on"]) == {"device": "relay", "value": 1}
    assert switch["state_topic"] == f"{BASE}/output/relay"
    fan = json.loads(mqtt_peer.last("homeassistant/sensor/pi-1/output_fan/config") or b"")
    assert "command_topic" not in fan
    assert fan["state_topic"] == f"{BASE}/output/fan"
