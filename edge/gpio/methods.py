"""The GPIO RPC methods: JSON payloads in, JSON results out, errors with stable codes.

gpio.list      {}                                            -> devices, values, lease
gpio.set       {"device": "relay", "value": 1, "hold_s": 5}   -> the value driven
gpio.pulse     {"device": "relay", "duration_s": 0.5, "value": 1}
gpio.read      {"device": "door"}                            -> {"device", "value"}
gpio.lease     {"action": "acquire" | "release", "duration_s": 30}
edge.describe  {}                                            -> every method with its schema
"""

from __future__ import annotations

import asyncio
import enum
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge.errors import (
    AccessDenied,
    DeviceError,
    HardwareError,
    InvalidValue,
    RateLimited,
    UnknownDevice,
)
from edge.gpio.service import GpioService
from edge.protocol.payload import PayloadError, parse_object

MAX_PAYLOAD_BYTES = 4096


class ErrorCode(enum.IntEnum):
    """RPC error codes of the GPIO methods (outside LiveKit's reserved 1001-1999)."""

    INVALID_PAYLOAD = 2000
    UNKNOWN_DEVICE = 2001
    INVALID_VALUE = 2002
    ACCESS_DENIED = 2003
    RATE_LIMITED = 2004
    HARDWARE_ERROR = 2005


