"""`edge safe-state`: every output it can goes safe, each failure is named, exit non-zero."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device

from edge.cli import main
from edge.gpio.safe_state import describe_failure, drive_outputs_safe
from edge.gpio.spec import GpioConfig, OutputKind, OutputSpec
from edge.testing.pins import SimulatedPinFactory

OUTPUTS = (
    OutputSpec(name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0, active_high=False),
    OutputSpec(name="fan", kind=OutputKind.PWM, pins=(18,), safe_value=0),
    OutputSpec(name="lamp", kind=OutputKind.DIGITAL, pins=(22,), safe_value=0),
)

TOML = """\
[livekit]
url = "ws://127.0.0.1:9"
room = "r"
identity = "e"
token = "t"

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
active_high = false

[[gpio.outputs]]
name = "fan"
kind = "pwm"
pin = 18

[[gpio.outputs]]
name = "lamp"
kind = "digital"
pin = 22
"""


class BrokenPinFactory(SimulatedPinFactory):
    """Mock pins, but pin 18 fails as a pin library may: an exception without a message."""

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
        if name in (18, "GPIO18", "18"):
            raise RuntimeError()
        return super().pin(name, pin_class=pin_class, **kwargs)


@pytest.fixture
def broken() -> BrokenPinFactory:
    return BrokenPinFactory(GpioConfig(outputs=OUTPUTS))


def test_a_broken_output_does_not_spare_the_ones_after_it(broken: BrokenPinFactory) -> None:
    report = drive_outputs_safe(OUTPUTS, pin_factory=broken)

    assert report.safe == ("relay", "lamp")
    assert report.failures == ("output 'fan': cannot set up: RuntimeError (no message)",)
    assert broken.pin(17).states[-1].state is True  # active low: safe 0 is a high pin
    assert broken.pin(22).states[-1].state is False


def test_every_output_safe_is_an_empty_failure_list() -> None:
    factory = SimulatedPinFactory(GpioConfig(outputs=OUTPUTS))
    report = drive_outputs_safe(OUTPUTS, pin_factory=factory)
    assert report.safe == ("relay", "fan", "lamp")
    assert report.failures == ()


def test_describe_failure_names_the_innermost_cause() -> None:
    wrapped = ValueError("wrapped")
    wrapped.__cause__ = OSError(5, "Input/output error")
    assert describe_failure(wrapped) == "OSError: [Errno 5] Input/output error"
    assert describe_failure(KeyError()) == "KeyError (no message)"


def test_command_reports_each_failure_and_exits_non_zero(
    tmp_path: Path,
    broken: BrokenPinFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(TOML)
    config.chmod(0o600)
    monkeypatch.setattr(Device, "pin_factory", broken)  # gpiozero's default factory

    with caplog.at_level(logging.INFO):
        assert main(["safe-state", "--config", str(config)]) == 1

    err = capsys.readouterr().err
    assert "edge: output 'fan': cannot set up: RuntimeError (no message)\n" in err
    assert "edge: 2 of 3 output(s) driven safe\n" in err
    messages = [r.getMessage() for r in caplog.records]
    assert "output relay -> 0 (safe-state command)" in messages
    assert "output lamp -> 0 (safe-state command)" in messages
