"""The gpiozero adapter: build devices from specs on an injected pin factory.

On a board the factory is `edge.gpio.lines.SafeLGPIOFactory` (`open_pin_factory`), which claims
every output directly at its safe level and leaves it driven when closed; `GPIOZERO_PIN_FACTORY`
still picks another of gpiozero's. Tests and `--simulate` pass `edge.testing.pins`' twin.
Outputs are declared to a factory that has `declare_output` before gpiozero builds them.
gpiozero is imported here and in `edge.gpio.lines`, nowhere else.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edge.errors import HardwareError
from edge.gpio.spec import InputKind, InputSpec, OutputKind, OutputSpec
from edge.listeners import Listeners, Unsubscribe

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutputLine:
    """How a declared output's line must look whenever nobody commands it."""

    safe_level: bool
    """The physical level (after active-low inversion) of the safe value."""
    servo: bool = False
    """Pulses come from `tx_servo`; the line idles low."""


class Output:
    """One gpiozero output device; `drive` sets its value in the spec's units."""

    def __init__(self, spec: OutputSpec, device: Any) -> None:
        self.spec = spec
        self._device = device

    def drive(self, value: float) -> None:
        """Set the device; raise `HardwareError` if the pin library fails."""
        try:
            self._device.value = int(value) if self.spec.kind.binary else value
        except Exception as exc:  # any pin-library failure becomes one error type
            raise HardwareError(f"{self.spec.name}: driving pin failed: {exc}") from exc

    def level(self) -> float:
        """The value read back from the pin (lgpio reads the line), in the spec's units."""
        try:
            return float(self._device.value)
        except Exception as exc:  # any pin-library failure becomes one error type
            raise HardwareError(f"{self.spec.name}: reading pin failed: {exc}") from exc

    def close(self) -> None:
        """Release the pins."""
        self._device.close()


class Input:
    """One gpiozero input device; `read` returns its value in the spec's units (may block)."""

    def __init__(self, spec: InputSpec, device: Any) -> None:
        self.spec = spec
        self._device = device
        # lgpio runs every input's callbacks on one notification thread: nothing a watcher
        # raises may reach it (it would end, and with it every input's edges).
        self._watchers: Listeners[[float]] = Listeners(f"input {spec.name} changes")

    def read(self) -> float:
        """The current reading; blocking for a distance sensor (run it off the event loop)."""
        try:
            if self.spec.kind is InputKind.DISTANCE:
                return float(self._device.distance)
            return float(self._device.value)
        except Exception as exc:  # any pin-library failure becomes one error type
            raise HardwareError(f"{self.spec.name}: reading failed: {exc}") from exc

    def on_change(self, callback: Callable[[float], None]) -> Unsubscribe | None:
        """Call `callback(1.0 | 0.0)` from gpiozero's thread on every change (buttons, digital
        inputs); None for kinds that have no edges. Each callback subscribed is called."""
        if self.spec.kind not in (InputKind.BUTTON, InputKind.DIGITAL):
            return None
        unsubscribe = self._watchers.subscribe(callback)
        self._device.when_activated = lambda: self._watchers.emit(1.0)
        self._device.when_deactivated = lambda: self._watchers.emit(0.0)
        return unsubscribe

    def close(self) -> None:
        """Release the pins."""
        if self.spec.kind is InputKind.DISTANCE:
            # gpiozero closes a distance sensor's trigger before stopping its reader thread,
            # which may then crash on the closed pin: stop the thread first.
            queue = getattr(self._device, "_queue", None)
            if queue is not None:
                queue.stop()
        self._device.close()


def open_pin_factory() -> Any:
    """The pin factory for real pins: ours over lgpio, or None for gpiozero's own choice.

    None when `GPIOZERO_PIN_FACTORY` names one, or lgpio cannot be used here (gpiozero then
    tries its other libraries, whose outputs may glitch at start, and says why it found none).
    """
    chosen = os.environ.get("GPIOZERO_PIN_FACTORY")
    if chosen:
        _LOGGER.warning(
            "GPIOZERO_PIN_FACTORY=%s: outputs are claimed gpiozero's way (level 0 first, "
            "floating after close), not at their safe level",
            chosen,
        )
        return None
    try:
        from edge.gpio.lines import SafeLGPIOFactory

        return SafeLGPIOFactory()
    except Exception as exc:  # noqa: BLE001 - no lgpio/gpiochip/Pi: gpiozero decides, explains
        _LOGGER.warning("lgpio pins unavailable (%s): gpiozero picks its pin library", exc)
        return None


