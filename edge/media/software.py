"""The libx264 software path's camera: a picamera2-shaped camera over PyAV.

Shared by the simulator (`edge.media.synthetic`: a test pattern) and USB cameras
(`edge.media.v4l2`: a V4L2 device). `SoftwareCamera` has `Picamera2`'s recording surface; its
sensor thread asks `_next_picture()` (the subclass's source) for a picture each frame interval
and hands it to the recording encoders, `edge.media.x264.SoftwareH264Encoder` (picamera2's
`H264Encoder` shape over libx264). So `CameraSource` runs unchanged.
"""

from __future__ import annotations

import fractions
import threading
import time
from typing import TYPE_CHECKING, Any

import av

if TYPE_CHECKING:
    from edge.media.x264 import SoftwareH264Encoder

SENSOR_MAX_SIZE = (3840, 2160)


class Output:
    """`picamera2.outputs.Output`'s shape, for when picamera2 itself is not installed."""

    def __init__(self, pts: Any = None) -> None:
        self.recording = False
        self.ptsoutput = pts
        self.needs_pacing = False
        self.needs_add_stream = False

    def start(self) -> None:
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        """Receives one encoded frame; subclasses override."""

    def _add_stream(self, encoder_stream: Any, *args: Any, **kwargs: Any) -> None:
        """picamera2 tells outputs about streams; ours need not know."""


class SoftwareCameraSystem:
    """The camera connector: how many cameras are attached and which are open."""

    def __init__(self, *, cameras: int = 1) -> None:
        self.cameras = cameras
        """Attached cameras; `Picamera2(n)` raises IndexError for n >= this."""
        self.opened: list[SoftwareCamera] = []
        """Cameras open right now (tests reach the encoder through them)."""
        self._lock = threading.Lock()

    def open_camera(self, camera_num: int = 0) -> SoftwareCamera:
        """`Picamera2(camera_num)`: IndexError if absent, RuntimeError if already open."""
        with self._lock:
            if not 0 <= camera_num < self.cameras:
                raise IndexError("list index out of range")  # global_camera_info()[n]
            if any(cam.camera_num == camera_num for cam in self.opened):
                raise RuntimeError("Camera __init__ sequence did not complete.") from RuntimeError(
                    "Failed to acquire camera: Device or resource busy"
                )
            camera = self._make_camera(camera_num)
            self.opened.append(camera)
        return camera

    def _make_camera(self, camera_num: int) -> SoftwareCamera:
        raise NotImplementedError

    def _closed(self, camera: SoftwareCamera) -> None:
        with self._lock:
            if camera in self.opened:
                self.opened.remove(camera)


