"""Media devices that are missing, unplugged and plugged back in, seen from the room.

The simulated camera connector and sound cards (fakes at the picamera2/pyaudio boundary) are
held by the test, so it can pull the cable while our Room is publishing to a real server and
the official SDK is watching.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint
from edge.livekit.streams import StreamEndpoint
from edge.media.service import MediaService
from edge.media.sources import open_audio_source, open_video_source
from edge.media.spec import CameraConfig, CameraKind, MicrophoneConfig
from edge.media.synthetic import SyntheticCameraSystem
from edge.media.synthetic_audio import SyntheticAudioSystem
from tests.conftest import OfficialPeerFactory
from tests.e2e.test_media import MediaWatcher
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, mint_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CAMERA = CameraConfig(
    source=CameraKind.SYNTHETIC, width=320, height=240, framerate=15, bitrate=300_000
)


@asynccontextmanager
async def serving(
    server: LiveKitServer, room_name: str, media: MediaService
) -> AsyncIterator[Room]:
    token = mint_token(server, identity="edge-cam", room=room_name)
    try:
        async with Room.connect(RoomOptions(url=server.url, attributes={}), token) as room:
            media.register(RpcEndpoint(room), StreamEndpoint(room))
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(media.serve(room), name="test.media")
                yield room
                task.cancel()
    finally:
        await media.release()  # as the daemon does, after the leave


async def test_a_camera_plugged_in_late_unplugged_and_back_follows_in_the_room(
    livekit_server: LiveKitServer, room_name: str, official_peer: OfficialPeerFactory
) -> None:
    cameras = SyntheticCameraSystem(cameras=0)
    status: dict[str, str] = {}
    media = MediaService(
        CAMERA,
        None,
        simulate=False,
        publish_status=status.update,
        open_video=functools.partial(open_video_source, cameras=cameras),
    )
    viewer = await official_peer("viewer")
    watcher = MediaWatcher(viewer)
    try:
        async with serving(livekit_server, room_name, media):
            await assert_eventually(
                lambda: status.get("media.camera", "").startswith("unavailable: "),
                message=lambda: f"status {status}",
            )
            assert not watcher.publications, "nothing is published without a camera"

            cameras.plug_in()
            await assert_eventually(lambda: len(watcher.video) >= 5, timeout=20)
            assert status["media.camera"] == "live"

            cameras.unplug()
            await assert_eventually(lambda: "camera" in watcher.unpublished, timeout=15)
            assert status["media.camera"].startswith("unavailable: ")

            seen = len(watcher.video)
            cameras.plug_in()
            await assert_eventually(lambda: len(watcher.video) >= seen + 5, timeout=30)
            assert status["media.camera"] == "live"
    finally:
        await watcher.aclose()


async def test_an_unplugged_microphone_leaves_the_camera_running(
    livekit_server: LiveKitServer, room_name: str, official_peer: OfficialPeerFactory
) -> None:
    cards = SyntheticAudioSystem(tone_hz=440.0)
    status: dict[str, str] = {}
    media = MediaService(
        CAMERA,
        MicrophoneConfig(),
        simulate=True,
        publish_status=status.update,
        open_audio=functools.partial(open_audio_source, sound_cards=cards),
    )
    viewer = await official_peer("viewer")
    watcher = MediaWatcher(viewer)
    try:
        async with serving(livekit_server, room_name, media):
            await assert_eventually(lambda: watcher.audio and len(watcher.video) >= 5, timeout=20)
            cards.unplug()
            await assert_eventually(lambda: "microphone" in watcher.unpublished, timeout=15)
            assert status["media.microphone"].startswith("unavailable: ")
            seen = len(watcher.video)
            await assert_eventually(lambda: len(watcher.video) >= seen + 10, timeout=15)
            assert status["media.camera"] == "live"
    finally:
        await watcher.aclose()
