"""A recorder in place of lgpio's C extension `_lgpio`; lgpio's own `lgpio.py` runs on top of it.

It models what the kernel and liblgpio do with a line, as read from lg's `lgGpio.c`/`lgTx.c`:
claiming a line that is already an output is a no-op (the level stays); claiming it as anything
else first frees it; writing to, or starting PWM on, an unclaimed line claims it as an output at
level 0; an output's level outlives the process (Raspberry Pi kernels keep a released output
driven: `persist_gpio_outputs`). Every change of a line's electrical state is one event
`{"t": monotonic ns, "pid", "gpio", "state", "call"}`; states are "0"/"1" (driven), "pull-up",
"pull-down", "float" (an input: the line is what the wiring makes it), "pwm:<Hz>:<%>",
"servo:<µs>:<Hz>", "stopped" (a waveform stopped mid-cycle: high or low, nobody knows).

Events are kept in memory (`events()`) and, when `EDGE_TEST_LGPIO_LOG` names a file, appended
to it as JSON lines (one write each), so that several processes (`edge run`, then `edge
safe-state` after a `kill -9`) add to one timeline.

Edge alerts go through lgpio's real notification thread: `notify_open` makes the FIFO where
liblgpio does (`$LG_WD/.lgd-nfy<handle>`, else in the working directory; lgpio.py opens it
relative to the working directory, so the two must agree) and `drive_input` writes the 16-byte
reports liblgpio would.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from typing import Any

LOG_ENV = "EDGE_TEST_LGPIO_LOG"
LINES = 54

_OUT, _IN, _ALERT = 1 << 1, 1 << 8, 1 << 10
_LG_OUTPUT = 1 << 9
_PULL_UP, _PULL_DOWN, _BIAS_OFF = 1 << 5, 1 << 6, 1 << 7
_SET_PULL_UP, _SET_PULL_DOWN = 32, 64
_BAD_HANDLE, _BAD_GPIO, _NOT_OUTPUT = -5, -73, -104
_BAD_SERVO_FREQ, _BAD_SERVO_WIDTH, _BAD_PWM_FREQ, _BAD_PWM_DUTY = -100, -101, -102, -103
_ERRORS = {
    _BAD_HANDLE: "unknown handle",
    _BAD_GPIO: "GPIO not 0-53",
    _NOT_OUTPUT: "GPIO not set as an output",
    _BAD_SERVO_FREQ: "bad servo frequency",
    _BAD_SERVO_WIDTH: "bad servo pulse width",
    _BAD_PWM_FREQ: "bad PWM frequency",
    _BAD_PWM_DUTY: "bad PWM dutycycle",
}

_lock = threading.RLock()
_events: list[dict[str, Any]] = []
_handles: dict[int, int] = {}
"""handle -> gpiochip number."""
_modes: dict[int, int] = {}
"""gpio -> lgpio mode bits while this process has it claimed."""
_state: dict[int, str] = {}
"""gpio -> the line's electrical state as this process last set it."""
_outside: dict[int, int] = {}
"""gpio -> the level the outside world drives an input to (tests set it)."""
_notify: dict[int, int] = {}
"""notify handle -> write end of its FIFO."""
calls: list[tuple[str, tuple[Any, ...]]] = []
"""Every C call, in order: (name, arguments)."""


# --- what tests use -----------------------------------------------------------------------


def reset() -> None:
    """Forget every event, claim and handle (a fresh boot)."""
    with _lock:
        _events.clear()
        _handles.clear()
        _modes.clear()
        _state.clear()
        _outside.clear()
        calls.clear()


def events() -> list[dict[str, Any]]:
    """This process's events, oldest first."""
    with _lock:
        return list(_events)


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every process's events from a shared log, in time order."""
    with open(path, encoding="utf-8") as log:
        found = [json.loads(line) for line in log if line.strip()]
    return sorted(found, key=lambda e: e["t"])


def set_boot_state(gpio: int, state: str) -> None:
    """What the line is before anyone claims it (e.g. "pull-down" after boot)."""
    with _lock:
        _state[gpio] = state
        _record(gpio, state, "boot")


