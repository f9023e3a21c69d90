"""CameraSource over the picamera2 twin: the passthrough stream, keyframes, snapshot, failures."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import io
import itertools
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest

from edge.errors import DeviceUnavailable, MediaError
from edge.media.camera import CameraSource, make_output
from edge.media.frames import NAL_IDR, NAL_PPS, NAL_SPS, EncodedFrame, SourceState, nal_units
from edge.media.picamera import Picamera2Features
from edge.media.spec import CameraConfig, CameraKind, EncoderKind
from edge.media.synthetic import Output, SyntheticCameraSystem
from tests.clock import Clock
from tests.helpers import assert_eventually

CONFIG = CameraConfig(
    source=CameraKind.SYNTHETIC,
    encoder=EncoderKind.SOFTWARE,
    width=320,
    height=240,
    framerate=30.0,
    bitrate=300_000,
    keyframe_interval_s=60.0,  # no periodic IDR gets in the way of the ones we ask for
)
PROFILE_BASELINE = 66
CONSTRAINT_SET1 = 0x40


@pytest.fixture
def cameras() -> SyntheticCameraSystem:
    return SyntheticCameraSystem()


@pytest.fixture
def clock() -> Clock:
    return Clock(0.0)


@pytest.fixture
async def camera(cameras: SyntheticCameraSystem, clock: Clock) -> AsyncIterator[CameraSource]:
    source = CameraSource(CONFIG, api=cameras.api, clock=clock, stall_timeout_s=1.0)
    await source.start()
    try:
        yield source
    finally:
        await source.aclose()


async def frames(source: CameraSource, count: int) -> list[EncodedFrame]:
    return [await source.next_frame() for _ in range(count)]


def nal_types(frame: EncodedFrame) -> list[int]:
    return [unit[0] & 0x1F for unit in nal_units(frame.data)]


def decode(frames: list[EncodedFrame]) -> list[av.VideoFrame]:
    codec = av.CodecContext.create("h264", "r")
    pictures = []
    for frame in frames:
        pictures += codec.decode(av.Packet(frame.data))
    return pictures


async def test_frames_decode_at_the_configured_size_from_the_first_one(
    camera: CameraSource,
) -> None:
    got = await frames(camera, 10)
    assert got[0].keyframe
    assert nal_types(got[0])[:2] == [NAL_SPS, NAL_PPS]
    pictures = decode(got)
    assert len(pictures) == 10
    assert {(p.width, p.height) for p in pictures} == {(320, 240)}
    assert (camera.width, camera.height, camera.framerate, camera.bitrate) == (
        320,
        240,
        30.0,
        300_000,
    )
    assert camera.state is SourceState.RUNNING


async def test_timestamps_are_monotonic_microseconds_at_the_frame_rate(
    camera: CameraSource,
) -> None:
    got = await frames(camera, 16)
    steps = [b.timestamp_us - a.timestamp_us for a, b in itertools.pairwise(got)]
    assert all(step > 0 for step in steps)
    mean = sum(steps) / len(steps)
    assert 25_000 < mean < 100_000  # 33 333 µs at 30 fps, more if a busy machine skips frames


async def test_the_stream_is_constrained_baseline_with_sps_pps_before_every_idr(
    cameras: SyntheticCameraSystem,
) -> None:
    config = dataclasses.replace(CONFIG, keyframe_interval_s=0.2)  # an IDR every 6 frames
    source = CameraSource(config, api=cameras.api)
    await source.start()
    try:
        got = await frames(source, 20)
    finally:
        await source.aclose()
    keyframes = [i for i, f in enumerate(got) if f.keyframe]
    assert keyframes == [0, 6, 12, 18]
    for frame in got:
        types = nal_types(frame)
        if frame.keyframe:
            assert types[:2] == [NAL_SPS, NAL_PPS]
            assert NAL_IDR in types
            sps = next(u for u in nal_units(frame.data) if u[0] & 0x1F == NAL_SPS)
            assert sps[1] == PROFILE_BASELINE
            assert sps[2] & CONSTRAINT_SET1  # constrained baseline: what 42e01f promises
        else:
            assert NAL_IDR not in types
            assert NAL_SPS not in types
    assert len(decode(got)) == 20


async def test_a_keyframe_request_makes_an_idr_within_a_few_frames(camera: CameraSource) -> None:
    await frames(camera, 3)
    camera.request_keyframe()
    got = await frames(camera, 5)
    assert any(f.keyframe for f in got)
    assert camera.keyframes_forced == 1


async def test_keyframe_requests_are_rate_limited_and_a_late_one_is_kept(
    camera: CameraSource, clock: Clock
) -> None:
    await frames(camera, 2)
    camera.request_keyframe()
    got = await frames(camera, 5)
    assert sum(f.keyframe for f in got) == 1
    clock.now = 0.1
    for _ in range(5):
        camera.request_keyframe()  # a burst of PLIs inside the interval
    got = await frames(camera, 6)
    assert not any(f.keyframe for f in got)
    assert camera.keyframes_forced == 1
    clock.now = 0.6  # interval over: the remembered request fires at the next frame
    got = await frames(camera, 6)
    assert sum(f.keyframe for f in got) == 1
    assert camera.keyframes_forced == 2


async def test_a_stopped_consumer_costs_dropped_frames_not_memory(
    cameras: SyntheticCameraSystem,
) -> None:
    camera = CameraSource(CONFIG, api=cameras.api)
    await camera.start()
    try:
        await frames(camera, 1)
        await assert_eventually(lambda: camera.dropped >= 5, timeout=10)
        assert camera.keyframes_forced >= 1  # the overflow asked the encoder for a fresh IDR
        got = await frames(camera, 30)
    finally:
        await camera.aclose()
    first_after_gap = next(i for i, f in enumerate(got) if f.keyframe)
    assert len(decode(got[first_after_gap:])) == 30 - first_after_gap


async def test_snapshot_is_a_jpeg_of_the_configured_size_while_recording(
    camera: CameraSource,
) -> None:
    first = await camera.next_frame()
    jpeg = await camera.snapshot_jpeg()
    assert jpeg[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(jpeg), "r") as container:
        picture = next(container.decode(video=0))
    assert (picture.width, picture.height) == (320, 240)
    got = [await camera.next_frame() for _ in range(2)]  # recording went on
    assert len(decode([first, *got])) == 3


async def test_a_snapshot_of_a_camera_that_stopped_delivering_times_out(
    cameras: SyntheticCameraSystem,
) -> None:
    source = CameraSource(CONFIG, api=cameras.api, snapshot_timeout_s=0.2)
    await source.start()
    try:
        cameras.unplug()
        with pytest.raises(MediaError, match=r"no picture within 0\.2 s"):
            await source.snapshot_jpeg()
    finally:
        await source.aclose()


async def test_an_unplugged_camera_raises_device_unavailable(
    cameras: SyntheticCameraSystem,
) -> None:
    source = CameraSource(CONFIG, api=cameras.api, stall_timeout_s=0.3)
    await source.start()
    try:
        await frames(source, 2)
        cameras.unplug()
        with pytest.raises(DeviceUnavailable, match=r"no frame for 0\.3 s"):
            await frames(source, 100)
        assert source.state is SourceState.FAILED
        assert "unplugged" in source.last_error
        with pytest.raises(DeviceUnavailable):
            await source.next_frame()
    finally:
        await source.aclose()
    assert cameras.opened == []
    with pytest.raises(DeviceUnavailable, match="no camera number 0"):
        await CameraSource(CONFIG, api=cameras.api).start()
    cameras.plug_in()
    again = CameraSource(CONFIG, api=cameras.api)
    await again.start()
    try:
        assert (await again.next_frame()).keyframe
    finally:
        await again.aclose()


async def test_no_camera_and_a_busy_camera_are_device_unavailable(
    cameras: SyntheticCameraSystem, camera: CameraSource
) -> None:
    busy = CameraSource(CONFIG, api=cameras.api)
    with pytest.raises(DeviceUnavailable, match=r"camera 0 is busy or failed to open: .*busy"):
        await busy.start()
    assert (busy.state, "busy" in busy.last_error) == (SourceState.FAILED, True)
    second = CameraSource(dataclasses.replace(CONFIG, device="1"), api=cameras.api)
    with pytest.raises(DeviceUnavailable, match="no camera number 1"):
        await second.start()
    assert (await camera.next_frame()).data  # the first one is unaffected


async def test_a_size_the_camera_cannot_deliver_is_a_clear_media_error(
    cameras: SyntheticCameraSystem,
) -> None:
    source = CameraSource(dataclasses.replace(CONFIG, width=4096, height=2160), api=cameras.api)
    with pytest.raises(MediaError, match=r"cannot deliver 4096x2160 \(it offers 3840x2160\)"):
        await source.start()
    assert cameras.opened == []  # released


async def test_a_missing_hardware_encoder_says_to_use_software(
    cameras: SyntheticCameraSystem,
) -> None:
    class NoVideo11:
        def __init__(self, **_: Any) -> None:
            self.framerate = None

        def start(self, quality: Any = None) -> None:
            raise FileNotFoundError(2, "No such file or directory", "/dev/video11")

        output: Any = None

    api = dataclasses.replace(cameras.api(), h264_encoder=NoVideo11)
    config = dataclasses.replace(CONFIG, encoder=EncoderKind.HARDWARE)
    source = CameraSource(config, api=lambda: api)
    with pytest.raises(MediaError, match=r'set camera\.encoder = "software"'):
        await source.start()
    assert cameras.opened == []


async def test_closed_camera_raises_media_error_and_aclose_is_idempotent(
    cameras: SyntheticCameraSystem,
) -> None:
    source = CameraSource(CONFIG, api=cameras.api)
    with pytest.raises(MediaError, match="not started"):
        await source.next_frame()
    await source.start()
    await source.aclose()
    await source.aclose()
    assert source.state is SourceState.STOPPED
    assert cameras.opened == []
    with pytest.raises(MediaError, match="closed"):
        await source.next_frame()
    with pytest.raises(MediaError, match="stopped"):
        await source.snapshot_jpeg()


async def test_a_cancelled_start_leaves_no_camera_open(cameras: SyntheticCameraSystem) -> None:
    source = CameraSource(CONFIG, api=cameras.api)
    starting = asyncio.create_task(source.start(), name="test.start")
    await asyncio.sleep(0)  # let it enter the worker thread
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert cameras.opened == []
    assert source.state is SourceState.STOPPED


async def test_without_picamera2_the_error_says_how_to_install_it() -> None:
    if importlib.util.find_spec("picamera2") is not None:
        pytest.skip("picamera2 is installed here")
    with pytest.raises(MediaError, match="python3-picamera2"):
        await CameraSource(CameraConfig()).start()


def test_the_output_forwards_video_and_ignores_audio() -> None:
    seen: list[tuple[bytes, bool, int | None]] = []
    output = make_output(Output, lambda *args: seen.append(args))
    assert isinstance(output, Output)
    output.outputframe(b"\x00\x00\x00\x01\x65", True, 10)
    output.outputframe(None, True, 20, object(), True)  # picamera2's audio path
    output.outputframe(memoryview(b"\x00\x00\x01\x41"), keyframe=False, timestamp=30)
    assert seen == [(b"\x00\x00\x00\x01\x65", True, 10), (b"\x00\x00\x01\x41", False, 30)]


OLD_PICAMERA2 = Picamera2Features(
    version=(0, 3, 14), profile=False, numeric_wait=False, yuv420_jpeg=False
)
"""What picamera2 0.3.14 can do: no profile=, no numeric wait, no JPEG from YUV420."""


async def test_an_old_picamera2_snapshots_through_an_array_encoded_by_us(
    cameras: SyntheticCameraSystem, caplog: pytest.LogCaptureFixture
) -> None:
    api = dataclasses.replace(cameras.api(), features=OLD_PICAMERA2)
    source = CameraSource(CONFIG, api=lambda: api)
    await source.start()
    try:
        await source.next_frame()
        jpeg = await source.snapshot_jpeg()
    finally:
        await source.aclose()
    with av.open(io.BytesIO(jpeg), "r") as container:
        picture = next(container.decode(video=0))
    assert (picture.width, picture.height) == (320, 240)
    assert "cannot choose the H.264 profile (needs 0.3.17)" in caplog.text


async def test_an_old_picamera2_snapshot_of_a_hung_camera_still_times_out(
    cameras: SyntheticCameraSystem,
) -> None:
    api = dataclasses.replace(cameras.api(), features=OLD_PICAMERA2)
    source = CameraSource(CONFIG, api=lambda: api, snapshot_timeout_s=0.2)
    await source.start()
    try:
        cameras.unplug()
        with pytest.raises(MediaError, match=r"no picture within 0\.2 s"):
            await source.snapshot_jpeg()
    finally:
        await source.aclose()
