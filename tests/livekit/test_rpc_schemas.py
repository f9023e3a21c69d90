"""The RPC endpoint enforces exactly the schemas `edge.describe` publishes, before any handler.

Driven through a real `RpcEndpoint` on an in-memory room: requests in, acks and answers out.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.gpio import methods as gpio_methods
from edge.livekit.rpc import RpcEndpoint, RpcInvocation
from edge.logbook import LogRing, serve_logs
from edge.media.service import MediaService
from edge.media.spec import CameraConfig, MicrophoneConfig
from edge.mqtt.bridge import PUBLISH_PARAMS, READ_PARAMS
from edge.protocol.codes import ErrorCode
from edge.protocol.rpc import RpcErrorCode
from edge.protocol.schema import EMPTY, Schema
from edge.telemetry.codec import HISTORY_PARAMS
from edge.testing.fake_room import FakeRoom, MethodRecorder, StreamRecorder
from tests.schema_strategies import invalid_payload, valid_payload


def published_schemas(tmp_path: Path) -> dict[str, Schema]:
    """Every method the daemon registers, with the schema it publishes."""

    recorder = MethodRecorder()
    serve_logs(recorder, StreamRecorder(), LogRing(), config={}, workdir=tmp_path)
    media(tmp_path).register(recorder, StreamRecorder())
    schemas: dict[str, Schema] = {"edge.describe": EMPTY}
    for name, registration in recorder.methods.items():
        assert registration.params is not None, name
        schemas[name] = registration.params
    schemas.update({name: m.params for name, m in gpio_methods.METHODS.items()})
    schemas["telemetry.history"] = HISTORY_PARAMS
    schemas["mqtt.publish"] = PUBLISH_PARAMS
    schemas["mqtt.read"] = READ_PARAMS
    return schemas


def media(_tmp_path: Path) -> MediaService:
    return MediaService(
        CameraConfig(), MicrophoneConfig(), simulate=True, publish_status=lambda _status: None
    )


@pytest.fixture
async def room() -> AsyncIterator[FakeRoom]:
    room = FakeRoom()
    yield room
    await room.aclose()


def test_the_daemon_publishes_a_schema_for_every_method(tmp_path: Path) -> None:
    schemas = published_schemas(tmp_path)
    assert {"gpio.set", "media.set", "edge.logs", "telemetry.history", "mqtt.read"} <= set(schemas)
    assert schemas["media.set"]["required"] == ["track"]


SCHEMAS = published_schemas(Path("."))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(
    method=st.sampled_from(sorted(SCHEMAS)),
    data=st.data(),
)
async def test_handlers_see_only_valid_payloads_and_invalid_ones_get_their_code(
    room: FakeRoom, method: str, data: st.DataObject
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    rpc = RpcEndpoint(room, settling_s=0)

    async def record(invocation: RpcInvocation) -> str:
        seen.append((invocation.payload, dict(invocation.params)))
        return "{}"

    schema = SCHEMAS[method]
    rpc.register_method(method, record, description="under test", params=schema)
    if data.draw(st.booleans(), label="valid"):
        payload = data.draw(valid_payload(schema), label="payload")
        answer = await room.call(method, payload)
        assert not answer.HasField("error"), answer.error.message
        assert seen == [(payload, json.loads(payload))]
    else:
        payload, code = data.draw(invalid_payload(schema), label="invalid")
        answer = await room.call(method, payload)
        assert answer.error.code == code, answer.error.message
        assert answer.error.message
        assert seen == [], "the handler ran on an invalid payload"


async def test_media_set_without_a_track_is_an_invalid_payload(room: FakeRoom) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    media(Path(".")).register(rpc, StreamRecorder())
    answer = await room.call("media.set", '{"muted": true}')
    assert (answer.error.code, answer.error.message) == (2000, "missing field(s): track")
    answer = await room.call("media.set", '{"track": "lamp", "muted": true}')
    assert (answer.error.code, answer.error.message) == (
        2201,
        "unknown track 'lamp' (known: camera, microphone)",
    )
    answer = await room.call("media.set", '{"track": "camera"}')
    assert answer.error.code == 2000
    assert '"muted" and/or "enabled"' in answer.error.message


async def test_edge_logs_with_lines_as_a_string_is_an_invalid_payload(
    room: FakeRoom, tmp_path: Path
) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    serve_logs(rpc, StreamRecorder(), LogRing(), config={}, workdir=tmp_path)
    for payload, message in [
        ('{"lines": "5"}', 'lines: expected integer, got "5"'),
        ('{"lines": 5.0}', "lines: expected integer, got 5.0"),
        ('{"lines": 0}', "lines: must be >= 1, got 0"),
        ('{"lines": 10, "all": true}', "unknown field(s): all (fields: lines)"),
    ]:
        answer = await room.call("edge.logs", payload)
        assert (answer.error.code, answer.error.message) == (2000, message)


async def test_edge_describe_lists_every_method_with_its_schema_and_every_code(
    room: FakeRoom,
) -> None:
    rpc = RpcEndpoint(room, settling_s=0)
    media(Path(".")).register(rpc, StreamRecorder())
    described = json.loads((await room.call("edge.describe", "{}")).payload)
    assert set(described["methods"]) == {
        "edge.describe",
        "media.list",
        "media.set",
        "camera.snapshot",
    }
    track = described["methods"]["media.set"]["params"]["properties"]["track"]
    assert track["enum"] == ["camera", "microphone"]
    assert described["errors"] == {
        **{code.name: int(code) for code in ErrorCode},
        **{code.name: int(code) for code in RpcErrorCode},
    }


async def test_a_domain_error_is_answered_with_its_code_and_anything_else_with_1500(
    room: FakeRoom,
) -> None:
    from edge.errors import NoValue

    rpc = RpcEndpoint(room, settling_s=0)

    async def no_value(_invocation: RpcInvocation) -> str:
        raise NoValue("nothing yet")

    async def broken(_invocation: RpcInvocation) -> str:
        raise KeyError("secret detail")

    rpc.register_method("t.none", no_value, params=EMPTY)
    rpc.register_method("t.broken", broken, params=EMPTY)
    answer = await room.call("t.none", "")
    assert (answer.error.code, answer.error.message) == (2010, "nothing yet")
    answer = await room.call("t.broken", "")
    assert answer.error.code == RpcErrorCode.APPLICATION_ERROR
    assert "secret" not in answer.error.message
