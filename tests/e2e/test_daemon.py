"""`edge run` as users start it: a subprocess, a real livekit-server, the official SDK watching."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from livekit import rtc

from tests.conftest import OfficialPeerFactory, ServerProcess
from tests.e2e.edge_process import EdgeProcess
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = pytest.mark.e2e

StartEdge = Callable[..., Awaitable[EdgeProcess]]


def write_config(
    path: Path,
    server: LiveKitServer,
    room: str,
    *,
    identity: str,
    extra: str = "",
    url: str | None = None,
) -> Path:
    """A config joining `room` on `server` (through `url` when given, e.g. a relay)."""
    path.write_text(
        f"""
[livekit]
url = "{url or server.url}"
room = "{room}"
identity = "{identity}"
name = "Bench board"
api_key = "{server.api_key}"
api_secret = "{server.api_secret}"
attributes = {{ location = "bench" }}
{extra}

[simulation]
sensor_period_s = 0.5
"""
    )
    path.chmod(0o600)
    return path


@pytest.fixture
async def start_edge(tmp_path: Path) -> AsyncIterator[StartEdge]:
    """Start `python -m edge ...`; anything still running at teardown is killed."""
    procs: list[EdgeProcess] = []

    async def start(*args: str, env: dict[str, str] | None = None) -> EdgeProcess:
        proc = await EdgeProcess.start(*args, cwd=tmp_path, env=env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        await proc.kill()
    for proc in procs:  # a broken log call only prints; make it fail the test instead
        assert not any("--- Logging error ---" in line for line in proc.lines), proc.log()


async def test_simulated_board_joins_publishes_and_leaves_cleanly_on_sigterm(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    viewer = await official_peer("viewer")
    sensor = """
