"""The libx264 encoder with picamera2's `H264Encoder` shape, over PyAV.

It encodes on its own thread (constrained baseline, no B-frames, SPS/PPS on every IDR, fixed
GOP, zero latency) and calls `output.outputframe(frame, keyframe, timestamp)` exactly as
picamera2's V4L2 encoder does, so the packets are shaped like the hardware encoder's. The
cameras of `edge.media.software` feed it.
"""

from __future__ import annotations

import contextlib
import fractions
import logging
import queue
import threading
from typing import Any

import av

_LOGGER = logging.getLogger(__name__)

ENCODER_INBOX_FRAMES = 2
"""Pictures waiting for the encoder; more are dropped, as a camera with no free buffer does."""
X264_PROFILES = {
    "baseline": "Baseline",
    "constrained baseline": "Constrained Baseline",
    "main": "Main",
    "high": "High",
}


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
