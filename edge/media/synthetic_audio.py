"""A twin of pyaudio, cut at its library boundary, for `--simulate`, CI and benches.

`SyntheticAudioSystem.module()` is a `pyaudio`-shaped module whose input stream thread calls
the stream callback every buffer, in real time, with a sine tone. The system can lose its
input devices at run time (`unplug()`) or have none to begin with.
"""

from __future__ import annotations

import array
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

_LOGGER = logging.getLogger(__name__)

TONE_AMPLITUDE = 0.3
"""Of full scale: loud enough to measure, far from clipping."""


def default_sound_cards() -> list[dict[str, Any]]:
    """Device infos shaped like pyaudio's: one input (the tone), one output-only card."""
    return [
        _device_info(0, "Synthetic Microphone: tone (hw:1,0)", inputs=2),
        _device_info(1, "Synthetic Speaker (hw:0,0)", inputs=0),
    ]


class SyntheticAudioSystem:
    """The simulated sound cards: their devices, the tone, and failures at run time."""

    def __init__(
        self, *, tone_hz: float = 440.0, devices: list[dict[str, Any]] | None = None
    ) -> None:
        self.tone_hz = tone_hz
        self.devices = default_sound_cards() if devices is None else devices
        """What a new `PyAudio()` enumerates (PortAudio scans at initialisation)."""
        self.streams: list[SyntheticStream] = []
        """Streams open right now."""
        self.pending_overflows = 0
        """The next this-many callbacks carry paInputOverflow."""
        self._lock = threading.Lock()

    def module(self) -> SyntheticPyAudioModule:
        """A `pyaudio`-shaped module bound to this system."""
        return SyntheticPyAudioModule(self)

    def unplug(self, *, hang: bool = False) -> None:
        """Input devices vanish: open streams stop calling back, new scans find none.

        `hang`: the streams still claim to be active (an ALSA device that stopped answering).
        """
        with self._lock:
            self.devices = [d for d in self.devices if d["maxInputChannels"] == 0]
            streams = list(self.streams)
        for stream in streams:
            stream.vanish(hang=hang)

    def plug_in(self) -> None:
        """The default cards are back (for the next `PyAudio()`)."""
        with self._lock:
            self.devices = default_sound_cards()

    def take_overflow(self) -> bool:
        with self._lock:
            if self.pending_overflows <= 0:
                return False
            self.pending_overflows -= 1
            return True


class SyntheticPyAudioModule:
    """The parts of the `pyaudio` module a capture program uses."""

    paInt16 = 8
    paContinue = 0
    paComplete = 1
    paAbort = 2
    paInputUnderflow = 1
    paInputOverflow = 2

    def __init__(self, system: SyntheticAudioSystem) -> None:
        self._system = system

    def PyAudio(self) -> SyntheticPyAudio:
        return SyntheticPyAudio(self._system)

    def get_sample_size(self, fmt: int) -> int:
        if fmt != self.paInt16:
            raise ValueError("Invalid format")
        return 2


class SyntheticPyAudio:
    """`pyaudio.PyAudio`: devices as scanned at creation, input streams in callback mode."""

    def __init__(self, system: SyntheticAudioSystem) -> None:
        self._system = system
        self._devices = [dict(d) for d in system.devices]
        # PortAudio reads this once, at initialisation: ALSA hw: devices through plughw
        self._plughw = os.environ.get("PA_ALSA_PLUGHW", "0").strip() not in ("", "0")

    def get_device_count(self) -> int:
        return len(self._devices)

    def get_device_info_by_index(self, device_index: int) -> dict[str, Any]:
        if not 0 <= device_index < len(self._devices):
            raise OSError(-9996, "Invalid device index")
        return dict(self._devices[device_index])

    def get_default_input_device_info(self) -> dict[str, Any]:
        for info in self._devices:
            if info["maxInputChannels"] > 0:
                return dict(info)
        raise OSError(-9996, "No Default Input Device Available")

    def open(
        self,
        rate: int,
        channels: int,
        format: int,
        input: bool = False,
        output: bool = False,
        input_device_index: int | None = None,
        frames_per_buffer: int = 1024,
        start: bool = True,
        stream_callback: Callable[..., tuple[Any, int]] | None = None,
        **_: Any,
    ) -> SyntheticStream:
        if format != SyntheticPyAudioModule.paInt16:
            raise ValueError("Invalid format")
        if not input or output or stream_callback is None:
            raise ValueError("the synthetic sound card only does input streams with a callback")
        info = (
            self.get_default_input_device_info()
            if input_device_index is None
            else self.get_device_info_by_index(input_device_index)
        )
        if info["name"] not in (d["name"] for d in self._system.devices):
            raise OSError(-9985, "Device unavailable")
        if not 0 < channels <= info["maxInputChannels"]:
            raise OSError(-9998, "Invalid number of channels")
        if info.get("unreachable"):  # PipeWire's ALSA device, for a user without a session
            raise OSError(-9999, "Unanticipated host error")
        native = info.get("native")  # an ALSA hw: device opened without plughw: no conversion
        if native is not None and not self._plughw:
            rates, native_channels = native
            if rate not in rates:
                raise OSError(-9997, "Invalid sample rate")
            if channels != native_channels:
                raise OSError(-9998, "Invalid number of channels")
        stream = SyntheticStream(self._system, rate, channels, frames_per_buffer, stream_callback)
        if start:
            stream.start_stream()
        return stream

    def terminate(self) -> None:
        """Like PortAudio's: streams the caller forgot are closed."""
        with self._system._lock:
            streams = list(self._system.streams)
        for stream in streams:
            stream.close()


