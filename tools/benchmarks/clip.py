"""The media both devices publish in scenario 6: one pre-encoded H.264 clip and a sine tone.

The clip is encoded once per bench run (libx264, Constrained Baseline, SPS/PPS on every IDR,
as a Pi's hardware encoder is configured) and stored as length-prefixed access units, so both
SDKs send exactly the same packets and neither pays for encoding.
"""

from __future__ import annotations

import fractions
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_HEADER = struct.Struct("<IB")
"""Access unit length, keyframe flag."""
SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
"""20 ms of mono audio."""
TONE_HZ = 440.0


@dataclass(frozen=True, slots=True)
class Clip:
    width: int
    height: int
    fps: int
    units: tuple[tuple[bytes, bool], ...]
    """(Annex-B access unit, keyframe) in decode order."""


def encode_clip(
    path: Path, *, width: int, height: int, fps: int, seconds: float, keyint: int, bitrate: int
) -> Path:
    """Encode a moving test pattern to `path` (skipped when it already exists)."""
    if path.exists():
        return path
    import av

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = fractions.Fraction(1, fps)
    codec.framerate = fractions.Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.options = {
        "profile": "baseline",
        "preset": "veryfast",
        "tune": "zerolatency",
        "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:repeat-headers=1",
    }
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for index in range(int(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            luma = bytes((x * 2 + index * 4) % 256 for x in range(width))
            frame.planes[0].update(luma * height)
            frame.planes[1].update(bytes([(index * 3) % 256]) * frame.planes[1].buffer_size)
            frame.planes[2].update(bytes([128]) * frame.planes[2].buffer_size)
            frame.pts = index
            for packet in codec.encode(frame):
                _write(out, bytes(packet), bool(packet.is_keyframe))
        for packet in codec.encode(None):
            _write(out, bytes(packet), bool(packet.is_keyframe))
    tmp.rename(path)
    return path


def load_clip(path: Path, *, width: int, height: int, fps: int) -> Clip:
    data = path.read_bytes()
    units = []
    offset = 0
    while offset < len(data):
        size, key = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        units.append((data[offset : offset + size], bool(key)))
        offset += size
    return Clip(width=width, height=height, fps=fps, units=tuple(units))


def tone_frames() -> Iterator[bytes]:
    """Endless 20 ms frames of a 440 Hz tone, s16 mono (one second, repeated: 440 whole cycles)."""
    step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
    second = struct.pack(
        f"<{SAMPLE_RATE}h", *(int(8000 * math.sin(step * n)) for n in range(SAMPLE_RATE))
    )
    size = FRAME_SAMPLES * 2
    while True:
        for offset in range(0, len(second), size):
            yield second[offset : offset + size]


def _write(out: BinaryIO, unit: bytes, key: bool) -> None:
    out.write(_HEADER.pack(len(unit), int(key)))
    out.write(unit)
