"""Every output's line over time, through real gpiozero and lgpio.py: it never leaves its safe
level unless commanded, at start, `edge safe-state`, stop, or a fail-safe; never floats."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from edge.gpio.actuator import Change
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, InputKind, InputSpec, OutputKind, OutputSpec
from tests.helpers import assert_eventually

RELAY_HIGH = OutputSpec(name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0.0)
RELAY_LOW = OutputSpec(
    name="relay_low", kind=OutputKind.DIGITAL, pins=(27,), safe_value=0.0, active_high=False
)
LAMP_LOW_ON = OutputSpec(
    name="lamp", kind=OutputKind.DIGITAL, pins=(22,), safe_value=1.0, active_high=False
)
DIMMER_LOW = OutputSpec(
    name="dimmer", kind=OutputKind.PWM, pins=(23,), safe_value=0.0, active_high=False
)
FAN = OutputSpec(name="fan", kind=OutputKind.PWM, pins=(24,), safe_value=0.0)
BUZZER_LOW = OutputSpec(
    name="buzzer", kind=OutputKind.BUZZER, pins=(25,), safe_value=0.0, active_high=False
)
OUTPUTS = (RELAY_HIGH, RELAY_LOW, LAMP_LOW_ON, DIMMER_LOW, FAN, BUZZER_LOW)
# The physical level each line must hold at its safe value.
SAFE = {17: "0", 27: "1", 22: "0", 23: "1", 24: "0", 25: "1"}
# ... and when commanded to the opposite value.
ACTIVE = {17: "1", 27: "0", 22: "1", 23: "0", 24: "1", 25: "0"}
CONFIG = GpioConfig(
    outputs=OUTPUTS,
    inputs=(InputSpec(name="door", kind=InputKind.BUTTON, pins=(5,), pull_up=True),),
    link_loss_grace_s=0.0,
)


def level(state: str) -> str:
    """A constant waveform is a level: PWM at 0 % is low, at 100 % high."""
    if state.startswith("pwm:"):
        return {"0": "0", "100": "1"}.get(state.split(":")[2], state)
    return state


def lines(lg: ModuleType, gpio: int) -> list[str]:
    """The line's levels in order, repeats merged; an input with a pull is at the pull's level
    (the wiring's pull resistors agree with the safe level), a floating one is "float"."""
    levels: list[str] = []
    for event in lg.events():
        if event["gpio"] == gpio:
            now = level(event["state"])
            now = {"pull-up": "1", "pull-down": "0"}.get(now, now)
            if not levels or levels[-1] != now:
                levels.append(now)
    return levels


def boot(lg: ModuleType) -> None:
    """After power-on every line is an input held at the safe level by its pull resistor."""
    for gpio, safe in SAFE.items():
        lg.set_boot_state(gpio, "pull-up" if safe == "1" else "pull-down")


def assert_never_left_safe(lg: ModuleType) -> None:
    found = {gpio: lines(lg, gpio) for gpio in SAFE}
    assert found == {gpio: [safe] for gpio, safe in SAFE.items()}


def command_all_active(service: GpioService, clock: Any) -> None:
    for spec in OUTPUTS:
        change = service.actuator.request(
            device=spec.name, value=1.0 - spec.safe_value, caller="op", now=clock()
        )
        service.command(change)


OPERATOR_CONFIG = GpioConfig(
    outputs=tuple(
        OutputSpec(
            name=o.name,
            kind=o.kind,
            pins=o.pins,
            safe_value=o.safe_value,
            active_high=o.active_high,
            allow=("op",),
        )
        for o in OUTPUTS
    ),
    link_loss_grace_s=0.0,
)


def test_start_claims_every_output_at_its_safe_level(lg: ModuleType) -> None:
    boot(lg)
    service = GpioService(CONFIG)
    try:
        assert_never_left_safe(lg)
        assert ("gpio_claim_output", (0, 0, 27, 1)) in lg.calls  # directly at the safe level
    finally:
        service.close("test over")


def test_safe_state_command_leaves_every_output_driven_at_its_safe_level(lg: ModuleType) -> None:
    """`edge safe-state` (ExecStopPost=) builds the outputs and closes them: no pulse, and
    the lines stay driven afterwards instead of floating."""
    boot(lg)
    GpioService(CONFIG).close("safe-state command")
    assert_never_left_safe(lg)
    # Closing did not give the outputs back as floating inputs.
    assert not any(c == "gpio_claim_input" and a[2] in SAFE for c, a in lg.calls)


def test_stop_brings_commanded_outputs_back_to_safe_and_keeps_them_there(lg: ModuleType) -> None:
    boot(lg)
    clock = iter(range(1000)).__next__
    service = GpioService(OPERATOR_CONFIG, clock=lambda: float(clock()))
    command_all_active(service, lambda: 100.0)
    service.close("daemon stopping")
    found = {gpio: lines(lg, gpio) for gpio in SAFE}
    assert found == {gpio: [SAFE[gpio], ACTIVE[gpio], SAFE[gpio]] for gpio in SAFE}


async def test_fail_safe_drives_safe_without_passing_through_anything_else(
    lg: ModuleType,
) -> None:
    boot(lg)
    service = GpioService(OPERATOR_CONFIG)
    try:
        command_all_active(service, service.now)
        service.participant_left("op")
        found = {gpio: lines(lg, gpio) for gpio in SAFE}
        assert found == {gpio: [SAFE[gpio], ACTIVE[gpio], SAFE[gpio]] for gpio in SAFE}
    finally:
        service.close("test over")
    assert {gpio: lines(lg, gpio)[-1] for gpio in SAFE} == SAFE


@pytest.mark.parametrize("safe", [-1.0, 0.0, 0.5])
def test_servo_pulses_in_whole_microseconds_from_tx_servo(lg: ModuleType, safe: float) -> None:
    arm = OutputSpec(name="arm", kind=OutputKind.SERVO, pins=(12,), safe_value=safe, allow=("op",))
    service = GpioService(GpioConfig(outputs=(arm,)))
    try:
        safe_width = round(1500 + 500 * safe)
        assert lines(lg, 12) == ["0", f"servo:{safe_width}:50"]  # idle low, then safe pulses
        widths = set()
        for step in range(-1000, 1001):
            value = step / 1000
            service.command(Change("arm", value, "sweep"))
            widths.add(lg.events()[-1]["state"])
        # 2001 positions 1 µs apart, where whole-percent duty cycles gave six.
        assert len(widths) == 1001
        assert {s.split(":")[0] for s in widths} == {"servo"}
    finally:
        service.close("test over")
    assert lines(lg, 12)[-1] == "0"  # pulses stopped, line held low (not floating)
    assert not any(name == "tx_pwm" for name, _ in lg.calls)


async def test_an_input_callback_that_raises_stays_out_of_lgpio_s_thread(
    lg: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """lgpio runs every input's callbacks on one notification thread: an exception escaping
    into it would end that thread, and with it every input's edges, for good."""
    config = GpioConfig(
        inputs=(
            InputSpec(name="door", kind=InputKind.BUTTON, pins=(5,), pull_up=True),
            InputSpec(name="window", kind=InputKind.BUTTON, pins=(6,), pull_up=True),
        )
    )
    service = GpioService(config)
    seen: list[float] = []

    def broken(value: float) -> None:
        raise RuntimeError("event loop is closed")

    try:
        assert service.watch("door", broken)
        assert service.watch("window", seen.append)
        for _ in range(3):
            lg.drive_input(5, 0)  # pressed: the callback raises
            lg.drive_input(5, 1)
        lg.drive_input(6, 0)
        await assert_eventually(lambda: seen == [1.0], message="window press delivered")
    finally:
        service.close("test over")
    failures = [r for r in caplog.records if "door" in r.getMessage()]
    assert len(failures) == 1  # logged once, not per edge
    assert "event loop is closed" in failures[0].getMessage()


def test_a_motor_starts_stopped_and_ends_stopped_on_both_pins(lg: ModuleType) -> None:
    wheel = OutputSpec(
        name="wheel", kind=OutputKind.MOTOR, pins=(20, 21), safe_value=0.0, allow=("op",)
    )
    for gpio in (20, 21):
        lg.set_boot_state(gpio, "pull-down")
    service = GpioService(GpioConfig(outputs=(wheel,)))
    assert (lines(lg, 20), lines(lg, 21)) == (["0"], ["0"])
    service.command(Change("wheel", 0.5, "forward at half speed"))
    assert lines(lg, 20)[-1] == "pwm:100:50"
    service.close("daemon stopping")
    assert (lines(lg, 20), lines(lg, 21)) == (["0", "pwm:100:50", "0"], ["0"])
