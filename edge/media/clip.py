"""A pre-encoded H.264 clip in place of libx264, for the synthetic camera (`camera.clip`).

The synthetic camera encodes its test pattern with libx264 through PyAV. PyPI's armv7l PyAV
wheel has no libx264 (only FFmpeg's decoders, libvpx and the V4L2 hardware encoder), so on a
32-bit board `--simulate` had no camera. With `clip` set, the encoder twin's codec stream is a
`ClipStream`: every picture the synthetic sensor produces is answered with the clip's next
access unit (looping), and a picture marked as an I picture (a keyframe request) jumps to the
clip's next IDR. Everything past the encoder — CameraSource, the track, aiortc — is unchanged.

The clip is a raw H.264 (Annex B) elementary stream, Constrained Baseline with SPS/PPS on every
IDR, as the camera's own encoder writes it, e.g.
`ffmpeg -f lavfi -i testsrc=size=320x240:rate=15 -t 4 -c:v libx264 -profile:v baseline
-x264-params keyint=15:repeat-headers=1 clip.h264`. Its picture size should match the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

MAX_CLIP_BYTES = 16 * 1024 * 1024
"""A clip is held in memory whole; a bigger file is refused."""


@dataclass(frozen=True, slots=True)
class ClipPacket:
    """What an encoder stream's `encode()` yields, as far as the encoder twin reads it."""

    data: bytes
    is_keyframe: bool
    pts: int | None

    def __bytes__(self) -> bytes:
        return self.data


def load_clip(path: str) -> tuple[tuple[bytes, bool], ...]:
    """The clip's access units in decode order: (Annex B bytes, is IDR).

    ValueError for a file that is too big, holds no H.264 or does not start with an IDR.
    """
    size = Path(path).stat().st_size  # FileNotFoundError names the path
    if size > MAX_CLIP_BYTES:
        raise ValueError(f"camera.clip {path}: {size} bytes, more than {MAX_CLIP_BYTES}")
    try:
        with av.open(path, format="h264") as container:
            units = tuple(
                (bytes(packet), bool(packet.is_keyframe))
                for packet in container.demux(video=0)
                if packet.size
            )
    except av.FFmpegError as exc:
        raise ValueError(f"camera.clip {path}: not an H.264 stream ({exc})") from exc
    if not units or not units[0][1]:
        raise ValueError(f"camera.clip {path}: no H.264 access units starting with an IDR")
    return units


class ClipStream:
    """An encoder stream whose `encode(picture)` hands out the clip's next access unit."""

    def __init__(self, units: tuple[tuple[bytes, bool], ...]) -> None:
        self._units = units
        self._next = 0
        self.keyframes_forced = 0

    def encode(self, frame: Any = None) -> list[ClipPacket]:
        """One access unit per picture; none for the end-of-stream flush (`None`)."""
        if frame is None:
            return []
        if _is_i_picture(frame) and not self._units[self._next][1]:
            self.keyframes_forced += 1
            self._next = next(
                (i for i in range(self._next, len(self._units)) if self._units[i][1]), 0
            )
        data, key = self._units[self._next]
        self._next = (self._next + 1) % len(self._units)
        return [ClipPacket(data, key, frame.pts)]


def _is_i_picture(frame: Any) -> bool:
    """A keyframe request marks the picture: PyAV's enum, or picamera2's "I" (older PyAV)."""
    kind = getattr(frame, "pict_type", None)
    return kind == "I" or kind == av.video.frame.PictureType.I
