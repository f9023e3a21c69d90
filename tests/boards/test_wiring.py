"""[board] in the config: the profile is chosen, and GPIO wiring is checked against it."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from edge.board import SCHEMA, parse_board
from edge.config import Config, load_config, parse_config
from edge.errors import ConfigError
from edge.toml_table import Table

BASE = """
[livekit]
url = "ws://127.0.0.1:7880"
room = "r"
identity = "edge"
token = "t"
"""


def parse(text: str, *, simulate: bool = False) -> Config:
    return parse_config(tomllib.loads(BASE + text), env={}, simulate=simulate)


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(text)
    return err.value.issues


def test_a_named_profile_is_used_and_auto_under_simulate_is_generic() -> None:
    assert parse('[board]\nprofile = "pi-zero-2-w"').board.name == "pi-zero-2-w"
    assert parse('[board]\nprofile = "pi-5"', simulate=True).board.name == "pi-5"
    assert parse("", simulate=True).board.name == "generic"
    assert parse('[board]\nprofile = "auto"', simulate=True).board.name == "generic"
    assert parse('[board]\nprofile = "pi-4"').board.camera.width == 1280


def test_auto_detects_the_board_from_the_device_tree(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi Zero 2 W Rev 1.0\0")
    found: list[str] = []
    table = Table("board", {"profile": "auto"}, found, SCHEMA)
    assert parse_board(table, model_path=model) == "pi-zero-2-w"
    assert parse_board(table, model_path=model, simulate=True) == "generic"
    assert found == []


def test_unknown_board_and_keys_are_named() -> None:
    assert issues('[board]\nprofile = "pi-6"\nmodel = "x"') == [
        "board.model: unknown key",
        "board.profile: unknown board 'pi-6' (known: auto, cm3, cm4, cm4s, generic, pi-3, pi-4,"
        " pi-5, pi-zero-2-w, pi-zero-w)",
    ]


def test_pins_the_board_lacks_or_reserves_are_errors_with_their_path() -> None:
    found = issues(
        """
[board]
profile = "pi-4"

[[gpio.outputs]]
name = "broken"
kind = "laser"
pin = 5

[[gpio.outputs]]
name = "eeprom"
pin = 0

[[gpio.outputs]]
name = "drive"
kind = "motor"
forward_pin = 20
backward_pin = 30

[[gpio.inputs]]
name = "range"
kind = "distance"
echo_pin = 1
trigger_pin = 23
"""
    )
    assert found == [
        "gpio.outputs[0].kind: expected one of digital, pwm, servo, motor, buzzer, got 'laser'",
        "gpio.outputs[1].pin: pin 0 is reserved on pi-4: ID_SD, the HAT ID EEPROM bus",
        "gpio.outputs[2].backward_pin: pi-4 has no GPIO 30 (its pins are 0-27)",
        "gpio.inputs[0].echo_pin: pin 1 is reserved on pi-4: ID_SC, the HAT ID EEPROM bus",
    ]


def test_two_devices_on_one_pin_are_reported_once() -> None:
    found = issues(
        """
[board]
profile = "pi-3"

[[gpio.outputs]]
name = "lamp"
pin = 17

[[gpio.inputs]]
name = "door"
pin = 17
"""
    )
    assert found == ["gpio.outputs: pin 17 is used by both 'lamp' and 'door'"]


def test_a_pin_on_the_spi_bus_of_an_adc_is_an_error() -> None:
    found = issues(
        """
[board]
profile = "pi-zero-w"

[[gpio.outputs]]
name = "lamp"
pin = 10

[[gpio.inputs]]
name = "pot"
kind = "adc"
"""
    )
    assert found == [
        "gpio.outputs[0].pin: pin 10 belongs to the SPI bus (pins 8, 9, 10, 11) of the ADC 'pot'"
    ]


def test_pwm_and_servo_load_quietly_on_any_pin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="edge.config"):
        config = parse(
            """
[board]
profile = "pi-5"

[[gpio.outputs]]
name = "fan"
kind = "pwm"
pin = 18

[[gpio.outputs]]
name = "dimmer"
kind = "pwm"
pin = 17

[[gpio.outputs]]
name = "arm"
kind = "servo"
pin = 22

[[gpio.outputs]]
name = "wheel"
kind = "motor"
forward_pin = 5
backward_pin = 6
"""
        )
    assert [o.name for o in config.gpio.outputs] == ["fan", "dimmer", "arm", "wheel"]
    # lgpio times PWM and servo pulses in software on every pin: pins 12, 13, 18 and 19 are
    # no better, so nothing suggests they are.
    assert caplog.messages == []


def test_the_generic_host_accepts_any_header_pin_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = parse(
        """
[[gpio.outputs]]
name = "servo"
kind = "servo"
pin = 0
""",
        simulate=True,
    )
    assert config.board.name == "generic"
    assert caplog.messages == []
    assert issues('[board]\nprofile = "generic"\n[[gpio.outputs]]\nname = "x"\npin = 40') == [
        "gpio.outputs[0].pin: generic has no GPIO 40 (its pins are 0-27)"
    ]


def test_load_config_passes_simulate_and_redacts_the_board_to_its_name(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(BASE + '[board]\nprofile = "cm4"\n')
    path.chmod(0o600)
    config = load_config(path, env={})
    assert config.redacted()["board"] == {"profile": "cm4"}
    assert load_config(path, env={}, simulate=True).board.name == "cm4"  # named wins
    path.write_text(BASE)
    assert load_config(path, env={}, simulate=True).board.name == "generic"
