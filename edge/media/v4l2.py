"""USB/V4L2 cameras: pictures read with PyAV, encoded with libx264, behind picamera2's shape.

`v4l2_api(device, config)` gives `CameraSource` a `Picamera2`-shaped camera whose sensor thread
reads the device (`av.open(path, format="v4l2")`), and the libx264 encoder of
`edge.media.x264` (the simulator's too). So a USB camera on any Linux board goes through
the exact passthrough path of the Pi camera. Any input PyAV can open (a file, a network stream)
works too, which is how it is tested without a device.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

import av

from edge.errors import DeviceUnavailable
from edge.media.picamera import Picamera2Api
from edge.media.software import Output, SoftwareCamera, SoftwareCameraSystem
from edge.media.spec import CameraConfig
from edge.media.x264 import SoftwareH264Encoder

_LOGGER = logging.getLogger(__name__)

DEVICE_PREFIX = "/dev/"


def v4l2_api(device: str, config: CameraConfig) -> Picamera2Api:
    """picamera2's names over the V4L2 device `device`, opened at `config`'s size and rate."""
    system = V4l2CameraSystem(device, config)
    return Picamera2Api(
        picamera2=system.open_camera,
        h264_encoder=SoftwareH264Encoder,
        libav_h264_encoder=SoftwareH264Encoder,
        output=Output,
    )


class V4l2CameraSystem(SoftwareCameraSystem):
    """One V4L2 device as the only camera on the connector."""

    def __init__(self, device: str, config: CameraConfig) -> None:
        super().__init__(cameras=1)
        self.device = device
        self.config = config

    def _make_camera(self, camera_num: int) -> SoftwareCamera:
        return V4l2Camera(self, camera_num)


class V4l2Camera(SoftwareCamera):
    """A V4L2 device with picamera2's recording surface; pictures scaled to the configured size."""

    def __init__(self, system: V4l2CameraSystem, camera_num: int) -> None:
        super().__init__(system, camera_num)
        self.device = system.device
        config = system.config
        self._container = _open_input(self.device, config)
        stream = self._container.streams.video[0]
        self.native_size = (stream.codec_context.width, stream.codec_context.height)
        """What the device delivers (the driver may have picked another size than asked)."""
        self._frames = self._container.decode(stream)
        _LOGGER.info(
            "%s: %dx%d %s from the device",
            self.device,
            *self.native_size,
            stream.codec_context.name,
        )

    def close(self) -> None:
        super().close()
        self._container.close()

    def _next_picture(self, index: int) -> av.VideoFrame | None:
        """The device's next picture as yuv420p at the configured size; None once it ends."""
        width, height = self.camera_config["main"]["size"]
        try:
            frame: av.VideoFrame = next(self._frames)
        except StopIteration:
            _LOGGER.warning("%s: end of stream", self.device)
            return None
        except (av.FFmpegError, OSError) as exc:
            _LOGGER.warning("%s: read failed: %s", self.device, exc)
            return None
        if (frame.width, frame.height, frame.format.name) != (width, height, "yuv420p"):
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        return frame


def _open_input(device: str, config: CameraConfig) -> Any:
    """The PyAV input container; DeviceUnavailable if the device is missing or busy."""
    is_device = device.startswith(DEVICE_PREFIX)
    if not os.path.exists(device):
        raise DeviceUnavailable(f"no video device {device} (is the camera plugged in?)")
    options = (
        {
            "video_size": f"{config.width}x{config.height}",
            "framerate": f"{config.framerate:g}",
        }
        if is_device
        else {}
    )
    try:
        return av.open(device, format="v4l2" if is_device else None, options=options)
    except av.FFmpegError as exc:
        if getattr(exc, "errno", None) == errno.EBUSY:
            raise DeviceUnavailable(f"{device} is busy (another program has it open)") from None
        raise DeviceUnavailable(f"cannot open {device}: {exc}") from None
