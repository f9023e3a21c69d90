"""Who may call what, on which device: one table, run against `edge run` on a real server.

Official-SDK participants with different identities call the daemon (a subprocess with the
config below); each row says what the answer must be: "ok" or an error code. Bad input rows
(item: huge numbers, deep JSON) and the 1402 size refusal run through the same daemon.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from livekit import rtc
from livekit.protocol import models as proto_models

from edge.livekit.room import Room, RoomOptions
from tests.conftest import OfficialPeerFactory
from tests.e2e.edge_process import EdgeProcess
from tests.e2e.test_daemon import StartEdge, start_edge, write_config  # noqa: F401 - fixture
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = pytest.mark.e2e

EDGE = "edge-acl"
ACCESS = """
[daemon]
logs_allow = ["auditor*"]

[[gpio.outputs]]
name = "lamp"
kind = "digital"
pin = 17
allow = ["operator-*"]

[[gpio.outputs]]
name = "fan"
kind = "pwm"
pin = 18
allow = ["operator-*", "guest"]

[[gpio.inputs]]
name = "door"
kind = "button"
pin = 27
allow = ["operator-*"]

[[gpio.inputs]]
name = "light"
kind = "adc"
chip = "MCP3008"
channel = 0

[telemetry]
history_allow = ["operator-*"]

[[telemetry.sensors]]
name = "temp"
kind = "simulated"
period_s = 0.5

[camera]
source = "synthetic"
width = 160
height = 96
framerate = 5
bitrate = 100000
allow = ["operator-*"]

[microphone]
source = "synthetic"
allow = ["*"]
"""
DEEP = '{"device": ' + "[" * 1500 + "]" * 1500 + "}"
OK = "ok"

# identity, method, payload (a str is sent as it is), expected answer
TABLE: list[tuple[str, str, object, str | int]] = [
    # Public: what the room's attributes show anyway.
    ("intruder", "edge.describe", {}, OK),
    ("intruder", "gpio.list", {}, OK),
    ("intruder", "media.list", {}, OK),
    # Actuators: per output.
    ("intruder", "gpio.set", {"device": "lamp", "value": 1}, 2003),
    ("guest", "gpio.set", {"device": "lamp", "value": 1}, 2003),
    ("guest", "gpio.set", {"device": "fan", "value": 0.5}, OK),
    ("operator-1", "gpio.set", {"device": "lamp", "value": 1}, OK),
    ("operator-1", "gpio.set", {"device": "lamp", "value": 0}, OK),
    ("intruder", "gpio.pulse", {"device": "lamp", "duration_s": 0.1}, 2003),
    ("intruder", "gpio.set", {"device": "nope", "value": 1}, 2001),
    ("intruder", "gpio.lease", {"action": "acquire"}, 2003),
    # Inputs: per input (light keeps the default, everyone).
    ("intruder", "gpio.read", {"device": "door"}, 2003),
    ("operator-1", "gpio.read", {"device": "door"}, OK),
    ("intruder", "gpio.read", {"device": "light"}, OK),
    ("intruder", "gpio.read", {"device": "lamp"}, 2003),
    # Media: per track; the microphone's "*" must not open the camera.
    ("intruder", "camera.snapshot", {}, 2003),
    ("guest", "camera.snapshot", {}, 2003),
    ("operator-1", "camera.snapshot", {}, OK),
    ("intruder", "media.set", {"track": "camera", "enabled": False}, 2003),
    ("intruder", "media.set", {"track": "microphone", "muted": True}, OK),
    ("operator-1", "media.set", {"track": "camera", "muted": False}, OK),
    # Revealing: history and logs are nobody's unless listed.
    ("intruder", "telemetry.history", {"since_seq": 0}, 2003),
    ("operator-1", "telemetry.history", {"since_seq": 0, "limit": 5}, OK),
    ("intruder", "edge.logs", {"lines": 10}, 2003),
    ("operator-1", "edge.logs", {"lines": 10}, 2003),
    ("auditor", "edge.logs", {"lines": 10}, OK),
    # Bad input: a precise 2000/2002, never 1500.
    ("operator-1", "gpio.set", '{"device": "lamp", "value": 1e400}', 2000),
    ("operator-1", "gpio.set", '{"device": "fan", "value": ' + "9" * 40 + "}", 2000),
    ("operator-1", "gpio.set", {"device": "fan", "value": 7}, 2002),
    ("operator-1", "gpio.set", DEEP, 2000),
    ("auditor", "edge.logs", '{"lines": 1e309}', 2000),
    ("auditor-2", "edge.logs", {"lines": "5"}, 2000),
    # Bounded cost: a log bundle is at most 2 in a row per caller, then 1 per 5 s.
    ("auditor", "edge.logs", {"lines": 10}, 2004),
    ("intruder", "edge.logs", '{"lines": 1e309}', 2003),
    ("operator-1", "telemetry.history", '{"since_seq": 1e400}', 2000),
    ("operator-1", "media.set", '{"track": "camera", "muted": NaN}', 2000),
]


async def answer(
    peer: OfficialPeer,
    method: str,
    payload: object,
    *,
    edge: str = EDGE,
    timeout: float = 10,  # noqa: ASYNC109 - the RPC's own
) -> str | int:
    """ "ok" (the reply is JSON) or the error code; a str payload is sent as it is."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    try:
        reply = await peer.local.perform_rpc(
            destination_identity=edge, method=method, payload=text, response_timeout=timeout
        )
    except rtc.RpcError as exc:
        return exc.code
    json.loads(reply)
    return OK