class SyntheticStream:
    """An input stream whose thread calls back once per buffer, paced in real time."""

    def __init__(
        self,
        system: SyntheticAudioSystem,
        rate: int,
        channels: int,
        frames_per_buffer: int,
        callback: Callable[..., tuple[Any, int]],
    ) -> None:
        self.rate = rate
        self.channels = channels
        self.frames_per_buffer = frames_per_buffer
        self.callbacks = 0
        self._system = system
        self._callback = callback
        self._phase = 0.0
        self._stop = threading.Event()
        self._vanished = threading.Event()
        self._hang = False
        self._thread: threading.Thread | None = None
        with system._lock:
            system.streams.append(self)

    def start_stream(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="synthetic-audio", daemon=True)
        self._thread.start()

    def stop_stream(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def is_active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def is_stopped(self) -> bool:
        return not self.is_active()

    def close(self) -> None:
        self.stop_stream()
        with self._system._lock:
            if self in self._system.streams:
                self._system.streams.remove(self)

    def vanish(self, *, hang: bool = False) -> None:
        """The device is gone: no more callbacks; the stream ends, or with `hang` looks alive."""
        self._hang = hang
        self._vanished.set()

    def _run(self) -> None:
        period = self.frames_per_buffer / self.rate
        deadline = time.monotonic() + period
        while not self._stop.wait(max(0.0, deadline - time.monotonic())):
            if self._vanished.is_set():
                if self._hang:
                    self._stop.wait()
                return
            deadline += period
            flags = SyntheticPyAudioModule.paInputOverflow if self._system.take_overflow() else 0
            now = time.monotonic()
            times = {"input_buffer_adc_time": now - period, "current_time": now}
            try:
                _, flag = self._callback(self._tone(), self.frames_per_buffer, times, flags)
            except Exception:  # PortAudio aborts a stream whose callback raised
                _LOGGER.exception("synthetic audio: the stream callback raised; stream aborted")
                return
            self.callbacks += 1
            if flag != SyntheticPyAudioModule.paContinue:
                return

    def _tone(self) -> bytes:
        """The next buffer of the sine, phase-continuous, channels interleaved."""
        step = 2 * math.pi * self._system.tone_hz / self.rate
        scale = TONE_AMPLITUDE * 32767
        samples = array.array("h")
        for n in range(self.frames_per_buffer):
            value = int(scale * math.sin(self._phase + n * step))
            samples.extend([value] * self.channels)
        self._phase = (self._phase + self.frames_per_buffer * step) % (2 * math.pi)
        return samples.tobytes()


def hardware_card(
    index: int, name: str, *, card: int, rates: tuple[int, ...], channels: int
) -> dict[str, Any]:
    """ALSA card `card` as PortAudio device `index`: only `rates` at `channels` natively."""
    return _device_info(index, f"{name} (hw:{card},0)", inputs=channels) | {
        "native": (rates, channels)
    }


def pipewire_device(index: int) -> dict[str, Any]:
    """A Desktop image's default input: PipeWire, which a system service user cannot reach."""
    return _device_info(index, "pipewire", inputs=64) | {"unreachable": True}


def _device_info(index: int, name: str, *, inputs: int) -> dict[str, Any]:
    return {
        "index": index,
        "structVersion": 2,
        "name": name,
        "hostApi": 0,
        "maxInputChannels": inputs,
        "maxOutputChannels": 0 if inputs else 2,
        "defaultLowInputLatency": 0.0087,
        "defaultHighInputLatency": 0.0348,
        "defaultSampleRate": 48000.0,
    }