class SoftwareCamera:
    """`Picamera2`'s recording surface: configure, start/stop_recording, capture_file, close.

    A sensor thread makes a picture per frame interval (`_next_picture`, which subclasses
    give) and hands it to the recording encoders.
    """

    def __init__(self, system: SoftwareCameraSystem, camera_num: int) -> None:
        self.camera_num = camera_num
        self.camera_config: dict[str, Any] = {}
        self.started = False
        self.is_open = True
        self.encoders: set[SoftwareH264Encoder] = set()
        self.frames = 0
        """Pictures the sensor produced."""
        self._system = system
        self._framerate = 30.0
        self._stop = threading.Event()
        self._vanished = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest = threading.Condition()
        self._picture: av.VideoFrame | None = None

    def create_video_configuration(
        self, main: dict[str, Any] | None = None, controls: dict[str, Any] | None = None, **_: Any
    ) -> dict[str, Any]:
        """Like picamera2's: XBGR8888 1280x720 unless `main` says otherwise, sizes made even."""
        stream = {"format": "XBGR8888", "size": (1280, 720)} | (main or {})
        width, height = stream["size"]
        stream["size"] = (width - width % 2, height - height % 2)  # align_stream(optimal=False)
        return {
            "use_case": "video",
            "main": stream,
            "controls": {"FrameDurationLimits": (33333, 33333)} | (controls or {}),
        }

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        main = dict(camera_config["main"])
        width, height = main["size"]
        # libcamera's validate() clamps what the sensor cannot do; picamera2 reports the result
        main["size"] = (min(width, SENSOR_MAX_SIZE[0]), min(height, SENSOR_MAX_SIZE[1]))
        main["stride"] = main["size"][0]
        controls = camera_config.get("controls", {})
        if "FrameRate" in controls:
            self._framerate = float(controls["FrameRate"])
        else:
            self._framerate = 1e6 / controls["FrameDurationLimits"][0]
        self.camera_config = {"main": main, "controls": controls, "encode": "main"}

    def camera_configuration(self) -> dict[str, Any]:
        return self.camera_config

    def start_recording(self, encoder: SoftwareH264Encoder, output: Any, **_: Any) -> None:
        """Hand the encoder its stream's geometry and output, start it, then the camera."""
        if not self.camera_config:
            self.configure(self.create_video_configuration())
        main = self.camera_config["main"]
        encoder.output = output
        encoder.width, encoder.height = main["size"]
        encoder.format = main["format"]
        encoder.stride = main["stride"]
        if encoder.framerate is None:
            encoder.framerate = self._framerate
        encoder.start()
        self.encoders.add(encoder)
        self.start()

    def start(self) -> None:
        if not self.is_open:
            raise RuntimeError("Camera is not open")
        if self.started:
            return
        self.started = True
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run_sensor, name=f"software-camera{self.camera_num}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if not self.started:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self.started = False

    def stop_recording(self) -> None:
        """Camera first, then the encoders (picamera2's order)."""
        self.stop()
        for encoder in list(self.encoders):
            encoder.stop()
        self.encoders.clear()

    def close(self) -> None:
        if not self.is_open:
            return
        self.stop_recording()  # picamera2 leaves this to the caller; a twin must not leak threads
        self.is_open = False
        self._system._closed(self)

    def capture_file(
        self,
        file_output: Any,
        name: str = "main",
        format: str | None = None,
        wait: bool | float | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """The next picture as JPEG into a path or file object; blocks like picamera2's.

        `wait` in seconds bounds the wait (TimeoutError), as picamera2's `dispatch_functions`.
        """
        if (format or str(file_output).rsplit(".", 1)[-1]).lower() not in ("jpg", "jpeg"):
            raise RuntimeError("this camera saves JPEG only")
        timeout = None if wait in (None, True) else float(wait)
        with self._latest:
            seen = self.frames
            if not self._latest.wait_for(lambda: self.frames > seen, timeout=timeout):
                raise TimeoutError
            picture = self._picture
        assert picture is not None
        jpeg = encode_jpeg(picture, self._framerate)
        if isinstance(file_output, str):
            with open(file_output, "wb") as file:
                file.write(jpeg)
        else:
            file_output.write(jpeg)
        return {"SensorTimestamp": time.monotonic_ns()}

    def capture_array(self, name: str = "main", wait: bool | float | None = None) -> Any:
        """The next picture as picamera2 gives a YUV420 stream: `height * 3 / 2` rows."""
        import numpy as np

        timeout = None if wait in (None, True) else float(wait)
        with self._latest:
            seen = self.frames
            if not self._latest.wait_for(lambda: self.frames > seen, timeout=timeout):
                raise TimeoutError
            picture = self._picture
        assert picture is not None
        return np.frombuffer(_yuv420_bytes(picture), dtype=np.uint8).reshape(
            picture.height * 3 // 2, picture.width
        )

    def vanish(self) -> None:
        """No more pictures once this returns; the handle stays open until closed."""
        with self._latest:  # a picture being made now is dropped, not delivered afterwards
            self._vanished.set()

    def _next_picture(self, index: int) -> av.VideoFrame | None:
        """The sensor's next picture at the configured size; None once the device is gone."""
        raise NotImplementedError

    def _run_sensor(self) -> None:
        interval = 1.0 / self._framerate
        deadline = time.monotonic()
        index = 0
        while not self._stop.wait(max(0.0, deadline - time.monotonic())):
            deadline += interval
            deadline = max(deadline, time.monotonic() - interval)  # late: skip, don't burst
            if self._vanished.is_set():
                continue
            picture = self._next_picture(index)
            if picture is None:
                self._vanished.set()
                continue
            stamp_ns = time.monotonic_ns()
            index += 1
            with self._latest:
                if self._vanished.is_set():  # unplugged while this picture was made
                    continue
                self._picture = picture
                self.frames += 1
                self._latest.notify_all()
            for encoder in list(self.encoders):
                encoder.encode(picture, stamp_ns)


def encode_jpeg(picture: av.VideoFrame, framerate: float) -> bytes:
    """One picture as a baseline JPEG (full-range 4:2:0)."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = picture.width, picture.height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = fractions.Fraction(1, max(1, round(framerate)))
    frame = picture.reformat(format="yuvj420p")
    frame.pts = 0
    return b"".join(bytes(packet) for packet in [*codec.encode(frame), *codec.encode(None)])


def _yuv420_bytes(picture: av.VideoFrame) -> bytes:
    """The three planes without row padding, as picamera2's YUV420 buffer (stride = width)."""
    out = bytearray()
    for number, plane in enumerate(picture.planes):
        width = picture.width if number == 0 else picture.width // 2
        data = bytes(plane)
        out += b"".join(
            data[row * plane.line_size : row * plane.line_size + width]
            for row in range(plane.height)
        )
    return bytes(out)