async def start_and_watch(
    start_edge: StartEdge,  # noqa: F811 - the fixture's value
    official_peer: OfficialPeerFactory,
    config: Path,
    identity: str,
    names: Sequence[str],
) -> tuple[EdgeProcess, dict[str, OfficialPeer], rtc.RemoteParticipant]:
    """`edge run --simulate` on `config`, official peers `names` in the room, its camera live.

    Returns the daemon, the peers by name, and the daemon as the first peer sees it.
    """
    edge = await start_edge("run", "--config", str(config), "--simulate")
    peers = {name: await official_peer(name) for name in names}
    await edge.wait_line("joined room", timeout=60)
    seen = await peers[names[0]].wait_participant(identity, timeout=30)
    await assert_eventually(
        lambda: seen.attributes.get("media.camera") == "live",
        timeout=60,
        message=lambda: f"camera never live: {seen.attributes}; log:\n{edge.log()}",
    )
    return edge, peers, seen


async def test_every_identity_gets_exactly_its_answer_per_method_and_device(
    start_edge: StartEdge,  # noqa: F811 - the fixture
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "edge.toml", livekit_server, room_name, identity=EDGE)
    config.write_text(config.read_text() + ACCESS)
    names = ("operator-1", "intruder", "guest", "auditor", "auditor-2")
    edge, peers, seen = await start_and_watch(start_edge, official_peer, config, EDGE, names)
    got = [(who, method, payload, await answer(peers[who], method, payload)) for (
        who, method, payload, _) in TABLE]  # fmt: skip
    wrong = [
        f"{who} {method} {str(payload)[:60]}: got {result}, want {want}"
        for (who, method, payload, result), (*_, want) in zip(got, TABLE, strict=True)
        if result != want
    ]
    assert not wrong, "\n".join(wrong)
    # edge.describe tells each caller what it may call, so a console offers nothing else.
    may = {}
    for who in ("intruder", "operator-1", "auditor"):
        reply = await peers[who].local.perform_rpc(
            destination_identity=EDGE, method="edge.describe", payload="{}"
        )
        methods = json.loads(reply)["methods"]
        may[who] = {name for name, described in methods.items() if described["callable"]}
    assert {"edge.describe", "gpio.list", "media.list", "gpio.read"} <= may["intruder"]
    assert not {"gpio.set", "camera.snapshot", "edge.logs", "telemetry.history"} & may["intruder"]
    assert {"gpio.set", "gpio.lease", "camera.snapshot", "telemetry.history"} <= may["operator-1"]
    assert "edge.logs" not in may["operator-1"]
    assert "edge.logs" in may["auditor"]
    # Refusals and bad input never reach a handler's traceback; the daemon is still serving.
    assert not any("Traceback" in line for line in edge.lines), edge.log()
    assert await answer(peers["operator-1"], "gpio.read", {"device": "lamp"}) == OK

    # A v1 peer that ignores the 15 360-byte limit gets LiveKit's 1402, nothing is run.
    token = mint_token(livekit_server, identity="operator-raw", room=room_name)
    async with Room.connect(RoomOptions(url=livekit_server.url, attributes={}), token) as raw:
        responses: list[proto_models.RpcResponse] = []
        raw.register_packet_handler(
            "rpc_response", lambda p: responses.append(p.packet.rpc_response)
        )
        raw.register_packet_handler("rpc_ack", lambda p: None)
        await assert_eventually(lambda: EDGE in raw.remote_participants)
        for request_id, size in (("big", 15_361), ("ok", 15_000)):
            body = json.dumps({"device": "lamp", "value": 1, "hold_s": 1})
            payload = body[:-1] + ', "pad": "' + "x" * (size - len(body) - 11) + '"}'
            assert len(payload.encode()) == size
            request = proto_models.RpcRequest(
                id=request_id, method="gpio.set", payload=payload, response_timeout_ms=5000,
                version=1,
            )  # fmt: skip
            await raw.send_packet(
                proto_models.DataPacket(destination_identities=[EDGE], rpc_request=request)
            )
        await assert_eventually(lambda: len(responses) == 2, message=lambda: f"{responses}")
        codes = {r.request_id: r.error.code for r in responses}
        assert codes == {"big": 1402, "ok": 2000}  # 15 000 bytes: over gpio's own 4096 limit
    assert seen.attributes.get("gpio.lamp") == "0"
