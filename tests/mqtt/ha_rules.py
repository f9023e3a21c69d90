"""Home Assistant's rules for MQTT discovery configs, as a checker for the suite.

Written from Home Assistant's documentation and its discovery topic matcher:
- https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery (topic format, abbreviations,
  `device`, `origin`, availability)
- https://www.home-assistant.io/integrations/sensor.mqtt/ and
  https://www.home-assistant.io/integrations/sensor/#device-class (device classes, their units,
  state classes)
- https://www.home-assistant.io/integrations/binary_sensor.mqtt/,
  https://www.home-assistant.io/integrations/switch.mqtt/,
  https://www.home-assistant.io/integrations/number.mqtt/
- `homeassistant/components/mqtt/discovery.py` (TOPIC_MATCHER) and `abbreviations.py`.

Stricter than Home Assistant in one way: a key it does not know is an error here (HA drops it
silently, which hides typos).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

TOPIC_MATCHER = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)
"""HA's matcher, applied to the topic with `<discovery_prefix>/` removed."""

ABBREVIATIONS = {
    "avty_t": "availability_topic",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "dev": "device",
    "dev_cla": "device_class",
    "ent_cat": "entity_category",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "max": "max",
    "min": "min",
    "mode": "mode",
    "o": "origin",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "stat_cla": "state_class",
    "stat_off": "state_off",
    "stat_on": "state_on",
    "stat_t": "state_topic",
    "step": "step",
    "sug_dsp_prc": "suggested_display_precision",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "sw": "sw_version",
    "name": "name",
}
ORIGIN_ABBREVIATIONS = {"name": "name", "sw": "sw_version", "url": "support_url"}

COMMON = {
    "availability_topic", "payload_available", "payload_not_available", "device", "origin",
    "name", "unique_id", "entity_category", "icon", "json_attributes_topic", "value_template",
}  # fmt: skip
KEYS = {
    "sensor": COMMON
    | {"state_topic", "unit_of_measurement", "device_class", "state_class",
       "suggested_display_precision"},
    "binary_sensor": COMMON | {"state_topic", "payload_on", "payload_off", "device_class"},
    "switch": COMMON
    | {"state_topic", "command_topic", "payload_on", "payload_off", "state_on", "state_off",
       "device_class"},
    "number": COMMON
    | {"state_topic", "command_topic", "command_template", "min", "max", "step", "mode",
       "unit_of_measurement", "device_class"},
}  # fmt: skip
REQUIRED = {
    "sensor": ("state_topic",),
    "binary_sensor": ("state_topic",),
    "switch": ("command_topic",),
    "number": ("command_topic",),
}

SENSOR_UNITS: dict[str, set[str]] = {
    "temperature": {"°C", "°F", "K"},
    "signal_strength": {"dB", "dBm"},
    "distance": {"km", "m", "cm", "mm", "mi", "yd", "in", "ft"},
    "voltage": {"V", "mV", "µV", "kV", "MV"},
    "current": {"A", "mA"},
    "power": {"W", "kW", "MW", "GW", "TW", "mW"},
    "humidity": {"%"},
    "battery": {"%"},
    "illuminance": {"lx"},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "pressure": {"Pa", "kPa", "hPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"},
    "data_size": {"B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
BINARY_SENSOR_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
    "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
    "tamper", "update", "vibration", "window",
}  # fmt: skip
SWITCH_CLASSES = {"outlet", "switch"}
ENTITY_CATEGORIES = {"config", "diagnostic"}


def expanded(payload: Mapping[str, object]) -> dict[str, object]:
    """The payload with HA's abbreviations expanded (as HA does before validating)."""
    out = {ABBREVIATIONS.get(k, k): v for k, v in payload.items()}
    for key, table in (("device", DEVICE_ABBREVIATIONS), ("origin", ORIGIN_ABBREVIATIONS)):
        value = out.get(key)
        if isinstance(value, dict):
            out[key] = {table.get(k, k): v for k, v in value.items()}
    return out


def problems(
    topic: str, payload: Mapping[str, object], *, prefix: str = "homeassistant"
) -> list[str]:
    """Why Home Assistant would ignore or misread this discovery config ([] when fine)."""
    if not topic.startswith(prefix + "/"):
        return [f"{topic}: not under the discovery prefix {prefix!r}"]
    match = TOPIC_MATCHER.fullmatch(topic[len(prefix) + 1 :])
    if match is None:
        return [f"{topic}: HA's discovery topic matcher does not match it"]
    component = match["component"]
    if component not in KEYS:
        return [f"{topic}: component {component!r} is not one this checker knows"]
    data = expanded(payload)
    found = [f"{topic}: unknown key {k!r}" for k in sorted(set(data) - KEYS[component])]
    found += [f"{topic}: {k} is required" for k in REQUIRED[component] if not data.get(k)]
    for key in ("name", "unique_id"):
        if not isinstance(data.get(key), str) or not data[key]:
            found.append(f"{topic}: {key} must be a non-empty string")
    device = data.get("device")
    if not isinstance(device, dict) or not device.get("identifiers"):
        found.append(f"{topic}: device needs identifiers")
    elif set(device) - set(DEVICE_ABBREVIATIONS.values()):
        found.append(
            f"{topic}: unknown device keys {sorted(set(device) - {*DEVICE_ABBREVIATIONS.values()})}"
        )
    origin = data.get("origin")
    if origin is not None and (not isinstance(origin, dict) or not origin.get("name")):
        found.append(f"{topic}: origin needs a name")
    category = data.get("entity_category")
    if category is not None and category not in ENTITY_CATEGORIES:
        found.append(f"{topic}: entity_category {category!r} is not one of {ENTITY_CATEGORIES}")
    found += _component_rules(topic, component, data)
    return found


def _component_rules(topic: str, component: str, data: dict[str, object]) -> list[str]:
    found: list[str] = []
    device_class = data.get("device_class")
    if component == "sensor":
        unit = data.get("unit_of_measurement")
        if device_class is not None:
            units = SENSOR_UNITS.get(str(device_class))
            if units is None:
                found.append(f"{topic}: sensor device_class {device_class!r} not known here")
            elif unit not in units:
                found.append(
                    f"{topic}: unit {unit!r} is not valid for {device_class}: {sorted(units)}"
                )
        state_class = data.get("state_class")
        if state_class is not None and state_class not in STATE_CLASSES:
            found.append(f"{topic}: state_class {state_class!r} not one of {STATE_CLASSES}")
    elif component == "binary_sensor":
        if device_class is not None and device_class not in BINARY_SENSOR_CLASSES:
            found.append(f"{topic}: binary_sensor device_class {device_class!r} not known")
    elif component == "switch":
        if device_class is not None and device_class not in SWITCH_CLASSES:
            found.append(f"{topic}: switch device_class {device_class!r} not one of outlet, switch")
    elif component == "number":
        low, high, step = data.get("min", 1), data.get("max", 100), data.get("step", 1)
        if not all(isinstance(v, int | float) for v in (low, high, step)):
            found.append(f"{topic}: min, max and step must be numbers")
        elif not (low < high and step > 0):  # type: ignore[operator]
            found.append(f"{topic}: needs min < max and step > 0")
        if data.get("mode", "auto") not in ("auto", "box", "slider"):
            found.append(f"{topic}: mode must be auto, box or slider")
    return found
