"""Home Assistant over MQTT as its users meet it: a real mosquitto, commands published exactly
as HA publishes them, every discovery config checked against HA's rules (`ha_rules`)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest

from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, InputKind, InputSpec, OutputKind, OutputSpec
from edge.mqtt.bridge import MqttBridge
from edge.mqtt.client import MqttState
from edge.mqtt.discovery import SensorInfo
from edge.mqtt.spec import MqttConfig
from edge.telemetry.spec import SensorKind, SensorSpec
from edge.testing.pins import SimulatedPinFactory
from tests.conftest import REPO_ROOT
from tests.helpers import assert_eventually
from tests.mqtt.conftest import Broker
from tests.mqtt.ha_rules import problems
from tests.mqtt.peer import MqttPeer
from tests.mqtt.test_bridge import gpio_dispatch, running

RELAY = OutputSpec(
    name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0, allow=("mqtt:*",)
)
FAN = OutputSpec(
    name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0, max_hold_s=60, allow=("mqtt:*",)
)
DOOR = InputSpec(name="door", kind=InputKind.BUTTON, pins=(27,), pull_up=True)


def unique(stem: str) -> str:
    """An identity of this test alone (retained messages of other tests stay out of sight)."""
    return f"{stem}-{uuid4().hex[:6]}"


def settings(broker: Broker, **overrides: Any) -> MqttConfig:
    return MqttConfig(host=broker.host, port=broker.port, **overrides)


@pytest.fixture
async def gpio_of(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    made: list[GpioService] = []

    def make(config: GpioConfig) -> tuple[GpioService, SimulatedPinFactory]:
        pins = SimulatedPinFactory(config)
        service = GpioService(config, pin_factory=pins)
        made.append(service)
        return service, pins

    yield make
    for service in made:
        service.close("test over")


def configs(peer: MqttPeer, node: str) -> dict[str, dict[str, object]]:
    """Every non-empty discovery config seen for `node`, by topic."""
    found = {}
    for seen in peer.all():
        parts = seen.topic.split("/")
        if parts[0] == "homeassistant" and node in parts and seen.payload:
            found[seen.topic] = json.loads(seen.payload)
    return found


async def absent(peer: MqttPeer, topic: str) -> bool:
    """True when the broker holds no retained message on `topic` (checked with a marker)."""
    marker = f"marker/{uuid4().hex}"
    peer.subscribe(topic)
    peer.subscribe(marker)
    peer.publish(marker, b"x")
    await assert_eventually(lambda: peer.last(marker) == b"x")
    return not any(s.payload for s in peer.seen(topic))


async def test_a_retained_command_published_live_never_runs_an_output(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio_of: Any
) -> None:
    """Item 1: MQTT 3.1.1 clears the retain flag on live delivery; the bridge must still see it."""
    service, pins = gpio_of(GpioConfig(outputs=(RELAY,)))
    identity = unique("ret")
    base = f"edge/{identity}"
    bridge = MqttBridge(settings(mosquitto), identity=identity, dispatch=gpio_dispatch(service))
    mqtt_peer.subscribe(f"{base}/reply/#")
    async with running(bridge, gpio=service):
        await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED)
        command = f"{base}/cmd/gpio.set/bench"
        mqtt_peer.publish(command, '{"device": "relay", "value": 1}', retain=True)
        await assert_eventually(lambda: mqtt_peer.last(f"{base}/reply/gpio.set/bench"))
        answer = json.loads(mqtt_peer.last(f"{base}/reply/gpio.set/bench") or b"")
        assert answer["ok"] is False
        assert answer["error"]["code"] == 2000
        assert "retained" in answer["error"]["message"]
        assert pins.pin(17).state is False
        # And it no longer lingers on the broker to replay at the next subscribe.
        fresh = MqttPeer(mosquitto.host, mosquitto.port)
        try:
            assert await absent(fresh, command)
        finally:
            fresh.close()
        # A plain command still works.
        mqtt_peer.publish(f"{base}/cmd/gpio.set/bench", '{"device": "relay", "value": 1}')
        await assert_eventually(lambda: pins.pin(17).state is True)


async def test_dotted_identity_and_names_give_topics_home_assistant_accepts(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    """Item 2: `pi.kitchen` / `relay.2` became discovery topics HA ignores."""
    dotted = OutputSpec(
        name="relay.2", kind=OutputKind.DIGITAL, pins=(22,), safe_value=0, allow=("mqtt:ha",)
    )
    identity = f"pi.kitchen{uuid4().hex[:4]}"
    node = identity.replace(".", "_")
    bridge = MqttBridge(
        settings(mosquitto),
        identity=identity,
        sensors=[SensorInfo("soc.temp", "°C")],
        outputs=[dotted],
        inputs=[InputSpec(name="door.front", kind=InputKind.BUTTON, pins=(27,))],
    )
    mqtt_peer.subscribe("homeassistant/#")
    async with running(bridge):
        expected = {
            f"homeassistant/switch/{node}/relay_2/config",
            f"homeassistant/sensor/{node}/soc_temp/config",
            f"homeassistant/binary_sensor/{node}/input_door_front/config",
        }
        await assert_eventually(lambda: expected <= set(configs(mqtt_peer, node)))
    found = configs(mqtt_peer, node)
    assert [p for topic, data in found.items() for p in problems(topic, data)] == []
    names = {data["name"] for data in found.values()}
    assert {"relay.2", "soc.temp", "door.front"} <= names
    device = found[f"homeassistant/switch/{node}/relay_2/config"]["device"]
    assert isinstance(device, dict)
    assert device["name"] == identity


def test_check_config_refuses_names_that_collide_once_sanitised() -> None:
    """Item 2: `relay.2` and `relay_2` would share one discovery topic."""
    from edge.config import parse_config
    from edge.errors import ConfigError

    data = {
        "livekit": {
            "url": "ws://127.0.0.1:7880", "room": "r", "identity": "pi",
            "api_key": "k", "api_secret": "s" * 32,
        },
        "gpio": {"outputs": [
            {"name": "relay.2", "pin": 17, "allow": ["mqtt:ha"]},
            {"name": "relay_2", "pin": 22, "allow": ["mqtt:ha"]},
        ]},
        "mqtt": {"host": "localhost"},
    }  # fmt: skip
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert any(
        "'relay.2' and 'relay_2'" in issue and "homeassistant/switch/pi/relay_2/config" in issue
        for issue in info.value.issues
    ), info.value.issues
    data["mqtt"] = {"host": "localhost", "discovery": False}
    parse_config(data, env={})  # no discovery, no collision


async def test_outputs_are_republished_after_a_broker_restart_without_persistence(
    private_mosquitto: Broker, gpio_of: Any
) -> None:
    """Item 3: switches showed "unknown" after the broker forgot its retained messages."""
    service, _pins = gpio_of(GpioConfig(outputs=(RELAY, FAN)))
    bridge = MqttBridge(
        settings(private_mosquitto), identity="pi-r", outputs=[RELAY, FAN],
        output_values=lambda: {"relay": 1.0, "fan": 0.25},
    )  # fmt: skip
    async with running(bridge, gpio=service):
        await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED)
        private_mosquitto.stop()
        await assert_eventually(lambda: bridge.client.state is not MqttState.CONNECTED)
        private_mosquitto.start()
        await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED, timeout=20)
        peer = MqttPeer(private_mosquitto.host, private_mosquitto.port)
        try:
            peer.subscribe("edge/pi-r/output/#")
            await assert_eventually(lambda: peer.last("edge/pi-r/output/relay") == b"1")
            await assert_eventually(lambda: peer.last("edge/pi-r/output/fan") == b"0.25")
            assert peer.seen("edge/pi-r/output/relay")[-1].retain
        finally:
            peer.close()


async def test_the_home_assistant_caller_is_configurable_and_refused_outputs_are_read_only(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio_of: Any
) -> None:
    """Item 4: HA's identity is a setting; an output HA may not set gets no dead toggle."""
    lamp = OutputSpec(
        name="lamp", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0,
        allow=("mqtt:homeassistant",),
    )  # fmt: skip
    fan = OutputSpec(name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0, allow=("op-*",))
    service, pins = gpio_of(GpioConfig(outputs=(lamp, fan)))
    identity = unique("who")
    bridge = MqttBridge(
        settings(mosquitto, ha_caller="mqtt:homeassistant"),
        identity=identity,
        dispatch=gpio_dispatch(service),
        outputs=[lamp, fan],
    )
    mqtt_peer.subscribe("homeassistant/#")
    async with running(bridge, gpio=service):
        switch_topic = f"homeassistant/switch/{identity}/lamp/config"
        fan_topic = f"homeassistant/sensor/{identity}/output_fan/config"
        await assert_eventually(
            lambda: {switch_topic, fan_topic} <= set(configs(mqtt_peer, identity))
        )
        found = configs(mqtt_peer, identity)
        assert [p for topic, data in found.items() for p in problems(topic, data)] == []
        assert not any("/number/" in topic for topic in found)
        switch = found[switch_topic]
        assert switch["command_topic"] == f"edge/{identity}/cmd/gpio.set/homeassistant"
        mqtt_peer.publish(str(switch["command_topic"]), str(switch["payload_on"]))
        await assert_eventually(lambda: pins.pin(17).state is True)


