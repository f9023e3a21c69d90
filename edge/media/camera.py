"""CameraSource: picamera2's H.264 encoder output, access unit by access unit, to the event loop.

picamera2 runs the camera and its encoder on its own threads; the encoder calls our `Output`'s
`outputframe()` on its poll thread with each encoded access unit, its keyframe flag and its
timestamp. Those go through one `ThreadToLoop` (video policy: drop until the next keyframe)
and leave as `EncodedFrame`s, never decoded or re-encoded.

picamera2 is imported lazily, in a worker thread (it takes seconds on a Pi Zero), through a
`Picamera2Api`: the real library or a twin with its shape (`edge.media.synthetic`,
`edge.media.v4l2`), so everything past that boundary is the same code on a laptop and in CI.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.errors import DeviceUnavailable, MediaError
from edge.media.bridge import DropPolicy, ThreadToLoop
from edge.media.capture import CaptureSource
from edge.media.frames import KEYFRAME_MIN_INTERVAL_S, EncodedFrame, KeyframeLimiter, SourceState
from edge.media.spec import CameraConfig, EncoderKind

_LOGGER = logging.getLogger(__name__)

QUEUE_S = 0.5
"""Seconds of video the bridge holds before it drops until the next keyframe."""
MIN_QUEUE_FRAMES = 4
STALL_TIMEOUT_S = 3.0
"""No encoded frame for this long while running means the camera is gone or hung."""
SNAPSHOT_TIMEOUT_S = 5.0
H264_PROFILE = "constrained baseline"
"""What browsers and the SFU accept on a 42e01f payload type (picamera2 passes it to V4L2 or
libx264 by name, case-insensitively)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Picamera2Api:
    """The picamera2 names CameraSource uses: the real library or a twin with its shape."""

    picamera2: Callable[..., Any]
    """`Picamera2(camera_num)`: opens a camera (IndexError: none; RuntimeError: busy)."""
    h264_encoder: Callable[..., Any]
    """`H264Encoder(bitrate, repeat, iperiod, framerate, profile=...)`, the SoC's encoder."""
    libav_h264_encoder: Callable[..., Any]
    """`LibavH264Encoder(...)`, same arguments, libx264 in software."""
    output: type[Any]
    """`picamera2.outputs.Output`, the base class encoders write to."""


def load_picamera2() -> Picamera2Api:
    """The real picamera2 (apt's python3-picamera2); blocking, call it off the event loop."""
    try:
        from picamera2 import Picamera2
        from picamera2.encoders.h264_encoder import H264Encoder
        from picamera2.encoders.libav_h264_encoder import LibavH264Encoder
        from picamera2.outputs import Output
    except ImportError as exc:
        raise MediaError(
            f"picamera2 is not importable ({exc}); on Raspberry Pi OS install python3-picamera2"
            " and create the venv with --system-site-packages, or set camera.source"
        ) from None
    return Picamera2Api(
        picamera2=Picamera2,
        h264_encoder=H264Encoder,
        libav_h264_encoder=LibavH264Encoder,
        output=Output,
    )


def make_encoder(api: Picamera2Api, config: CameraConfig) -> Any:
    """The one place the H.264 encoder is chosen and configured.

    Constrained baseline (browsers and the SFU's 42e01f), SPS+PPS repeated before every IDR
    (`repeat=True`: a viewer can start at any IDR), an IDR every `keyframe_interval_s`
    (`iperiod`, in frames) and the configured bitrate.
    """
    factory = api.h264_encoder if config.encoder is EncoderKind.HARDWARE else api.libav_h264_encoder
    return factory(
        bitrate=config.bitrate,
        repeat=True,
        iperiod=config.keyframe_interval_frames,
        framerate=config.framerate,
        profile=H264_PROFILE,
    )


def make_output(base: type[Any], deliver: Callable[[bytes, bool, int | None], None]) -> Any:
    """A picamera2 `Output` whose `outputframe()` hands each access unit to `deliver`.

    The class is made here, from `base`, so picamera2 is imported only when a camera starts.
    """

    class BridgeOutput(base):  # type: ignore[misc]
        """Forwards encoded video from the encoder's thread; ignores audio."""

        def outputframe(
            self,
            frame: Any,
            keyframe: bool = True,
            timestamp: int | None = None,
            packet: Any = None,
            audio: bool = False,
        ) -> None:
            if audio or frame is None:
                return
            deliver(bytes(frame), bool(keyframe), timestamp)

    return BridgeOutput()


