"""The picamera2 library as CameraSource uses it: its version, its encoders, its keyframes.

picamera2 changed under us across the releases Raspberry Pi OS ships (Bookworm 0.3.12 …
0.3.29, Trixie 0.3.30 on): `profile=` arrived in 0.3.17, `LibavH264Encoder` in 0.3.13,
a numeric `wait=` in 0.3.20, JPEG straight from a YUV420 stream in 0.3.26, `force_key_frame()`
in 0.3.32, and its V4L2 bindings moved from `v4l2` to `videodev2` in 0.3.29. `load_picamera2()`
finds out what the installed one can do (`Picamera2Features`) and the adapter uses each
capability where it exists and degrades, saying so once, where it does not.

Forcing an IDR is done here, not with picamera2's `LibavH264Encoder.force_key_frame()`: from
0.3.32 that sets `frame.pict_type = "I"`, which PyAV 14 and later reject with a TypeError on
picamera2's camera thread, killing it. `keyframe_encoder()` subclasses the libav encoder so the
request is applied to the frame with PyAV's own enum, for every picamera2 that has the encoder.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import inspect
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.errors import MediaError

_LOGGER = logging.getLogger(__name__)

MIN_VERSION = (0, 3, 12)
"""The oldest picamera2 supported: the one Raspberry Pi OS Bookworm first shipped."""
PROFILE_VERSION = (0, 3, 17)
NUMERIC_WAIT_VERSION = (0, 3, 20)
YUV420_JPEG_VERSION = (0, 3, 26)


def parse_version(text: str) -> tuple[int, ...] | None:
    """`0.3.12+pi5` -> (0, 3, 12); None if it does not start with numbers."""
    numbers = []
    for part in text.replace("+", ".").replace("-", ".").split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers) or None


def format_version(version: tuple[int, ...] | None) -> str:
    return "unknown" if version is None else ".".join(map(str, version))


@dataclass(frozen=True, slots=True, kw_only=True)
class Picamera2Features:
    """What the installed picamera2 can do (the twins can do everything)."""

    version: tuple[int, ...] | None = None
    """As installed; None when its package metadata is missing (then features are detected)."""
    profile: bool = True
    """The encoders take `profile=` (constrained baseline for browsers), 0.3.17."""
    numeric_wait: bool = True
    """`capture_file(wait=seconds)` bounds the wait, 0.3.20."""
    yuv420_jpeg: bool = True
    """`capture_file(format="jpeg")` encodes a YUV420 stream, 0.3.26."""

    @property
    def version_text(self) -> str:
        return format_version(self.version)


@dataclass(frozen=True, slots=True, kw_only=True)
class Picamera2Api:
    """The picamera2 names CameraSource uses: the real library or a twin with its shape."""

    picamera2: Callable[..., Any]
    """`Picamera2(camera_num)`: opens a camera (IndexError: none; RuntimeError: busy)."""
    h264_encoder: Callable[..., Any]
    """`H264Encoder(bitrate, repeat, iperiod, framerate, profile=...)`, the SoC's encoder."""
    libav_h264_encoder: Callable[..., Any] | None
    """`LibavH264Encoder(...)`, same arguments, libx264 in software; None before 0.3.13."""
    output: type[Any]
    """`picamera2.outputs.Output`, the base class encoders write to."""
    features: Picamera2Features = field(default_factory=Picamera2Features)


def installed_version() -> tuple[int, ...] | None:
    """picamera2's version from its package metadata (apt's and pip's both have it)."""
    try:
        return parse_version(importlib.metadata.version("picamera2"))
    except importlib.metadata.PackageNotFoundError:
        return None


def features_of(version: tuple[int, ...] | None, h264_encoder: Any) -> Picamera2Features:
    """Capabilities by version; `profile=` by signature, so a patched build is believed."""
    profile = "profile" in inspect.signature(h264_encoder).parameters
    if version is None:  # unknown: what can be detected, the safe choice for the rest
        return Picamera2Features(profile=profile, numeric_wait=False, yuv420_jpeg=False)
    return Picamera2Features(
        version=version,
        profile=profile and version >= PROFILE_VERSION,
        numeric_wait=version >= NUMERIC_WAIT_VERSION,
        yuv420_jpeg=version >= YUV420_JPEG_VERSION,
    )