def test_check_config_warns_when_home_assistant_may_not_set_an_output() -> None:
    from edge.mqtt.discovery import config_warnings

    config = MqttConfig(ha_caller="mqtt:ha")
    outputs = (RELAY, OutputSpec(name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0))
    assert config_warnings(config, outputs) == [
        "mqtt: Home Assistant (caller 'mqtt:ha') may not set output 'fan', so it appears there "
        'read-only; add "mqtt:ha" to its allow list to control it from Home Assistant'
    ]


@pytest.mark.parametrize(
    ("kind", "unit", "expected"),
    [
        (SensorKind.SOC_TEMPERATURE, "", ("°C", "temperature", "measurement")),
        (SensorKind.MEMORY, "", ("%", None, "measurement")),
        (SensorKind.DISK, "", ("%", None, "measurement")),
        (SensorKind.WIFI_SIGNAL, "", ("dBm", "signal_strength", "measurement")),
        (SensorKind.CPU_LOAD, "", (None, None, "measurement")),
        (SensorKind.SIMULATED, "°C", ("°C", "temperature", "measurement")),
        (SensorKind.PYTHON, "V", ("V", "voltage", "measurement")),
    ],
)
async def test_sensors_carry_units_and_classes_from_their_kind(
    mosquitto: Broker,
    mqtt_peer: MqttPeer,
    kind: SensorKind,
    unit: str,
    expected: tuple[str | None, str | None, str | None],
) -> None:
    """Item 5: built-in units were missing, so HA made text sensors without statistics."""
    from edge.mqtt.discovery import sensor_info

    identity = unique("kind")
    spec = SensorSpec(name="s", kind=kind, unit=unit, target="m:f" if unit == "V" else "")
    bridge = MqttBridge(settings(mosquitto), identity=identity, sensors=[sensor_info(spec)])
    mqtt_peer.subscribe("homeassistant/#")
    topic = f"homeassistant/sensor/{identity}/s/config"
    async with running(bridge):
        await assert_eventually(lambda: topic in configs(mqtt_peer, identity))
    data = configs(mqtt_peer, identity)[topic]
    assert problems(topic, data) == []
    got = (data.get("unit_of_measurement"), data.get("device_class"), data.get("state_class"))
    assert got == expected


