"""MicrophoneSource: pyaudio in callback mode, 20 ms s16 frames to the event loop.

PortAudio calls our stream callback on its own thread once per buffer (`sample_rate / 50`
frames, 20 ms); the callback copies the buffer into a `PcmFrame` and puts it in a
`ThreadToLoop` (audio policy: drop the oldest). pyaudio is imported lazily, in a worker thread,
through a loader returning the module or a twin with its shape (`edge.media.synthetic`).

An input overflow (PortAudio dropped samples because we were late) is counted and tolerated.
A device that vanishes stops calling back; after `stall_timeout_s` without audio
`next_frame()` raises DeviceUnavailable and the caller reopens later (PortAudio only sees a
re-plugged device after a new `PyAudio()`, which the next `start()` makes).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge.errors import DeviceUnavailable, MediaError
from edge.media.bridge import DropPolicy, ThreadToLoop
from edge.media.capture import CaptureSource
from edge.media.frames import PcmFrame
from edge.media.spec import MicrophoneConfig

_LOGGER = logging.getLogger(__name__)

QUEUE_FRAMES = 10
"""200 ms of audio waits for the consumer; beyond that the oldest goes."""
STALL_TIMEOUT_S = 1.0
"""No buffer from PortAudio for this long means the device is gone."""
BYTES_PER_SAMPLE = 2


def load_pyaudio() -> Any:
    """The real pyaudio module (apt's python3-pyaudio); blocking, call it off the event loop."""
    try:
        import pyaudio
    except ImportError as exc:
        raise MediaError(
            f"pyaudio is not importable ({exc}); on Raspberry Pi OS install python3-pyaudio"
            " and create the venv with --system-site-packages, or set microphone.source"
        ) from None
    return pyaudio


class MicrophoneSource(CaptureSource[PcmFrame]):
    """A sound-card input as an `AudioSource` of 20 ms PCM frames."""

    kind = "microphone"

    def __init__(
        self,
        config: MicrophoneConfig,
        *,
        pyaudio: Callable[[], Any] = load_pyaudio,
        stall_timeout_s: float = STALL_TIMEOUT_S,
    ) -> None:
        super().__init__(stall_timeout_s=stall_timeout_s)
        self.config = config
        self.sample_rate = config.sample_rate
        self.channels = config.channels
        self.overflows = 0
        """Buffers PortAudio flagged as input overflow (samples lost before we saw them)."""
        self.device_name = ""
        """The input device in use."""
        self._load = pyaudio
        self._overflow_flag = 0
        self._continue = 0
        self._audio: Any = None
        self._stream: Any = None
        self._lock = threading.Lock()  # the PortAudio handles, between the loop and workers

    async def start(self) -> None:
        """Open the input device and start capturing; DeviceUnavailable if there is none."""
        self._starting()
        bridge: ThreadToLoop[PcmFrame] = ThreadToLoop(
            asyncio.get_running_loop(),
            maxsize=QUEUE_FRAMES,
            policy=DropPolicy.DROP_OLDEST,
            name="microphone",
        )
        await self._run_with(bridge)

    async def next_frame(self) -> PcmFrame:
        """The next 20 ms; DeviceUnavailable if the device stopped, MediaError once closed."""
        return await self._next()

    def _stalled(self) -> DeviceUnavailable:
        stream = self._stream
        active = stream is not None and _quietly(stream.is_active)
        how = "stream still open" if active else "stream ended"
        return DeviceUnavailable(
            f"the microphone {self.device_name!r} sent no audio for"
            f" {self._stall_timeout_s:g} s ({how}; unplugged?)"
        )

    # -- worker threads --------------------------------------------------------------------

    def _open(self) -> None:
        """Import pyaudio, pick the device, open a callback stream (blocking)."""
        pyaudio = self._load()
        self._overflow_flag = pyaudio.paInputOverflow
        self._continue = pyaudio.paContinue
        audio = pyaudio.PyAudio()
        with self._lock:
            self._audio = audio
        index, info = _pick_device(audio, self.config.device, self.channels)
        self.device_name = str(info.get("name", index))
        try:
            stream = audio.open(
                format=pyaudio.paInt16,
                channels=self.channels,
                rate=self.sample_rate,
                input=True,
                input_device_index=index,
                frames_per_buffer=self.config.frame_samples,
                stream_callback=self._callback,
                start=False,
            )
        except (OSError, ValueError) as exc:
            raise DeviceUnavailable(
                f"cannot open input device {index} {self.device_name!r} at"
                f" {self.sample_rate} Hz, {self.channels} channel(s): {exc}"
            ) from None
        with self._lock:
            self._stream = stream
        stream.start_stream()
        _LOGGER.info(
            "microphone %r capturing %d Hz, %d channel(s), %d-sample frames",
            self.device_name,
            self.sample_rate,
            self.channels,
            self.config.frame_samples,
        )

    def _release(self) -> None:
        """Stop the stream and free PortAudio (blocking); safe to call more than once."""
        with self._lock:
            stream, self._stream = self._stream, None
            audio, self._audio = self._audio, None
        if stream is not None:
            for step in (stream.stop_stream, stream.close):
                try:
                    step()
                except (OSError, ValueError) as exc:
                    _LOGGER.warning("microphone: %s failed: %s", step.__name__, exc)
        if audio is not None:
            audio.terminate()

    def _callback(
        self, in_data: bytes | None, frame_count: int, time_info: Any, status: int
    ) -> tuple[None, int]:
        """On PortAudio's thread: one buffer in, one PcmFrame to the bridge."""
        if status & self._overflow_flag:
            self.overflows += 1
        bridge = self._bridge
        if in_data and bridge is not None:
            duration_us = frame_count * 1_000_000 // self.sample_rate
            bridge.put(
                PcmFrame(
                    data=bytes(in_data),
                    sample_rate=self.sample_rate,
                    channels=self.channels,
                    samples=len(in_data) // (BYTES_PER_SAMPLE * self.channels),
                    timestamp_us=time.monotonic_ns() // 1000 - duration_us,
                )
            )
        return None, self._continue


def _pick_device(audio: Any, wanted: str, channels: int) -> tuple[int, dict[str, Any]]:
    """The input device `wanted` names: "" = the default, digits = an index, else a name part."""
    inputs = []
    for index in range(audio.get_device_count()):
        try:
            info = dict(audio.get_device_info_by_index(index))
        except (OSError, ValueError):
            continue
        if int(info.get("maxInputChannels", 0)) > 0:
            inputs.append((index, info))
    listing = ", ".join(f"{i}: {info.get('name', '?')!r}" for i, info in inputs) or "none"
    if not wanted:
        try:
            info = dict(audio.get_default_input_device_info())
        except (OSError, ValueError):
            raise DeviceUnavailable(f"no default audio input device (inputs: {listing})") from None
        chosen = [(int(info["index"]), info)]
    elif wanted.isdigit():
        chosen = [(i, info) for i, info in inputs if i == int(wanted)]
    else:
        chosen = [(i, info) for i, info in inputs if wanted.lower() in str(info["name"]).lower()]
    if not chosen:
        raise DeviceUnavailable(f"no audio input device {wanted!r} (inputs: {listing})")
    index, info = chosen[0]
    if int(info.get("maxInputChannels", 0)) < channels:
        raise DeviceUnavailable(
            f"audio input {index} {info.get('name')!r} has"
            f" {info.get('maxInputChannels')} channel(s), {channels} configured"
        )
    return index, info


def _quietly(check: Callable[[], Any]) -> bool:
    try:
        return bool(check())
    except (OSError, ValueError):
        return False