[[telemetry.sensors]]
name = "soc"
kind = "simulated"
period_s = 0.5
unit = "°C"
mean = 48.0
amplitude = 6.0
"""
    config = write_config(
        tmp_path / "edge.toml", livekit_server, room_name, identity="edge-sim", extra=sensor
    )
    edge = await start_edge("run", "--config", str(config), "--simulate")

    seen = await viewer.wait_participant("edge-sim", timeout=30)
    assert seen.name == "Bench board"
    assert seen.attributes["location"] == "bench"
    assert seen.attributes["edge.status"] == "online"
    # The simulated board's temperature comes as any sensor's: one deadbanded attribute.
    temperature = await assert_eventually(
        lambda: viewer.participant("edge-sim").attributes["edge.temperature.soc"],
        message=lambda: f"viewer saw {viewer.attribute_changes}; edge log:\n{edge.log()}",
    )
    assert 30.0 < float(temperature) < 70.0
    attributes = viewer.participant("edge-sim").attributes
    assert not [key for key in attributes if key.startswith("sim.")], attributes
    rtt = await assert_eventually(
        lambda: viewer.participant("edge-sim").attributes["edge.rtt_ms"],
        timeout=30,
        message=lambda: f"no edge.rtt_ms; edge log:\n{edge.log()}",
    )
    assert 0 <= float(rtt) < 1000  # loopback

    await viewer.publish_data(b"hello edge", topic="greeting")
    await edge.wait_line("data from 'viewer' on topic 'greeting': 10 byte(s), reliable")
    await edge.wait_line("joined room")

    assert await edge.stop(signal.SIGTERM) == 0
    assert any("left room cleanly" in line for line in edge.lines), edge.log()
    await assert_eventually(
        lambda: (
            [(d.identity, d.reason) for d in viewer.disconnected]
            == [("edge-sim", "CLIENT_INITIATED")]
        ),
        message=lambda: f"viewer saw {viewer.disconnected}",
    )


async def test_on_stop_the_room_sees_the_outputs_go_safe_before_the_edge_leaves(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    relay = '\n[[gpio.outputs]]\nname = "relay"\nkind = "digital"\npin = 17\nallow = ["op-*"]\n'
    config = write_config(
        tmp_path / "edge.toml", livekit_server, room_name, identity="edge-stop", extra=relay
    )
    operator = await official_peer("op-anna")
    edge = await start_edge("run", "--config", str(config), "--simulate")
    device = await operator.wait_participant("edge-stop", timeout=30)
    await operator.local.perform_rpc(
        destination_identity="edge-stop",
        method="gpio.set",
        payload=json.dumps({"device": "relay", "value": 1, "hold_s": 60}),
    )
    await assert_eventually(lambda: device.attributes.get("gpio.relay") == "1")
    seen = len(operator.attribute_changes)

    assert await edge.stop(signal.SIGTERM) == 0
    changes = {k: v for who, c in operator.attribute_changes[seen:] if who == "edge-stop"
               for k, v in c.items()}  # fmt: skip
    assert changes.get("gpio.relay") == "0", (changes, edge.log())
    assert json.loads(changes["edge.last_failsafe"])["why"] == "daemon stopping"


async def test_second_daemon_with_the_same_identity_evicts_the_first_which_exits_clearly(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    viewer = await official_peer("viewer")
    config = write_config(tmp_path / "edge.toml", livekit_server, room_name, identity="edge-dup")
    first = await start_edge("run", "--config", str(config))
    await viewer.wait_participant("edge-dup", timeout=30)
    second = await start_edge("run", "--config", str(config))
    await second.wait_line("joined room")

    assert await first.wait(timeout=30) == 3  # EXIT_REFUSED: systemd must not restart it
    error_lines = [line for line in first.lines if line.startswith("edge: ")]
    assert len(error_lines) == 1, first.log()
    assert "DUPLICATE_IDENTITY" in error_lines[0]
    assert "another participant joined with our identity" in error_lines[0]
    assert not any("Traceback" in line for line in first.lines), first.log()
    # Pushed out seconds after its join, the first may be the victim of the server's own retry
    # of its join: it rejoins once at most, then gives way for good.
    assert sum("rejoining once" in line for line in first.lines) <= 1, first.log()
    assert sum("retrying" in line for line in first.lines) <= 1, first.log()
    assert second.proc.returncode is None
    await viewer.wait_participant("edge-dup")
    assert await second.stop() == 0


async def test_a_daemon_with_a_token_url_fetches_a_token_for_each_join(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    asked: list[tuple[str, str]] = []

    async def hand_out(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer device-7":
            return web.Response(status=403)
        identity, room = request.query["identity"], request.query["room"]
        asked.append((identity, room))
        jwt = mint_token(livekit_server, identity=identity, room=room, name="Fetched")
        return web.json_response({"participantToken": jwt})

    app = web.Application()
    app.router.add_get("/token", hand_out)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        config = tmp_path / "edge.toml"
        config.write_text(
            f'[livekit]\nurl = "{livekit_server.url}"\nroom = "{room_name}"\n'
            'identity = "edge-fetch"\n'
            f'token_url = "http://127.0.0.1:{port}/token"\n'
            'token_url_auth = "Bearer device-7"\n'
        )
        config.chmod(0o600)
        viewer = await official_peer("viewer")
        edge = await start_edge("run", "--config", str(config))
        await viewer.wait_participant("edge-fetch", timeout=30)
        assert asked == [("edge-fetch", room_name)]
        assert not any("device-7" in line for line in edge.lines), "the secret stays out of logs"
        assert await edge.stop() == 0
    finally:
        await runner.cleanup()


async def test_refused_token_exits_with_one_line_and_no_retry(
    start_edge: StartEdge, livekit_server: LiveKitServer, room_name: str, tmp_path: Path
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[livekit]\nurl = "{livekit_server.url}"\nroom = "{room_name}"\nidentity = "edge-x"\n'
        'api_key = "unknown-key"\napi_secret = "a-secret-that-the-server-has-never-heard-of"\n'
    )
    config.chmod(0o600)
    edge = await start_edge("run", "--config", str(config))
    assert await edge.wait(timeout=20) == 3
    assert edge.lines[-1].startswith("edge: server refused the join (HTTP 401)"), edge.log()
    assert not any("Traceback" in line for line in edge.lines), edge.log()


async def test_unreachable_server_is_retried_with_backoff_and_sigterm_still_exits(
    start_edge: StartEdge, tmp_path: Path, unused_tcp_port: int
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[livekit]\nurl = "ws://127.0.0.1:{unused_tcp_port}"\nroom = "r"\nidentity = "edge-x"\n'
        'api_key = "k"\napi_secret = "a-secret-long-enough-for-hmac-sha256-tokens"\n'
    )
    config.chmod(0o600)
    edge = await start_edge("run", "--config", str(config))
    line = await edge.wait_line("retrying in")
    assert f"cannot reach ws://127.0.0.1:{unused_tcp_port}/rtc" in line
    assert await edge.stop(signal.SIGINT) == 0
    assert not any("Traceback" in line for line in edge.lines), edge.log()


async def test_malformed_config_exits_2_naming_each_bad_field(
    start_edge: StartEdge, tmp_path: Path
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[livekit]\nurl = "ftp://x"\nroom = ""\nidentity = 5\ntoken = "t"\n')
    edge = await start_edge("run", "--config", str(config))
    assert await edge.wait() == 2
    errors = [line for line in edge.lines if line.startswith("edge: ")]
    assert any(line.startswith("edge: livekit.url:") for line in errors), edge.log()
    assert any(line.startswith("edge: livekit.room:") for line in errors), edge.log()
    assert any(line.startswith("edge: livekit.identity:") for line in errors), edge.log()
    assert not any("Traceback" in line for line in edge.lines), edge.log()


GPIO_TOML = """
[gpio]
link_loss_grace_s = 2.0

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
allow = ["op-*"]

