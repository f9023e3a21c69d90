"""Who may call which RPC method on which device, and what each method may cost: one table.

    policy = AccessPolicy.from_config(config)
    rpc = RpcEndpoint(room, policy=policy)        # every call passes `policy` first

Default-deny: a method with no rule is refused; anything that actuates (`gpio.set`,
`gpio.pulse`, `gpio.lease`, `media.set`, `mqtt.publish`) or reveals more than the room already
sees (`camera.snapshot`, `edge.logs`, `telemetry.history`, `mqtt.read`) needs an allow-list
entry, and every such list is empty unless the config fills it. Public: `edge.describe` (the
method schemas, no config values), `gpio.list` and `media.list` (what the participant
attributes already show everyone in the room).

Per device: `gpio.set`/`gpio.pulse` follow the output's `allow`, `gpio.read` the input's (or
output's) `allow`, `media.set` the named track's `allow`, `camera.snapshot` the camera's. A
device name the table does not know is left to the method, which answers "unknown device".

Every method also has `CallLimits` (per caller and overall), enforced by the endpoint before
anything else, so a flood costs a short refusal per call (2004) and nothing more.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from edge import wire
from edge.errors import RpcError
from edge.protocol.codes import ErrorCode
from edge.protocol.payload import PayloadError, parse_object
from edge.protocol.rpc import RpcInvocation
from edge.protocol.rpc_limits import CallLimits

if TYPE_CHECKING:
    from edge.config import Config
    from edge.gpio.spec import GpioConfig, OutputSpec

Patterns = tuple[str, ...]
EVERYONE: Patterns = ("*",)


def allowed(patterns: Iterable[str], identity: str) -> bool:
    """Whether `identity` matches one of the shell-style `patterns` (case-sensitive)."""
    return any(fnmatch.fnmatchcase(identity, p) for p in patterns)


CHEAP = CallLimits(per_caller=32, in_flight=64, rate_per_s=200.0, burst=400)
"""O(1) work and a short answer (GPIO, media state, MQTT)."""
LISTING = CallLimits(per_caller=4, in_flight=8, rate_per_s=10.0, burst=20)
"""An answer of a few kB built per call (`edge.describe`, `gpio.list`, `media.list`)."""
STREAMING = CallLimits(per_caller=1, in_flight=2, rate_per_s=2.0, burst=5)
"""An answer streamed to the caller: a JPEG, a page of history."""
BUNDLE = CallLimits(per_caller=1, in_flight=1, rate_per_s=0.2, burst=2)
"""A log bundle (the whole log ring, written to a file first)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodRule:
    """Who may call one method, and on which device."""

    allow: Patterns = ()
    """Who may call it at all (shell patterns); for device methods, see `devices`."""
    setting: str = ""
    """The config key to edit to allow someone (for the refusal message)."""
    device_field: str = ""
    """The payload field naming the device (`device`, `track`); "" for no device."""
    device: str = ""
    """The one device the method always acts on (`camera.snapshot`)."""
    devices: Mapping[str, tuple[Patterns, str]] = field(default_factory=dict)
    """Per-device allow-lists and their config keys; a named known device's list decides."""
    limits: CallLimits = CHEAP


