"""Wiring checks: the declared GPIO devices against the board they run on.

`parse_gpio` already refuses two devices on one pin; this adds what only the board knows:
pins it does not have, pins it reserves, and the SPI bus an ADC occupies. Which pins have a
hardware PWM channel does not matter: lgpio times PWM and servo pulses in software on every
pin alike (see `edge.gpio.lines`), so any output pin may carry them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edge.board import BoardProfile
from edge.gpio.spec import GpioConfig, InputKind, InputSpec, OutputKind, OutputSpec


def check_wiring(
    board: BoardProfile, gpio: GpioConfig, raw_gpio: object, issues: list[str]
) -> None:
    """Append a `gpio.<list>[i].<key>: ...` issue per pin `board` forbids.

    `raw_gpio` is the `[gpio]` table as read from TOML: it maps devices back to the index they
    have in the file, which the parsed config no longer knows once a bad entry was dropped.
    """
    raw = raw_gpio if isinstance(raw_gpio, Mapping) else {}
    spi_users = [i.name for i in gpio.inputs if i.kind is InputKind.ADC]
    for spec in gpio.outputs:
        path = _path(raw, "outputs", spec.name)
        for key, pin in zip(_pin_keys(spec), spec.pins, strict=True):
            problem = _pin_problem(board, pin, spi_users)
            if problem:
                issues.append(f"{path}.{key}: {problem}")
    for device in gpio.inputs:
        path = _path(raw, "inputs", device.name)
        for key, pin in zip(_pin_keys(device), device.pins, strict=True):
            problem = _pin_problem(board, pin, spi_users)
            if problem:
                issues.append(f"{path}.{key}: {problem}")


def _pin_problem(board: BoardProfile, pin: int, spi_users: Sequence[str]) -> str:
    if pin not in board.pins:
        return f"{board.name} has no GPIO {pin} (its pins are {board.pins[0]}-{board.pins[-1]})"
    if pin in board.reserved:
        return f"pin {pin} is reserved on {board.name}: {board.reserved[pin]}"
    if spi_users and pin in board.spi_pins:
        pins = ", ".join(str(p) for p in board.spi_pins)
        return f"pin {pin} belongs to the SPI bus (pins {pins}) of the ADC {spi_users[0]!r}"
    return ""


def _pin_keys(spec: OutputSpec | InputSpec) -> tuple[str, ...]:
    """The config keys `spec.pins` came from, in the same order."""
    if isinstance(spec, OutputSpec):
        return ("forward_pin", "backward_pin") if spec.kind is OutputKind.MOTOR else ("pin",)
    if spec.kind is InputKind.DISTANCE:
        return ("echo_pin", "trigger_pin")
    return () if spec.kind is InputKind.ADC else ("pin",)


def _path(raw: Mapping[str, object], key: str, name: str) -> str:
    """`gpio.outputs[2]` for the entry named `name` in the file."""
    items = raw.get(key)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, Mapping) and item.get("name") == name:
                return f"gpio.{key}[{index}]"
    return f"gpio.{key}[{name!r}]"
