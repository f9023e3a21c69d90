"""A twin of picamera2, cut at its library boundary, for `--simulate`, CI and benches.

Camera: `SyntheticCameraSystem.api()` gives `CameraSource` a `Picamera2`-shaped camera whose
sensor thread paints a moving test pattern at the configured frame rate, encoded with libx264
by the software path of `edge.media.software` (or replayed from a clip, `edge.media.clip`).
So `CameraSource` runs unchanged and the packets are shaped like the hardware encoder's.

The camera can be unplugged at run time (`unplug()`) or be missing to begin with. The pyaudio
twin is in `synthetic_audio`.
"""

from __future__ import annotations

import av

from edge.media.picamera import Picamera2Api
from edge.media.software import Output, SoftwareCamera, SoftwareCameraSystem
from edge.media.x264 import LibavH264Encoder, SoftwareH264Encoder

__all__ = ["Output", "SyntheticCameraSystem", "SyntheticPicamera2", "pattern_picture"]


class SyntheticCameraSystem(SoftwareCameraSystem):
    """The simulated camera connector: how many cameras are attached and which are open."""

    def __init__(self, *, cameras: int = 1, clip: str = "") -> None:
        super().__init__(cameras=cameras)
        self.clip = clip
        """A pre-encoded H.264 file replayed instead of running libx264 (edge.media.clip)."""
        self._encoders: tuple[type[SoftwareH264Encoder], type[SoftwareH264Encoder]] = (
            SoftwareH264Encoder,
            LibavH264Encoder,
        )
        if clip:
            self._encoders = (
                type("ClipH264Encoder", (SoftwareH264Encoder,), {"clip": clip}),
                type("ClipLibavH264Encoder", (LibavH264Encoder,), {"clip": clip}),
            )

    def api(self) -> Picamera2Api:
        """picamera2's names, bound to this system; both encoder kinds are the libx264 twin."""
        h264_encoder, libav_h264_encoder = self._encoders
        return Picamera2Api(
            picamera2=self.open_camera,
            h264_encoder=h264_encoder,
            libav_h264_encoder=libav_h264_encoder,
            output=Output,
        )

    def unplug(self) -> None:
        """The cable comes out: open cameras stop delivering, new opens find nothing."""
        with self._lock:
            self.cameras = 0
            cameras = list(self.opened)
        for camera in cameras:
            camera.vanish()

    def plug_in(self, cameras: int = 1) -> None:
        """A camera is attached again (open handles stay dead, as with libcamera)."""
        with self._lock:
            self.cameras = cameras

    def _make_camera(self, camera_num: int) -> SoftwareCamera:
        return SyntheticPicamera2(self, camera_num)


class SyntheticPicamera2(SoftwareCamera):
    """A camera whose sensor paints a moving test pattern."""

    def _next_picture(self, index: int) -> av.VideoFrame | None:
        """The sensor's next picture; None once the device is gone."""
        width, height = self.camera_config["main"]["size"]
        return pattern_picture(width, height, index)


def pattern_picture(width: int, height: int, index: int) -> av.VideoFrame:
    """A picture that moves every frame: diagonal luma stripes and drifting colours."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, (row_step, speed) in zip(frame.planes, ((1, 3), (0, 2), (0, -1)), strict=True):
        stride = plane.line_size
        ramp = _ramp(stride)
        rows = (ramp[(r * row_step + index * speed) % 256 :][:stride] for r in range(plane.height))
        plane.update(b"".join(rows))
    return frame


_RAMPS: dict[int, bytes] = {}


def _ramp(stride: int) -> bytes:
    """0..255 repeated, long enough that any 256-aligned shift still covers `stride`."""
    ramp = _RAMPS.get(stride)
    if ramp is None:
        ramp = _RAMPS[stride] = bytes(range(256)) * (stride // 256 + 2)
    return ramp
