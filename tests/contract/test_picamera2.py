"""CameraSource against real picamera2 releases and real PyAV (see `picamera2_rig`).

Every test runs once per release in `tools/picamera2-versions.txt`.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
from collections.abc import Iterator
from typing import Any

import av
import pytest

from edge.errors import DeviceUnavailable, MediaError
from edge.media.camera import CameraSource
from edge.media.frames import EncodedFrame, SourceState
from edge.media.picamera import Picamera2Api, load_picamera2, yuv420_jpeg
from edge.media.spec import CameraConfig, CameraKind, EncoderKind
from tests.contract.picamera2_rig import CameraDouble, Library, loaded, versions

CONFIG = CameraConfig(
    source=CameraKind.PICAMERA2,
    encoder=EncoderKind.SOFTWARE,
    width=320,
    height=240,
    framerate=30.0,
    bitrate=300_000,
    keyframe_interval_s=60.0,  # no periodic IDR gets in the way of the ones asked for
)
HARDWARE = dataclasses.replace(CONFIG, encoder=EncoderKind.HARDWARE)


@pytest.fixture(params=versions())
def lib(request: pytest.FixtureRequest) -> Iterator[Library]:
    with loaded(request.param) as library:
        yield library


@dataclasses.dataclass
class Rig:
    lib: Library
    api: Picamera2Api
    cameras: list[CameraDouble]


@pytest.fixture
def rig(lib: Library) -> Iterator[Rig]:
    """Our loader over the real picamera2, with the camera's libcamera side doubled."""
    api = load_picamera2()
    cameras: list[CameraDouble] = []

    def open_camera(number: int = 0) -> CameraDouble:
        camera = CameraDouble(lib, number)
        cameras.append(camera)
        return camera

    yield Rig(lib, dataclasses.replace(api, picamera2=open_camera), cameras)
    for camera in cameras:
        camera.unhang.set()


def needs_libav(rig: Rig) -> None:
    if rig.lib.version < (0, 3, 13):
        pytest.skip("picamera2 before 0.3.13 has no software encoder (tested below)")


async def frames(source: CameraSource, count: int) -> list[EncodedFrame]:
    return [await source.next_frame() for _ in range(count)]


def decodes(got: list[EncodedFrame]) -> int:
    codec = av.CodecContext.create("h264", "r")
    return sum(len(codec.decode(av.Packet(frame.data))) for frame in got)


def test_the_version_is_read_from_the_installed_package(rig: Rig) -> None:
    features = rig.api.features
    assert features.version == rig.lib.version
    assert features.profile is (rig.lib.version >= (0, 3, 17))
    assert features.numeric_wait is (rig.lib.version >= (0, 3, 20))
    assert features.yuv420_jpeg is (rig.lib.version >= (0, 3, 26))
    assert (rig.api.libav_h264_encoder is None) is (rig.lib.version < (0, 3, 13))


async def test_a_keyframe_request_makes_an_idr_and_the_camera_thread_survives(rig: Rig) -> None:
    """Issue 17 (1): picamera2 >= 0.3.32 sets pict_type "I", which PyAV >= 14 rejects."""
    needs_libav(rig)
    source = CameraSource(CONFIG, api=lambda: rig.api, stall_timeout_s=2.0, stop_timeout_s=2.0)
    await source.start()
    try:
        first = await frames(source, 3)
        assert first[0].keyframe
        assert not any(f.keyframe for f in first[1:])
        source.request_keyframe()
        try:
            got = await frames(source, 5)
        except DeviceUnavailable:
            pytest.fail(f"the camera thread died: {rig.cameras[0].thread_error!r}")
        assert any(f.keyframe for f in got)
        assert source.keyframes_forced == 1
        assert decodes(first + got) == 8
        assert rig.cameras[0].thread_error is None
    finally:
        await source.aclose()
    assert not rig.cameras[0].hung


async def test_stop_and_start_again_records_from_a_fresh_idr(rig: Rig) -> None:
    needs_libav(rig)
    source = CameraSource(CONFIG, api=lambda: rig.api, stop_timeout_s=5.0)
    for _ in range(2):
        await source.start()
        try:
            got = await frames(source, 4)
        finally:
            await source.aclose()
        assert got[0].keyframe
        assert decodes(got) == 4
        assert source.state is SourceState.STOPPED
    assert [camera.started for camera in rig.cameras] == [False, False]
    assert [camera._encoders for camera in rig.cameras] == [set(), set()]


