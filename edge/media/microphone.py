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
import os
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
PLUGHW = "PA_ALSA_PLUGHW"
"""PortAudio's switch: open ALSA hw: devices through plughw (rate and channel conversion)."""


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
        self._warned_callback = False
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
        """Import pyaudio, pick the device, open a callback stream (blocking).

        PortAudio opens ALSA `hw:` devices without conversion, so 48 kHz mono only works on a
        card that does exactly that natively; `PA_ALSA_PLUGHW=1` makes it open them through
        ALSA's `plughw`, which converts. It is read once, when PortAudio initialises, so it
        is set here first (unless the user set it). With no device configured and a default
        that cannot be opened (PipeWire on a Desktop image, which the service user cannot
        reach), the hardware inputs are tried in turn.
        """
        pyaudio = self._load()
        self._overflow_flag = pyaudio.paInputOverflow
        self._continue = pyaudio.paContinue
        os.environ.setdefault(PLUGHW, "1")
        audio = pyaudio.PyAudio()
        with self._lock:
            self._audio = audio
        candidates = _pick_devices(audio, self.config.device, self.channels)
        failures: list[str] = []
        for index, info in candidates:
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
                failures.append(f"{index} {info.get('name', index)!r}: {exc}")
                continue
            self.device_name = str(info.get("name", index))
            break
        else:
            raise DeviceUnavailable(self._open_failed(candidates, failures)) from None
        if failures:
            _LOGGER.warning(
                "microphone: the default input could not be opened (%s); using %r instead;"
                " set microphone.device to choose",
                failures[0],
                self.device_name,
            )
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

    def _open_failed(
        self, candidates: list[tuple[int, dict[str, Any]]], failures: list[str]
    ) -> str:
        """Which device failed how, and what fixes it."""
        names = [str(info.get("name", "")) for _, info in candidates]
        message = (
            f"cannot open audio input at {self.sample_rate} Hz, {self.channels} channel(s): "
            + "; ".join(failures)
        )
        if any(_is_sound_server(name) for name in names):
            message += (
                "; the default input is a sound server (PipeWire/PulseAudio on Desktop"
                " images), which the edge service user cannot reach: set microphone.device"
                " to a hardware input (a name with hw:)"
            )
        if os.environ.get(PLUGHW, "").strip() in ("", "0"):
            message += (
                f"; {PLUGHW}={os.environ.get(PLUGHW, '')!r} makes PortAudio open hw: devices"
                " without conversion (only their native rate and channels): unset it or set 1"
            )
        return message

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
        """On PortAudio's thread: one buffer in, one PcmFrame to the bridge.

        Nothing raised here may reach PortAudio (it would abort the stream): caught, logged
        once, the buffer dropped.
        """
        try:
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
        except Exception:  # the library boundary
            if not self._warned_callback:
                self._warned_callback = True
                _LOGGER.exception("microphone: a buffer could not be handed on (dropped)")
        return None, self._continue


def _is_sound_server(name: str) -> bool:
    return name.lower() in ("pipewire", "pulse", "default", "sysdefault")


def _pick_devices(audio: Any, wanted: str, channels: int) -> list[tuple[int, dict[str, Any]]]:
    """The device `wanted` names; with none named, the default then every hardware input."""
    index, info = _pick_device(audio, wanted, channels)
    candidates = [(index, info)]
    if not wanted:
        for other in range(audio.get_device_count()):
            try:
                other_info = dict(audio.get_device_info_by_index(other))
            except (OSError, ValueError):
                continue
            name = str(other_info.get("name", ""))
            if (
                other != index
                and "(hw:" in name
                and int(other_info.get("maxInputChannels", 0)) >= channels
            ):
                candidates.append((other, other_info))
    return candidates


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
