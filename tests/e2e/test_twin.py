"""The device twin seen by an official-SDK participant: coalesced changes, deleted keys,
outputs at once (a 1 s pulse whole), the fail-safe record."""

from __future__ import annotations

import asyncio
import json

import pytest

from edge.gpio.room_session import follow_status, serve_gpio
from edge.gpio.service import GpioService
from edge.gpio.spec import GpioConfig, OutputKind, OutputSpec
from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint
from edge.livekit.twin_publisher import TwinPublisher
from edge.testing.pins import SimulatedPinFactory
from edge.twin import Twin
from tests.conftest import OfficialPeerFactory
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token

pytestmark = pytest.mark.e2e


async def test_twin_changes_arrive_coalesced_and_deleted_keys_disappear(
    livekit_server: LiveKitServer, room_name: str, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    token = mint_token(livekit_server, identity="edge-1", room=room_name)
    options = RoomOptions(url=livekit_server.url, attributes={"join.only": "kept"})
    publisher = TwinPublisher(Twin(min_interval_s=1.0))
    async with Room.connect(options, token) as room, asyncio.TaskGroup() as tg:
        initial = room.local_participant.attributes
        task = tg.create_task(publisher.run(room, initial=initial), name="test.twin")
        edge = await viewer.wait_participant("edge-1")
        publisher.update({"edge.status": "online", "edge.note": "temporary"})
        for n in range(30):  # a burst: far more changes than one per interval
            publisher.update({"edge.count": str(n)})
            await asyncio.sleep(0)
        await assert_eventually(
            lambda: edge.attributes.get("edge.count") == "29",
            message=lambda: f"viewer saw {viewer.attribute_changes}",
        )
        counts = [c["edge.count"] for who, c in viewer.attribute_changes if "edge.count" in c]
        assert counts[-1] == "29"
        assert len(counts) <= 3, counts  # coalesced, not 30 updates
        assert edge.attributes.get("edge.note") == "temporary"

        publisher.update({"edge.note": None})
        await assert_eventually(
            lambda: "edge.note" not in edge.attributes,
            message=lambda: f"viewer has {dict(edge.attributes)}",
        )
        assert edge.attributes.get("join.only") == "kept"  # not the twin's to delete
        assert edge.attributes.get("edge.count") == "29"
        task.cancel()


LAMP = GpioConfig(
    outputs=(
        OutputSpec(name="lamp", kind=OutputKind.DIGITAL, pins=(17,), safe_value=0, allow=("op-*",)),
    ),
)


async def call(peer: OfficialPeer, method: str, payload: object) -> None:
    await peer.local.perform_rpc(
        destination_identity="edge-1",
        method=method,
        payload=json.dumps(payload),
        response_timeout=5.0,
    )


async def test_a_watcher_sees_a_1_s_pulse_whole_and_the_fail_safe_when_its_controller_leaves(
    livekit_server: LiveKitServer, room_name: str, official_peer: OfficialPeerFactory
) -> None:
    viewer = await official_peer("viewer")
    operator = await official_peer("op-anna")
    gpio = GpioService(LAMP, pin_factory=SimulatedPinFactory(LAMP))
    publisher = TwinPublisher()  # the daemon's: 2 s interval, urgent keys at once
    token = mint_token(livekit_server, identity="edge-1", room=room_name)
    options = RoomOptions(url=livekit_server.url, attributes={})
    try:
        async with Room.connect(options, token) as room, asyncio.TaskGroup() as tg:
            initial = room.local_participant.attributes
            follow_status(gpio, publisher.update)
            serve = serve_gpio(room, gpio, rpc=RpcEndpoint(room), set_attributes=False)
            tasks = [
                tg.create_task(gpio.run(), name="test.gpio-timers"),
                tg.create_task(publisher.run(room, initial=initial), name="test.twin"),
                tg.create_task(serve, name="test.serve-gpio"),
            ]
            edge = await viewer.wait_participant("edge-1")
            await operator.wait_participant("edge-1")
            await assert_eventually(lambda: edge.attributes.get("gpio.lamp") == "0")
            settled = len(viewer.attribute_changes)

            def lamp() -> list[str]:
                changes = viewer.attribute_changes[settled:]
                return [c["gpio.lamp"] for _who, c in changes if "gpio.lamp" in c]

            # The lease changes the twin just before the pulse: a pulse must not need a quiet
            # twin to be seen.
            await call(operator, "gpio.lease", {"action": "acquire", "duration_s": 30})
            await call(operator, "gpio.pulse", {"device": "lamp", "duration_s": 1.0, "value": 1})
            await assert_eventually(
                lambda: lamp() == ["1", "0"],
                timeout=10,
                message=lambda: f"viewer saw {viewer.attribute_changes}",
            )

            await call(operator, "gpio.set", {"device": "lamp", "value": 1})
            await assert_eventually(lambda: edge.attributes.get("gpio.lamp") == "1")
            await operator.disconnect()  # the controller leaves: the lamp goes safe
            record = await assert_eventually(
                lambda: json.loads(edge.attributes.get("edge.last_failsafe", "null")),
                message=lambda: f"viewer has {dict(edge.attributes)}",
            )
            assert (record["what"], record["why"]) == (["lamp"], "controller 'op-anna' left")
            assert edge.attributes["gpio.lamp"] == "0"
            assert "edge.lease" not in edge.attributes  # free: "" deletes the key
            assert lamp() == ["1", "0", "1", "0"]
            for task in tasks:
                task.cancel()
    finally:
        gpio.close("test over")
