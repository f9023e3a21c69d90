"""edge run with an [mqtt] section: a real mosquitto, a real livekit-server, the official SDK."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OfficialPeerFactory
from tests.e2e.edge_process import EdgeProcess
from tests.helpers import assert_eventually
from tests.mqtt.conftest import Broker
from tests.mqtt.peer import MqttPeer
from tests.official_peer import LiveKitServer, set_room_metadata

pytestmark = pytest.mark.e2e

BASE = "edge/edge-mq"


@pytest.fixture
def peer(mosquitto: Broker) -> Iterator[MqttPeer]:
    client = MqttPeer(mosquitto.host, mosquitto.port)
    client.subscribe(f"{BASE}/#")
    yield client
    client.close()


def config(path: Path, server: LiveKitServer, broker: Broker, room: str) -> Path:
    path.write_text(
        f"""
[livekit]
url = "{server.url}"
room = "{room}"
identity = "edge-mq"
api_key = "{server.api_key}"
api_secret = "{server.api_secret}"

[mqtt]
host = "{broker.host}"
port = {broker.port}
discovery = false
forward = ["home/+/temperature"]

[[gpio.outputs]]
name = "relay"
pin = 17
allow = ["mqtt:ha"]

[[telemetry.sensors]]
name = "soc"
kind = "simulated"
period_s = 0.2
unit = "°C"
mean = 48.0
"""
    )
    path.chmod(0o600)
    return path


async def test_the_daemon_bridges_readings_commands_state_and_availability(
    peer: MqttPeer,
    mosquitto: Broker,
    livekit_server: LiveKitServer,
    official_peer: OfficialPeerFactory,
    room_name: str,
    tmp_path: Path,
) -> None:
    viewer = await official_peer("viewer")
    path = config(tmp_path / "edge.toml", livekit_server, mosquitto, room_name)
    edge = await EdgeProcess.start("run", "--config", str(path), "--simulate", cwd=tmp_path)
    try:
        await assert_eventually(
            lambda: peer.last(f"{BASE}/availability") == b"online",
            timeout=30,
            message=lambda: f"edge log:\n{edge.log()}",
        )
        await assert_eventually(lambda: peer.seen(f"{BASE}/sensor/soc"), timeout=15)
        reading = json.loads(peer.seen(f"{BASE}/sensor/soc")[0].payload)
        assert reading["unit"] == "°C"
        assert 30 < reading["value"] < 70

        peer.publish(f"{BASE}/cmd/gpio.set/ha", '{"device": "relay", "value": 1}')
        await assert_eventually(lambda: peer.last(f"{BASE}/reply/gpio.set/ha"))
        reply = json.loads(peer.last(f"{BASE}/reply/gpio.set/ha") or b"")
        assert reply == {"ok": True, "result": {"device": "relay", "value": 1.0}}
        await viewer.wait_participant("edge-mq", timeout=30)
        await assert_eventually(  # the device twin carries the output into the room
            lambda: viewer.participant("edge-mq").attributes.get("gpio.relay") == "1",
            timeout=15,
            message=lambda: f"viewer saw {viewer.attribute_changes}",
        )

        peer.publish("home/kitchen/temperature", "21.5")  # allow-listed: into the room
        peer.publish("home/kitchen/secret", "no")  # not allow-listed: stays local
        await assert_eventually(
            lambda: (
                [(r.sender_identity, r.topic, r.payload) for r in viewer.received]
                == [("edge-mq", "mqtt/home/kitchen/temperature", b"21.5")]
            ),
            message=lambda: f"viewer got {viewer.received}",
        )
        await set_room_metadata(livekit_server, room_name, "mode=away")
        await assert_eventually(lambda: peer.last(f"{BASE}/room/metadata") == b"mode=away")

        peer.publish(f"{BASE}/cmd/gpio.set/ha", b"\xff not json")
        await assert_eventually(lambda: len(peer.seen(f"{BASE}/reply/gpio.set/ha")) == 2)
        refused = json.loads(peer.seen(f"{BASE}/reply/gpio.set/ha")[1].payload)
        assert refused["ok"] is False
        assert refused["error"]["code"] in (2000,)  # invalid payload, and the bridge goes on
        peer.publish(f"{BASE}/cmd/gpio.set/intruder", '{"device": "relay", "value": 0}')
        await assert_eventually(lambda: peer.last(f"{BASE}/reply/gpio.set/intruder"))
        denied = json.loads(peer.last(f"{BASE}/reply/gpio.set/intruder") or b"")
        assert denied["error"]["code"] == 2003  # mqtt:intruder is not on the allow-list

        assert await edge.stop(signal.SIGTERM) == 0
        assert peer.last(f"{BASE}/availability") == b"offline"
        # A clean goodbye: "offline", then DISCONNECT (so the broker does not fire the Will).
        log = mosquitto.log_path.read_text()
        assert "Received DISCONNECT from edge-edge-mq" in log, log[-2000:]
        assert any("output relay -> 0 (daemon stopping)" in line for line in edge.lines)
    finally:
        await edge.kill()


async def test_killing_the_daemon_makes_the_broker_publish_the_last_will(
    peer: MqttPeer, mosquitto: Broker, livekit_server: LiveKitServer, room_name: str, tmp_path: Path
) -> None:
    path = config(tmp_path / "edge.toml", livekit_server, mosquitto, room_name)
    edge = await EdgeProcess.start("run", "--config", str(path), "--simulate", cwd=tmp_path)
    try:
        await assert_eventually(
            lambda: peer.last(f"{BASE}/availability") == b"online",
            timeout=30,
            message=lambda: f"edge log:\n{edge.log()}",
        )
        assert await edge.stop(signal.SIGKILL) == -signal.SIGKILL
        await assert_eventually(lambda: peer.last(f"{BASE}/availability") == b"offline")
    finally:
        await edge.kill()
