"""lgpio pins that never glitch an output: gpiozero's `LGPIOFactory` with our claim order.

gpiozero's `LGPIOPin` claims every pin as an input without bias (the line floats), an output
then at level 0, and only then writes the wanted level; closing re-claims the pin as a floating
input. For an active-low relay whose safe value is "off" (line high) that is a pulse of "on" at
every start and every `edge safe-state`, and a floating relay input once the process is gone.

Here an output declared with `declare_output` is claimed once, directly at its safe level
(`gpio_claim_output(handle, pin, level)`), is never an input, starts PWM at the duty its line
already has, and is left driven at its safe level when closed: the process exit releases the
line and Raspberry Pi kernels keep a released output's level (`persist_gpio_outputs`).

Servos get lgpio's `tx_servo` (pulse width in whole µs) instead of `tx_pwm` with a duty cycle
that gpiozero rounds to whole percent (200 µs steps at 50 Hz: six positions from 1 to 2 ms).
Both are timed in software by lgpio's thread, on every pin alike.
"""

from __future__ import annotations

from typing import Any

import lgpio
from gpiozero.pins.lgpio import LGPIOFactory, LGPIOPin
from gpiozero.pins.local import LocalPiPin

from edge.gpio.devices import OutputLine


class SafeLGPIOFactory(LGPIOFactory):  # type: ignore[misc]
    """`LGPIOFactory` whose pins are `SafeLGPIOPin`s; declare outputs before building devices."""

    def __init__(self, chip: int | None = None) -> None:
        super().__init__(chip)
        self.pin_class = SafeLGPIOPin
        self.outputs: dict[int, OutputLine] = {}

    def declare_output(self, pin: int, safe_level: bool, *, servo: bool = False) -> None:
        """`pin` is an output whose line sits at `safe_level` unless commanded otherwise."""
        self.outputs[pin] = OutputLine(safe_level=safe_level, servo=servo)


class SafeLGPIOPin(LGPIOPin):  # type: ignore[misc]
    """An lgpio pin that claims declared outputs at their safe level and keeps them driven."""

    def __init__(self, factory: SafeLGPIOFactory, info: Any) -> None:
        # Not LGPIOPin.__init__: it claims the line as a floating input first.
        LocalPiPin.__init__(self, factory, info)
        self._pwm: tuple[float, float] | None = None
        self._bounce: int | None = None
        self._callback: Any = None
        self._edges = lgpio.BOTH_EDGES
        line = factory.outputs.get(self._number)
        if line is None:
            lgpio.gpio_claim_input(self.factory._handle, self._number, lgpio.SET_PULL_NONE)
        else:
            lgpio.gpio_claim_output(self.factory._handle, self._number, int(line.safe_level))

    @property
    def _line(self) -> OutputLine | None:
        outputs: dict[int, OutputLine] = self.factory.outputs
        return outputs.get(self._number)

    def close(self) -> None:
        """Declared outputs: stop any waveform and hold the safe level (no floating input).

        Every pin: its edge callback leaves lgpio's notification thread (gpiozero leaves it
        there, and an edge after the chip is closed then kills that thread)."""
        self._cancel_callback()
        line = self._line
        if line is None or self.factory._handle is None:
            super().close()
            return
        handle = self.factory._handle
        if self._pwm is not None:
            self._stop_waveform()
        lgpio.gpio_write(handle, self._number, int(line.safe_level))

    def output_with_state(self, state: float) -> None:
        """Claim as an output directly at `state` (no level-0 moment first)."""
        if self._is_output():
            self.state = state
            return
        self._cancel_callback()
        lgpio.gpio_claim_output(self.factory._handle, self._number, int(bool(state)))

    def _set_function(self, value: str) -> None:
        if value == "output" and self._is_output():
            self._cancel_callback()
            return  # already driven: re-claiming is a no-op in liblgpio anyway
        if value == "output":
            line = self._line
            self._cancel_callback()
            level = int(line.safe_level) if line is not None else 0
            lgpio.gpio_claim_output(self.factory._handle, self._number, level)
            return
        super()._set_function(value)

    def _set_state(self, value: float) -> None:
        if self._pwm is None:
            super()._set_state(value)
            return
        frequency, _ = self._pwm
        self._pwm = (frequency, value * 100)
        line = self._line
        if line is not None and line.servo:
            width = round(value / frequency * 1_000_000)
            lgpio.tx_servo(self.factory._handle, self._number, width, round(frequency))
        else:
            # lgpio takes a float duty cycle; gpiozero's int(value * 100) drops the fraction.
            lgpio.tx_pwm(self.factory._handle, self._number, frequency, value * 100)

    def _set_frequency(self, value: float | None) -> None:
        line = self._line
        if line is None:
            super()._set_frequency(value)
            return
        if value is not None and value > 0:
            if self._pwm is None:
                if not self._is_output():
                    super()._set_frequency(value)  # raises PinPWMFixedValue
                # Start at the duty the line already has: 0 % if low, 100 % if high.
                duty = 100.0 * lgpio.gpio_read(self.factory._handle, self._number)
                self._pwm = (value, duty)
                if not line.servo:
                    lgpio.tx_pwm(self.factory._handle, self._number, value, duty)
            else:
                self._pwm = (value, self._pwm[1])
                self._set_state(self._pwm[1] / 100)
        elif self._pwm is not None:
            self._stop_waveform()
            lgpio.gpio_write(self.factory._handle, self._number, int(line.safe_level))

    def _stop_waveform(self) -> None:
        line = self._line
        if line is not None and line.servo:
            lgpio.tx_servo(self.factory._handle, self._number, 0)
        else:
            lgpio.tx_pwm(self.factory._handle, self._number, 0, 0)
        self._pwm = None

    def _is_output(self) -> bool:
        mode = lgpio.gpio_get_mode(self.factory._handle, self._number)
        return bool(mode & self.GPIO_IS_OUT)

    def _cancel_callback(self) -> None:
        if self._callback is not None:
            self._callback.cancel()
            self._callback = None
