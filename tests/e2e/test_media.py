"""Camera and microphone: `edge run --simulate` publishes, the official SDK subscribes and decodes.

The synthetic camera is a fake at picamera2's boundary (an encoder thread producing H.264 access
units with libx264); everything past it is real: our passthrough track, aiortc, livekit-server,
and the official SDK's WebRTC stack decoding what we send.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from livekit import rtc

from tests.conftest import OfficialPeerFactory
from tests.e2e.edge_process import EdgeProcess
from tests.e2e.relay import SignalRelay
from tests.e2e.test_daemon import write_config
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WIDTH, HEIGHT, TONE_HZ = 320, 240, 440.0
MEDIA = f"""
[camera]
source = "synthetic"
width = {WIDTH}
height = {HEIGHT}
framerate = 15
bitrate = 300000
keyframe_interval_s = 60
allow = ["viewer"]

[microphone]
source = "synthetic"
tone_hz = {TONE_HZ}
allow = ["viewer"]
"""


@dataclass
class MediaWatcher:
    """Decodes every video and audio track an official-SDK peer subscribes to."""

    peer: OfficialPeer
    video: list[tuple[float, int, int]] = field(default_factory=list)
    """(seconds since the track was subscribed, width, height) per decoded frame."""
    audio: list[np.ndarray] = field(default_factory=list)
    sample_rate: int = 0
    publications: dict[str, rtc.RemoteTrackPublication] = field(default_factory=dict)
    muted: list[tuple[str, bool]] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        room = self.peer.room
        room.on("track_subscribed", self._subscribed)
        room.on("track_muted", lambda _p, pub: self.muted.append((pub.name, True)))
        room.on("track_unmuted", lambda _p, pub: self.muted.append((pub.name, False)))
        room.on("track_unpublished", lambda pub, _p: self.unpublished.append(pub.name))
        for participant in room.remote_participants.values():
            for pub in participant.track_publications.values():
                if pub.track is not None:
                    self._subscribed(pub.track, pub, participant)

    def _subscribed(
        self, track: rtc.Track, pub: rtc.RemoteTrackPublication, _p: rtc.RemoteParticipant
    ) -> None:
        self.publications[pub.name] = pub
        reader = self._read_video(track) if track.kind == rtc.TrackKind.KIND_VIDEO else None
        coro = reader or self._read_audio(track)
        self.tasks.append(asyncio.create_task(coro, name=f"test.read-{pub.name}"))

    async def _read_video(self, track: rtc.Track) -> None:
        start = time.monotonic()
        async for event in rtc.VideoStream(track):
            self.video.append((time.monotonic() - start, event.frame.width, event.frame.height))

    async def _read_audio(self, track: rtc.Track) -> None:
        async for event in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
            self.sample_rate = event.frame.sample_rate
            self.audio.append(np.frombuffer(bytes(event.frame.data), dtype=np.int16).copy())

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


StartEdge = Callable[..., Awaitable[EdgeProcess]]


@pytest.fixture
async def media_edge(
    tmp_path: Path, livekit_server: LiveKitServer, room_name: str
) -> AsyncIterator[Callable[..., Awaitable[EdgeProcess]]]:
    """Start `edge run --simulate` with the synthetic camera and microphone."""
    procs: list[EdgeProcess] = []

    async def start(identity: str = "edge-cam", extra: str = "") -> EdgeProcess:
        config = write_config(
            tmp_path / "edge.toml",
            livekit_server,
            room_name,
            identity=identity,
            extra=MEDIA + extra,
        )
        proc = await EdgeProcess.start("run", "--config", str(config), "--simulate", cwd=tmp_path)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        await proc.kill()


@pytest.fixture
async def watch() -> AsyncIterator[Callable[[OfficialPeer], MediaWatcher]]:
    watchers: list[MediaWatcher] = []

    def make(peer: OfficialPeer) -> MediaWatcher:
        watcher = MediaWatcher(peer)
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        await watcher.aclose()


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / rate)[int(np.argmax(spectrum))])


async def call(peer: OfficialPeer, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    answer = await peer.room.local_participant.perform_rpc(
        destination_identity="edge-cam", method=method, payload=json.dumps(payload)
    )
    result: dict[str, Any] = json.loads(answer)
    return result


async def test_camera_and_microphone_reach_the_official_sdk_decoded(
    media_edge: StartEdge, official_peer: OfficialPeerFactory, watch: Callable[..., MediaWatcher]
) -> None:
    edge = await media_edge()
    viewer = await official_peer("viewer")
    media = watch(viewer)
    await viewer.wait_participant("edge-cam", timeout=30)

    await assert_eventually(
        lambda: len(media.video) >= 10,
        timeout=30,
        message=lambda: f"decoded {len(media.video)} frame(s); edge log:\n{edge.log()}",
    )
    assert {(w, h) for _, w, h in media.video} == {(WIDTH, HEIGHT)}
    camera = media.publications["camera"]
    assert camera.source == rtc.TrackSource.SOURCE_CAMERA
    assert camera.mime_type.lower() == "video/h264"
    assert (camera.width, camera.height) == (WIDTH, HEIGHT)

    await assert_eventually(
        lambda: sum(len(chunk) for chunk in media.audio) >= 48000,
        timeout=30,
        message=lambda: f"{len(media.audio)} audio frame(s); edge log:\n{edge.log()}",
    )
    assert media.publications["microphone"].source == rtc.TrackSource.SOURCE_MICROPHONE
    samples = np.concatenate(media.audio)[-48000:].astype(np.float64)
    assert np.sqrt(np.mean(samples**2)) > 1000, "the tone should be well above silence"
    assert dominant_frequency(samples, media.sample_rate) == pytest.approx(TONE_HZ, rel=0.02)


async def test_a_late_viewer_gets_a_picture_without_waiting_for_the_keyframe_interval(
    media_edge: StartEdge, official_peer: OfficialPeerFactory, watch: Callable[..., MediaWatcher]
) -> None:
    # keyframe_interval_s = 60: only a keyframe requested for the new viewer (its
    # subscription or its decoder's PLI) lets it decode anything within this test.
    edge = await media_edge()
    first = watch(await official_peer("first"))
    await assert_eventually(lambda: len(first.video) >= 30, timeout=30, message=edge.log)

    late = watch(await official_peer("late"))
    await assert_eventually(
        lambda: late.video,
        timeout=15,
        message=lambda: f"the late viewer decoded nothing; edge log:\n{edge.log()}",
    )
    assert late.video[0][1:] == (WIDTH, HEIGHT)


async def test_the_camera_plays_on_through_a_resumed_session(
    tmp_path: Path,
    livekit_server: LiveKitServer,
    room_name: str,
    official_peer: OfficialPeerFactory,
    watch: Callable[..., MediaWatcher],
) -> None:
    relay = SignalRelay.to(livekit_server.url)
    url = await relay.start()  # the daemon's signalling goes through it; its media does not
    config = write_config(
        tmp_path / "edge.toml", livekit_server, room_name, identity="edge-cam", extra=MEDIA, url=url
    )
    edge = await EdgeProcess.start("run", "--config", str(config), "--simulate", cwd=tmp_path)
    try:
        media = watch(await official_peer("viewer"))
        await assert_eventually(lambda: len(media.video) >= 10, timeout=30, message=edge.log)
        camera_sid = media.publications["camera"].sid

        relay.drop()
        await edge.wait_line("room session resumed after", timeout=20)
        decoded = len(media.video)
        # Both ICE restarts behind it, the viewer keeps decoding the same track: a second more.
        await assert_eventually(
            lambda: len(media.video) >= decoded + 15, timeout=15, message=edge.log
        )
        assert media.publications["camera"].sid == camera_sid
        assert media.unpublished == []
    finally:
        await edge.kill()
        await relay.aclose()


async def test_mute_unmute_and_snapshot_over_rpc(
    media_edge: StartEdge, official_peer: OfficialPeerFactory, watch: Callable[..., MediaWatcher]
) -> None:
    edge = await media_edge()
    viewer = await official_peer("viewer")
    media = watch(viewer)
    await assert_eventually(lambda: len(media.video) >= 5, timeout=30, message=edge.log)

    state = await call(viewer, "media.set", {"track": "camera", "muted": True})
    assert state["state"] in ("muted", "live")  # applied by the supervisor right after
    await assert_eventually(
        lambda: ("camera", True) in media.muted, message=lambda: f"{media.muted}\n{edge.log()}"
    )
    listed = await call(viewer, "media.list", {})
    tracks = {t["track"]: t for t in listed["tracks"]}
    assert tracks["camera"]["state"] == "muted"
    assert tracks["microphone"]["state"] == "live"

    frames_when_unmuted = len(media.video)
    await call(viewer, "media.set", {"track": "camera", "muted": False})
    await assert_eventually(lambda: ("camera", False) in media.muted, message=edge.log)
    await assert_eventually(lambda: len(media.video) > frames_when_unmuted + 5, message=edge.log)

    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def read(reader: rtc.ByteStreamReader) -> None:
        data = b"".join([chunk async for chunk in reader])
        received.set_result(data)

    tasks: list[asyncio.Task[None]] = []
    viewer.room.register_byte_stream_handler(
        "edge.snapshot",
        lambda reader, _who: tasks.append(asyncio.create_task(read(reader), name="test.snap")),
    )
    answer = await call(viewer, "camera.snapshot", {})
    jpeg = await asyncio.wait_for(received, 15)
    assert answer["bytes"] == len(jpeg)
    with av.open(io.BytesIO(jpeg), mode="r", format="image2pipe") as container:
        picture = next(container.decode(video=0))
    assert (picture.width, picture.height) == (WIDTH, HEIGHT)


async def test_bad_media_rpc_payloads_get_precise_errors(
    media_edge: StartEdge, official_peer: OfficialPeerFactory
) -> None:
    await media_edge()
    viewer = await official_peer("viewer")
    await viewer.wait_participant("edge-cam", timeout=30)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"track": "lamp", "muted": True}, 2201, "unknown track 'lamp'"),
        ({"track": "camera", "muted": "yes"}, 2000, "muted: expected bool"),
        ({"track": "camera"}, 2000, '"muted" and/or "enabled"'),
        ({"track": "camera", "volume": 3}, 2000, "unknown field(s): volume"),
        ({"muted": True}, 2000, "missing field(s): track"),
    ]
    for payload, code, fragment in cases:
        with pytest.raises(rtc.RpcError) as caught:
            await call(viewer, "media.set", payload)
        assert caught.value.code == code
        assert fragment in caught.value.message

    described = await call(viewer, "edge.describe", {})
    media_set = described["methods"]["media.set"]
    assert media_set["params"]["properties"]["track"]["enum"] == ["camera", "microphone"]
    assert {"camera.snapshot", "media.list", "gpio.set"} <= set(described["methods"])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


async def test_a_viewer_that_stops_reading_does_not_grow_the_daemon(
    media_edge: StartEdge, official_peer: OfficialPeerFactory
) -> None:
    # The viewer subscribes (auto-subscribe) but never reads a frame: whatever piles up must
    # pile up in the viewer or be dropped by the server, never queue in the daemon.
    edge = await media_edge()
    viewer = await official_peer("stalled")
    await viewer.wait_participant("edge-cam", timeout=30)

    async def frames_sent(at_least: int) -> int:
        listed = await call(viewer, "media.list", {})
        camera = next(t for t in listed["tracks"] if t["track"] == "camera")
        sent = int(camera.get("frames_sent", 0))
        return sent if sent >= at_least else 0

    settled: int = await assert_eventually(
        functools.partial(frames_sent, 60), timeout=30, message=edge.log
    )
    before = rss_bytes(edge.proc.pid)
    later: int = await assert_eventually(
        functools.partial(frames_sent, settled + 150), timeout=30, message=edge.log
    )
    growth = rss_bytes(edge.proc.pid) - before
    frames = later - settled
    assert growth < 16 * 2**20, f"daemon RSS grew by {growth / 2**20:.1f} MiB in {frames} frames"