def drive_input(gpio: int, level: int) -> None:
    """The outside world drives an input; alerts reach lgpio's callback thread."""
    with _lock:
        _outside[gpio] = level
        if _modes.get(gpio, 0) & _ALERT:
            chip = next(iter(_handles.values()), 0)
            report = struct.pack("QBBBBI", time.monotonic_ns(), chip, gpio, level, 0, 0)
            for fd in _notify.values():
                os.write(fd, report)


def wake_notify_readers() -> None:
    """One empty report per FIFO, so that a stopped lgpio notification thread sees it stop."""
    with _lock:
        for fd in _notify.values():
            os.write(fd, bytes(16))


# --- the C functions lgpio.py calls -------------------------------------------------------


def _gpiochip_open(gpiochip: int) -> int:
    with _lock:
        calls.append(("gpiochip_open", (gpiochip,)))
        handle = (gpiochip << 16) | len(_handles)
        _handles[handle] = gpiochip
        return handle


def _gpiochip_close(handle: int) -> int:
    with _lock:
        calls.append(("gpiochip_close", (handle,)))
        if _handles.pop(handle, None) is None:
            return _BAD_HANDLE
        # The lines are released; outputs keep their level, PWM threads stop.
        for gpio in list(_modes):
            _stop_waveform(gpio, "gpiochip_close")
        _modes.clear()
        return 0


