"""Actuator: who may set which output to what, and when it must go back to safe. Pure.

Every method takes `now` and returns the `Change`s to drive; nothing here touches hardware.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from edge import wire
from edge.access import AccessPolicy, output_rules
from edge.errors import AccessDenied, InvalidValue, RateLimited, UnknownDevice
from edge.gpio.spec import OutputSpec


@dataclass(frozen=True, slots=True)
class Change:
    """Drive `device` to `value`; `reason` is for logs and callers."""

    device: str
    value: float
    reason: str
    failsafe: bool = False
    """A fail-safe drives it safe (controller gone, link lost, hold expired, stopping)."""


@dataclass(frozen=True, slots=True)
class Lease:
    """Exclusive control of every output by one caller until `expires_at`."""

    holder: str
    expires_at: float


@dataclass(slots=True)
class _State:
    value: float
    controller: str | None = None
    """Who set the current non-safe value."""
    expires_at: float | None = None
    """When a non-safe value reverts to safe (hold, dead-man or pulse)."""
    pulse: bool = False
    """`expires_at` ends a pulse: going back is its normal end, not a fail-safe."""
    last_change: float = -math.inf


class Actuator:
    """The outputs' logical state; every output starts at its safe value."""

    def __init__(
        self,
        specs: Sequence[OutputSpec],
        *,
        lease_max_s: float = 300.0,
        access: AccessPolicy | None = None,
    ) -> None:
        self.specs = {s.name: s for s in specs}
        self.access = access if access is not None else AccessPolicy(output_rules(specs))
        """Who may actuate which output: the daemon's table (its GPIO rows are enough)."""
        self.lease_max_s = lease_max_s
        self.lease: Lease | None = None
        self._states = {s.name: _State(value=s.safe_value) for s in specs}

    def value(self, device: str) -> float:
        """The value `device` is driven to now."""
        return self._state(device).value

    def controller(self, device: str) -> str | None:
        """Who set the current non-safe value of `device`."""
        return self._state(device).controller

    def request(
        self,
        *,
        device: str,
        value: float,
        caller: str,
        now: float,
        hold_s: float | None = None,
        pulse_s: float | None = None,
    ) -> Change:
        """Validate and apply a caller's command; raise a `DeviceError` subclass if refused."""
        spec = self._spec(device)
        self._check_access(spec, caller, now)
        value = self._checked_value(spec, value)
        state = self._states[device]
        min_interval = 1.0 / spec.max_rate_hz
        # Going back to safe is never rate limited, and neither is renewing the current value.
        moves = value not in (spec.safe_value, state.value)
        if moves and now - state.last_change < min_interval:
            raise RateLimited(f"{device}: at most {spec.max_rate_hz:g} changes per second")
        safe = value == spec.safe_value
        expires_at = None if safe else self._expiry(spec, now, hold_s, pulse_s)
        # Validated: from here on the command is applied.
        if value != state.value:
            state.last_change = now
        state.value = value
        if safe:
            state.controller, state.expires_at, state.pulse = None, None, False
            return Change(device, value, f"set to safe value by {caller}")
        state.controller = caller
        state.expires_at = expires_at
        state.pulse = bool(pulse_s)
        what = f"pulse {pulse_s:g} s" if pulse_s else "set"
        return Change(device, value, f"{what} by {caller}")

    def acquire_lease(self, caller: str, duration_s: float, now: float) -> Lease:
        """Take (or renew) exclusive control; refused while someone else holds it."""
        if not 0 < duration_s <= self.lease_max_s:
            raise InvalidValue(f"lease duration must be > 0 and <= {self.lease_max_s:g} s")
        current = self._live_lease(now)
        if current is not None and current.holder != caller:
            raise AccessDenied(f"outputs are leased to {current.holder!r}")
        self.lease = Lease(holder=caller, expires_at=now + duration_s)
        return self.lease

    def release_lease(self, caller: str, now: float) -> None:
        """Give up the lease; only its holder may."""
        current = self._live_lease(now)
        if current is not None and current.holder != caller:
            raise AccessDenied(f"the lease is held by {current.holder!r}, not {caller!r}")
        self.lease = None

    def poll(self, now: float) -> list[Change]:
        """Outputs whose hold, dead-man interval or pulse has run out, back to safe."""
        self._live_lease(now)
        changes = []
        for name, state in self._states.items():
            if state.expires_at is not None and now >= state.expires_at:
                if state.pulse:
                    changes.append(self._to_safe(name, "pulse ended", failsafe=False))
                else:
                    changes.append(self._to_safe(name, "hold time expired without renewal"))
        return changes

    def next_deadline(self) -> float | None:
        """When `poll` next has something to do."""
        times = [s.expires_at for s in self._states.values() if s.expires_at is not None]
        if self.lease is not None:
            times.append(self.lease.expires_at)
        return min(times, default=None)

    def participant_left(self, identity: str) -> list[Change]:
        """Outputs controlled by `identity` go safe, and its lease ends."""
        if self.lease is not None and self.lease.holder == identity:
            self.lease = None
        return [
            self._to_safe(name, f"controller {identity!r} left")
            for name, state in self._states.items()
            if state.controller == identity
        ]

    def all_safe(self, reason: str) -> list[Change]:
        """Every output to its safe value (drive them all, even those already there)."""
        self.lease = None
        return [self._to_safe(name, reason) for name in self._states]

    def revert(self, device: str, reason: str) -> Change:
        """Record `device` as back at its safe value (after its hardware failed)."""
        self._spec(device)
        return self._to_safe(device, reason, failsafe=False)

    def _to_safe(self, name: str, reason: str, *, failsafe: bool = True) -> Change:
        state = self._states[name]
        state.value = self.specs[name].safe_value
        state.controller, state.expires_at, state.pulse = None, None, False
        return Change(name, state.value, reason, failsafe=failsafe)

    def _live_lease(self, now: float) -> Lease | None:
        if self.lease is not None and now >= self.lease.expires_at:
            self.lease = None
        return self.lease

    def _check_access(self, spec: OutputSpec, caller: str, now: float) -> None:
        if not self.access.permits(caller, wire.Method.GPIO_SET, spec.name):
            raise AccessDenied(f"{caller!r} may not actuate {spec.name!r}")
        lease = self._live_lease(now)
        if lease is not None and lease.holder != caller:
            raise AccessDenied(f"outputs are leased to {lease.holder!r}")

    @staticmethod
    def _checked_value(spec: OutputSpec, value: float) -> float:
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidValue(f"{spec.name}: value must be a finite number")
        low, high = spec.kind.value_range
        if spec.kind.binary and value not in (0, 1):
            raise InvalidValue(
                f"{spec.name}: a {spec.kind.value} output takes 0 or 1, got {value!r}"
            )
        if not low <= value <= high:
            raise InvalidValue(
                f"{spec.name}: value must be from {low:g} to {high:g}, got {value!r}"
            )
        return float(value)

    @staticmethod
    def _expiry(
        spec: OutputSpec, now: float, hold_s: float | None, pulse_s: float | None
    ) -> float | None:
        limit = spec.max_hold_s or math.inf
        for what, seconds in (("hold_s", hold_s), ("duration_s", pulse_s)):
            if seconds is not None and not 0 < seconds <= limit:
                bound = f"<= {spec.max_hold_s:g} s (max_hold_s)" if spec.max_hold_s else "finite"
                raise InvalidValue(f"{spec.name}: {what} must be > 0 and {bound}")
        seconds = pulse_s or hold_s or spec.max_hold_s
        return now + seconds if seconds else None

    def _spec(self, device: str) -> OutputSpec:
        spec = self.specs.get(device)
        if spec is None:
            known = ", ".join(sorted(self.specs)) or "none"
            raise UnknownDevice(f"no output named {device!r} (outputs: {known})")
        return spec

    def _state(self, device: str) -> _State:
        self._spec(device)
        return self._states[device]
