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
import contextlib
import fractions
import io
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge.errors import DeviceUnavailable, MediaError
from edge.media.bridge import DropPolicy, ThreadToLoop
from edge.media.capture import CaptureSource
from edge.media.frames import KEYFRAME_MIN_INTERVAL_S, EncodedFrame, KeyframeLimiter, SourceState
from edge.media.picamera import (
    Picamera2Api,
    Picamera2Features,
    force_v4l2_key_frame,
    keyframe_encoder,
    load_picamera2,
    yuv420_jpeg,
)
from edge.media.spec import CameraConfig, EncoderKind

_LOGGER = logging.getLogger(__name__)

QUEUE_S = 0.5
"""Seconds of video the bridge holds before it drops until the next keyframe."""
MIN_QUEUE_FRAMES = 4
STALL_TIMEOUT_S = 3.0
"""No encoded frame for this long while running means the camera is gone or hung."""
SNAPSHOT_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
"""How long picamera2's stop_recording() and close() may take before the camera is abandoned."""
H264_PROFILE = "constrained baseline"
"""What browsers and the SFU accept on a 42e01f payload type (picamera2 passes it to V4L2 or
libx264 by name, case-insensitively)."""


def make_encoder(api: Picamera2Api, config: CameraConfig) -> Any:
    """The one place the H.264 encoder is chosen and configured.

    Constrained baseline (browsers and the SFU's 42e01f), SPS+PPS repeated before every IDR
    (`repeat=True`: a viewer can start at any IDR), an IDR every `keyframe_interval_s`
    (`iperiod`, in frames) and the configured bitrate. picamera2 before 0.3.17 cannot choose
    the profile; the software encoder needs 0.3.13.
    """
    options: dict[str, Any] = {
        "bitrate": config.bitrate,
        "repeat": True,
        "iperiod": config.keyframe_interval_frames,
        "framerate": config.framerate,
    }
    features = api.features
    if features.profile:
        options["profile"] = H264_PROFILE
    else:
        _LOGGER.warning(
            "camera: picamera2 %s cannot choose the H.264 profile (needs 0.3.17); the stream"
            " has the encoder's default profile, which some browsers cannot decode",
            features.version_text,
        )
    if config.encoder is EncoderKind.HARDWARE:
        return api.h264_encoder(**options)
    if api.libav_h264_encoder is None:
        raise MediaError(
            f'camera.encoder = "software" needs picamera2 0.3.13 or later (found'
            f" {features.version_text}); sudo apt update && sudo apt full-upgrade"
        )
    # picamera2 hands the rate to PyAV's add_stream(), which takes no float from PyAV 14 on
    options["framerate"] = fractions.Fraction(config.framerate).limit_denominator(1001)
    return keyframe_encoder(api.libav_h264_encoder)(**options)


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
        stop_timeout_s: float = STOP_TIMEOUT_S,
    ) -> None:
        super().__init__(stall_timeout_s=stall_timeout_s)
        self.config = config
        self.width = config.width
        self.height = config.height
        self.framerate = config.framerate
        self.bitrate = config.bitrate
        self._load_api = api
        self._snapshot_timeout_s = snapshot_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._features = Picamera2Features()
        self._keyframes = KeyframeLimiter(
            self._force_key_frame, min_interval_s=keyframe_min_interval_s, clock=clock
        )
        self._camera: Any = None
        self._encoder: Any = None
        self._origin_us: int | None = None
        self._warned_no_force = False
        self._warned_deliver = False
        self._keyframe_error = ""
        """Why keyframes cannot be forced (empty: they can); cleared at every start."""
        self._lock = threading.Lock()  # the camera handle, between the loop and worker threads

    @property
    def keyframes_forced(self) -> int:
        """IDRs asked of the encoder (PLIs, new viewers, overflow), after rate limiting."""
        return self._keyframes.forced

    async def start(self) -> None:
        """Open the camera and start recording; DeviceUnavailable or MediaError if it cannot."""
        self._starting()
        self._origin_us = None
        self._keyframe_error = ""
        self._warned_deliver = False
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
        """A JPEG of the next camera frame, encoded in a worker thread while recording goes on.

        picamera2 0.3.26 and later encode the YUV420 stream themselves (simplejpeg); before
        that the picture is taken as an array and encoded with PyAV. From 0.3.20 picamera2's
        own `wait` bounds the wait, so a hung camera cannot pin the thread; before that the
        caller still gets its answer in time but the thread waits for the next frame.
        """
        camera = self._camera
        if camera is None or self.state is not SourceState.RUNNING:
            raise MediaError(f"the camera is {self.state.value}")
        timeout = self._snapshot_timeout_s
        try:
            if self._features.numeric_wait:
                return await asyncio.to_thread(self._snapshot, camera, timeout)
            # unbounded in picamera2: a daemon thread of its own, so a hung camera can keep
            # it without holding up the executor or the process's exit
            return await asyncio.wait_for(_in_daemon_thread(self._snapshot, camera, None), timeout)
        except TimeoutError:
            raise MediaError(f"no picture within {timeout:g} s") from None
        except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
            raise MediaError(f"snapshot failed: {exc}") from exc

    # -- worker threads --------------------------------------------------------------------

    def _open(self) -> None:
        """Import picamera2, open and configure the camera, start recording (blocking)."""
        api = self._load_api()
        self._features = api.features
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

    def _snapshot(self, camera: Any, wait: float | None) -> bytes:
        """The next picture as JPEG (blocking), in the way this picamera2 can make it."""
        options: dict[str, Any] = {} if wait is None else {"wait": wait}
        if self._features.yuv420_jpeg:
            buffer = io.BytesIO()
            camera.capture_file(buffer, format="jpeg", **options)
            return buffer.getvalue()
        array = camera.capture_array("main", **options)
        return yuv420_jpeg(array, self.width, self.height)

    def _release(self) -> None:
        """Stop recording and close the camera (blocking); safe to call more than once.

        Each step is bounded: picamera2's `stop()` waits for its camera thread, and when that
        thread has died it would wait forever (the daemon would hang until systemd kills it).
        """
        with self._lock:
            camera, self._camera = self._camera, None
            encoder, self._encoder = self._encoder, None
        if camera is None:
            return
        steps = ([camera.stop_recording] if encoder is not None else []) + [camera.close]
        for step in steps:
            try:
                if not _bounded(step, self._stop_timeout_s):
                    _LOGGER.error(
                        "camera: picamera2's %s() did not return within %g s (its camera thread"
                        " died?); leaving the camera to the process's exit",
                        step.__name__,
                        self._stop_timeout_s,
                    )
                    return
            except Exception as exc:  # noqa: BLE001 - a library failure must not stop the close
                _LOGGER.warning("camera: %s() failed: %s", step.__name__, exc)

    def _deliver(self, data: bytes, keyframe: bool, timestamp: int | None) -> None:
        """On picamera2's encoder thread: stamp the access unit and hand it to the bridge.

        Nothing raised here may reach picamera2 (it would kill its thread): caught, logged once.
        """
        try:
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
        except Exception as exc:
            if not self._warned_deliver:
                self._warned_deliver = True
                _LOGGER.exception("camera: an encoded frame could not be handed on: %s", exc)

    def _force_key_frame(self) -> None:
        """Ask the running encoder for an IDR at its next frame (loop or encoder thread).

        A failure is caught here (it would otherwise reach aiortc's RTCP handling or picamera2's
        thread), logged once, and forcing stops until the camera restarts: viewers then wait
        for the periodic IDR.
        """
        encoder = self._encoder
        if encoder is None or self._keyframe_error:
            return
        try:
            if getattr(encoder, "force_key_frame", None) is not None:
                # ours for the libav encoder (edge.media.picamera.keyframe_encoder); picamera2
                # >= 0.3.32's for the V4L2 one, which sets V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME
                # at its next frame
                encoder.force_key_frame()
            elif getattr(encoder, "vd", None) is not None:
                force_v4l2_key_frame(encoder)
            elif not self._warned_no_force:
                self._warned_no_force = True
                _LOGGER.warning(
                    "camera: this encoder cannot force keyframes; viewers wait for the periodic"
                    " IDR (camera.keyframe_interval_s)"
                )
        except Exception as exc:  # noqa: BLE001 - the library boundary
            self._keyframe_error = f"forcing a keyframe failed: {type(exc).__name__}: {exc}"
            _LOGGER.warning(
                "camera: %s; viewers wait for the periodic IDR until the camera restarts",
                self._keyframe_error,
            )


def _in_daemon_thread(call: Callable[..., bytes], *args: Any) -> asyncio.Future[bytes]:
    """`call(*args)` in a daemon thread; its result (or error) in the returned future."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bytes] = loop.create_future()

    def settle(result: bytes | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or b"")

    def run() -> None:
        try:
            result, error = call(*args), None
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="camera-snapshot", daemon=True).start()
    return future


def _bounded(step: Callable[[], object], timeout_s: float) -> bool:
    """Run `step` in a daemon thread; False if it is still running after `timeout_s`."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=run, name="camera-release", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return False
    if failure:
        raise failure[0]
    return True
