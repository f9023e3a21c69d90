"""The factories: `--simulate` twins, USB/V4L2 cameras through PyAV, and import weight."""

from __future__ import annotations

import dataclasses
import fractions
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from edge.errors import DeviceUnavailable
from edge.media.camera import CameraSource
from edge.media.frames import EncodedFrame, SourceState, nal_types
from edge.media.microphone import MicrophoneSource
from edge.media.sources import open_audio_source, open_video_source
from edge.media.spec import (
    SYNTHETIC_CAMERA,
    CameraConfig,
    CameraKind,
    EncoderKind,
    MicrophoneConfig,
)
from edge.media.synthetic import SyntheticCameraSystem
from edge.media.synthetic_audio import SyntheticAudioSystem
from edge.media.v4l2 import v4l2_api


def decoded_sizes(frames: list[EncodedFrame]) -> set[tuple[int, int]]:
    codec = av.CodecContext.create("h264", "r")
    pictures = [p for f in frames for p in codec.decode(av.Packet(f.data))]
    assert len(pictures) == len(frames)
    return {(p.width, p.height) for p in pictures}


async def test_simulate_swaps_in_the_test_pattern_for_a_pi_camera() -> None:
    config = CameraConfig(width=320, height=180, framerate=30.0, device="0")  # a Pi's config
    cameras = SyntheticCameraSystem()
    source = open_video_source(config, simulate=True, cameras=cameras)
    assert isinstance(source, CameraSource)
    await source.start()
    try:
        frames = [await source.next_frame() for _ in range(5)]
        assert len(cameras.opened) == 1
    finally:
        await source.aclose()
    assert frames[0].keyframe
    assert decoded_sizes(frames) == {(320, 180)}


async def test_a_synthetic_camera_needs_no_simulate_flag() -> None:
    source = open_video_source(SYNTHETIC_CAMERA, simulate=False)
    await source.start()
    try:
        frame = await source.next_frame()
    finally:
        await source.aclose()
    assert frame.keyframe
    assert decoded_sizes([frame]) == {(640, 360)}


async def test_simulate_gives_the_configured_tone() -> None:
    source = open_audio_source(MicrophoneConfig(tone_hz=660.0), simulate=True)
    assert isinstance(source, MicrophoneSource)
    await source.start()
    try:
        frames = [await source.next_frame() for _ in range(50)]
    finally:
        await source.aclose()
    samples = np.frombuffer(b"".join(f.data for f in frames), dtype="<i2").astype(np.float64)
    peak = np.fft.rfftfreq(len(samples), 1 / 48_000)[np.argmax(np.abs(np.fft.rfft(samples)))]
    assert peak == pytest.approx(660.0, rel=0.02)


async def test_a_test_owned_sound_system_can_be_unplugged() -> None:
    cards = SyntheticAudioSystem()
    cards.unplug()
    source = open_audio_source(MicrophoneConfig(), simulate=True, sound_cards=cards)
    with pytest.raises(DeviceUnavailable, match="no default audio input device"):
        await source.start()


def write_clip(path: Path, *, frames: int, size: tuple[int, int] = (352, 288)) -> None:
    """A short MPEG-4 clip standing in for what a USB camera would deliver."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame(size[0], size[1], "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 8 % 256]) * plane.buffer_size)
            frame.pts = index
            frame.time_base = fractions.Fraction(1, 30)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


V4L2 = CameraConfig(
    source=CameraKind.V4L2,
    encoder=EncoderKind.SOFTWARE,
    width=320,
    height=240,
    framerate=30.0,
    bitrate=300_000,
)


async def test_a_v4l2_input_is_scaled_encoded_and_passed_through(tmp_path: Path) -> None:
    clip = tmp_path / "usb-camera.mkv"
    write_clip(clip, frames=12)
    config = dataclasses.replace(V4L2, device=str(clip))
    source = CameraSource(config, api=lambda: v4l2_api(str(clip), config), stall_timeout_s=0.5)
    await source.start()
    try:
        frames = [await source.next_frame() for _ in range(12)]
        assert decoded_sizes(frames) == {(320, 240)}  # 352x288 from the "device", scaled
        assert frames[0].keyframe
        assert nal_types(frames[0].data)[:2] == [7, 8]
        # the clip ends like an unplugged camera: no more frames
        with pytest.raises(DeviceUnavailable, match="no frame"):
            await source.next_frame()
        assert source.state is SourceState.FAILED
    finally:
        await source.aclose()


async def test_a_missing_v4l2_device_is_device_unavailable(tmp_path: Path) -> None:
    config = dataclasses.replace(V4L2, device=str(tmp_path / "video9"))
    source = open_video_source(config, simulate=False)
    with pytest.raises(DeviceUnavailable, match=r"no video device .*video9"):
        await source.start()


@pytest.mark.parametrize(
    "modules",
    ["edge.media, edge.media.spec, edge.media.frames, edge.media.bridge, edge.media.sources"],
)
def test_importing_the_media_core_loads_no_capture_library(modules: str) -> None:
    heavy = ("av", "picamera2", "pyaudio", "numpy", "aiortc")
    code = (
        f"import sys, {modules}\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
