"""MethodRegistry: which methods an endpoint answers, their schemas and `edge.describe`."""

from __future__ import annotations

import json

import pytest

from edge.errors import InvalidPayload
from edge.livekit.rpc_registry import MethodRegistry
from edge.protocol.rpc import RpcInvocation

LEVEL = {
    "type": "object",
    "properties": {"level": {"type": "integer", "minimum": 0, "maximum": 9}},
    "required": ["level"],
    "additionalProperties": False,
}


async def answer(_invocation: RpcInvocation) -> str:
    return "ok"


def call(method: str, payload: str) -> RpcInvocation:
    return RpcInvocation(
        request_id="1", caller_identity="op", method=method, payload=payload, response_timeout_s=5
    )


def test_a_registered_method_is_known_until_unregistered() -> None:
    registry = MethodRegistry()
    registry.register("dim", answer, description="Dim the lamp", params=LEVEL)
    assert "dim" in registry
    assert registry.handler("dim") is answer
    registry.unregister("dim")
    registry.unregister("dim")  # unknown names are ignored
    assert "dim" not in registry
    assert registry.handler("dim") is None
    assert registry.descriptions == {}


def test_a_payload_is_validated_into_params_or_refused() -> None:
    registry = MethodRegistry()
    registry.register("dim", answer, params=LEVEL)
    registry.register("raw", answer)
    assert registry.prepared(call("dim", '{"level": 3}')).params == {"level": 3}
    with pytest.raises(InvalidPayload):
        registry.prepared(call("dim", '{"level": 12}'))
    raw = call("raw", "anything")
    assert registry.prepared(raw) is raw  # no schema: the handler reads the payload


def test_a_method_needs_a_name_and_a_valid_schema() -> None:
    registry = MethodRegistry()
    with pytest.raises(ValueError, match="needs a name"):
        registry.register("", answer)
    with pytest.raises(ValueError):  # noqa: PT011 - check_schema's own message
        registry.register("bad", answer, params={"type": "no-such-type"})


def test_describe_publishes_described_methods_and_every_code() -> None:
    registry = MethodRegistry()
    registry.register("dim", answer, description="Dim the lamp", params=LEVEL)
    registry.register("hidden", answer)
    described = json.loads(registry.describe())
    assert described["methods"] == {"dim": {"description": "Dim the lamp", "params": LEVEL}}
    assert described["errors"]["INVALID_PAYLOAD"] == 2000
    assert described["errors"]["UNSUPPORTED_METHOD"] == 1400
