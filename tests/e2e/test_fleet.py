"""`edge fleet` against a real livekit-server: five simulated boards in one process join, an
official-SDK operator sets an output on each over RPC, and SIGTERM makes every one leave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from livekit import rtc

from tests.conftest import OfficialPeerFactory
from tests.e2e.edge_process import EdgeProcess
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COUNT = 5
IDENTITIES = [f"sim-{n:04d}" for n in range(1, COUNT + 1)]

TEMPLATE = """
[livekit]
url = "{url}"
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
    config = tmp_path / "fleet.toml"
    config.write_text(
        TEMPLATE.format(
            url=livekit_server.url,
            room=room_name,
            api_key=livekit_server.api_key,
            api_secret=livekit_server.api_secret,
            count=COUNT,
        )
    )
    config.chmod(0o600)
    boards = tmp_path / "boards"
    args = ["--count", str(COUNT), "--state-dir", str(boards), "--stagger", "2"]
    edge = await EdgeProcess.start("fleet", "--config", str(config), *args, cwd=tmp_path)
    try:
        for n, identity in enumerate(IDENTITIES, start=1):
            board = await operator.wait_participant(identity, timeout=60)
            assert board.attributes.get("fleet.board") == f"{n} of {COUNT}"
        for identity in IDENTITIES:
            reply = await operator.local.perform_rpc(
                destination_identity=identity,
                method="gpio.set",
                payload=json.dumps({"device": "relay", "value": 1, "hold_s": 60}),
                response_timeout=10.0,
            )
            assert json.loads(reply) == {"device": "relay", "value": 1.0}, identity
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
        lambda: sorted(d.identity for d in operator.disconnected) == IDENTITIES,
        message=lambda: f"left: {operator.disconnected}; log:\n{edge.log()}",
    )
    assert {d.reason for d in operator.disconnected} == {"CLIENT_INITIATED"}
    for identity in IDENTITIES:
        # One log, each board's lines named; one spool per board, in its own directory.
        assert any(f"[{identity}] edge.connection: connection: connecting -> connected" in line
                   for line in edge.lines), edge.log()  # fmt: skip
        assert (boards / identity / "edge-telemetry.sqlite3").is_file()
    assert any("stopped: 5 board(s) left their rooms" in line for line in edge.lines)