[[gpio.outputs]]
name = "fan"
kind = "pwm"
pin = 18
allow = ["op-*"]
"""


async def test_sigterm_drives_outputs_safe_before_leaving_the_room(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    op = await official_peer("op-anna")
    camera = '[camera]\nsource = "synthetic"\nwidth = 160\nheight = 120\nframerate = 5\n'
    config = write_config(
        tmp_path / "edge.toml",
        livekit_server,
        room_name,
        identity="edge-gpio",
        extra=GPIO_TOML + camera,
    )
    edge = await start_edge("run", "--config", str(config), "--simulate")
    await op.wait_participant("edge-gpio", timeout=30)
    await edge.wait_line("GPIO ready: 2 output(s)")
    await edge.wait_line("published video track 'camera'")
    reply = await op.local.perform_rpc(
        destination_identity="edge-gpio",
        method="gpio.set",
        payload='{"device": "relay", "value": 1}',
        response_timeout=5.0,
    )
    assert reply == '{"device":"relay","value":1.0}'
    await edge.wait_line("output relay -> 1 (set by op-anna)")

    assert await edge.stop(signal.SIGTERM) == 0
    safe = next(
        i for i, line in enumerate(edge.lines) if "output relay -> 0 (daemon stopping)" in line
    )
    left = next(i for i, line in enumerate(edge.lines) if "left room cleanly" in line)
    released = next(i for i, line in enumerate(edge.lines) if "camera: running -> stopped" in line)
    assert safe < left < released, edge.log()  # outputs safe, leave, then the camera goes


async def test_safe_state_command_drives_every_output_safe(
    start_edge: StartEdge, tmp_path: Path
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        '[livekit]\nurl = "ws://127.0.0.1:9"\nroom = "r"\nidentity = "e"\ntoken = "t"\n' + GPIO_TOML
    )
    edge = await start_edge(
        "safe-state",
        "--config",
        str(config),
        env={"GPIOZERO_PIN_FACTORY": "mock", "GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin"},
    )
    assert await edge.wait() == 0, edge.log()
    assert any("output relay -> 0 (safe-state command)" in line for line in edge.lines), edge.log()
    assert any("output fan -> 0 (safe-state command)" in line for line in edge.lines), edge.log()


async def test_systemd_hears_ready_watchdog_pings_and_stopping(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    sock_path = tmp_path / "notify.sock"
    messages: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.setblocking(False)

        def drain() -> list[str]:
            with contextlib.suppress(BlockingIOError):
                while True:
                    messages.append(sock.recv(4096).decode())
            return messages

        config = write_config(tmp_path / "edge.toml", livekit_server, room_name, identity="edge-sd")
        env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "200000"}
        edge = await start_edge("run", "--config", str(config), env=env)
        await assert_eventually(
            lambda: any("READY=1" in m and "connected to room" in m for m in drain()),
            timeout=30,
            message=lambda: f"systemd heard {messages}; log:\n{edge.log()}",
        )
        await assert_eventually(lambda: sum(m == "WATCHDOG=1" for m in drain()) >= 3)
        assert await edge.stop(signal.SIGTERM) == 0
        assert any(m.startswith("STOPPING=1") for m in drain()), messages


TELEMETRY_TOML = """
[telemetry]
batch_window_s = 0.2