def safe_lines(spec: OutputSpec) -> list[tuple[int, bool]]:
    """Each pin of `spec` with the physical level its line has at the safe value.

    A PWM duty cycle between 0 and 1 has no constant level: the line rests at the nearer of
    the two (what it is left at once the process, and with it the PWM thread, is gone). A
    servo's line rests low: no pulses.
    """
    safe = spec.safe_value
    match spec.kind:
        case OutputKind.SERVO:
            return [(spec.pins[0], False)]
        case OutputKind.MOTOR:
            forward, backward = spec.pins
            return [(forward, safe > 0.5), (backward, safe < -0.5)]
        case _:
            return [(spec.pins[0], (safe > 0.5) == spec.active_high)]


def build_outputs(specs: Sequence[OutputSpec], pin_factory: Any = None) -> dict[str, Output]:
    """Create every output already at its safe value."""
    built: dict[str, Output] = {}
    declare = getattr(pin_factory, "declare_output", None)
    try:
        for spec in specs:
            if declare is not None:
                for pin, level in safe_lines(spec):
                    declare(pin, level, servo=spec.kind is OutputKind.SERVO)
            built[spec.name] = Output(spec, _make_output(spec, pin_factory))
    except Exception as exc:
        close_all(built.values())
        raise HardwareError(f"cannot set up output {spec.name!r}: {exc}") from exc
    return built


def build_inputs(specs: Sequence[InputSpec], pin_factory: Any = None) -> dict[str, Input]:
    """Create every input."""
    built: dict[str, Input] = {}
    try:
        for spec in specs:
            built[spec.name] = Input(spec, _make_input(spec, pin_factory))
    except Exception as exc:
        close_all(built.values())
        raise HardwareError(f"cannot set up input {spec.name!r}: {exc}") from exc
    return built


def close_all(devices: Any) -> None:
    """Close devices, logging (not raising) failures."""
    for device in devices:
        try:
            device.close()
        except Exception:  # closing must go on for the others
            _LOGGER.exception("closing %s failed", device.spec.name)


def _make_output(spec: OutputSpec, factory: Any) -> Any:
    import gpiozero

    pin, safe = spec.pins[0], spec.safe_value
    match spec.kind:
        case OutputKind.DIGITAL:
            return gpiozero.DigitalOutputDevice(
                pin, active_high=spec.active_high, initial_value=bool(safe), pin_factory=factory
            )
        case OutputKind.BUZZER:
            return gpiozero.Buzzer(
                pin, active_high=spec.active_high, initial_value=bool(safe), pin_factory=factory
            )
        case OutputKind.PWM:
            return gpiozero.PWMOutputDevice(
                pin,
                active_high=spec.active_high,
                initial_value=safe,
                frequency=int(spec.frequency_hz),
                pin_factory=factory,
            )
        case OutputKind.SERVO:
            return gpiozero.Servo(pin, initial_value=safe, pin_factory=factory)
        case OutputKind.MOTOR:
            motor = gpiozero.Motor(spec.pins[0], spec.pins[1], pwm=True, pin_factory=factory)
            motor.value = safe
            return motor


def _make_input(spec: InputSpec, factory: Any) -> Any:
    import gpiozero

    match spec.kind:
        case InputKind.BUTTON:
            return gpiozero.Button(spec.pins[0], pull_up=spec.pull_up, pin_factory=factory)
        case InputKind.DIGITAL:
            return gpiozero.DigitalInputDevice(
                spec.pins[0], pull_up=spec.pull_up, pin_factory=factory
            )
        case InputKind.DISTANCE:
            echo, trigger = spec.pins
            with warnings.catch_warnings():
                # "use pigpio for accuracy": known, and pigpio is not on current Pi OS.
                warnings.simplefilter("ignore", gpiozero.exc.PWMSoftwareFallback)
                return gpiozero.DistanceSensor(
                    echo=echo,
                    trigger=trigger,
                    max_distance=spec.max_distance_m,
                    pin_factory=factory,
                )
        case InputKind.ADC:
            chip = getattr(gpiozero, spec.chip)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", gpiozero.exc.SPISoftwareFallback)
                device = chip(channel=spec.channel, pin_factory=factory)
            for warning in caught:
                _LOGGER.info("%s: %s", spec.name, warning.message)
            return device
