"""SimulatedPinFactory: gpiozero's MockFactory wired for a declared set of devices."""

from __future__ import annotations

from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin, MockTriggerPin

from edge.gpio.spec import GpioConfig, InputKind, OutputKind

_PWM_KINDS = (OutputKind.PWM, OutputKind.SERVO, OutputKind.MOTOR)


class SimulatedPinFactory(MockFactory):  # type: ignore[misc]
    """Mock pins: PWM-capable where a PWM device sits, an echoing trigger for distance sensors.

    gpiozero's MockFactory hands out one pin class for every pin; real boards mix them.
    """

    def __init__(self, gpio: GpioConfig, *, echo_time_s: float = 0.004) -> None:
        super().__init__(pin_class=MockPin)
        self._pwm = {f"GPIO{p}" for o in gpio.outputs if o.kind in _PWM_KINDS for p in o.pins}
        self._triggers: dict[str, tuple[int, float]] = {}
        for spec in gpio.inputs:
            if spec.kind is InputKind.DISTANCE:
                echo, trigger = spec.pins
                self._triggers[f"GPIO{trigger}"] = (echo, echo_time_s)

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
        """gpiozero's pin lookup, with the class chosen per pin."""
        if pin_class is None:
            label = next((info.name for _, info in self.board_info.find_pin(name)), str(name))
            if label in self._pwm:
                pin_class = MockPWMPin
            elif label in self._triggers:
                echo, echo_time = self._triggers[label]
                pin_class = MockTriggerPin
                kwargs = {"echo_pin": super().pin(echo), "echo_time": echo_time, **kwargs}
        return super().pin(name, pin_class=pin_class, **kwargs)