def load_picamera2() -> Picamera2Api:
    """The real picamera2 (apt's python3-picamera2); blocking, call it off the event loop."""
    version = installed_version()
    if version is not None and version < MIN_VERSION:
        raise MediaError(
            f"picamera2 {format_version(version)} is too old (needs {format_version(MIN_VERSION)}"
            " or later); sudo apt update && sudo apt full-upgrade"
        )
    try:
        from picamera2 import Picamera2
        from picamera2.outputs import Output
    except ImportError as exc:
        raise MediaError(
            f"picamera2 is not importable ({exc}); on Raspberry Pi OS install python3-picamera2"
            " and create the venv with --system-site-packages, or set camera.source"
        ) from None
    try:
        from picamera2.encoders.h264_encoder import H264Encoder
    except ImportError as exc:  # 0.3.29 with the old V4L2 bindings installed
        raise MediaError(
            f"picamera2 {format_version(version)} cannot load its H.264 encoder ({exc});"
            " sudo apt update && sudo apt full-upgrade"
        ) from None
    libav: Any = None
    try:
        from picamera2.encoders.libav_h264_encoder import LibavH264Encoder
    except ImportError:  # before 0.3.13, or PyAV missing: only the software encoder is gone
        pass
    else:
        libav = LibavH264Encoder
    return Picamera2Api(
        picamera2=Picamera2,
        h264_encoder=H264Encoder,
        libav_h264_encoder=libav,
        output=Output,
        features=features_of(version, H264Encoder),
    )


_KEYFRAME_CLASSES: dict[Any, type[Any]] = {}


def keyframe_encoder(base: Any) -> type[Any]:
    """`base` (picamera2's LibavH264Encoder) whose keyframe requests reach libx264 safely.

    picamera2 encodes with `self._stream.encode(frame)` on its camera thread (0.3.13 on); after
    `_start()` the stream is wrapped so a pending request marks that frame as an I picture with
    PyAV's enum. picamera2's own request counter is never touched.
    """
    made = _KEYFRAME_CLASSES.get(base)
    if made is not None:
        return made

    class KeyframeLibavH264Encoder(base):  # type: ignore[misc]
        """picamera2's software encoder with keyframes forced through PyAV's enum."""

        def _start(self) -> None:
            super()._start()
            stream: Any = self._stream  # type: ignore[has-type]
            self._edge_stream = _KeyframeStream(stream)
            self._stream = self._edge_stream

        def force_key_frame(self) -> None:
            stream = getattr(self, "_edge_stream", None)
            if stream is not None:
                stream.request()

    _KEYFRAME_CLASSES[base] = KeyframeLibavH264Encoder
    return KeyframeLibavH264Encoder


class _KeyframeStream:
    """A PyAV stream that makes the next frame encoded after `request()` an I picture."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._pending = threading.Event()

    def request(self) -> None:
        self._pending.set()

    def encode(self, frame: Any = None) -> Any:
        if frame is not None and self._pending.is_set():
            self._pending.clear()
            frame.pict_type = _picture_type_i()
        return self._stream.encode(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _picture_type_i() -> Any:
    """PyAV's I picture type: the enum (PyAV 14 on takes nothing else), or "I" before it."""
    import av

    enum = getattr(av.video.frame, "PictureType", None)
    return "I" if enum is None else enum.I


def force_v4l2_key_frame(encoder: Any) -> None:
    """picamera2 < 0.3.32's hardware encoder: set the control its newer `_encode()` sets.

    The V4L2 bindings are the ones that picamera2's encoder module itself imported (`v4l2` up
    to 0.3.28, `videodev2` from 0.3.29), so this never imports a module that is not there.
    """
    binding = _v4l2_binding(encoder)
    control = binding.v4l2_control()
    control.id = binding.V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME
    control.value = 1
    fcntl.ioctl(encoder.vd, binding.VIDIOC_S_CTRL, control)


def _v4l2_binding(encoder: Any) -> Any:
    """The module namespace that picamera2's V4L2 encoder took its V4L2 names from."""
    for cls in type(encoder).__mro__:
        module = sys.modules.get(cls.__module__)
        names = vars(module) if module is not None else {}
        if all(n in names for n in ("v4l2_control", "VIDIOC_S_CTRL")):
            return _Names(names)
    raise MediaError(f"{type(encoder).__name__} has no V4L2 bindings to force a keyframe with")


class _Names:
    """A module's globals as attributes."""

    def __init__(self, names: dict[str, Any]) -> None:
        self._names = names

    def __getattr__(self, name: str) -> Any:
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(name) from None


def yuv420_jpeg(array: Any, width: int, height: int) -> bytes:
    """A picamera2 YUV420 array (`height * 3 / 2` rows of the stride) as a baseline JPEG.

    For picamera2 before 0.3.26, whose `capture_file()` cannot encode a YUV420 stream.
    """
    import fractions

    import av
    import numpy as np

    flat = np.ascontiguousarray(array).reshape(-1)
    stride = flat.size * 2 // (height * 3)
    half = stride // 2
    luma = flat[: stride * height].reshape(height, stride)[:, :width]
    chroma = flat[stride * height :].reshape(2, height // 2, half)[:, :, : width // 2]
    packed = np.concatenate([luma.reshape(-1), chroma.reshape(-1)])
    frame = av.VideoFrame.from_ndarray(packed.reshape(height * 3 // 2, width), format="yuv420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = fractions.Fraction(1, 30)
    picture = frame.reformat(format="yuvj420p")
    picture.pts = 0
    return b"".join(bytes(p) for p in [*codec.encode(picture), *codec.encode(None)])
