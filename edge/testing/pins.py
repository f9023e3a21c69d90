"""SimulatedPinFactory: gpiozero's MockFactory wired for a declared set of devices.

Its output pins are claimed the way `edge.gpio.lines.SafeLGPIOPin` claims real ones: a declared
output is an output from the start, at its safe level, and stays driven at it when closed
(gpiozero's MockPin starts every pin as an input at 0 and closes to an input, like its lgpio
pins, which is what made relays glitch). Each pin's `states` is its level over time.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin, MockSPIDevice, MockTriggerPin

from edge.gpio.devices import OutputLine
from edge.gpio.spec import GpioConfig, InputKind, OutputKind

_PWM_KINDS = (OutputKind.PWM, OutputKind.SERVO, OutputKind.MOTOR)


class SimulatedPinFactory(MockFactory):  # type: ignore[misc]
    """Mock pins: PWM-capable where a PWM device sits, an echoing trigger for distance sensors.

    gpiozero's MockFactory hands out one pin class for every pin; real boards mix them.
    """

    def __init__(self, gpio: GpioConfig, *, echo_time_s: float = 0.004) -> None:
        super().__init__(pin_class=MockPin)
        self.outputs: dict[int, OutputLine] = {}
        """Declared outputs (`declare_output`), by BCM number."""
        self._pwm = {f"GPIO{p}" for o in gpio.outputs if o.kind in _PWM_KINDS for p in o.pins}
        self._triggers: dict[str, tuple[int, float]] = {}
        self.adc: SimulatedMCP3008 | None = None
        """The simulated ADC on SPI0/CE0, when an `adc` input is declared."""
        for spec in gpio.inputs:
            if spec.kind is InputKind.DISTANCE:
                echo, trigger = spec.pins
                self._triggers[f"GPIO{trigger}"] = (echo, echo_time_s)
            elif spec.kind is InputKind.ADC and self.adc is None:
                if spec.chip not in ("MCP3004", "MCP3008"):
                    raise ValueError(f"simulation has an MCP3004/MCP3008, not an {spec.chip}")
                self.adc = SimulatedMCP3008(pin_factory=self)
                # gpiozero's software SPI bus ignores the injected factory and asks for the
                # global default, which does not exist off a Pi; give it one (pins still come
                # from the factory the device was built with).
                if Device.pin_factory is None:
                    Device.pin_factory = self

    def declare_output(self, pin: int, safe_level: bool, *, servo: bool = False) -> None:
        """`pin` is an output whose line sits at `safe_level` unless commanded otherwise."""
        self.outputs[pin] = OutputLine(safe_level=safe_level, servo=servo)

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
        """gpiozero's pin lookup, with the class chosen per pin."""
        if pin_class is None:
            label = next((info.name for _, info in self.board_info.find_pin(name)), str(name))
            if label.startswith("GPIO") and int(label[4:]) in self.outputs:
                pin_class = SimulatedOutputPin
            elif label in self._pwm:
                pin_class = MockPWMPin
            elif label in self._triggers:
                echo, echo_time = self._triggers[label]
                pin_class = MockTriggerPin
                kwargs = {"echo_pin": super().pin(echo), "echo_time": echo_time, **kwargs}
        return super().pin(name, pin_class=pin_class, **kwargs)


STATES_KEPT = 1024
"""Level changes an output pin remembers (gpiozero's MockPin keeps every one, for ever)."""


class SimulatedOutputPin(MockPWMPin):  # type: ignore[misc]
    """A declared output: claimed at its safe level, never an input, left driven when closed."""

    def __init__(self, factory: SimulatedPinFactory, info: Any) -> None:
        super().__init__(factory, info)
        self._line = factory.outputs[int(info.name[4:])]
        self._function = "output"
        self._state = self._line.safe_level
        self._frequency: float | None = None
        self.clear_states()

    def clear_states(self) -> None:
        """Start the level history anew; only the newest `STATES_KEPT` changes are kept."""
        super().clear_states()
        # A deque is all MockPin needs of it (append, iterate, index); gpiozero is untyped.
        self.__dict__["states"] = deque(self.__dict__["states"], maxlen=STATES_KEPT)

    def close(self) -> None:
        """Stop PWM and hold the safe level, still an output."""
        self.when_changed = None
        self._frequency = None
        self._change_state(self._line.safe_level)

    def output_with_state(self, state: float) -> None:
        """Already an output: just the level."""
        self.state = state

    def _set_function(self, value: str) -> None:
        if value != "output":
            super()._set_function(value)

    def _set_state(self, value: float) -> None:
        # A level (True/False) unless PWM runs: then the duty cycle.
        self._change_state(bool(value) if self._frequency is None else float(value))

    def _set_frequency(self, value: float | None) -> None:
        if value is not None:
            self._frequency = value  # PWM starts at the duty the line already has
        elif self._frequency is not None:
            self._frequency = None
            self._change_state(self._line.safe_level)


class SimulatedMCP3008(MockSPIDevice):  # type: ignore[misc]
    """The chip side of an MCP3004/3008 on the software SPI bus (SCLK 11, MOSI 10, MISO 9, CE0 8).

    The host clocks in a start bit, single/differential and three channel bits; the chip
    answers with a don't-care bit, a null bit and ten bits of the channel's value.
    """

    def __init__(self, *, pin_factory: MockFactory) -> None:
        super().__init__(11, 10, 9, 8, pin_factory=pin_factory)
        self.values = [0.5] * 8
        """Each channel's level as a fraction of the reference voltage (0..1)."""
        self._command_at: int | None = None

    def on_start(self) -> None:
        """A new transfer begins."""
        super().on_start()
        self._command_at = None

    def on_bit(self) -> None:
        """Collect the command bits; queue the answer once the channel is known."""
        if self._command_at is None:
            if self.rx_buf[-1]:
                self._command_at = len(self.rx_buf)  # the start bit
            return
        if len(self.rx_buf) == self._command_at + 4:
            channel = int("".join(str(int(b)) for b in self.rx_buf[-3:]), 2)
            level = round(min(1.0, max(0.0, self.values[channel])) * 1023)
            self.tx_buf = [0, 0, *(level >> shift & 1 for shift in range(9, -1, -1))]