class CameraSource(CaptureSource[EncodedFrame]):
    """A picamera2 camera as a `VideoSource` of H.264 access units."""

    kind = "camera"

    def __init__(
        self,
        config: CameraConfig,
        *,
        api: Callable[[], Picamera2Api] = load_picamera2,
        clock: Callable[[], float] = time.monotonic,
        keyframe_min_interval_s: float = KEYFRAME_MIN_INTERVAL_S,
        stall_timeout_s: float = STALL_TIMEOUT_S,
        snapshot_timeout_s: float = SNAPSHOT_TIMEOUT_S,
    ) -> None:
        super().__init__(stall_timeout_s=stall_timeout_s)
        self.config = config
        self.width = config.width
        self.height = config.height
        self.framerate = config.framerate
        self.bitrate = config.bitrate
        self._load_api = api
        self._snapshot_timeout_s = snapshot_timeout_s
        self._keyframes = KeyframeLimiter(
            self._force_key_frame, min_interval_s=keyframe_min_interval_s, clock=clock
        )
        self._camera: Any = None
        self._encoder: Any = None
        self._origin_us: int | None = None
        self._warned_no_force = False
        self._lock = threading.Lock()  # the camera handle, between the loop and worker threads

    @property
    def keyframes_forced(self) -> int:
        """IDRs asked of the encoder (PLIs, new viewers, overflow), after rate limiting."""
        return self._keyframes.forced

    async def start(self) -> None:
        """Open the camera and start recording; DeviceUnavailable or MediaError if it cannot."""
        self._starting()
        self._origin_us = None
        bridge: ThreadToLoop[EncodedFrame] = ThreadToLoop(
            asyncio.get_running_loop(),
            maxsize=max(MIN_QUEUE_FRAMES, round(QUEUE_S * self.framerate)),
            policy=DropPolicy.UNTIL_KEYFRAME,
            is_keyframe=lambda frame: frame.keyframe,
            on_overflow=self.request_keyframe,
            name="camera",
        )
        await self._run_with(bridge)

    async def next_frame(self) -> EncodedFrame:
        """The next access unit; DeviceUnavailable if the camera stopped, MediaError if closed."""
        return await self._next()

    def _stalled(self) -> DeviceUnavailable:
        return DeviceUnavailable(
            f"the camera sent no frame for {self._stall_timeout_s:g} s (unplugged or hung)"
        )

    def request_keyframe(self) -> None:
        """Ask the encoder for an IDR; at most one per interval, a later one is remembered."""
        if self.state is SourceState.RUNNING:
            self._keyframes.request()

    async def snapshot_jpeg(self) -> bytes:
        """A JPEG of the next camera frame, encoded by picamera2 in a worker thread."""
        camera = self._camera
        if camera is None or self.state is not SourceState.RUNNING:
            raise MediaError(f"the camera is {self.state.value}")
        buffer = io.BytesIO()
        try:
            # capture_file() waits for the next completed request, so it runs in a worker
            # thread, bounded by picamera2's own `wait` timeout so a hung camera cannot pin
            # the thread; picamera2 encodes it (simplejpeg) while the encoder keeps recording.
            await asyncio.to_thread(
                camera.capture_file, buffer, format="jpeg", wait=self._snapshot_timeout_s
            )
        except TimeoutError:
            raise MediaError(f"no picture within {self._snapshot_timeout_s:g} s") from None
        except (RuntimeError, OSError, ValueError) as exc:
            raise MediaError(f"snapshot failed: {exc}") from exc
        return buffer.getvalue()

    # -- worker threads --------------------------------------------------------------------

    def _open(self) -> None:
        """Import picamera2, open and configure the camera, start recording (blocking)."""
        api = self._load_api()
        config = self.config
        # picamera2 numbers its cameras; twins with a device path take it from their api
        number = int(config.device) if config.device.isdigit() else 0
        try:
            camera = api.picamera2(number)
        except IndexError:
            raise DeviceUnavailable(
                f"no camera number {number} (is it connected, and enabled in config.txt?)"
            ) from None
        except RuntimeError as exc:
            cause = exc.__cause__ or exc
            raise DeviceUnavailable(f"camera {number} is busy or failed to open: {cause}") from None
        with self._lock:
            self._camera = camera
        size = (config.width, config.height)
        try:
            # YUV420: the encoder's native input, a third of XBGR8888's memory traffic.
            video = camera.create_video_configuration(
                main={"size": size, "format": "YUV420"}, controls={"FrameRate": config.framerate}
            )
            camera.configure(video)
            actual = tuple(camera.camera_configuration()["main"]["size"])
            if actual != size:
                raise MediaError(
                    f"the camera cannot deliver {size[0]}x{size[1]} (it offers"
                    f" {actual[0]}x{actual[1]}); change camera.width/height"
                )
            encoder = make_encoder(api, config)
            with self._lock:
                self._encoder = encoder  # set first: a half-started recording is stopped too
            camera.start_recording(encoder, make_output(api.output, self._deliver))
        except FileNotFoundError as exc:
            hint = (
                '; this board has no hardware H.264 encoder, set camera.encoder = "software"'
                if config.encoder is EncoderKind.HARDWARE
                else ""
            )
            raise MediaError(f"cannot start the H.264 encoder: {exc}{hint}") from exc
        except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
            raise MediaError(
                f"cannot record {size[0]}x{size[1]} at {config.framerate:g} fps: {exc}"
            ) from exc
        _LOGGER.info(
            "camera %d recording %dx%d at %g fps, %d bit/s, %s encoder, IDR every %d frames",
            number,
            size[0],
            size[1],
            config.framerate,
            config.bitrate,
            config.encoder.value,
            config.keyframe_interval_frames,
        )

    def _release(self) -> None:
        """Stop recording and close the camera (blocking); safe to call more than once."""
        with self._lock:
            camera, self._camera = self._camera, None
            encoder, self._encoder = self._encoder, None
        if camera is None:
            return
        try:
            if encoder is not None:
                camera.stop_recording()
        except (RuntimeError, OSError, ValueError) as exc:
            _LOGGER.warning("camera: stopping the recording failed: %s", exc)
        finally:
            try:
                camera.close()
            except (RuntimeError, OSError, ValueError) as exc:
                _LOGGER.warning("camera: closing failed: %s", exc)

    def _deliver(self, data: bytes, keyframe: bool, timestamp: int | None) -> None:
        """On the encoder's thread: stamp the access unit and hand it to the bridge."""
        now_us = time.monotonic_ns() // 1000
        if timestamp is None:
            stamp = now_us
        else:
            # picamera2 counts from its first frame; anchor that on the monotonic clock
            if self._origin_us is None:
                self._origin_us = now_us - timestamp
            stamp = self._origin_us + timestamp
        if keyframe:
            self._keyframes.saw_keyframe()
        else:
            self._keyframes.poll()  # a remembered request whose interval has now passed
        bridge = self._bridge
        if bridge is not None:
            bridge.put(EncodedFrame(data=data, keyframe=keyframe, timestamp_us=stamp))

    def _force_key_frame(self) -> None:
        """Ask the running encoder for an IDR at its next frame."""
        encoder = self._encoder
        if encoder is None:
            return
        force = getattr(encoder, "force_key_frame", None)
        if force is not None:
            # picamera2 >= 0.3.32: H264Encoder/LibavH264Encoder.force_key_frame() counts a
            # request; the next encode sets V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME (hardware)
            # or pict_type I (libav) (picamera2/encoders/v4l2_encoder.py, _encode()).
            force()
        elif getattr(encoder, "vd", None) is not None:
            _force_v4l2_key_frame(encoder.vd)
        elif not self._warned_no_force:
            self._warned_no_force = True
            _LOGGER.warning(
                "camera: this picamera2 cannot force keyframes (needs 0.3.32 or later); viewers"
                " wait for the periodic IDR (camera.keyframe_interval_s)"
            )


def _force_v4l2_key_frame(device: Any) -> None:
    """Older picamera2's hardware encoder: set the V4L2 control its newer `_encode()` sets."""
    import fcntl
    import importlib

    videodev2 = importlib.import_module("videodev2")  # picamera2's own V4L2 bindings

    control = videodev2.v4l2_control()
    control.id = videodev2.V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME
    control.value = 1
    try:
        fcntl.ioctl(device, videodev2.VIDIOC_S_CTRL, control)
    except OSError as exc:
        _LOGGER.warning("camera: forcing a keyframe failed: %s", exc)
