"""Home Assistant MQTT discovery configs for sensors and outputs — pure.

Each entity gets a retained config at `<prefix>/<component>/<node_id>/<object_id>/config`
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery). Sensors become `sensor`s
reading `<base>/sensor/<name>`; on/off outputs become `switch`es and the others `number`s,
all commanding through `<base>/cmd/gpio.set/ha`, so the GPIO allow-lists see caller `mqtt:ha`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from edge.gpio.spec import OutputSpec
from edge.mqtt.topics import Topics, level

HA_CALLER = "ha"
"""The `<who>` level of Home Assistant's command topics."""


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What discovery needs to know of one sensor."""

    name: str
    unit: str = ""
    device_class: str = ""


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """One retained discovery message."""

    topic: str
    payload: dict[str, object]

    def encoded(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


def discovery_configs(
    topics: Topics,
    *,
    identity: str,
    version: str,
    model: str,
    sensors: Sequence[SensorInfo],
    outputs: Sequence[OutputSpec],
) -> list[DiscoveryConfig]:
    """Every discovery config of this device."""
    node = level(identity)
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
    }
    configs = [
        DiscoveryConfig(
            topics.discovery("sensor", node, s.name),
            {
                **common,
                "name": s.name,
                "unique_id": f"edge_{node}_{level(s.name)}",
                "state_topic": topics.sensor(s.name),
                "value_template": "{{ value_json.value }}",
                **({"unit_of_measurement": s.unit} if s.unit else {}),
                **({"device_class": s.device_class} if s.device_class else {}),
            },
        )
        for s in sensors
    ]
    command_topic = topics.command("gpio.set", HA_CALLER)
    for o in outputs:
        entity: dict[str, object] = {
            **common,
            "name": o.name,
            "unique_id": f"edge_{node}_out_{level(o.name)}",
            "state_topic": topics.output(o.name),
            "command_topic": command_topic,
        }
        set_to = json.dumps({"device": o.name, "value": 0}, separators=(",", ":"))
        if o.kind.binary:
            component = "switch"
            entity |= {
                "payload_on": set_to.replace('"value":0', '"value":1'),
                "payload_off": set_to,
                "state_on": "1",
                "state_off": "0",
            }
        else:
            component = "number"
            low, high = o.kind.value_range
            template = set_to.replace('"value":0', '"value":{{ value }}')
            entity |= {"command_template": template, "min": low, "max": high, "step": 0.01}
        configs.append(DiscoveryConfig(topics.discovery(component, node, o.name), entity))
    return configs


REQUIRED = {
    "sensor": ("state_topic",),
    "switch": ("command_topic",),
    "number": ("command_topic",),
}
"""Keys Home Assistant requires per component (the rest have defaults)."""
