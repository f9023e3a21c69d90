"""`camera.clip`: the synthetic camera replays pre-encoded H.264 where PyAV has no libx264."""

from __future__ import annotations

import fractions
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from edge.media.camera import CameraSource
from edge.media.clip import load_clip
from edge.media.frames import EncodedFrame
from edge.media.spec import CameraConfig, CameraKind, EncoderKind
from edge.media.synthetic import SyntheticCameraSystem

WIDTH, HEIGHT, KEYINT, FRAMES = 160, 120, 5, 12
CONFIG = CameraConfig(
    source=CameraKind.SYNTHETIC,
    encoder=EncoderKind.SOFTWARE,
    width=WIDTH,
    height=HEIGHT,
    framerate=30.0,
    bitrate=100_000,
    keyframe_interval_s=60.0,
)


def write_clip(path: Path) -> Path:
    """FRAMES pictures, an IDR every KEYINT, SPS/PPS on each: as the camera's encoder writes."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"keyint={KEYINT}:scenecut=0:bframes=0:repeat-headers=1",
    }
    with path.open("wb") as out:
        for index in range(FRAMES):
            frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(index * 20) % 256]) * plane.buffer_size)
            frame.pts = index
            for packet in [*codec.encode(frame), *([] if index < FRAMES - 1 else codec.encode())]:
                out.write(bytes(packet))
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "clip.h264")


@pytest.fixture
async def camera(clip: Path) -> AsyncIterator[CameraSource]:
    cameras = SyntheticCameraSystem(clip=str(clip))
    source = CameraSource(CONFIG, api=cameras.api, stall_timeout_s=5.0)
    await source.start()
    try:
        yield source
    finally:
        await source.aclose()


async def frames(source: CameraSource, count: int) -> list[EncodedFrame]:
    return [await source.next_frame() for _ in range(count)]


def test_the_clip_loads_as_access_units_with_its_idrs(clip: Path) -> None:
    units = load_clip(str(clip))
    assert len(units) == FRAMES
    assert [i for i, (_, key) in enumerate(units) if key] == [0, 5, 10]


async def test_the_camera_sends_the_clip_unit_by_unit_and_loops(
    camera: CameraSource, clip: Path
) -> None:
    units = load_clip(str(clip))
    got = await frames(camera, FRAMES + 3)
    assert [f.data for f in got] == [data for data, _ in units] + [d for d, _ in units[:3]]
    assert [f.keyframe for f in got[:FRAMES]] == [key for _, key in units]
    stamps = [f.timestamp_us for f in got]
    assert stamps == sorted(stamps)
    codec = av.CodecContext.create("h264", "r")
    pictures = [p for f in got for p in codec.decode(av.Packet(f.data))]
    assert {(p.width, p.height) for p in pictures} == {(WIDTH, HEIGHT)}


async def test_a_keyframe_request_jumps_to_the_clips_next_idr(camera: CameraSource) -> None:
    await frames(camera, 2)  # units 0 (IDR) and 1
    camera.request_keyframe()
    got = await frames(camera, 3)
    assert any(f.keyframe for f in got)
    assert camera.keyframes_forced == 1


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"", "no H.264 access units"), (b"\x00" * 64 + b"not video" * 100, "clip")],
)
def test_a_file_that_is_no_h264_clip_is_a_clear_error(
    tmp_path: Path, content: bytes, error: str
) -> None:
    path = tmp_path / "bad.h264"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=error):
        load_clip(str(path))
    with pytest.raises(FileNotFoundError):
        load_clip(str(tmp_path / "absent.h264"))


def test_clip_is_for_the_synthetic_camera_only() -> None:
    base = {"livekit": {"url": "ws://x", "room": "r", "identity": "e", "token": "t"}}
    synthetic = parse_config({**base, "camera": {"source": "synthetic", "clip": "/c.h264"}})
    assert synthetic.camera is not None
    assert synthetic.camera.clip == "/c.h264"
    with pytest.raises(ConfigError, match=r"camera\.clip.*synthetic"):
        parse_config({**base, "camera": {"source": "v4l2", "clip": "/c.h264"}})