async def test_a_snapshot_is_a_jpeg_of_the_configured_size(rig: Rig) -> None:
    """Issue 17 (6): JPEG from a YUV420 stream needs 0.3.26, a numeric wait 0.3.20."""
    needs_libav(rig)
    source = CameraSource(CONFIG, api=lambda: rig.api, stop_timeout_s=5.0)
    await source.start()
    try:
        await source.next_frame()
        jpeg = await source.snapshot_jpeg()
        await frames(source, 2)  # recording went on
    finally:
        await source.aclose()
    with av.open(io.BytesIO(jpeg), "r") as container:
        picture = next(container.decode(video=0))
    assert (picture.width, picture.height) == (320, 240)


async def test_an_error_on_the_camera_thread_fails_the_source_and_close_still_returns(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    needs_libav(rig)
    source = CameraSource(CONFIG, api=lambda: rig.api, stall_timeout_s=0.5, stop_timeout_s=0.5)
    await source.start()
    camera = rig.cameras[0]
    try:
        await frames(source, 2)
        camera.fail_with = KeyError("SensorTimestamp")  # a request without its metadata
        with pytest.raises(DeviceUnavailable, match="no frame"):
            await frames(source, 100)
        assert isinstance(camera.thread_error, KeyError)
    finally:
        with caplog.at_level(logging.ERROR, logger="edge.media.camera"):
            await source.aclose()
    assert camera.stop_waited.is_set()  # picamera2's stop() was left waiting, not us
    assert "did not return within 0.5 s" in caplog.text
    assert source.state is SourceState.STOPPED


async def test_without_a_hardware_encoder_the_error_says_to_use_software(rig: Rig) -> None:
    """Issue 17 (6): `profile=` needs 0.3.17, and 0.3.12 has no LibavH264Encoder to import."""
    source = CameraSource(HARDWARE, api=lambda: rig.api)
    with pytest.raises(MediaError, match=r'set camera\.encoder = "software"'):
        await source.start()
    assert source.state is SourceState.FAILED


async def test_the_software_encoder_on_a_picamera2_without_one_is_refused_clearly(
    rig: Rig,
) -> None:
    if rig.lib.version >= (0, 3, 13):
        pytest.skip("this picamera2 has the software encoder")
    source = CameraSource(CONFIG, api=lambda: rig.api)
    with pytest.raises(MediaError, match=r"needs picamera2 0\.3\.13 or later \(found 0\.3\.12\)"):
        await source.start()
    assert rig.cameras[0].started is False


def test_a_keyframe_request_to_the_v4l2_encoder_uses_picamera2s_own_bindings(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 17 (2): picamera2 <= 0.3.28 has `v4l2`, not `videodev2`; nothing may escape."""
    source = CameraSource(HARDWARE, api=lambda: rig.api)
    from edge.media.camera import make_encoder

    encoder: Any = make_encoder(rig.api, HARDWARE)
    fd = os.open(os.devnull, os.O_RDWR)  # no /dev/video11 here: the ioctl reaches a non-V4L2 fd
    try:
        encoder.vd = fd
        source._encoder = encoder  # as while recording
        source.state = SourceState.RUNNING
        with caplog.at_level(logging.WARNING, logger="edge.media.camera"):
            source.request_keyframe()  # aiortc's PLI hook calls this; it must not raise
            source.request_keyframe()
    finally:
        os.close(fd)
        source._encoder = None
    if rig.lib.version >= (0, 3, 32):  # picamera2 sets the control at its next frame
        assert encoder._key_frames_requested == 1
        assert source._keyframe_error == ""
    else:  # ours: the control reached the ioctl, through the bindings picamera2 imported
        assert "Inappropriate ioctl" in source._keyframe_error
        assert caplog.text.count("forcing a keyframe failed") == 1


def test_picamera2_makes_jpegs_of_yuv420_from_0_3_26_and_ours_works_on_all(rig: Rig) -> None:
    camera = CameraDouble(rig.lib)
    rig.cameras.append(camera)
    camera.configure(
        camera.create_video_configuration(main={"size": (320, 240), "format": "YUV420"})
    )
    camera.start()
    try:
        array = camera.capture_array("main", wait=True)
        jpeg = yuv420_jpeg(array, 320, 240)
        buffer = io.BytesIO()
        if rig.lib.version >= (0, 3, 26):
            camera.capture_file(buffer, format="jpeg", wait=True)
            assert buffer.getvalue()[:2] == b"\xff\xd8"
        else:
            with pytest.raises(RuntimeError, match="YUV420 not supported"):
                camera.capture_file(buffer, format="jpeg", wait=True)
    finally:
        camera.close()
    with av.open(io.BytesIO(jpeg), "r") as container:
        picture = next(container.decode(video=0))
    assert (picture.width, picture.height) == (320, 240)
