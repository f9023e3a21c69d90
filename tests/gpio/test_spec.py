"""The [gpio] config section: devices parsed, every mistake named by its dotted path."""

from __future__ import annotations

import tomllib

import pytest

from edge.config import Config, parse_config
from edge.errors import ConfigError
from edge.gpio.spec import SCHEMA, InputKind, InputSpec, OutputKind, OutputSpec
from edge.reference import render
from edge.settings import known_keys, settings

BASE = """
[livekit]
url = "ws://127.0.0.1:7880"
room = "r"
identity = "edge"
token = "t"
"""

GPIO = """
[gpio]
link_loss_grace_s = 3.0

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
active_high = false
max_hold_s = 30
allow = ["op-*"]

[[gpio.outputs]]
name = "drive"
kind = "motor"
forward_pin = 20
backward_pin = 21

[[gpio.inputs]]
name = "range"
kind = "distance"
echo_pin = 24
trigger_pin = 25

[[gpio.inputs]]
name = "pot"
kind = "adc"
chip = "MCP3008"
channel = 3
"""


def parse(text: str) -> Config:
    return parse_config(tomllib.loads(BASE + text), env={})


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(text)
    return err.value.issues


def test_devices_are_parsed_with_defaults() -> None:
    gpio = parse(GPIO).gpio
    relay, drive = gpio.outputs
    assert (relay.kind, relay.pins, relay.active_high, relay.allow) == (
        OutputKind.DIGITAL,
        (17,),
        False,
        ("op-*",),
    )
    assert (drive.kind, drive.pins, drive.allow, drive.safe_value) == (
        OutputKind.MOTOR,
        (20, 21),
        (),
        0.0,
    )
    rng, pot = gpio.inputs
    assert (rng.kind, rng.pins, rng.allow) == (InputKind.DISTANCE, (24, 25), ("*",))
    assert (pot.kind, pot.pins, pot.channel) == (InputKind.ADC, (), 3)
    assert gpio.link_loss_grace_s == 3.0


def test_gpio_section_round_trips_through_redacted_data() -> None:
    config = parse(GPIO)
    data = config.redacted()
    data["livekit"]["token"] = "t"
    assert parse_config(data, env={}).gpio == config.gpio


def test_each_mistake_is_named_by_its_path() -> None:
    found = issues(
        """
[[gpio.outputs]]
name = "a"
kind = "laser"
pin = 17

[[gpio.outputs]]
name = "b"
kind = "digital"
safe_value = 0.5

[[gpio.outputs]]
name = "c"
kind = "servo"
pin = 99
safe_value = 2
alow = ["x"]
"""
    )
    assert (
        "gpio.outputs[0].kind: expected one of digital, pwm, servo, motor, buzzer, got 'laser'"
        in found
    )
    assert "gpio.outputs[1].pin: required" in found
    assert "gpio.outputs[1].safe_value: expected 0 or 1 for a digital output, got 0.5" in found
    assert "gpio.outputs[2].pin: expected an integer from 0 to 53, got 99" in found
    assert "gpio.outputs[2].safe_value: expected a number from -1 to 1, got 2" in found
    assert "gpio.outputs[2].alow: unknown key (did you mean 'allow'?)" in found


def test_duplicate_names_and_pins_are_refused() -> None:
    found = issues(
        """
[[gpio.outputs]]
name = "a"
pin = 17
[[gpio.outputs]]
name = "a"
pin = 18
[[gpio.inputs]]
name = "b"
pin = 17
"""
    )
    assert "gpio.outputs: device name 'a' is used twice" in found
    assert "gpio.outputs: pin 17 is used by both 'a' and 'b'" in found


def test_motor_pins_must_differ_and_outputs_must_be_an_array() -> None:
    found = issues(
        '[[gpio.outputs]]\nname = "m"\nkind = "motor"\nforward_pin = 5\nbackward_pin = 5\n'
    )
    assert "gpio.outputs[0].backward_pin: must differ from the other pins of this device" in found
    assert issues("[gpio]\noutputs = 5\n") == ["gpio.outputs: expected an array of tables, got int"]


def test_pins_of_another_kind_are_refused_by_path() -> None:
    found = issues(
        """
[[gpio.outputs]]
name = "m"
kind = "motor"
pin = 4
forward_pin = 5
backward_pin = 6

[[gpio.outputs]]
name = "r"
pin = 12
forward_pin = 13

[[gpio.inputs]]
name = "b"
kind = "button"
pin = 16
echo_pin = 19

[[gpio.inputs]]
name = "p"
kind = "adc"
pin = 20
"""
    )
    assert found == [
        "gpio.outputs[0].pin: does not apply to a motor output",
        "gpio.outputs[1].forward_pin: does not apply to a digital output",
        "gpio.inputs[0].echo_pin: does not apply to a button input",
        "gpio.inputs[1].pin: does not apply to an adc input",
    ]


def test_unknown_input_keys_and_distance_pins_are_named_by_path() -> None:
    found = issues(
        """
[[gpio.inputs]]
name = "range"
kind = "distance"
echo_pin = 24
trigger_pin = 24
max_distance = 3
"""
    )
    assert found == [
        "gpio.inputs[0].trigger_pin: must differ from the other pins of this device",
        "gpio.inputs[0].max_distance: unknown key (did you mean 'max_distance_m'?)",
    ]
    assert issues('[[gpio.inputs]]\nname = "p"\nkind = "adc"\nchip = ""\n') == [
        "gpio.inputs[0].chip: must not be empty"
    ]


def test_the_declarations_are_the_accepted_keys_and_the_reference() -> None:
    assert SCHEMA["gpio.outputs[]"] == known_keys(OutputSpec)
    assert SCHEMA["gpio.inputs[]"] == known_keys(InputSpec)
    for keys in (("pin", "forward_pin", "backward_pin"), ("pin", "echo_pin", "trigger_pin")):
        assert set(keys) <= set(SCHEMA["gpio.outputs[]"] + SCHEMA["gpio.inputs[]"])
    for name, cls in (("gpio.outputs", OutputSpec), ("gpio.inputs", InputSpec)):
        rendered = render(f"<!-- keys: {name} -->\n<!-- /keys -->\n")
        for spec in settings(cls):
            row = next(
                line for line in rendered.splitlines() if line.startswith(f"| `{spec.key}` |")
            )
            assert row.endswith(f" | {spec.doc} |")
    assert "pins" not in known_keys(OutputSpec)


def test_a_declared_default_applies_when_the_key_is_left_out() -> None:
    (relay,) = parse('[[gpio.outputs]]\nname = "r"\npin = 4\n').gpio.outputs
    assert relay == OutputSpec(name="r", pins=(4,))
    assert (relay.kind, relay.max_rate_hz, relay.frequency_hz) == (OutputKind.DIGITAL, 10.0, 100.0)
