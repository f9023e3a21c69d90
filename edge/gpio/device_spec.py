"""Device specs: the `[[gpio.outputs]]` and `[[gpio.inputs]]` tables as frozen dataclasses.

Each TOML key is declared once below (`edge.settings`); a device's `pins` field is built from
the keys its kind uses (`pin`, `forward_pin` + `backward_pin`, `echo_pin` + `trigger_pin`).
`edge.gpio.spec` reads the tables with these declarations; `python -m edge.reference` renders
docs/configuration.md's tables from them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from edge.settings import Read, from_keys, key, setting


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


ADC_CHIPS = ("MCP3001", "MCP3002", "MCP3004", "MCP3008", "MCP3201", "MCP3202", "MCP3204", "MCP3208")


_PIN = {"kind": "int", "low": 0, "high": 53}
_ONE_PIN_OUTPUTS = tuple(k.value for k in OutputKind if k is not OutputKind.MOTOR)
_DIFFER = "must differ from the other pins of this device"
_NAME = "What callers name in RPC payloads; unique across outputs and inputs."


def _safe_value(value: float, read: Read) -> str | None:
    kind: OutputKind = read["kind"]
    if "kind" in read.refused or not kind.binary or value in (0.0, 1.0):
        return None
    return f"expected 0 or 1 for a {kind.value} output, got {value!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSpec:
    """One output device."""

    name: str = setting(kind="string", max_bytes=64, doc=_NAME)
    kind: OutputKind = setting(
        OutputKind.DIGITAL,
        kind="choice",
        choices=OutputKind,
        doc="`digital` (relay, LED: 0/1), `pwm` (dimmer, fan: 0..1), `servo` (-1..1), `motor`"
        " (H-bridge: -1..1, the sign is the direction, 0 stops), `buzzer` (0/1).",
    )
    pins: tuple[int, ...] = from_keys(
        key(
            "pin",
            **_PIN,
            kinds=_ONE_PIN_OUTPUTS,
            shown_default="required (not for a motor)",
            doc="BCM pin number, one the board has and does not reserve.",
        ),
        key(
            "forward_pin",
            **_PIN,
            kinds=("motor",),
            shown_default="required for a motor",
            doc="motor: the BCM pin driving it forward.",
        ),
        key(
            "backward_pin",
            **_PIN,
            kinds=("motor",),
            check_with=lambda pin, read: _DIFFER if pin == read["forward_pin"] else None,
            shown_default="required for a motor",
            doc="motor: the BCM pin driving it backward.",
        ),
    )
    """BCM pin numbers: one, or (forward, backward) for a motor."""
    safe_value: float = setting(
        0.0,
        kind="float",
        low=-1.0,
        high=1.0,
        bounds_from=lambda read: read["kind"].value_range,
        check_with=_safe_value,
        doc="Driven at start, on stop and on every fail-safe trigger; 0 to 1 (servo, motor:"
        " -1 to 1), 0 or 1 for digital and buzzer.",
    )
    active_high: bool = setting(
        True, kind="bool", doc="`false` for relay boards that energise on a low pin."
    )
    max_hold_s: float = setting(
        0.0,
        kind="float",
        low=0.0,
        high=86400.0,
        doc="Dead-man interval: a non-safe value reverts to safe unless renewed within it"
        " (0 = off).",
    )
    max_rate_hz: float = setting(
        10.0,
        kind="float",
        low=0.0,
        high=1000.0,
        open_low=True,
        doc="Most changes per second accepted from callers (a return to safe is never refused).",
    )
    frequency_hz: float = setting(
        100.0, kind="float", low=1.0, high=40000.0, doc="PWM frequency (pwm, motor)."
    )
    allow: tuple[str, ...] = setting(
        (), kind="strings", doc="Caller identities allowed to actuate it; empty = nobody."
    )
    description: str = setting(
        "",
        kind="string",
        max_bytes=256,
        doc="Shown to callers by `edge.describe` / `gpio.list`.",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """One input device."""

    name: str = setting(kind="string", max_bytes=64, doc=_NAME)
    kind: InputKind = setting(
        InputKind.DIGITAL,
        kind="choice",
        choices=InputKind,
        doc="`button` (1 while pressed), `digital` (1 when active), `distance` (HC-SR04 style"
        " ultrasonic sensor, metres), `adc` (one channel of an MCP3xxx ADC: 0..1 of the"
        " reference voltage).",
    )
    pins: tuple[int, ...] = from_keys(
        key(
            "pin",
            **_PIN,
            kinds=("button", "digital"),
            shown_default="required (button, digital)",
            doc="BCM pin number.",
        ),
        key(
            "echo_pin",
            **_PIN,
            kinds=("distance",),
            shown_default="required for distance",
            doc="distance: the sensor's echo pin.",
        ),
        key(
            "trigger_pin",
            **_PIN,
            kinds=("distance",),
            check_with=lambda pin, read: _DIFFER if pin == read["echo_pin"] else None,
            shown_default="required for distance",
            doc="distance: the sensor's trigger pin.",
        ),
    )
    """BCM pins: one; (echo, trigger) for distance; empty for an ADC."""
    pull_up: bool = setting(False, kind="bool", doc="Enable the pull-up (button, digital).")
    chip: str = setting(
        "MCP3008",
        kind="string",
        blank=False,
        check=lambda chip: (
            None if chip in ADC_CHIPS else f"expected one of {', '.join(ADC_CHIPS)}, got {chip!r}"
        ),
        doc=f"ADC chip (adc): {', '.join(f'`{chip}`' for chip in ADC_CHIPS)}; on the SPI bus,"
        " whose pins are then taken.",
    )
    channel: int = setting(0, kind="int", low=0, high=7, doc="ADC channel (adc).")
    max_distance_m: float = setting(
        2.0, kind="float", low=0.02, high=10.0, doc="Range of a distance sensor, in metres."
    )
    allow: tuple[str, ...] = setting(
        ("*",), kind="strings", doc="Caller identities allowed to read it (default: everyone)."
    )
    description: str = setting("", kind="string", max_bytes=256, doc="Shown to callers.")
