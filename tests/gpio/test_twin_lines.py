"""The pin twin (`edge.testing.pins`) claims outputs like the real lgpio pins do (see
tests/contract): at their safe level, never through the other level, still driven after close."""

from __future__ import annotations

from edge.gpio.actuator import Change
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, OutputKind, OutputSpec
from edge.testing.pins import STATES_KEPT, SimulatedPinFactory

CONFIG = GpioConfig(
    outputs=(
        OutputSpec(name="relay", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0.0),
        OutputSpec(
            name="relay_low",
            kind=OutputKind.DIGITAL,
            pins=(27,),
            safe_value=0.0,
            active_high=False,
        ),
        OutputSpec(
            name="dimmer", kind=OutputKind.PWM, pins=(23,), safe_value=0.0, active_high=False
        ),
    )
)
SAFE = {17: 0.0, 27: 1.0, 23: 1.0}
ON = {"relay": 1.0, "relay_low": 1.0, "dimmer": 1.0}


def _levels(pins: SimulatedPinFactory, gpio: int) -> list[float]:
    return [float(s.state) for s in pins.pin(gpio).states]


def test_outputs_start_at_their_safe_level_and_stay_driven_after_close() -> None:
    pins = SimulatedPinFactory(CONFIG)
    service = GpioService(CONFIG, pin_factory=pins)
    assert {g: _levels(pins, g) for g in SAFE} == {g: [s] for g, s in SAFE.items()}
    for name, value in ON.items():
        service.command(Change(name, value, "test"))
    service.close("daemon stopping")
    active = {g: 1.0 - s for g, s in SAFE.items()}
    assert {g: _levels(pins, g) for g in SAFE} == {g: [s, active[g], s] for g, s in SAFE.items()}
    # Not handed back as (floating) inputs.
    assert {g: pins.pin(g).function for g in SAFE} == dict.fromkeys(SAFE, "output")


def test_a_simulated_output_remembers_a_bounded_number_of_changes() -> None:
    # A soak toggles outputs for hours: gpiozero's MockPin would keep every level change.
    pins = SimulatedPinFactory(CONFIG)
    service = GpioService(CONFIG, pin_factory=pins)
    for i in range(3 * STATES_KEPT):
        service.command(Change("relay", float(i % 2 == 0), "test"))
    levels = _levels(pins, 17)
    assert len(levels) == STATES_KEPT
    assert levels[-1] == 0.0  # the newest kept
    service.close("test")