class AccessPolicy:
    """The identity, method and device table, and the limits of each method."""

    def __init__(self, rules: Mapping[str, MethodRule]) -> None:
        self.rules = MappingProxyType(dict(rules))

    @classmethod
    def from_config(cls, config: Config) -> AccessPolicy:
        """The daemon's table, from the allow-lists in `config`."""
        media = {
            name: (c.allow, f"{name}.allow")
            for name, c in (("camera", config.camera), ("microphone", config.microphone))
            if c is not None
        }
        mqtt = config.mqtt.rpc_allow if config.mqtt is not None else ()
        listing = MethodRule(allow=EVERYONE, limits=LISTING)
        return cls(
            {
                wire.Method.DESCRIBE: listing,
                wire.Method.GPIO_LIST: listing,
                wire.Method.MEDIA_LIST: listing,
                **gpio_rules(config.gpio),
                wire.Method.MEDIA_SET: MethodRule(device_field="track", devices=media),
                wire.Method.CAMERA_SNAPSHOT: MethodRule(
                    device="camera", devices=media, setting="camera.allow", limits=STREAMING
                ),
                wire.Method.TELEMETRY_HISTORY: MethodRule(
                    allow=config.telemetry.history_allow,
                    setting="telemetry.history_allow",
                    limits=STREAMING,
                ),
                wire.Method.LOGS: MethodRule(
                    allow=config.daemon.logs_allow, setting="daemon.logs_allow", limits=BUNDLE
                ),
                wire.Method.MQTT_PUBLISH: MethodRule(allow=mqtt, setting="mqtt.rpc_allow"),
                wire.Method.MQTT_READ: MethodRule(allow=mqtt, setting="mqtt.rpc_allow"),
            }
        )

    def permits(self, caller: str, method: str, device: str = "") -> bool:
        """Whether the table lets `caller` call `method` (on `device`, for device methods).

        Stricter than `refusal` on one point: a device the table does not know is refused.
        """
        rule = self.rules.get(method)
        if rule is None:
            return False
        if not (rule.device_field or rule.device):
            return allowed(rule.allow, caller)
        entry = rule.devices.get(device or rule.device)
        return entry is not None and allowed(entry[0], caller)

    def may_call(self, caller: str, method: str) -> bool:
        """Whether `caller` may call `method` at all: for a device method, on some device."""
        rule = self.rules.get(method)
        if rule is None:
            return False
        if not (rule.device_field or rule.device):
            return allowed(rule.allow, caller)
        if rule.device:  # always the same device (`camera.snapshot`): only its list counts
            return self.permits(caller, method)
        return any(allowed(patterns, caller) for patterns, _ in rule.devices.values())

    def limits(self, method: str) -> CallLimits:
        """The cost bound of `method` (methods without a rule are refused before costing)."""
        rule = self.rules.get(method)
        return rule.limits if rule is not None else LISTING

    def check(self, invocation: RpcInvocation) -> RpcError | None:
        """Why `invocation` is refused (2003 access, 2000 payload), or None to run it."""
        return self.refusal(invocation.caller_identity, invocation.method, invocation.payload)

    def refusal(self, caller: str, method: str, payload: str) -> RpcError | None:
        """`check` for a call that did not come over RPC (an MQTT command)."""
        rule = self.rules.get(method)
        if rule is None:
            return _denied(f"{method} has no access rule, so nobody may call it")
        device_rule = bool(rule.device_field or rule.device)
        if not device_rule and not allowed(rule.allow, caller):
            return _denied(f"{caller!r} may not call {method}", rule.setting)
        try:
            params = parse_object(payload)
        except PayloadError as exc:
            return RpcError(int(ErrorCode.INVALID_PAYLOAD), str(exc))
        if not device_rule:
            return None
        name = rule.device or params.get(rule.device_field)
        if not isinstance(name, str) or name not in rule.devices:
            return None  # the method answers: missing field, wrong type, unknown device
        if self.permits(caller, method, name):
            return None
        return _denied(f"{caller!r} may not call {method} on {name!r}", rule.devices[name][1])

    def allows(self, caller: str, method: str, payload: str = "") -> bool:
        """Whether `caller` may call `method` with `payload` (for tests and `edge.describe`)."""
        refusal = self.refusal(caller, method, payload)
        return refusal is None or refusal.code != ErrorCode.ACCESS_DENIED


def gpio_rules(gpio: GpioConfig) -> dict[str, MethodRule]:
    """The GPIO rows of the table; the GPIO service checks its own calls against these too."""
    inputs = {s.name: (s.allow, f"gpio.inputs[{i}].allow") for i, s in enumerate(gpio.inputs)}
    operators = tuple(dict.fromkeys(p for o in gpio.outputs for p in o.allow))
    rules = output_rules(gpio.outputs)
    return {
        **rules,
        wire.Method.GPIO_READ: MethodRule(
            device_field="device", devices={**inputs, **rules[wire.Method.GPIO_SET].devices}
        ),
        wire.Method.GPIO_LEASE: MethodRule(allow=operators, setting="gpio.outputs[].allow"),
    }


def output_rules(outputs: Sequence[OutputSpec]) -> dict[str, MethodRule]:
    """The rows that actuate an output: its own `allow` decides (the actuator asks these)."""
    devices = {o.name: (o.allow, f"gpio.outputs[{i}].allow") for i, o in enumerate(outputs)}
    rule = MethodRule(device_field="device", devices=devices)
    return {wire.Method.GPIO_SET: rule, wire.Method.GPIO_PULSE: rule}


def _denied(message: str, setting: str = "") -> RpcError:
    hint = f" (allow-list: {setting})" if setting else ""
    return RpcError(int(ErrorCode.ACCESS_DENIED), message + hint)
