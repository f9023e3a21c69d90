"""What capture sources hand to the tracks: encoded video, PCM audio, and the source contracts.

Pure: no asyncio objects are created here and nothing heavy (av, picamera2, pyaudio) is imported,
so the daemon, the tracks and the tests can name these types cheaply.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

H264_START_CODE = b"\x00\x00\x01"
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
KEYFRAME_MIN_INTERVAL_S = 0.5
"""Fewest seconds between two IDRs we ask an encoder for (the SFU throttles PLIs to 0.5-1 s)."""


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One H.264 access unit as the encoder produced it."""

    data: bytes
    """Annex-B byte stream; SPS and PPS precede every IDR."""
    keyframe: bool
    """An IDR: a decoder can start here."""
    timestamp_us: int
    """Capture time, monotonic microseconds."""


@dataclass(frozen=True, slots=True)
class PcmFrame:
    """A slice of microphone audio, usually 20 ms."""

    data: bytes
    """Signed 16-bit little-endian samples, channels interleaved."""
    sample_rate: int
    """Samples per second per channel (48000)."""
    channels: int
    """1 (mono) or 2 (stereo)."""
    samples: int
    """Samples per channel; 960 is 20 ms at 48 kHz."""
    timestamp_us: int
    """Capture time of the first sample, monotonic microseconds."""


class SourceState(enum.Enum):
    """Lifecycle of a capture source, as status shows it."""

    STOPPED = "stopped"
    """Not started yet, or closed."""
    STARTING = "starting"
    """Opening the device."""
    RUNNING = "running"
    """Delivering frames."""
    FAILED = "failed"
    """The device failed or vanished; `last_error` says why."""


class VideoSource(Protocol):
    """A camera delivering H.264 access units, ready to be sent without re-encoding."""

    @property
    def width(self) -> int:
        """Picture width in pixels, as configured."""
        ...

    @property
    def height(self) -> int:
        """Picture height in pixels, as configured."""
        ...

    @property
    def framerate(self) -> float:
        """Frames per second, as configured."""
        ...

    @property
    def bitrate(self) -> int:
        """Target bits per second, as configured."""
        ...

    @property
    def state(self) -> SourceState:
        """Where the source is in its lifecycle."""
        ...

    @property
    def last_error(self) -> str:
        """Why the source last failed; empty if it never did."""
        ...

    @property
    def dropped(self) -> int:
        """Frames the bridge dropped because the consumer was slower than the encoder."""
        ...

    async def start(self) -> None:
        """Open the device; DeviceUnavailable (missing, busy) or MediaError (bad settings)."""
        ...

    async def aclose(self) -> None:
        """Release the device; idempotent."""
        ...

    async def next_frame(self) -> EncodedFrame:
        """The next access unit; DeviceUnavailable if the device vanished, MediaError if closed."""
        ...

    def request_keyframe(self) -> None:
        """Ask for an IDR soon; rate-limited, called from the event loop."""
        ...

    async def snapshot_jpeg(self) -> bytes:
        """A JPEG of the current picture, encoded off the event loop."""
        ...


class AudioSource(Protocol):
    """A microphone delivering 20 ms PCM frames."""

    @property
    def sample_rate(self) -> int:
        """Samples per second per channel."""
        ...

    @property
    def channels(self) -> int:
        """1 or 2."""
        ...

    @property
    def state(self) -> SourceState:
        """Where the source is in its lifecycle."""
        ...

    @property
    def last_error(self) -> str:
        """Why the source last failed; empty if it never did."""
        ...

    @property
    def dropped(self) -> int:
        """Frames the bridge dropped because the consumer was slower than the device."""
        ...

    async def start(self) -> None:
        """Open the device; DeviceUnavailable if there is none or it is busy."""
        ...

    async def aclose(self) -> None:
        """Release the device; idempotent."""
        ...

    async def next_frame(self) -> PcmFrame:
        """The next 20 ms; DeviceUnavailable if the device vanished, MediaError if closed."""
        ...


class KeyframeLimiter:
    """Passes keyframe requests to the encoder at most once per `min_interval_s`.

    A request inside the interval is remembered and fired by `poll()` once the interval has
    passed, unless an IDR arrived in between: a viewer that joins just after an IDR still gets
    one, and a burst of PLIs costs one IDR.
    """

    def __init__(
        self,
        force: Callable[[], None],
        *,
        min_interval_s: float = KEYFRAME_MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._force = force
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last: float | None = None
        self._pending = False
        self._lock = threading.Lock()  # the bridge's overflow callback may come from a thread
        self.forced = 0
        """IDRs asked of the encoder so far."""

    def request(self) -> None:
        """Ask for an IDR now, or as soon as the interval allows."""
        with self._lock:
            self._pending = True
        self.poll()

    def poll(self) -> None:
        """Fire a remembered request whose interval has passed."""
        with self._lock:
            now = self._clock()
            if not self._pending or (
                self._last is not None and now - self._last < self._min_interval_s
            ):
                return
            self._pending = False
            self._last = now
            self.forced += 1
        self._force()

    def saw_keyframe(self) -> None:
        """An IDR came out of the encoder: it answers any pending request."""
        with self._lock:
            self._pending = False


def nal_units(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex-B byte stream, start codes removed."""
    starts: list[int] = []
    pos = data.find(H264_START_CODE)
    while pos != -1:
        starts.append(pos + len(H264_START_CODE))
        pos = data.find(H264_START_CODE, pos + len(H264_START_CODE))
    for index, start in enumerate(starts):
        end = starts[index + 1] - len(H264_START_CODE) if index + 1 < len(starts) else len(data)
        # a 4-byte start code leaves its leading zero at the end of the previous unit
        unit = data[start:end]
        yield unit.rstrip(b"\x00") if index + 1 < len(starts) else unit


def nal_types(data: bytes) -> list[int]:
    """The `nal_unit_type` of each NAL unit in an Annex-B access unit, in order."""
    return [unit[0] & 0x1F for unit in nal_units(data) if unit]
