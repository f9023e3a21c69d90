"""The libx264 software path: a picamera2-shaped camera and encoder over PyAV.

Shared by the simulator (`edge.media.synthetic`: a test pattern) and USB cameras
(`edge.media.v4l2`: a V4L2 device). `SoftwareCamera` has `Picamera2`'s recording surface; its
sensor thread asks `_next_picture()` (the subclass's source) for a picture each frame interval
and hands it to the recording encoders. `SoftwareH264Encoder` has `H264Encoder`'s shape and
encodes on its own thread with libx264 (constrained baseline, no B-frames, SPS/PPS on every IDR,
fixed GOP, zero latency), calling `output.outputframe(frame, keyframe, timestamp)` exactly as
picamera2's V4L2 encoder does. So `CameraSource` runs unchanged and the packets are shaped like
the hardware encoder's.
"""

from __future__ import annotations

import contextlib
import fractions
import logging
import queue
import threading
import time
from typing import Any

import av

_LOGGER = logging.getLogger(__name__)

SENSOR_MAX_SIZE = (3840, 2160)
ENCODER_INBOX_FRAMES = 2
"""Pictures waiting for the encoder; more are dropped, as a camera with no free buffer does."""
X264_PROFILES = {
    "baseline": "Baseline",
    "constrained baseline": "Constrained Baseline",
    "main": "Main",
    "high": "High",
}


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


class SoftwareH264Encoder:
    """`H264Encoder`'s shape over libx264, encoding on its own thread like the V4L2 poll thread.

    The simulator's twin of the SoC's encoder, and the real encoder of `edge.media.v4l2` cameras.
    """

    clip: str = ""
    """Set on the subclasses `SyntheticCameraSystem(clip=...)` makes: replay it, no libx264."""

    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int | None = None,
        framerate: float | None = None,
        enable_sps_framerate: bool = False,
        qp: int | None = None,
        profile: str | None = None,
    ) -> None:
        self.bitrate = bitrate
        self.repeat = repeat
        self.iperiod = iperiod
        self.framerate = framerate
        self.qp = qp
        self.profile = profile
        self.width = 0
        self.height = 0
        self.stride = 0
        self.format: str | None = None
        self.firsttimestamp: int | None = None
        self.frames_encoded = 0
        self.frames_skipped = 0
        """Pictures dropped because the encoder was still busy."""
        self._output: list[Any] = []
        self._running = False
        self._key_frames_requested = 0
        self._key_frames_generated = 0
        self._inbox: queue.Queue[tuple[av.VideoFrame, int] | None] = queue.Queue(
            ENCODER_INBOX_FRAMES
        )
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._running

    @property
    def output(self) -> Any:
        return self._output[0] if len(self._output) == 1 else self._output

    @output.setter
    def output(self, value: Any) -> None:
        outputs = value if isinstance(value, list) else [value]
        if not all(callable(getattr(out, "outputframe", None)) for out in outputs):
            raise RuntimeError("Must pass Output")
        self._output = outputs

    def start(self, quality: Any = None) -> None:
        with self._lock:
            if self._running:
                raise RuntimeError("Encoder already running")
            self._running = True
            self.firsttimestamp = None
            for out in self._output:
                out.start()
            self._start()
            self._thread = threading.Thread(target=self._run, name="software-h264", daemon=True)
            self._thread.start()

    def _start(self) -> None:
        """Opens the codec as `self._stream`, where picamera2's libav encoder keeps it."""
        self._stream = self._open_codec()

    def stop(self) -> None:
        with self._lock:
            if not self._running:
                raise RuntimeError("Encoder already stopped")
            self._running = False
            while True:  # make room for the end marker even if the thread has died
                try:
                    self._inbox.put_nowait(None)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        self._inbox.get_nowait()
            if self._thread is not None:
                self._thread.join()
            for out in self._output:
                out.stop()

    def force_key_frame(self) -> None:
        """Force a key frame to be encoded in the video stream as soon as possible."""
        self._key_frames_requested += 1

    I_PICTURE: Any = av.video.frame.PictureType.I
    """What a forced keyframe's `pict_type` is set to (the V4L2 encoder sets a control)."""

    def encode(self, picture: av.VideoFrame, sensor_timestamp_ns: int) -> None:
        """From the camera's thread: queue a picture, or drop it if the encoder is behind."""
        if not self._running:
            return
        stamp_us = sensor_timestamp_ns // 1000
        if self.firsttimestamp is None:
            self.firsttimestamp = stamp_us
        try:
            self._inbox.put_nowait((picture, stamp_us - self.firsttimestamp))
        except queue.Full:
            self.frames_skipped += 1

    def outputframe(
        self,
        frame: Any,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        for out in self._output:
            out.outputframe(frame, keyframe, timestamp, packet, audio)

    def _open_codec(self) -> Any:
        if self.clip:
            from edge.media.clip import ClipStream, load_clip

            return ClipStream(load_clip(self.clip))
        profile = X264_PROFILES.get((self.profile or "constrained baseline").lower())
        if profile is None:
            raise RuntimeError(f"Profile {self.profile} not recognised")
        interval = self.iperiod or 250
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = self.width, self.height
        codec.pix_fmt = "yuv420p"
        codec.time_base = fractions.Fraction(1, 1_000_000)
        codec.framerate = fractions.Fraction(self.framerate or 30).limit_denominator(1001)
        codec.gop_size = interval
        codec.max_b_frames = 0
        codec.thread_count = 1  # one slice per picture, as the SoC's encoder
        codec.profile = profile
        params = [f"keyint={interval}", "scenecut=0", "bframes=0"]
        params.append(f"repeat-headers={int(self.repeat)}")
        if self.qp is not None:
            params.append(f"qp={self.qp}")
        elif self.bitrate:
            codec.bit_rate = self.bitrate
            kbps = max(1, self.bitrate // 1000)
            params += [f"vbv-maxrate={kbps}", f"vbv-bufsize={kbps}"]  # about 1 s, like CBR
        codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "forced-idr": "1",
            "x264-params": ":".join(params),
        }
        codec.open()
        return codec

    def _run(self) -> None:
        try:
            self._encode_until_stopped()
        except av.FFmpegError:  # like a V4L2 encoder error: output stops, the source notices
            _LOGGER.exception("software H.264 encoder failed")

    def _encode_until_stopped(self) -> None:
        while (item := self._inbox.get()) is not None:
            frame, timestamp_us = item
            frame.pts = timestamp_us
            if self._key_frames_requested > self._key_frames_generated:
                self._key_frames_generated += 1
                frame.pict_type = self.I_PICTURE
            for packet in self._stream.encode(frame):
                self.frames_encoded += 1
                self.outputframe(bytes(packet), packet.is_keyframe, packet.pts)
        for packet in self._stream.encode(None):
            self.outputframe(bytes(packet), packet.is_keyframe, packet.pts)


class LibavH264Encoder(SoftwareH264Encoder):
    """`LibavH264Encoder`'s twin: its `force_key_frame()` does what picamera2's does.

    From picamera2 0.3.32 that is `frame.pict_type = "I"`, which PyAV 14 and later reject
    with a TypeError on the encoding thread (which then dies); older PyAV accepted it.
    """

    I_PICTURE: Any = "I"


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
