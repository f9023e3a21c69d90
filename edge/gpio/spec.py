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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from edge.gpio.device_spec import ADC_CHIPS, InputKind, InputSpec, OutputKind, OutputSpec
from edge.settings import Read, known_keys, read_section, setting
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
            "outputs": [_output_data(o) for o in self.outputs],
            "inputs": [_input_data(i) for i in self.inputs],
            "link_loss_grace_s": self.link_loss_grace_s,
            "lease_max_s": self.lease_max_s,
        }


def _output_data(spec: OutputSpec) -> dict[str, object]:
    pins = (
        {"forward_pin": spec.pins[0], "backward_pin": spec.pins[1]}
        if spec.kind is OutputKind.MOTOR
        else {"pin": spec.pins[0]}
    )
    return {
        "name": spec.name,
        "kind": spec.kind.value,
        **pins,
        "safe_value": spec.safe_value,
        "active_high": spec.active_high,
        "max_hold_s": spec.max_hold_s,
        "max_rate_hz": spec.max_rate_hz,
        "frequency_hz": spec.frequency_hz,
        "allow": list(spec.allow),
        "description": spec.description,
    }


def _input_data(spec: InputSpec) -> dict[str, object]:
    pins: dict[str, object] = {}
    if spec.kind is InputKind.DISTANCE:
        pins = {"echo_pin": spec.pins[0], "trigger_pin": spec.pins[1]}
    elif spec.kind is not InputKind.ADC:
        pins = {"pin": spec.pins[0]}
    return {
        "name": spec.name,
        "kind": spec.kind.value,
        **pins,
        "pull_up": spec.pull_up,
        "chip": spec.chip,
        "channel": spec.channel,
        "max_distance_m": spec.max_distance_m,
        "allow": list(spec.allow),
        "description": spec.description,
    }


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
    values = read_section(t, OutputSpec, noun="output")
    t.check_unknown()
    wanted = ("forward_pin", "backward_pin") if values["kind"] is OutputKind.MOTOR else ("pin",)
    return _device(OutputSpec, values, wanted)


def _input(t: Table) -> InputSpec | None:
    values = read_section(t, InputSpec, noun="input")
    t.check_unknown()
    wanted = {InputKind.DISTANCE: ("echo_pin", "trigger_pin"), InputKind.ADC: ()}
    return _device(InputSpec, values, wanted.get(values["kind"], ("pin",)))


def _device(cls: type[D], values: Read, pins: tuple[str, ...]) -> D | None:
    """The device the keys read describe; None when its name, kind or pins were refused."""
    if not values["name"] or values.refused & {"name", "kind", *pins}:
        return None
    fields = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
    return cls(**fields, pins=tuple(values[pin] for pin in pins))


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
