"""Device specs: the `[gpio]` config section as frozen dataclasses.

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
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from edge.settings import known_keys, read_section, setting
from edge.toml_table import Table


class OutputKind(enum.Enum):
    """What an output does with its value."""

    DIGITAL = "digital"
    """Relay, LED: 0 (off) or 1 (on)."""
    PWM = "pwm"
    """Dimmer, fan: duty cycle 0..1."""
    SERVO = "servo"
    """Position -1 (min) .. 1 (max)."""
    MOTOR = "motor"
    """DC motor via an H-bridge: -1 (full backward) .. 1 (full forward), 0 stops."""
    BUZZER = "buzzer"
    """Active buzzer: 0 or 1."""

    @property
    def value_range(self) -> tuple[float, float]:
        """Lowest and highest accepted value."""
        return (-1.0, 1.0) if self in (OutputKind.SERVO, OutputKind.MOTOR) else (0.0, 1.0)

    @property
    def binary(self) -> bool:
        """Only 0 and 1 are meaningful."""
        return self in (OutputKind.DIGITAL, OutputKind.BUZZER)


class InputKind(enum.Enum):
    """What an input reports."""

    BUTTON = "button"
    """Push button: 1 while pressed."""
    DIGITAL = "digital"
    """Any on/off input: 1 when active."""
    DISTANCE = "distance"
    """HC-SR04 style ultrasonic sensor: metres."""
    ADC = "adc"
    """One channel of an MCP3xxx ADC: 0..1 of the reference voltage."""


E = TypeVar("E", bound=enum.Enum)
ADC_CHIPS = ("MCP3001", "MCP3002", "MCP3004", "MCP3008", "MCP3201", "MCP3202", "MCP3204", "MCP3208")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSpec:
    """One output device."""

    name: str
    """Name callers use."""
    kind: OutputKind
    pins: tuple[int, ...]
    """BCM pin numbers: one, or (forward, backward) for a motor."""
    safe_value: float
    """Value at start, on stop and on every fail-safe trigger."""
    active_high: bool = True
    """False for relay boards that energise on a low pin."""
    max_hold_s: float = 0.0
    """Dead-man interval: a non-safe value reverts to safe unless renewed within it (0 = off)."""
    max_rate_hz: float = 10.0
    """Most changes per second accepted from callers."""
    frequency_hz: float = 100.0
    """PWM frequency (pwm, motor)."""
    allow: tuple[str, ...] = ()
    """Caller identity patterns allowed to actuate; empty means nobody."""
    description: str = ""
    """Shown to callers by `edge.describe` / `gpio.list`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """One input device."""

    name: str
    kind: InputKind
    pins: tuple[int, ...]
    """BCM pins: one; (echo, trigger) for distance; empty for an ADC."""
    pull_up: bool = False
    """Enable the pull-up (button, digital)."""
    chip: str = "MCP3008"
    """ADC chip (adc)."""
    channel: int = 0
    """ADC channel (adc)."""
    max_distance_m: float = 2.0
    """Range of a distance sensor."""
    allow: tuple[str, ...] = ("*",)
    """Caller identity patterns allowed to read."""
    description: str = ""


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
    "gpio.outputs[]": (
        "name", "kind", "pin", "forward_pin", "backward_pin", "safe_value", "active_high",
        "max_hold_s", "max_rate_hz", "frequency_hz", "allow", "description",
    ),
    "gpio.inputs[]": (
        "name", "kind", "pin", "echo_pin", "trigger_pin", "pull_up", "chip", "channel",
        "max_distance_m", "allow", "description",
    ),
}  # fmt: skip


def parse_gpio(table: Table) -> GpioConfig:
    """Read the `[gpio]` table; problems are recorded on `table`'s issue list."""
    outputs = tuple(o for o in (_output(t) for t in table.items("outputs")) if o is not None)
    inputs = tuple(i for i in (_input(t) for t in table.items("inputs")) if i is not None)
    values = read_section(table, GpioConfig)
    table.check_unknown()
    _check_unique(table, outputs, inputs)
    return GpioConfig(outputs=outputs, inputs=inputs, **values)


def _output(t: Table) -> OutputSpec | None:
    name = t.string("name", required=True, max_bytes=64)
    kind = _enum(t, OutputKind, "digital")
    pins = _pins(t, ("forward_pin", "backward_pin") if kind is OutputKind.MOTOR else ("pin",))
    low, high = (kind or OutputKind.DIGITAL).value_range
    safe = t.number("safe_value", 0.0, low=low, high=high)
    if kind is not None and kind.binary and safe not in (0.0, 1.0):
        t.issue("safe_value", f"expected 0 or 1 for a {kind.value} output, got {safe!r}")
    active_high = t.boolean("active_high", True)
    max_hold = t.number("max_hold_s", 0.0, low=0.0, high=86400.0)
    max_rate = t.number("max_rate_hz", 10.0, low=0.0, high=1000.0, open_low=True)
    frequency = t.number("frequency_hz", 100.0, low=1.0, high=40000.0)
    allow = t.strings("allow", ())
    description = t.string("description", max_bytes=256)
    t.check_unknown()
    if not name or kind is None or pins is None:
        return None
    return OutputSpec(
        name=name,
        kind=kind,
        pins=pins,
        safe_value=float(safe),
        active_high=active_high,
        max_hold_s=float(max_hold),
        max_rate_hz=float(max_rate),
        frequency_hz=float(frequency),
        allow=allow,
        description=description,
    )


def _input(t: Table) -> InputSpec | None:
    name = t.string("name", required=True, max_bytes=64)
    kind = _enum(t, InputKind, "digital")
    wanted = {InputKind.DISTANCE: ("echo_pin", "trigger_pin"), InputKind.ADC: ()}
    pins = _pins(t, wanted.get(kind, ("pin",)) if kind else ("pin",))
    chip = t.string("chip") or "MCP3008"
    if chip not in ADC_CHIPS:
        t.issue("chip", f"expected one of {', '.join(ADC_CHIPS)}, got {chip!r}")
    pull_up = t.boolean("pull_up", False)
    channel = t.number("channel", 0, low=0, high=7, integer=True)
    max_distance = t.number("max_distance_m", 2.0, low=0.02, high=10.0)
    allow = t.strings("allow", ("*",))
    description = t.string("description", max_bytes=256)
    t.check_unknown()
    if not name or kind is None or pins is None:
        return None
    return InputSpec(
        name=name,
        kind=kind,
        pins=pins,
        pull_up=pull_up,
        chip=chip,
        channel=int(channel),
        max_distance_m=float(max_distance),
        allow=allow,
        description=description,
    )


def _enum(t: Table, cls: type[E], default: str) -> E | None:
    names = tuple(str(m.value) for m in cls)
    before = t.issue_count
    value = t.choice("kind", default, names)
    return None if t.issue_count > before else cls(value)


def _pins(t: Table, keys: tuple[str, ...]) -> tuple[int, ...] | None:
    pins = []
    for key in keys:
        if not t.has(key):
            t.issue(key, "required")
            continue
        pins.append(int(t.number(key, -1, low=0, high=53, integer=True)))
    if len(pins) != len(keys) or -1 in pins:
        return None
    if len(set(pins)) != len(pins):
        t.issue(keys[-1], "must differ from the other pins of this device")
        return None
    return tuple(pins)


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
