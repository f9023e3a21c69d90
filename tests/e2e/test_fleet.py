"""`edge fleet` against a real livekit-server: five simulated boards in one process join, an
official-SDK operator sets an output on each over RPC, and SIGTERM makes every one leave. The
same across the nodes of a cluster: the boards enter through node A, the operator through B."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from livekit import rtc

from tests.conftest import OfficialPeerFactory
from tests.e2e.cluster import cluster
from tests.e2e.edge_process import EdgeProcess
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COUNT = 5
IDENTITIES = [f"sim-{n:04d}" for n in range(1, COUNT + 1)]

TEMPLATE = """
[livekit]
url = [{urls}]
room = "{room}"
identity = "sim"
api_key = "{api_key}"
api_secret = "{api_secret}"
attributes = {{ "fleet.board" = "{{index}} of {count}" }}

[daemon]
logs_allow = ["op-*"]

[telemetry]
batch_window_s = 0.2

[[telemetry.sensors]]
name = "soc"
kind = "simulated"
period_s = 0.5
unit = "°C"
mean = 48.0

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
allow = ["op-*"]
"""


async def test_five_boards_in_one_process_answer_rpc_and_leave_on_sigterm(
    livekit_server: LiveKitServer,
    official_peer: OfficialPeerFactory,
    room_name: str,
    tmp_path: Path,
) -> None:
    operator = await official_peer("op-fleet")
    config = _template(tmp_path, [livekit_server], room_name)
    boards = tmp_path / "boards"
    args = ["--count", str(COUNT), "--state-dir", str(boards), "--stagger", "2"]
    edge = await EdgeProcess.start("fleet", "--config", str(config), *args, cwd=tmp_path)
    try:
        for n, identity in enumerate(IDENTITIES, start=1):
            board = await operator.wait_participant(identity, timeout=60)
            assert board.attributes.get("fleet.board") == f"{n} of {COUNT}"
        for identity in IDENTITIES:
            assert await _set_relay(operator, identity) == {"device": "relay", "value": 1.0}
        # Each board drives its own pins: every one reports its relay on.
        await assert_eventually(
            lambda: all(
                operator.participant(i).attributes.get("gpio.relay") == "1" for i in IDENTITIES
            ),
            message=lambda: f"log:\n{edge.log()}",
        )
        # No log ring per board, so no edge.logs, even for a caller allowed to fetch logs.
        with pytest.raises(rtc.RpcError) as caught:
            await operator.local.perform_rpc(
                destination_identity=IDENTITIES[0], method="edge.logs", payload="{}"
            )
        assert caught.value.code == rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD
        await edge.wait_line(f"all {COUNT} board(s) joined")
    finally:
        code = await edge.stop(timeout=30)
    assert code == 0, edge.log()
    await assert_eventually(
        lambda: not any(operator.remote(i) for i in IDENTITIES),
        message=lambda: f"left: {operator.disconnected}; log:\n{edge.log()}",
    )
    last_reasons = {d.identity: d.reason for d in operator.disconnected}  # the last, per board
    assert last_reasons == dict.fromkeys(IDENTITIES, "CLIENT_INITIATED"), operator.disconnected
    for identity in IDENTITIES:
        # One log, each board's lines named; one spool per board, in its own directory.
        assert any(f"[{identity}] edge.connection: connection: connecting -> connected" in line
                   for line in edge.lines), edge.log()  # fmt: skip
        assert (boards / identity / "edge-telemetry.sqlite3").is_file()
    assert any("stopped: 5 board(s) left their rooms" in line for line in edge.lines)


async def test_a_fleet_entering_through_one_node_answers_an_operator_on_the_other(
    tmp_path: Path, room_name: str
) -> None:
    with cluster(tmp_path) as running:
        b = running.add_node().server
        a = running.add_node().server
        operator = await OfficialPeer.connect(
            b.url, mint_token(b, identity="op-anna", room=room_name), identity="op-anna"
        )
        config = _template(tmp_path, [a, b], room_name)
        edge = await EdgeProcess.start(
            "fleet", "--config", str(config), "--count", str(COUNT), cwd=tmp_path
        )
        try:
            for identity in IDENTITIES:
                await operator.wait_participant(identity, timeout=60)
                assert await _set_relay(operator, identity) == {"device": "relay", "value": 1.0}
        finally:
            code = await edge.stop(timeout=30)
            await operator.disconnect()
        assert code == 0, edge.log()
        assert not any("retrying" in line for line in edge.lines), edge.log()  # all through A


def _template(workdir: Path, servers: list[LiveKitServer], room: str) -> Path:
    config = workdir / "fleet.toml"
    config.write_text(
        TEMPLATE.format(
            urls=", ".join(f'"{server.url}"' for server in servers),
            room=room,
            api_key=servers[0].api_key,
            api_secret=servers[0].api_secret,
            count=COUNT,
        )
    )
    config.chmod(0o600)
    return config


async def _set_relay(operator: OfficialPeer, identity: str) -> object:
    reply = await operator.local.perform_rpc(
        destination_identity=identity,
        method="gpio.set",
        payload=json.dumps({"device": "relay", "value": 1, "hold_s": 60}),
        response_timeout=10.0,
    )
    return json.loads(reply)