def _gpio_get_mode(handle: int, gpio: int) -> int:
    with _lock:
        calls.append(("gpio_get_mode", (handle, gpio)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        mode = _modes.get(gpio, 0)
        state = _state.get(gpio, "float")
        bias = {"pull-up": _PULL_UP, "pull-down": _PULL_DOWN}.get(state, _BIAS_OFF)
        if mode & _LG_OUTPUT:
            return mode | _OUT
        return mode | bias if mode else 0


def _gpio_claim_input(handle: int, flags: int, gpio: int) -> int:
    with _lock:
        calls.append(("gpio_claim_input", (handle, flags, gpio)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        _stop_waveform(gpio, "gpio_claim_input")
        _modes[gpio] = _IN
        _set(gpio, _input_state(flags), f"gpio_claim_input(flags={flags})")
        return 0


def _gpio_claim_output(handle: int, flags: int, gpio: int, level: int) -> int:
    with _lock:
        calls.append(("gpio_claim_output", (handle, flags, gpio, level)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        if _modes.get(gpio, 0) & _LG_OUTPUT:
            return 0  # liblgpio: "nothing to do, already an output"
        _modes[gpio] = _LG_OUTPUT
        _set(gpio, str(int(bool(level))), f"gpio_claim_output(level={level})")
        return 0


def _gpio_claim_alert(handle: int, flags: int, edges: int, gpio: int, notify: int) -> int:
    with _lock:
        calls.append(("gpio_claim_alert", (handle, flags, edges, gpio, notify)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        _stop_waveform(gpio, "gpio_claim_alert")
        _modes[gpio] = _IN | _ALERT
        _set(gpio, _input_state(flags), f"gpio_claim_alert(flags={flags})")
        return 0


def _gpio_free(handle: int, gpio: int) -> int:
    with _lock:
        calls.append(("gpio_free", (handle, gpio)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        _stop_waveform(gpio, "gpio_free")
        _modes.pop(gpio, None)
        return 0


def _gpio_read(handle: int, gpio: int) -> int:
    with _lock:
        calls.append(("gpio_read", (handle, gpio)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        state = _state.get(gpio, "float")
        if state in ("0", "1"):
            return int(state)
        if gpio in _outside:
            return _outside[gpio]
        return int(state == "pull-up")


def _gpio_write(handle: int, gpio: int, level: int) -> int:
    with _lock:
        calls.append(("gpio_write", (handle, gpio, level)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        if not _modes.get(gpio, 0) & _LG_OUTPUT:
            _modes[gpio] = _LG_OUTPUT  # liblgpio: auto-claim a singleton as an output
        _set(gpio, str(int(bool(level))), f"gpio_write({level})")
        return 0


def _gpio_set_debounce_micros(handle: int, gpio: int, micros: int) -> int:
    with _lock:
        calls.append(("gpio_set_debounce_micros", (handle, gpio, micros)))
        return _check(handle, gpio)


def _tx_pwm(handle: int, gpio: int, freq: float, duty: float, offset: int, cycles: int) -> int:
    with _lock:
        calls.append(("tx_pwm", (handle, gpio, freq, duty, offset, cycles)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        if freq == 0:
            _stop_waveform(gpio, "tx_pwm(0)")
            return 0
        if not 0.1 <= freq <= 10_000:
            return _BAD_PWM_FREQ
        if not 0 <= duty <= 100:
            return _BAD_PWM_DUTY
        _claim_for_waveform(gpio)
        _set(gpio, f"pwm:{freq:g}:{duty:g}", f"tx_pwm({freq:g} Hz, {duty:g} %)")
        return 15


def _tx_servo(handle: int, gpio: int, width: int, freq: int, offset: int, cycles: int) -> int:
    with _lock:
        calls.append(("tx_servo", (handle, gpio, width, freq, offset, cycles)))
        if (bad := _check(handle, gpio)) < 0:
            return bad
        if width == 0:
            _stop_waveform(gpio, "tx_servo(0)")
            return 0
        if not 40 <= freq <= 500:
            return _BAD_SERVO_FREQ
        if not 500 <= width <= 2500 or width > 1_000_000 // freq:
            return _BAD_SERVO_WIDTH
        _claim_for_waveform(gpio)
        _set(gpio, f"servo:{width}:{freq}", f"tx_servo({width} µs, {freq} Hz)")
        return 15


def _notify_open() -> int:
    with _lock:
        calls.append(("notify_open", ()))
        handle = len(_notify)
        path = os.path.join(os.environ.get("LG_WD") or ".", f".lgd-nfy{handle}")
        if os.path.exists(path):
            os.unlink(path)
        os.mkfifo(path)
        # Opened for reading and writing, as liblgpio does, so lgpio.py's open() won't block.
        _notify[handle] = os.open(path, os.O_RDWR)
        return handle


def _error_text(code: int) -> str:
    return _ERRORS.get(code, f"lgpio error {code}")


# --- internals ----------------------------------------------------------------------------


def _check(handle: int, gpio: int) -> int:
    if handle not in _handles:
        return _BAD_HANDLE
    if not 0 <= gpio < LINES:
        return _BAD_GPIO
    return 0


def _input_state(flags: int) -> str:
    if flags & _SET_PULL_UP:
        return "pull-up"
    if flags & _SET_PULL_DOWN:
        return "pull-down"
    return "float"


def _claim_for_waveform(gpio: int) -> None:
    if not _modes.get(gpio, 0) & _LG_OUTPUT:
        _modes[gpio] = _LG_OUTPUT  # liblgpio claims a singleton as an output at level 0 first
        _set(gpio, "0", "tx auto-claim (level 0)")


def _stop_waveform(gpio: int, call: str) -> None:
    state = _state.get(gpio, "")
    if state.startswith(("pwm:", "servo:")):
        duty = state.split(":")[2] if state.startswith("pwm:") else ""
        # A stopped waveform leaves the line wherever it was in the cycle.
        _set(gpio, {"0": "0", "100": "1"}.get(duty, "stopped"), call)


def _set(gpio: int, state: str, call: str) -> None:
    if _state.get(gpio) != state:
        _state[gpio] = state
        _record(gpio, state, call)


def _record(gpio: int, state: str, call: str) -> None:
    event = {"t": time.monotonic_ns(), "pid": os.getpid(), "gpio": gpio, "state": state}
    event["call"] = call
    _events.append(event)
    path = os.environ.get(LOG_ENV)
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(event) + "\n").encode())
        finally:
            os.close(fd)