class MethodError(Exception):
    """A refusal to send back to the caller with `code` and `message`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_DEVICE_CODES: tuple[tuple[type[DeviceError], ErrorCode], ...] = (
    (UnknownDevice, ErrorCode.UNKNOWN_DEVICE),
    (InvalidValue, ErrorCode.INVALID_VALUE),
    (AccessDenied, ErrorCode.ACCESS_DENIED),
    (RateLimited, ErrorCode.RATE_LIMITED),
    (HardwareError, ErrorCode.HARDWARE_ERROR),
)

Handler = Callable[[GpioService, str, Mapping[str, Any]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Method:
    """One RPC method: its handler and the JSON schema of its payload."""

    description: str
    params: Mapping[str, Any]
    handler: Handler


async def call(service: GpioService, method: str, caller: str, payload: str) -> str:
    """Run `method` for `caller`; raise `MethodError` for anything the caller got wrong."""
    spec = METHODS[method]
    params = _parse(payload, spec.params)
    try:
        result = await spec.handler(service, caller, params)
    except DeviceError as exc:
        code = next(c for kind, c in _DEVICE_CODES if isinstance(exc, kind))
        raise MethodError(code, str(exc)) from None
    return json.dumps(result, separators=(",", ":"))


async def _list(service: GpioService, caller: str, _params: Mapping[str, Any]) -> object:
    act = service.actuator
    outputs = [
        {
            "name": s.name,
            "kind": s.kind.value,
            "value": act.value(s.name),
            "safe_value": s.safe_value,
            "range": list(s.kind.value_range),
            "max_hold_s": s.max_hold_s,
            "controller": act.controller(s.name),
            "may_set": service.may_read(s.name, caller),
            "description": s.description,
        }
        for s in service.config.outputs
    ]
    inputs = [
        {"name": s.name, "kind": s.kind.value, "description": s.description}
        for s in service.config.inputs
        if service.may_read(s.name, caller)
    ]
    return {"outputs": outputs, "inputs": inputs, "lease": _lease(service)}


async def _set(service: GpioService, caller: str, params: Mapping[str, Any]) -> object:
    change = service.actuator.request(
        device=params["device"],
        value=params["value"],
        caller=caller,
        now=service.now(),
        hold_s=params.get("hold_s"),
    )
    service.command(change)
    return {"device": change.device, "value": change.value}


async def _pulse(service: GpioService, caller: str, params: Mapping[str, Any]) -> object:
    device = params["device"]
    spec = service.actuator.specs.get(device)
    value = params.get("value", spec.kind.value_range[1] if spec else 1.0)
    change = service.actuator.request(
        device=device,
        value=value,
        caller=caller,
        now=service.now(),
        pulse_s=params["duration_s"],
    )
    service.command(change)
    return {"device": change.device, "value": change.value, "duration_s": params["duration_s"]}


async def _read(service: GpioService, caller: str, params: Mapping[str, Any]) -> object:
    device = params["device"]
    if not service.may_read(device, caller):
        service.read(device)  # unknown devices say so before access is discussed
        raise AccessDenied(f"{caller!r} may not read {device!r}")
    value = await asyncio.to_thread(service.read, device)
    return {"device": device, "value": value}


async def _lease_method(service: GpioService, caller: str, params: Mapping[str, Any]) -> object:
    now = service.now()
    if params["action"] == "release":
        service.actuator.release_lease(caller, now)
    else:
        if not any(service.may_read(s.name, caller) for s in service.config.outputs):
            raise AccessDenied(f"{caller!r} may not actuate any output")
        duration = params.get("duration_s", 30.0)
        service.actuator.acquire_lease(caller, duration, now)
    service.lease_changed()
    return {"lease": _lease(service)}


async def _describe(_service: GpioService, _caller: str, _params: Mapping[str, Any]) -> object:
    return {
        "methods": {
            name: {"description": m.description, "params": m.params} for name, m in METHODS.items()
        },
        "errors": {code.name: int(code) for code in ErrorCode},
    }


def _lease(service: GpioService) -> object:
    lease = service.lease
    if lease is None:
        return None
    return {"holder": lease.holder, "expires_in_s": round(lease.expires_at - service.now(), 3)}


def _object(properties: Mapping[str, Any], required: tuple[str, ...] = ()) -> Mapping[str, Any]:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    }


_DEVICE = {"type": "string", "description": "device name from gpio.list"}
_SECONDS = {"type": "number", "exclusiveMinimum": 0}

METHODS: Mapping[str, Method] = {
    "gpio.list": Method("Devices, current values, safe values and the lease", _object({}), _list),
    "gpio.set": Method(
        "Drive an output; non-safe values revert to safe after hold_s (or max_hold_s)",
        _object(
            {"device": _DEVICE, "value": {"type": ["number", "boolean"]}, "hold_s": _SECONDS},
            ("device", "value"),
        ),
        _set,
    ),
    "gpio.pulse": Method(
        "Drive an output to value (default: its maximum) for duration_s, then back to safe",
        _object(
            {"device": _DEVICE, "value": {"type": ["number", "boolean"]}, "duration_s": _SECONDS},
            ("device", "duration_s"),
        ),
        _pulse,
    ),
    "gpio.read": Method(
        "Read an input (or an output's value)", _object({"device": _DEVICE}, ("device",)), _read
    ),
    "gpio.lease": Method(
        "Acquire/renew or release exclusive control of all outputs",
        _object({"action": {"enum": ["acquire", "release"]}, "duration_s": _SECONDS}, ("action",)),
        _lease_method,
    ),
    "edge.describe": Method("Every method with its payload schema", _object({}), _describe),
}


def _parse(payload: str, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check `payload` against the small JSON-schema subset used above."""
    try:
        data = parse_object(payload, max_bytes=MAX_PAYLOAD_BYTES)
    except PayloadError as exc:
        raise MethodError(ErrorCode.INVALID_PAYLOAD, str(exc)) from None
    properties: Mapping[str, Any] = schema["properties"]
    unknown = sorted(set(data) - set(properties))
    if unknown:
        raise MethodError(ErrorCode.INVALID_PAYLOAD, f"unknown field(s): {', '.join(unknown)}")
    missing = [key for key in schema["required"] if key not in data]
    if missing:
        raise MethodError(ErrorCode.INVALID_PAYLOAD, f"missing field(s): {', '.join(missing)}")
    for key, value in data.items():
        _check_field(key, value, properties[key])
    return data


def _check_field(key: str, value: object, rule: Mapping[str, Any]) -> None:
    if "enum" in rule and value not in rule["enum"]:
        options = ", ".join(map(str, rule["enum"]))
        raise MethodError(ErrorCode.INVALID_PAYLOAD, f"{key}: expected one of {options}")
    kinds = rule.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    ok = (
        ("string" in kinds and isinstance(value, str))
        or ("boolean" in kinds and isinstance(value, bool))
        or ("number" in kinds and isinstance(value, int | float) and not isinstance(value, bool))
    )
    if kinds and not ok:
        raise MethodError(ErrorCode.INVALID_PAYLOAD, f"{key}: expected {' or '.join(kinds)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise MethodError(ErrorCode.INVALID_PAYLOAD, f"{key}: expected a finite number")
    minimum = rule.get("exclusiveMinimum")
    if minimum is not None and isinstance(value, int | float) and not value > minimum:
        raise MethodError(ErrorCode.INVALID_PAYLOAD, f"{key}: must be > {minimum}")
