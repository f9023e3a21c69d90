"""GpioService: owns the devices, applies the Actuator's decisions, runs the safety timers.

It lives as long as the daemon (outputs persist across room reconnects); room sessions feed it
participant departures and link loss/restore.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from edge import wire
from edge.access import AccessPolicy, gpio_rules
from edge.errors import HardwareError, UnknownDevice
from edge.gpio.actuator import Actuator, Change, Lease
from edge.gpio.devices import (
    Input,
    Output,
    build_inputs,
    build_outputs,
    close_all,
    open_pin_factory,
)
from edge.gpio.spec import GpioConfig
from edge.listeners import Listeners, Unsubscribe

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class FailSafe:
    """The latest time a fail-safe drove outputs to their safe values."""

    what: tuple[str, ...]
    """The outputs it drove."""
    why: str
    """What triggered it ("controller 'x' left", "room connection lost for 10.0 s", ...)."""
    at: float
    """When, in Unix seconds."""

    def as_json(self) -> str:
        """`{"what": [...], "why": "...", "at": <Unix s>}`, compact."""
        record = {"what": list(self.what), "why": self.why, "at": int(self.at)}
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


class GpioService:
    """Outputs start safe; every fail-safe trigger drives them safe again."""

    def __init__(
        self,
        config: GpioConfig,
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.access = AccessPolicy(gpio_rules(config))
        """The daemon's access table, GPIO rows only: what `may_*` and the actuator ask."""
        self.actuator = Actuator(config.outputs, lease_max_s=config.lease_max_s, access=self.access)
        self._clock = clock
        self._wall_clock = wall_clock
        self.last_failsafe: FailSafe | None = None
        """The latest fail-safe (None: none since the daemon started)."""
        # A factory we open is ours to close; an injected one (tests, --simulate) is not.
        self._own_factory = None
        if pin_factory is None and (config.outputs or config.inputs):
            pin_factory = self._own_factory = open_pin_factory()
        try:
            self._outputs: dict[str, Output] = build_outputs(config.outputs, pin_factory)
            self._inputs: dict[str, Input] = build_inputs(config.inputs, pin_factory)
        except BaseException:
            self._close_factory()
            raise
        self._wake = asyncio.Event()
        self._link_lost_at: float | None = None
        self._closed = False
        self.changes: Listeners[[]] = Listeners("GPIO output changes")
        """After outputs or the lease changed (to refresh attributes)."""
        _LOGGER.info(
            "GPIO ready: %d output(s) at their safe values, %d input(s)",
            len(self._outputs),
            len(self._inputs),
        )

    def now(self) -> float:
        """The service clock (monotonic seconds)."""
        return self._clock()

    async def run(self) -> None:
        """Drive outputs safe when holds expire or the link stays lost; until cancelled."""
        while True:
            now = self._clock()
            changes = self.actuator.poll(now)
            if self._link_lost_at is not None:
                lost_for = now - self._link_lost_at
                if lost_for >= self.config.link_loss_grace_s:
                    self._link_lost_at = None
                    changes = self.actuator.all_safe(f"room connection lost for {lost_for:.1f} s")
            self.apply(changes)
            self._wake.clear()
            deadlines = [self.actuator.next_deadline()]
            if self._link_lost_at is not None:
                deadlines.append(self._link_lost_at + self.config.link_loss_grace_s)
            due = min((d for d in deadlines if d is not None), default=None)
            timeout = None if due is None else max(0.0, due - self._clock())
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def apply(self, changes: Iterable[Change]) -> None:
        """Drive the hardware; a failing pin is logged and does not stop the others."""
        changed = False
        failsafe: list[Change] = []
        for change in changes:
            changed = True
            if change.failsafe:
                failsafe.append(change)
            try:
                self._outputs[change.device].drive(change.value)
            except HardwareError as exc:
                _LOGGER.error("%s", exc)
                continue
            _LOGGER.info("output %s -> %g (%s)", change.device, change.value, change.reason)
        if failsafe:
            what = tuple(c.device for c in failsafe)
            self.last_failsafe = FailSafe(what=what, why=failsafe[0].reason, at=self._wall_clock())
        if changed:
            self._wake.set()
            self.changes.emit()

    def command(self, change: Change) -> None:
        """Apply one accepted caller command; raise `HardwareError` if the pin would not move.

        On failure the output is recorded as safe again (and driven there if it can be).
        """
        try:
            self._outputs[change.device].drive(change.value)
        except HardwareError:
            self.apply([self.actuator.revert(change.device, "hardware error")])
            raise
        _LOGGER.info("output %s -> %g (%s)", change.device, change.value, change.reason)
        self._wake.set()
        self.changes.emit()

    def lease_changed(self) -> None:
        """Re-arm timers and refresh status after a lease change."""
        self._wake.set()
        self.changes.emit()

    def read(self, device: str) -> float:
        """An input's reading or an output's current value (may block: distance sensors)."""
        if device in self._inputs:
            return self._inputs[device].read()
        if device in self._outputs:
            return self.actuator.value(device)
        known = ", ".join(sorted([*self._inputs, *self._outputs])) or "none"
        raise UnknownDevice(f"no device named {device!r} (devices: {known})")

    def watch(self, device: str, callback: Callable[[float], None]) -> Unsubscribe | None:
        """Report every change of an input (called from gpiozero's thread); None if it has none."""
        if device not in self._inputs:
            raise UnknownDevice(f"no input named {device!r}")
        return self._inputs[device].on_change(callback)

    def may_read(self, device: str, caller: str) -> bool:
        """Inputs follow their allow-list; outputs may be read by whoever may set them."""
        return self.access.permits(caller, wire.Method.GPIO_READ, device)

    def may_set(self, device: str, caller: str) -> bool:
        """Whether `caller` is on the output's allow-list (a lease may still stand in the way)."""
        return self.access.permits(caller, wire.Method.GPIO_SET, device)

    def may_lease(self, caller: str) -> bool:
        """Whether `caller` may set some output, and so take the lease."""
        return self.access.permits(caller, wire.Method.GPIO_LEASE)

    def participant_left(self, identity: str) -> None:
        """Fail-safe: outputs controlled by a departed participant go safe."""
        self.apply(self.actuator.participant_left(identity))

    def link_lost(self) -> None:
        """Start the link-loss grace timer (idempotent; nothing to do once closed)."""
        if self._link_lost_at is None and not self._closed:
            self._link_lost_at = self._clock()
            _LOGGER.warning(
                "room connection lost: outputs go safe in %.1f s unless it comes back",
                self.config.link_loss_grace_s,
            )
            self._wake.set()

    def link_restored(self) -> None:
        """Cancel the link-loss grace timer."""
        if self._link_lost_at is not None:
            self._link_lost_at = None
            self._wake.set()

    @property
    def lease(self) -> Lease | None:
        """The current controller lease, if any."""
        return self.actuator.lease

    def close(self, reason: str) -> None:
        """Fail-safe on stop: every output to safe, then release the pins; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.apply(self.actuator.all_safe(reason))
        close_all([*self._outputs.values(), *self._inputs.values()])
        self._close_factory()

    def _close_factory(self) -> None:
        """Release the GPIO chip; outputs stay driven at their safe level (see edge.gpio.lines)."""
        factory, self._own_factory = self._own_factory, None
        if factory is not None:
            try:
                factory.close()
            except Exception:  # the outputs are already safe; closing must not raise
                _LOGGER.exception("closing the GPIO chip failed")
