"""What Home Assistant should know of a sensor: unit, device class, state class — pure.

A unit makes HA treat a sensor as numeric; a `state_class` of `measurement` gives it graphs and
long-term statistics; a `device_class` gives it the right icon and unit conversions. Each
device class accepts only some units (https://www.home-assistant.io/integrations/sensor/#device-class),
so a class is only given for units that name one without doubt.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.telemetry.spec import BUILTIN_UNITS, SensorKind, SensorSpec

UNIT_CLASSES = {
    "°C": "temperature",
    "°F": "temperature",
    "K": "temperature",
    "dBm": "signal_strength",
    "V": "voltage",
    "mV": "voltage",
    "A": "current",
    "mA": "current",
    "W": "power",
    "kW": "power",
    "lx": "illuminance",
    "Hz": "frequency",
    "Pa": "pressure",
    "hPa": "pressure",
    "kPa": "pressure",
    "mbar": "pressure",
    "bar": "pressure",
}
"""Units that name one Home Assistant sensor device class (and are valid for it)."""
NUMERIC_KINDS = frozenset(
    {
        SensorKind.SOC_TEMPERATURE,
        SensorKind.CPU_LOAD,
        SensorKind.MEMORY,
        SensorKind.DISK,
        SensorKind.WIFI_SIGNAL,
        SensorKind.SIMULATED,
        SensorKind.GPIO,
    }
)
"""Kinds whose readings are always numbers (python sensors may return text)."""


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What discovery needs to know of one sensor ("" = not said)."""

    name: str
    unit: str = ""
    device_class: str = ""
    state_class: str = ""
    entity_category: str = ""


def sensor_info(spec: SensorSpec) -> SensorInfo:
    """Unit (the config's, else the kind's own), device class and state class of `spec`."""
    unit = spec.unit or BUILTIN_UNITS.get(spec.kind, "")
    if spec.kind is SensorKind.THROTTLED:  # a bit field, not a quantity
        return SensorInfo(spec.name, entity_category="diagnostic")
    numeric = spec.kind in NUMERIC_KINDS or bool(unit)
    return SensorInfo(
        spec.name,
        unit=unit,
        device_class=UNIT_CLASSES.get(unit, ""),
        state_class="measurement" if numeric else "",
    )
