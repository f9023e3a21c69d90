"""SimulatedPinFactory: gpiozero's MockFactory wired for a declared set of devices."""

from __future__ import annotations

from typing import Any

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin, MockSPIDevice, MockTriggerPin

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