async def test_inputs_appear_as_binary_sensors_and_sensors_with_their_state(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio_of: Any
) -> None:
    """Item 6: a door contact and an ADC channel were invisible to HA."""
    light = InputSpec(name="light", kind=InputKind.ADC, pins=())
    secret = InputSpec(name="safe", kind=InputKind.BUTTON, pins=(5,), allow=("op-*",))
    service, pins = gpio_of(GpioConfig(inputs=(DOOR, light, secret)))
    identity = unique("in")
    bridge = MqttBridge(
        settings(mosquitto, input_period_s=0.1),
        identity=identity, inputs=[DOOR, light, secret], read_input=service.read,
    )  # fmt: skip
    mqtt_peer.subscribe("homeassistant/#")
    mqtt_peer.subscribe(f"edge/{identity}/input/#")
    async with running(bridge, gpio=service):
        door_topic = f"homeassistant/binary_sensor/{identity}/input_door/config"
        light_topic = f"homeassistant/sensor/{identity}/input_light/config"
        await assert_eventually(
            lambda: {door_topic, light_topic} <= set(configs(mqtt_peer, identity))
        )
        found = configs(mqtt_peer, identity)
        assert [p for topic, data in found.items() for p in problems(topic, data)] == []
        door = found[door_topic]
        assert door["state_topic"] == f"edge/{identity}/input/door"
        await assert_eventually(lambda: mqtt_peer.last(f"edge/{identity}/input/door") == b"0")
        pins.pin(27).drive_low()  # pressed (pull-up)
        await assert_eventually(lambda: mqtt_peer.last(f"edge/{identity}/input/door") == b"1")
        await assert_eventually(lambda: mqtt_peer.last(f"edge/{identity}/input/light"))
        assert 0.0 <= float(mqtt_peer.last(f"edge/{identity}/input/light") or b"") <= 1.0
    # An input HA's caller may not read is neither discovered nor published.
    assert not any("safe" in s.topic for s in mqtt_peer.all())