[[telemetry.sensors]]
name = "soc"
kind = "simulated"
period_s = 0.1
unit = "°C"
mean = 48.0
"""


class TelemetryInbox:
    """An official-SDK peer's byte-stream handler on edge.telemetry, decoding plain msgpack."""

    def __init__(self, peer: OfficialPeer) -> None:
        self.streams: list[tuple[rtc.ByteStreamInfo, dict[str, Any]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        peer.room.register_byte_stream_handler(
            "edge.telemetry",
            lambda reader, _: self._tasks.append(asyncio.create_task(self._read(reader))),
        )

    @property
    def readings(self) -> list[list[Any]]:
        return [r for _, batch in self.streams for r in batch["readings"]]

    async def _read(self, reader: rtc.ByteStreamReader) -> None:
        batch = msgpack.unpackb(b"".join([chunk async for chunk in reader]))
        self.streams.append((reader.info, batch))

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


async def test_daemon_streams_spooled_readings_to_an_official_consumer(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    viewer = await official_peer("viewer")
    inbox = TelemetryInbox(viewer)
    config = write_config(
        tmp_path / "edge.toml", livekit_server, room_name, identity="edge-tm", extra=TELEMETRY_TOML
    )
    edge = await start_edge("run", "--config", str(config), "--simulate")
    try:
        await assert_eventually(
            lambda: len(inbox.readings) >= 10,
            timeout=30,
            message=lambda: f"got {len(inbox.streams)} batch(es); edge log:\n{edge.log()}",
        )
        twin = await viewer.wait_participant("edge-tm")
        await assert_eventually(  # the device twin shows the temperature and the version
            lambda: {"edge.temperature.soc", "edge.version"} <= set(twin.attributes),
            message=lambda: f"attributes {dict(twin.attributes)}",
        )
        assert 30 < float(twin.attributes["edge.temperature.soc"]) < 70
    finally:
        assert await edge.stop(signal.SIGTERM) == 0
        inbox.close()
    readings = inbox.readings
    assert all(batch["v"] == 1 for _, batch in inbox.streams)
    assert {info.mime_type for info, _ in inbox.streams} == {"application/msgpack"}
    assert {(info.attributes or {})["schema_version"] for info, _ in inbox.streams} == {"1"}
    seqs = [r[0] for r in readings]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # in order, no gaps
    assert {(r[2], r[4]) for r in readings} == {("soc", "°C")}
    assert all(30 < r[3] < 70 for r in readings)
    assert (tmp_path / "edge-telemetry.sqlite3").exists()  # spooled next to the config


async def test_an_allowed_participant_fetches_a_log_bundle_without_secrets(
    start_edge: StartEdge,
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    viewer = await official_peer("viewer")
    stranger = await official_peer("stranger")
    files: list[tuple[str, bytes]] = []
    readers: list[asyncio.Task[None]] = []

    async def read(reader: rtc.ByteStreamReader) -> None:
        files.append((reader.info.name, b"".join([c async for c in reader])))

    viewer.room.register_byte_stream_handler(
        "edge.files", lambda reader, sender: readers.append(asyncio.create_task(read(reader)))
    )
    extra = '\n[daemon]\nlogs_allow = ["viewer"]\n'
    config = write_config(
        tmp_path / "edge.toml", livekit_server, room_name, identity="edge-log", extra=extra
    )
    edge = await start_edge("run", "--config", str(config), "--simulate")
    try:
        await edge.wait_line("joined room")
        reply = json.loads(
            await viewer.local.perform_rpc(
                destination_identity="edge-log", method="edge.logs", payload='{"lines": 200}'
            )
        )
        await assert_eventually(lambda: len(files) == 1)
        name, data = files[0]
        assert (name, len(data)) == (reply["name"], reply["bytes"])
        assert name.startswith("edge-logs-")
        text = data.decode()
        assert "joined room" in text
        assert livekit_server.api_secret not in text
        with pytest.raises(rtc.RpcError) as denied:
            await stranger.local.perform_rpc(
                destination_identity="edge-log", method="edge.logs", payload=""
            )
        assert denied.value.code == 2003
    finally:
        assert await edge.stop(signal.SIGTERM) == 0
        for task in readers:
            task.cancel()


async def test_readings_taken_during_an_outage_arrive_after_the_daemon_rejoins(
    start_edge: StartEdge, private_livekit_server: ServerProcess, room_name: str, tmp_path: Path
) -> None:
    server = private_livekit_server.server
    config = write_config(
        tmp_path / "edge.toml", server, room_name, identity="edge-out", extra=TELEMETRY_TOML
    )
    edge = await start_edge("run", "--config", str(config), "--simulate")
    try:
        await edge.wait_line("joined room")
        # Sessions are up and readings are flowing: a first watcher receives one.
        watcher = await OfficialPeer.connect(
            server.url, mint_token(server, identity="watcher", room=room_name), identity="watcher"
        )
        first = TelemetryInbox(watcher)
        try:
            await assert_eventually(lambda: bool(first.readings), message=lambda: edge.log())
        finally:
            first.close()
            await watcher.disconnect()
        private_livekit_server.kill()
        down_at_us = time.time_ns() // 1000
        # The daemon noticed, and a retry failed too: readings are being taken meanwhile.
        await assert_eventually(
            lambda: sum("retrying in" in line for line in edge.lines) >= 2,
            timeout=30,
            message=lambda: edge.log(),
        )
        up_at_us = time.time_ns() // 1000
        private_livekit_server.restart()
        # A consumer in the room before the edge is back: everything spooled must reach it.
        token = mint_token(server, identity="viewer", room=room_name)
        viewer = await OfficialPeer.connect(server.url, token, identity="viewer")
        inbox = TelemetryInbox(viewer)
        try:
            await assert_eventually(
                lambda: any(r[1] > up_at_us for r in inbox.readings),
                timeout=60,
                message=lambda: f"{len(inbox.readings)} reading(s); edge log:\n{edge.log()}",
            )
            readings = inbox.readings
            during = [r for r in readings if down_at_us <= r[1] <= up_at_us]
            assert during, "no reading taken while the server was down arrived"
            seqs = sorted({r[0] for r in readings})
            assert seqs == list(range(seqs[0], seqs[-1] + 1))  # no gaps
            assert any(r[1] < down_at_us for r in readings)  # unconfirmed before-outage resent
            back = await viewer.wait_participant("edge-out")
            await assert_eventually(  # the twin says why the previous session ended
                lambda: "cannot reach ws://127.0.0.1" in back.attributes.get("edge.error", ""),
                message=lambda: f"attributes {dict(back.attributes)}",
            )
        finally:
            inbox.close()
            await viewer.disconnect()
    finally:
        assert await edge.stop(signal.SIGTERM) == 0


async def test_the_spool_survives_kill_9_and_drains_after_restart(
    start_edge: StartEdge, private_livekit_server: ServerProcess, room_name: str, tmp_path: Path
) -> None:
    server = private_livekit_server.server
    config = write_config(
        tmp_path / "edge.toml", server, room_name, identity="edge-k9", extra=TELEMETRY_TOML
    )
    private_livekit_server.kill()  # the room is unreachable: readings only go to the spool
    first = await start_edge("run", "--config", str(config), "--simulate")
    await assert_eventually(
        lambda: sum("retrying in" in line for line in first.lines) >= 2,
        timeout=30,
        message=lambda: first.log(),
    )
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    killed_at_us = time.time_ns() // 1000

    private_livekit_server.restart()
    token = mint_token(server, identity="viewer", room=room_name)
    viewer = await OfficialPeer.connect(server.url, token, identity="viewer")
    inbox = TelemetryInbox(viewer)
    second = await start_edge("run", "--config", str(config), "--simulate")
    try:
        spool = await second.wait_line("telemetry spool")  # reopened with what was spooled
        assert " 0 unsent" not in spool
        await assert_eventually(
            lambda: any(r[1] > killed_at_us for r in inbox.readings),
            timeout=30,
            message=lambda: f"{len(inbox.readings)} reading(s); log:\n{second.log()}",
        )
        before_kill = sorted(r[0] for r in inbox.readings if r[1] < killed_at_us)
        assert before_kill[:1] == [1]  # from the very first reading ...
        assert before_kill == list(range(1, len(before_kill) + 1))  # ... without gaps
        assert len(before_kill) >= 3
    finally:
        inbox.close()
        await viewer.disconnect()
        assert await second.stop(signal.SIGTERM) == 0


async def test_a_static_token_is_replaced_by_the_servers_refresh_for_the_next_session(
    start_edge: StartEdge, private_livekit_server: ServerProcess, room_name: str, tmp_path: Path
) -> None:
    server = private_livekit_server.server
    token = mint_token(server, identity="edge-rt", room=room_name)
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[livekit]\nurl = "{server.url}"\nroom = "{room_name}"\nidentity = "edge-rt"\n'
        f'token = "{token}"\n'
    )
    config.chmod(0o600)
    edge = await start_edge("run", "--config", str(config), "--simulate", "--log-level", "debug")
    try:
        await edge.wait_line("room connection connecting -> connected")
        # Our attribute updates change the token's claims, so the server sends a refresh.
        await edge.wait_line("the server refreshed our access token")
        private_livekit_server.kill()
        await edge.wait_line("retrying in")
        private_livekit_server.restart()
        line = await edge.wait_line("rejoining with the server's refreshed token", timeout=30)
        assert "valid until" in line
        await assert_eventually(
            lambda: sum("joined room" in entry for entry in edge.lines) == 2,
            timeout=30,
            message=lambda: edge.log(),
        )
    finally:
        assert await edge.stop(signal.SIGTERM) == 0
