"""Home Assistant MQTT discovery configs for sensors, outputs and inputs — pure.

Each entity gets a retained config at `<prefix>/<component>/<node_id>/<object_id>/config`
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery); ids keep only
`[a-zA-Z0-9_-]` (HA ignores any other topic), names stay as configured.

- sensors: `sensor`, reading `<base>/sensor/<name>`, with unit and classes (`ha_sensors`);
- outputs Home Assistant may set (`ha_caller` on the output's allow-list): on/off ones are
  `switch`es, the others `number`s, commanding through `<base>/cmd/gpio.set/<who>`; the others
  are shown read-only (`binary_sensor` / `sensor`, object id `output_<name>`), never as a
  control that would be refused; `<base>/output/<name>/info` says how the output behaves
  (`max_hold_s`: it returns to its safe value unless set again);
- inputs Home Assistant may read: buttons and digital inputs are `binary_sensor`s, distance and
  ADC inputs `sensor`s (object id `input_<name>`), reading `<base>/input/<name>`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from edge import wire
from edge.access import allowed
from edge.gpio.spec import InputKind, InputSpec, OutputSpec
from edge.mqtt.ha_sensors import SensorInfo, sensor_info
from edge.mqtt.spec import MqttConfig
from edge.mqtt.topics import Topics, base_topic, object_id

__all__ = ["DiscoveryConfig", "SensorInfo", "config_warnings", "discovery_configs", "sensor_info"]

ORIGIN = "edge-participant"


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """One retained discovery message; `payload` None clears the topic."""

    topic: str
    payload: dict[str, object] | None
    what: str = ""
    """The configured name this config is for (for collision messages)."""

    def encoded(self) -> bytes:
        if self.payload is None:
            return b""
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


def discovery_configs(
    topics: Topics,
    *,
    identity: str,
    version: str,
    model: str,
    sensors: Sequence[SensorInfo],
    outputs: Sequence[OutputSpec],
    inputs: Sequence[InputSpec] = (),
    ha_caller: str = "mqtt:ha",
) -> list[DiscoveryConfig]:
    """Every discovery config of this device (and the clearing of each stale alternative)."""
    node = object_id(identity)
    common: dict[str, object] = {
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [f"edge_{node}"],
            "name": identity,
            "model": model or "edge-participant",
            "sw_version": version,
            "manufacturer": "edge-participant",
        },
        "origin": {"name": ORIGIN, "sw_version": version},
    }

    def entity(name: str, unique: str, **fields: object) -> dict[str, object]:
        extra = {k: v for k, v in fields.items() if v not in ("", None)}
        return {**common, "name": name, "unique_id": f"edge_{node}_{unique}", **extra}

    configs = [
        DiscoveryConfig(
            topics.discovery("sensor", node, s.name),
            entity(
                s.name,
                object_id(s.name),
                state_topic=topics.sensor(s.name),
                value_template="{{ value_json.value }}",
                unit_of_measurement=s.unit,
                device_class=s.device_class,
                state_class=s.state_class,
                entity_category=s.entity_category,
            ),
            s.name,
        )
        for s in sensors
    ]
    command_topic = topics.command(wire.Method.GPIO_SET, ha_caller.removeprefix("mqtt:"))
    binary_states = {"payload_on": "1", "payload_off": "0"}
    for o in outputs:
        oid = object_id(o.name)
        control = "switch" if o.kind.binary else "number"
        shown = "binary_sensor" if o.kind.binary else "sensor"
        fields: dict[str, object] = {
            "state_topic": topics.output(o.name),
            "json_attributes_topic": topics.output_info(o.name),
        }
        if not allowed(o.allow, ha_caller):
            if not o.kind.binary:
                fields["state_class"] = "measurement"
            readonly = entity(
                o.name, f"out_{oid}", **fields, **(binary_states if o.kind.binary else {})
            )
            configs += [
                DiscoveryConfig(topics.discovery(control, node, o.name), None),
                DiscoveryConfig(
                    topics.discovery(shown, node, f"output_{o.name}"), readonly, o.name
                ),
            ]
            continue
        set_to = json.dumps({"device": o.name, "value": 0}, separators=(",", ":"))
        if o.kind.binary:
            fields |= {
                "command_topic": command_topic,
                "payload_on": set_to.replace('"value":0', '"value":1'),
                "payload_off": set_to,
                "state_on": "1",
                "state_off": "0",
            }
        else:
            low, high = o.kind.value_range
            template = set_to.replace('"value":0', '"value":{{ value }}')
            fields |= {
                "command_topic": command_topic,
                "command_template": template,
                "min": low,
                "max": high,
                "step": 0.01,
                "mode": "slider",
            }
        configs += [
            DiscoveryConfig(
                topics.discovery(control, node, o.name),
                entity(o.name, f"out_{oid}", **fields),
                o.name,
            ),
            DiscoveryConfig(topics.discovery(shown, node, f"output_{o.name}"), None),
        ]
    for i in inputs:
        if not allowed(i.allow, ha_caller):
            continue
        fields = {"state_topic": topics.input(i.name)}
        if i.kind in (InputKind.BUTTON, InputKind.DIGITAL):
            component = "binary_sensor"
            fields |= binary_states
        else:
            component = "sensor"
            fields["state_class"] = "measurement"
            if i.kind is InputKind.DISTANCE:
                fields |= {"unit_of_measurement": "m", "device_class": "distance"}
        payload = entity(i.name, f"in_{object_id(i.name)}", **fields)
        configs.append(
            DiscoveryConfig(topics.discovery(component, node, f"input_{i.name}"), payload, i.name)
        )
    return configs


def output_info(spec: OutputSpec) -> dict[str, object]:
    """The attributes Home Assistant shows with an output (its `json_attributes_topic`)."""
    info: dict[str, object] = {"safe_value": spec.safe_value, "max_hold_s": spec.max_hold_s}
    if spec.description:
        info["description"] = spec.description
    if spec.max_hold_s:
        info["note"] = (
            f"returns to {spec.safe_value:g} {spec.max_hold_s:g} s after each change unless set "
            "again (a dead-man hold: Home Assistant does not renew it)"
        )
    return info


def config_warnings(config: MqttConfig, outputs: Sequence[OutputSpec]) -> list[str]:
    """What `check-config` says about Home Assistant and the GPIO allow-lists."""
    if not config.discovery:
        return []
    caller = config.ha_caller
    return [
        f"mqtt: Home Assistant (caller {caller!r}) may not set output {o.name!r}, so it appears "
        f'there read-only; add "{caller}" to its allow list to control it from Home Assistant'
        for o in outputs
        if not allowed(o.allow, caller)
    ]


def collisions(
    config: MqttConfig,
    *,
    identity: str,
    sensors: Sequence[SensorInfo],
    outputs: Sequence[OutputSpec],
    inputs: Sequence[InputSpec],
) -> list[str]:
    """Names that would share one topic once made topic-safe (config errors)."""
    topics = Topics(base_topic(config.base_topic, identity), config.discovery_prefix)
    used: dict[str, str] = {}
    issues: list[str] = []
    state = [(topics.sensor(s.name), s.name) for s in sensors]
    state += [(topics.output(o.name), o.name) for o in outputs]
    state += [(topics.input(i.name), i.name) for i in inputs]
    if config.discovery:
        made = discovery_configs(
            topics, identity=identity, version="", model="", sensors=sensors, outputs=outputs,
            inputs=inputs, ha_caller=config.ha_caller,
        )  # fmt: skip
        state += [(c.topic, c.what) for c in made if c.payload is not None]
    for topic, name in state:
        other = used.setdefault(topic, name)
        if other != name:
            issues.append(f"mqtt: {other!r} and {name!r} would share the topic {topic}; rename one")
    return issues