async def test_a_held_output_tells_home_assistant_it_returns_to_safe(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    """Item 7: a PWM number with max_hold_s silently went back to 0."""
    identity = unique("hold")
    bridge = MqttBridge(settings(mosquitto), identity=identity, outputs=[FAN])
    mqtt_peer.subscribe("homeassistant/#")
    mqtt_peer.subscribe(f"edge/{identity}/#")
    topic = f"homeassistant/number/{identity}/fan/config"
    async with running(bridge):
        await assert_eventually(lambda: topic in configs(mqtt_peer, identity))
        data = configs(mqtt_peer, identity)[topic]
        assert problems(topic, data) == []
        attributes = str(data["json_attributes_topic"])
        await assert_eventually(lambda: mqtt_peer.last(attributes))
    info = json.loads(mqtt_peer.last(attributes) or b"")
    assert info["max_hold_s"] == 60
    assert info["safe_value"] == 0
    assert "60 s" in info["note"]


async def test_online_comes_before_queued_readings_and_state(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    """Item 7: on (re)connect HA must see `online` before anything queued meanwhile."""
    identity = unique("order")
    base = f"edge/{identity}"
    bridge = MqttBridge(settings(mosquitto, discovery=False), identity=identity)
    bridge.publish_reading("soc", 47.0, "°C", 1)  # while disconnected: queued
    bridge.publish_state({"gpio.relay": "1"})
    mqtt_peer.subscribe(f"{base}/#")
    async with running(bridge):
        await assert_eventually(lambda: mqtt_peer.last(f"{base}/sensor/soc"))
        await assert_eventually(lambda: mqtt_peer.last(f"{base}/state"))
    order = [s.topic.removeprefix(base + "/") for s in mqtt_peer.all()]
    assert order[0] == "availability", order


async def test_after_kill_9_no_retained_message_says_online(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    """Item 7: the retained `state` said `edge.status: online` after the Will said offline."""
    identity = unique("kill")
    base = f"edge/{identity}"
    mqtt_peer.subscribe(f"{base}/#")
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.mqtt.bridge_process"),
        *(mosquitto.host, str(mosquitto.port), identity, '{"edge.status": "online"}'),
        cwd=REPO_ROOT,
    )
    try:
        await assert_eventually(lambda: mqtt_peer.last(f"{base}/state"), timeout=20)
        proc.kill()
        await proc.wait()
        await assert_eventually(lambda: mqtt_peer.last(f"{base}/availability") == b"offline")
        late = MqttPeer(mosquitto.host, mosquitto.port)
        try:
            late.subscribe(f"{base}/#")
            await assert_eventually(lambda: late.last(f"{base}/state"))
            await assert_eventually(lambda: late.last(f"{base}/availability") == b"offline")
            assert b"online" not in b"".join(s.payload for s in late.all())
        finally:
            late.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for topic in ("availability", "state"):
            mqtt_peer.publish(f"{base}/{topic}", b"", retain=True)


async def test_the_daemon_wiring_reports_each_press_at_once_beside_other_watchers(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio_of: Any
) -> None:
    """Item 6: a door contact changes in HA at once, not at the next poll; a telemetry
    watcher on the same input keeps getting its changes too."""
    from edge.livekit.twin_publisher import TwinPublisher
    from edge.mqtt.bridge_links import RoomLink, open_bridge

    service, pins = gpio_of(GpioConfig(inputs=(DOOR,)))
    seen: list[float] = []
    assert service.watch("door", seen.append)  # as telemetry's gpio sensor does
    identity = unique("wire")
    bridge = open_bridge(
        settings(mosquitto, input_period_s=3600.0),  # one poll at start, then only changes
        identity=identity, gpio=service, telemetry=None, twin=TwinPublisher(), sensors=(),
        model="", link=RoomLink(),
    )  # fmt: skip
    topic = f"edge/{identity}/input/door"
    mqtt_peer.subscribe(topic)
    async with running(bridge, gpio=service):
        await assert_eventually(lambda: mqtt_peer.last(topic) == b"0")
        pins.pin(27).drive_low()
        await assert_eventually(lambda: mqtt_peer.last(topic) == b"1")
        pins.pin(27).drive_high()
        await assert_eventually(lambda: mqtt_peer.last(topic) == b"0")
    assert seen == [1.0, 0.0]


async def test_a_command_sent_while_the_bridge_is_away_is_not_run_late(
    mosquitto: Broker, mqtt_peer: MqttPeer, gpio_of: Any
) -> None:
    """At most once: a clean start leaves no session on the broker to queue commands in."""
    service, pins = gpio_of(GpioConfig(outputs=(RELAY,)))
    identity = unique("late")
    base = f"edge/{identity}"
    bridge = MqttBridge(settings(mosquitto), identity=identity, dispatch=gpio_dispatch(service))
    mqtt_peer.subscribe(f"{base}/reply/#")
    async with running(bridge, gpio=service):  # a first session: the broker knows the client
        await assert_eventually(lambda: bridge.client.state is MqttState.CONNECTED)
    mqtt_peer.publish(f"{base}/cmd/gpio.set/away", '{"device": "relay", "value": 1}')
    again = MqttBridge(settings(mosquitto), identity=identity, dispatch=gpio_dispatch(service))
    async with running(again, gpio=service):
        await assert_eventually(lambda: again.client.state is MqttState.CONNECTED)
        mqtt_peer.publish(f"{base}/cmd/gpio.read/now", '{"device": "relay"}')
        await assert_eventually(lambda: mqtt_peer.last(f"{base}/reply/gpio.read/now"))
        assert mqtt_peer.last(f"{base}/reply/gpio.set/away") is None
        assert pins.pin(17).state is False


async def test_a_value_changed_while_offline_does_not_flicker_on_reconnect(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    """Item 3/7: only an output's last value is sent after a reconnect, not its history."""
    identity = unique("flick")
    topic = f"edge/{identity}/output/relay"
    bridge = MqttBridge(settings(mosquitto, discovery=False), identity=identity)
    bridge.publish_state({"gpio.relay": "1"})  # while disconnected: queued
    bridge.publish_state({"gpio.relay": "0"})
    mqtt_peer.subscribe(f"edge/{identity}/#")
    async with running(bridge):
        await assert_eventually(lambda: mqtt_peer.last(topic) == b"0")
        await assert_eventually(lambda: mqtt_peer.last(f"edge/{identity}/state"))
    assert b"1" not in [s.payload for s in mqtt_peer.seen(topic)]
