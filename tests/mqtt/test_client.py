"""The client's connection life: Last Will, broker outages, refused credentials."""

from __future__ import annotations

import asyncio
import contextlib
import select
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

from edge.backoff import Backoff
from edge.mqtt.client import AsyncMqttClient, Message, MqttSettings, MqttState
from tests.conftest import REPO_ROOT
from tests.helpers import assert_eventually
from tests.mqtt.conftest import PASSWORD, USERNAME, Broker
from tests.mqtt.peer import MqttPeer

FAST = Backoff(base_s=0.1, cap_s=0.4, jitter=0.0)


@asynccontextmanager
async def running(client: AsyncMqttClient) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(client.run(), name="test.mqtt-client")
        try:
            yield
        finally:
            task.cancel()


async def test_killing_the_bridge_process_makes_the_broker_publish_offline(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    identity = f"kill-{uuid4().hex[:8]}"
    availability = f"edge/{identity}/availability"
    mqtt_peer.subscribe(availability)
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.mqtt.bridge_process"),
        *(mosquitto.host, str(mosquitto.port), identity),
        cwd=REPO_ROOT,
    )
    try:
        await assert_eventually(lambda: mqtt_peer.last(availability) == b"online", timeout=20)
        proc.kill()
        await proc.wait()
        await assert_eventually(lambda: mqtt_peer.last(availability) == b"offline")
        assert mqtt_peer.seen(availability)[-1].retain is False  # live delivery of the will
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        mqtt_peer.publish(availability, b"", retain=True)


async def test_broker_outage_is_retried_with_backoff_and_the_outbox_is_delivered(
    private_mosquitto: Broker,
) -> None:
    settings = MqttSettings(
        host=private_mosquitto.host, port=private_mosquitto.port, backoff=FAST, outbox_size=2
    )
    client = AsyncMqttClient(settings)
    async with running(client):
        await assert_eventually(lambda: client.state is MqttState.CONNECTED)
        private_mosquitto.stop()
        await assert_eventually(lambda: client.state is not MqttState.CONNECTED)
        lost_at, attempts_at_loss = time.monotonic(), client.attempts
        for n in range(3):  # outbox holds 2: the first is dropped
            client.publish(Message(f"t/outbox/{n}", f"m{n}".encode(), retain=True, qos=1))
        assert client.dropped_outbound == 1
        await assert_eventually(lambda: client.attempts >= attempts_at_loss + 3)
        assert "unreachable" in client.last_error
        # 3 failed attempts need at least two full backoff delays (0.1 s + 0.2 s): no hot loop.
        assert time.monotonic() - lost_at >= 0.3
        private_mosquitto.start()
        await assert_eventually(lambda: client.state is MqttState.CONNECTED, timeout=10)
        peer = MqttPeer(private_mosquitto.host, private_mosquitto.port)
        try:
            peer.subscribe("t/outbox/#")
            await assert_eventually(lambda: peer.last("t/outbox/2") == b"m2")
            await assert_eventually(lambda: peer.last("t/outbox/1") == b"m1")
            assert peer.seen("t/outbox/0") == []  # the oldest was dropped
        finally:
            peer.close()


async def test_wrong_credentials_are_reported_and_retried_slowly(
    mosquitto_with_password: Broker,
) -> None:
    broker = mosquitto_with_password
    wrong = MqttSettings(
        host=broker.host, port=broker.port, username=USERNAME, password="wrong", backoff=FAST
    )
    client = AsyncMqttClient(wrong)
    started = time.monotonic()
    async with running(client):
        await assert_eventually(lambda: client.attempts >= 4)
        assert client.state is not MqttState.CONNECTED
        assert "refused the connection" in client.last_error
        assert "check the [mqtt] username and password" in client.last_error
        assert time.monotonic() - started >= 0.1 + 0.2 + 0.4  # backoff between attempts
    right = AsyncMqttClient(
        MqttSettings(host=broker.host, port=broker.port, username=USERNAME, password=PASSWORD)
    )
    async with running(right):
        await assert_eventually(lambda: right.state is MqttState.CONNECTED)


async def test_stopping_says_offline_then_disconnect_even_with_unread_acknowledgements(
    mosquitto: Broker, mqtt_peer: MqttPeer
) -> None:
    """A socket closed with unread data is reset by the kernel, and the broker then drops our
    DISCONNECT and fires the Will: the goodbye must read the broker's acknowledgements first."""
    client_id = f"bye-{uuid4().hex[:8]}"
    availability = f"edge/{client_id}/availability"
    offline = Message(availability, b"offline", retain=True, qos=1)
    client = AsyncMqttClient(
        MqttSettings(host=mosquitto.host, port=mosquitto.port, client_id=client_id, will=offline)
    )
    client.farewell = offline
    mqtt_peer.subscribe(availability)
    task = asyncio.create_task(client.run(), name="test.mqtt-client")
    try:
        await assert_eventually(lambda: client.state is MqttState.CONNECTED)
        for n in range(20):
            client.publish(Message(f"t/{client_id}", str(n).encode(), qos=1))
        # Without yielding to the loop (whose reader would take them): write the publishes,
        # wait until the broker's acknowledgements sit unread in our socket, then stop.
        paho_client = client._client
        paho_client.loop_write()
        sock = paho_client.socket()
        assert sock is not None
        readable, _, _ = select.select([sock], [], [], 10.0)
        assert readable
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await assert_eventually(
            lambda: f"Received DISCONNECT from {client_id}" in mosquitto.log_path.read_text(),
            message=lambda: mosquitto.log_path.read_text()[-1500:],
        )
        await assert_eventually(lambda: mqtt_peer.last(availability) == b"offline")
        assert [s.payload for s in mqtt_peer.seen(availability)][-1:] == [b"offline"]
        assert len([s for s in mqtt_peer.seen(availability) if s.payload == b"offline"]) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        mqtt_peer.publish(availability, b"", retain=True)
