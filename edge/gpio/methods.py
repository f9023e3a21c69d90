"""The GPIO RPC methods: each with its payload schema; JSON results out.

gpio.list      {}                                            -> devices, values, lease
gpio.set       {"device": "relay", "value": 1, "hold_s": 5}   -> the value driven
gpio.pulse     {"device": "relay", "duration_s": 0.5, "value": 1}
gpio.read      {"device": "door"}                            -> {"device", "value"}
gpio.lease     {"action": "acquire" | "release", "duration_s": 30}

Handlers get params already validated against the schema (by the RPC endpoint, or by `call`
for the MQTT bridge) and raise `DeviceError`s, which carry their error codes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge import wire
from edge.errors import AccessDenied
from edge.gpio.service import GpioService
from edge.protocol.schema import Schema, prepare

MAX_PAYLOAD_BYTES = 4096

Handler = Callable[[GpioService, str, Mapping[str, Any]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Method:
    """One RPC method: its handler and the JSON schema of its payload."""

    description: str
    params: Schema
    handler: Handler


async def call(service: GpioService, method: str, caller: str, payload: str) -> str:
    """Validate `payload` against `method`'s schema, then `run` it (the MQTT bridge's way in)."""
    params = prepare(payload, METHODS[method].params, max_bytes=MAX_PAYLOAD_BYTES)
    return await run(service, method, caller, params)


async def run(service: GpioService, method: str, caller: str, params: Mapping[str, Any]) -> str:
    """Run `method` for `caller` on validated `params`; its result as JSON."""
    result = await METHODS[method].handler(service, caller, params)
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
            "may_set": service.may_set(s.name, caller),
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
        if not service.may_lease(caller):
            raise AccessDenied(f"{caller!r} may not actuate any output")
        duration = params.get("duration_s", 30.0)
        service.actuator.acquire_lease(caller, duration, now)
    service.lease_changed()
    return {"lease": _lease(service)}


def _lease(service: GpioService) -> object:
    lease = service.lease
    if lease is None:
        return None
    return {"holder": lease.holder, "expires_in_s": round(lease.expires_at - service.now(), 3)}


def _object(properties: Mapping[str, Any], required: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    }


_DEVICE = {"type": "string", "description": "device name from gpio.list"}
_SECONDS = {"type": "number", "exclusiveMinimum": 0}

METHODS: Mapping[str, Method] = {
    wire.Method.GPIO_LIST: Method(
        "Devices, current values, safe values and the lease", _object({}), _list
    ),
    wire.Method.GPIO_SET: Method(
        "Drive an output; non-safe values revert to safe after hold_s (or max_hold_s)",
        _object(
            {"device": _DEVICE, "value": {"type": ["number", "boolean"]}, "hold_s": _SECONDS},
            ("device", "value"),
        ),
        _set,
    ),
    wire.Method.GPIO_PULSE: Method(
        "Drive an output to value (default: its maximum) for duration_s, then back to safe",
        _object(
            {"device": _DEVICE, "value": {"type": ["number", "boolean"]}, "duration_s": _SECONDS},
            ("device", "duration_s"),
        ),
        _pulse,
    ),
    wire.Method.GPIO_READ: Method(
        "Read an input (or an output's value)", _object({"device": _DEVICE}, ("device",)), _read
    ),
    wire.Method.GPIO_LEASE: Method(
        "Acquire/renew or release exclusive control of all outputs",
        _object({"action": {"enum": ["acquire", "release"]}, "duration_s": _SECONDS}, ("action",)),
        _lease_method,
    ),
}
