"""`edge safe-state`: every declared output to its safe value, one at a time, even if some fail.

Each output is set up on its own (creating it drives it to its safe value), driven safe once
more, then released, so one broken pin cannot keep the others energised. Every failure is
reported with what failed and why, also when the pin library's exception has no message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edge.errors import HardwareError
from edge.gpio.devices import build_outputs, close_all, open_pin_factory
from edge.gpio.spec import OutputSpec

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SafeStateReport:
    """Which outputs are safe now and, for the others, why not."""

    safe: tuple[str, ...]
    failures: tuple[str, ...]
    """One line per output that could not be driven safe."""


def drive_outputs_safe(
    outputs: Sequence[OutputSpec], *, pin_factory: Any = None, reason: str = "safe-state command"
) -> SafeStateReport:
    """Drive every output it can to its safe value; never stop at the first failure."""
    safe: list[str] = []
    failures: list[str] = []
    own_factory = None
    if pin_factory is None and outputs:
        # The daemon's own factory: lines are claimed at their safe level and stay driven
        # there after release (gpiozero's default would float them, see edge.gpio.lines).
        pin_factory = own_factory = open_pin_factory()
    try:
        _drive_each(outputs, pin_factory, reason, safe, failures)
    finally:
        if own_factory is not None:
            try:
                own_factory.close()
            except Exception:  # the outputs are already safe; closing must not raise
                _LOGGER.exception("closing the GPIO chip failed")
    return SafeStateReport(tuple(safe), tuple(failures))


def _drive_each(
    outputs: Sequence[OutputSpec],
    pin_factory: Any,
    reason: str,
    safe: list[str],
    failures: list[str],
) -> None:
    for spec in outputs:
        try:
            built = build_outputs([spec], pin_factory)
        except HardwareError as exc:  # one output's failure must not spare the others
            failures.append(f"output {spec.name!r}: cannot set up: {describe_failure(exc)}")
            continue
        try:
            built[spec.name].drive(spec.safe_value)
        except HardwareError as exc:
            failures.append(f"output {spec.name!r}: cannot drive safe: {describe_failure(exc)}")
        else:
            safe.append(spec.name)
            _LOGGER.info("output %s -> %g (%s)", spec.name, spec.safe_value, reason)
        finally:
            close_all(built.values())


def describe_failure(exc: BaseException) -> str:
    """`TypeName: message` of the innermost cause; `TypeName (no message)` when it has none."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else f"{name} (no message)"
