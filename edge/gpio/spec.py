"""GPIO spec: the `[gpio]` config section as frozen dataclasses.

[gpio]
link_loss_grace_s = 10.0   # outputs go safe when the room stays lost this long

[[gpio.outputs]]
name = "relay"             # what callers name in RPC payloads
kind = "digital"           # digital | pwm | servo | motor | buzzer
pin = 17                   # motor: forward_pin + backward_pin instead
safe_value = 0.0           # driven at start, on stop and on every fail-safe trigger
max_hold_s = 30.0          # dead-man: a non-safe value expires unless renewed (0 = never)
allow = ["operator-*"]     # caller identities (shell patterns); empty = nobody

[[gpio.inputs]]
name = "door"
kind = "button"            # button | digital | distance | adc
pin = 27                   # distance: echo_pin + trigger_pin; adc: chip + channel

The devices' keys are declared in `edge.gpio.device_spec` (re-exported here).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from edge.gpio.device_spec import ADC_CHIPS, InputKind, InputSpec, OutputKind, OutputSpec
from edge.settings import keys_for, known_keys, read_section, setting
from edge.toml_table import Table

__all__ = [
    "ADC_CHIPS",
    "GpioConfig",
    "InputKind",
    "InputSpec",
    "OutputKind",
    "OutputSpec",
    "parse_gpio",
]
D = TypeVar("D", OutputSpec, InputSpec)


@dataclass(frozen=True, slots=True, kw_only=True)
class GpioConfig:
    """All declared devices and the safety timings."""

    outputs: tuple[OutputSpec, ...] = setting((), kind="tables", doc="The outputs, below.")
    inputs: tuple[InputSpec, ...] = setting((), kind="tables", doc="The inputs, below.")
    link_loss_grace_s: float = setting(
        10.0,
        kind="float",
        low=0.0,
        high=3600.0,
        doc="Outputs go safe when the room connection stays lost this long.",
    )
    lease_max_s: float = setting(
        300.0,
        kind="float",
        low=1.0,
        high=86400.0,
        doc="Longest controller lease (`gpio.lease`) a caller may take.",
    )

    def as_data(self) -> dict[str, object]:
        """The section as TOML-shaped data (what `parse_gpio` reads back)."""
        return {
            "outputs": [_device_data(o) for o in self.outputs],
            "inputs": [_device_data(i) for i in self.inputs],
            "link_loss_grace_s": self.link_loss_grace_s,
            "lease_max_s": self.lease_max_s,
        }


def _device_data(device: OutputSpec | InputSpec) -> dict[str, object]:
    """A device as its TOML table: each declared key, the pins under the keys its kind uses."""
    data: dict[str, object] = {}
    for f in dataclasses.fields(device):
        value = getattr(device, f.name)
        if f.name == "pins":
            data.update(zip(keys_for(type(device), "pins", device.kind.value), value, strict=True))
        elif isinstance(value, enum.Enum):
            data[f.name] = value.value
        else:
            data[f.name] = list(value) if isinstance(value, tuple) else value
    return data


SCHEMA: Mapping[str, tuple[str, ...]] = {
    "gpio": known_keys(GpioConfig),
    "gpio.outputs[]": known_keys(OutputSpec),
    "gpio.inputs[]": known_keys(InputSpec),
}


def parse_gpio(table: Table) -> GpioConfig:
    """Read the `[gpio]` table; problems are recorded on `table`'s issue list."""
    outputs = tuple(o for o in (_output(t) for t in table.items("outputs")) if o is not None)
    inputs = tuple(i for i in (_input(t) for t in table.items("inputs")) if i is not None)
    values = read_section(table, GpioConfig)
    table.check_unknown()
    _check_unique(table, outputs, inputs)
    return GpioConfig(outputs=outputs, inputs=inputs, **values)


def _output(t: Table) -> OutputSpec | None:
    return _device(t, OutputSpec, noun="output")


def _input(t: Table) -> InputSpec | None:
    return _device(t, InputSpec, noun="input")


def _device(t: Table, cls: type[D], *, noun: str) -> D | None:
    """The device one table describes; None when its name, kind or pins were refused."""
    values = read_section(t, cls, noun=noun)
    t.check_unknown()
    pin_keys: tuple[str, ...] = keys_for(cls, "pins", values["kind"].value)
    if not values["name"] or values.refused & {"name", "kind", *pin_keys}:
        return None
    fields = {f.name for f in dataclasses.fields(cls)}
    given = {key: value for key, value in values.items() if key in fields}
    return cls(**given, pins=tuple(values[key] for key in pin_keys))


def _check_unique(
    table: Table, outputs: tuple[OutputSpec, ...], inputs: tuple[InputSpec, ...]
) -> None:
    names: set[str] = set()
    pins: dict[int, str] = {}
    devices: list[OutputSpec | InputSpec] = [*outputs, *inputs]
    for device in devices:
        if device.name in names:
            table.issue("outputs", f"device name {device.name!r} is used twice")
        names.add(device.name)
        for pin in device.pins:
            if pin in pins:
                users = f"{pins[pin]!r} and {device.name!r}"
                table.issue("outputs", f"pin {pin} is used by both {users}")
            pins[pin] = device.name
