"""The RPC endpoint enforces exactly the schemas `edge.describe` publishes, before any handler.

Driven through a real `RpcEndpoint` on an in-memory room: requests in, acks and answers out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.protocol import models as proto_models

from edge.gpio import methods as gpio_methods
from edge.livekit.room import ConnectionState
from edge.livekit.rpc import RpcEndpoint, RpcInvocation
from edge.logbook import LogRing, serve_logs
from edge.media.service import MediaService
from edge.media.spec import CameraConfig, MicrophoneConfig
from edge.mqtt.bridge import PUBLISH_PARAMS, READ_PARAMS
from edge.protocol.codes import ErrorCode
from edge.protocol.packets import OtherPacket
from edge.protocol.rpc import RpcErrorCode
from edge.protocol.schema import EMPTY, Schema
from edge.telemetry.codec import HISTORY_PARAMS
from tests.schema_strategies import invalid_payload, valid_payload

PacketHandler = Callable[[OtherPacket], None]


class MemoryRoom:
    """What `RpcEndpoint` needs of a Room: packets both ways, tasks, an events feed."""

    def __init__(self) -> None:
        self.state = ConnectionState.CONNECTED
        self.handlers: dict[str, PacketHandler] = {}
        self.sent: list[proto_models.DataPacket] = []
        self.tasks: list[asyncio.Task[None]] = []
        self._sent_more = asyncio.Event()
        self._ids = 0

    def register_packet_handler(self, kind: str, handler: PacketHandler) -> None:
        self.handlers[kind] = handler

    def start_task(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        return task

    async def _nothing(self) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None

    def events(self) -> AsyncIterator[Any]:
        return self._nothing()

    async def send_packet(self, packet: proto_models.DataPacket, *, reliable: bool = True) -> None:
        self.sent.append(packet)
        self._sent_more.set()

    async def call(self, method: str, payload: str) -> proto_models.RpcResponse:
        """Deliver one request from "caller" and wait for its answer."""
        self._ids += 1
        request_id = f"req-{self._ids}"
        request = proto_models.RpcRequest(
            id=request_id, method=method, payload=payload, response_timeout_ms=10_000, version=1
        )
        packet = proto_models.DataPacket(rpc_request=request)
        self.handlers["rpc_request"](OtherPacket("rpc_request", "caller", packet))
        async with asyncio.timeout(10):
            while True:
                for sent in self.sent:
                    if sent.WhichOneof("value") != "rpc_response":
                        continue
                    if sent.rpc_response.request_id == request_id:
                        return sent.rpc_response
                self._sent_more.clear()
                await self._sent_more.wait()


def published_schemas(tmp_path: Path) -> dict[str, Schema]:
    """Every method the daemon registers, with the schema it publishes."""

    class Recorder:
        def __init__(self) -> None:
            self.schemas: dict[str, Schema] = {"edge.describe": EMPTY}

        def register_method(self, method: str, _handler: object, **options: Any) -> None:
            self.schemas[method] = options["params"]

    recorder = Recorder()
    serve_logs(recorder, None, LogRing(), config={}, workdir=tmp_path)  # type: ignore[arg-type]
    media(tmp_path).register(recorder, None)  # type: ignore[arg-type]
    recorder.schemas.update({name: m.params for name, m in gpio_methods.METHODS.items()})
    recorder.schemas["telemetry.history"] = HISTORY_PARAMS
    recorder.schemas["mqtt.publish"] = PUBLISH_PARAMS
    recorder.schemas["mqtt.read"] = READ_PARAMS
    return recorder.schemas


def media(_tmp_path: Path) -> MediaService:
    return MediaService(
        CameraConfig(), MicrophoneConfig(), simulate=True, publish_status=lambda _status: None
    )


@pytest.fixture
async def room() -> AsyncIterator[MemoryRoom]:
    room = MemoryRoom()
    yield room
    for task in room.tasks:
        task.cancel()
    await asyncio.gather(*room.tasks, return_exceptions=True)


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
    room: MemoryRoom, method: str, data: st.DataObject
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    rpc = RpcEndpoint(room, settling_s=0)  # type: ignore[arg-type]

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


async def test_media_set_without_a_track_is_an_invalid_payload(room: MemoryRoom) -> None:
    rpc = RpcEndpoint(room, settling_s=0)  # type: ignore[arg-type]
    media(Path(".")).register(rpc, None)  # type: ignore[arg-type]
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
    room: MemoryRoom, tmp_path: Path
) -> None:
    rpc = RpcEndpoint(room, settling_s=0)  # type: ignore[arg-type]
    serve_logs(rpc, None, LogRing(), config={}, workdir=tmp_path)  # type: ignore[arg-type]
    for payload, message in [
        ('{"lines": "5"}', 'lines: expected integer, got "5"'),
        ('{"lines": 5.0}', "lines: expected integer, got 5.0"),
        ('{"lines": 0}', "lines: must be >= 1, got 0"),
        ('{"lines": 10, "all": true}', "unknown field(s): all (fields: lines)"),
    ]:
        answer = await room.call("edge.logs", payload)
        assert (answer.error.code, answer.error.message) == (2000, message)


async def test_edge_describe_lists_every_method_with_its_schema_and_every_code(
    room: MemoryRoom,
) -> None:
    rpc = RpcEndpoint(room, settling_s=0)  # type: ignore[arg-type]
    media(Path(".")).register(rpc, None)  # type: ignore[arg-type]
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
    room: MemoryRoom,
) -> None:
    from edge.errors import NoValue

    rpc = RpcEndpoint(room, settling_s=0)  # type: ignore[arg-type]

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
