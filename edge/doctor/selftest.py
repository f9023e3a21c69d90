"""`edge selftest`: exercise the board's real hardware once and print a report for a bug report.

Each part passes, fails, or is skipped with the reason (a laptop has no camera, no GPIO chip;
a config without `[camera]` has nothing to test):

    camera   opens, delivers the first IDR, an IDR on demand and a JPEG snapshot
    audio    captures 2 s from the configured input; frames, overflows and the peak level
    <output> each `--toggle`d on/off output: driven away from its safe value for a short
             pulse and back, the GPIO line read back after each step

Outputs are only switched when named with `--toggle NAME` on this run. A config flag would be
written once and stay true after the wiring changes (a lamp replaced by a mains heater); the
flag on the command line is given by the person standing at the board, for the loads that are
safe to switch right now. Only on/off outputs (digital, buzzer) are pulsed: a servo or motor
moving on its own is not a test anyone wants by surprise. Every output ends at its safe value,
also when the pulse fails. The read-back is the GPIO line's level as the SoC sees it: it shows
the pin was driven, not that the relay behind it switched.
"""

from __future__ import annotations

import asyncio
import enum
import math
import platform
import struct
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge import __version__
from edge.board import read_model
from edge.config import Config
from edge.doctor.probes import read_import_error
from edge.doctor.versions import library_versions, summary
from edge.errors import EdgeError
from edge.gpio.spec import OutputSpec
from edge.media.frames import AudioSource, VideoSource
from edge.media.spec import AudioKind, CameraKind

JPEG_MAGIC = b"\xff\xd8"
PART_WIDTH = 8


class Outcome(enum.Enum):
    """What became of one part."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """The result of one part of the self-test."""

    name: str
    outcome: Outcome
    detail: str

    def line(self) -> str:
        return f"{self.outcome.value:<5} {self.name:<{PART_WIDTH}} {self.detail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rig:
    """How the self-test reaches the hardware; tests replace what a laptop lacks."""

    video: Callable[[Config], VideoSource] | None = None
    """The camera; default: the configured one."""
    audio: Callable[[Config], AudioSource] | None = None
    """The microphone; default: the configured one."""
    pin_factory: Any = None
    """gpiozero's pin factory; default: gpiozero's (lgpio on a Pi)."""
    import_error: Callable[[str], str] = read_import_error
    dev: Path = Path("/dev")
    """Where /dev/gpiochip* and /dev/video* are looked for."""
    timeout_s: float = 10.0
    """Per camera step."""
    audio_s: float = 2.0
    pulse_s: float = 0.5
    """How long a toggled output stays away from its safe value."""


async def selftest(config: Config, *, toggle: Collection[str] = (), rig: Rig = Rig()) -> list[Part]:
    """Run every part; never raises for a hardware failure (that is a FAIL part)."""
    unknown = sorted(set(toggle) - {o.name for o in config.gpio.outputs})
    parts = [await _camera(config, rig), await _audio(config, rig)]
    parts += [_output(spec, spec.name in toggle, rig) for spec in config.gpio.outputs]
    parts += [Part(name=n, outcome=Outcome.FAIL, detail="no such output") for n in unknown]
    return parts


def render(config: Config, parts: Sequence[Part]) -> str:
    """The report: what ran where, the library versions, one line per part, a count."""
    model = read_model() or "no board model (not a Raspberry Pi?)"
    head = [
        f"edge selftest {__version__}: {model}, profile {config.board.name}",
        f"python {platform.python_version()}, {platform.system()} {platform.release()}"
        f" {platform.machine()}",
        f"libraries: {summary(library_versions())}",
    ]
    counts = {o: sum(p.outcome is o for p in parts) for o in Outcome}
    tail = ", ".join(f"{counts[o]} {o.value}" for o in Outcome)
    return "\n".join([*head, *(p.line() for p in parts), f"edge selftest: {tail}"]) + "\n"


def failed(parts: Sequence[Part]) -> bool:
    return any(p.outcome is Outcome.FAIL for p in parts)


def _error(exc: Exception) -> str:
    """Our errors by their message; a library's with its type, which says more in a report."""
    if isinstance(exc, TimeoutError):
        return str(exc) or "timed out"
    return str(exc) if isinstance(exc, EdgeError) else f"{type(exc).__name__}: {exc}"


def _skip(name: str, why: str) -> Part:
    return Part(name=name, outcome=Outcome.SKIP, detail=why)


async def _camera(config: Config, rig: Rig) -> Part:
    camera = config.camera
    if camera is None or not camera.enabled:
        return _skip("camera", "no camera in the config ([camera] absent or enabled = false)")
    if rig.video is None:
        why = _camera_missing(config, rig)
        if why:
            return _skip("camera", why)
        from edge.media.sources import open_video_source

        source = open_video_source(camera, simulate=False)
    else:
        source = rig.video(config)
    try:
        async with asyncio.timeout(rig.timeout_s * 3):
            return await _exercise_camera(source, rig.timeout_s)
    except Exception as exc:  # noqa: BLE001 - whatever the library raised is the finding
        return Part(name="camera", outcome=Outcome.FAIL, detail=_error(exc))
    finally:
        await source.aclose()


def _camera_missing(config: Config, rig: Rig) -> str:
    """Why there is no real camera to test here; empty if there may be one."""
    camera = config.camera
    assert camera is not None
    if camera.source is CameraKind.SYNTHETIC:
        return "camera.source is synthetic: no camera to test"
    if camera.source is CameraKind.V4L2:
        device = Path(camera.device or "/dev/video0")
        return "" if device.exists() else f"{device} does not exist"
    error = rig.import_error("picamera2")
    if error:
        return f"picamera2 does not import ({error}): not Raspberry Pi OS?"
    if not any(rig.dev.glob("video*")) and not any(rig.dev.glob("media*")):
        return f"no {rig.dev}/video* or {rig.dev}/media* device: no camera stack"
    return ""


async def _exercise_camera(source: VideoSource, timeout_s: float) -> Part:
    async with asyncio.timeout(timeout_s):
        await source.start()
        first = 1
        while not (await source.next_frame()).keyframe:
            first += 1
    asked = time.monotonic()
    source.request_keyframe()
    async with asyncio.timeout(timeout_s):
        frames = 1
        while not (await source.next_frame()).keyframe:
            frames += 1
    idr_ms = (time.monotonic() - asked) * 1000
    async with asyncio.timeout(timeout_s):
        jpeg = await source.snapshot_jpeg()
    if not jpeg.startswith(JPEG_MAGIC):
        return Part(name="camera", outcome=Outcome.FAIL, detail="the snapshot is not a JPEG")
    return Part(
        name="camera",
        outcome=Outcome.PASS,
        detail=f"{source.width}x{source.height}@{source.framerate:g}: first IDR at frame {first},"
        f" IDR on demand after {frames} frame(s) ({idr_ms:.0f} ms), snapshot {len(jpeg)} B JPEG",
    )


async def _audio(config: Config, rig: Rig) -> Part:
    mic = config.microphone
    if mic is None or not mic.enabled:
        return _skip("audio", "no microphone in the config ([microphone] absent or disabled)")
    if rig.audio is None:
        if mic.source is AudioKind.SYNTHETIC:
            return _skip("audio", "microphone.source is synthetic: no sound card to test")
        error = rig.import_error("pyaudio")
        if error:
            return _skip("audio", f"pyaudio does not import ({error})")
        if not any((rig.dev / "snd").glob("pcmC*c")):
            return _skip("audio", f"no capture device in {rig.dev}/snd")
        from edge.media.sources import open_audio_source

        source = open_audio_source(mic, simulate=False)
    else:
        source = rig.audio(config)
    try:
        async with asyncio.timeout(rig.audio_s + rig.timeout_s):
            await source.start()
            samples = frames = peak = 0
            while samples < rig.audio_s * source.sample_rate:
                frame = await source.next_frame()
                frames += 1
                samples += frame.samples
                pcm = struct.unpack(f"<{len(frame.data) // 2}h", frame.data)
                peak = max(peak, *(abs(s) for s in pcm))
    except Exception as exc:  # noqa: BLE001 - whatever the library raised is the finding
        return Part(name="audio", outcome=Outcome.FAIL, detail=_error(exc))
    finally:
        await source.aclose()
    level = f"{20 * math.log10(peak / 32768):.1f} dBFS" if peak else "silence (-inf dBFS)"
    overflows = getattr(source, "overflows", 0)
    return Part(
        name="audio",
        outcome=Outcome.PASS,
        detail=f"{samples / source.sample_rate:.1f} s at {source.sample_rate} Hz in {frames}"
        f" frames, {overflows} overflow(s), peak {level}",
    )


def _output(spec: OutputSpec, toggle: bool, rig: Rig) -> Part:
    if not toggle:
        return _skip(spec.name, f"not switched: add --toggle {spec.name} if what it drives is safe")
    if not spec.kind.binary:
        return _skip(spec.name, f"{spec.kind.value} outputs are not pulsed (only on/off ones)")
    if rig.pin_factory is None and not any(rig.dev.glob("gpiochip*")):
        return _skip(spec.name, f"no {rig.dev}/gpiochip*: no GPIO on this machine")
    from edge.gpio.devices import build_outputs

    safe = int(spec.safe_value)
    steps = [("safe", safe), ("pulse", 1 - safe), ("safe", safe)]
    seen: list[str] = []
    try:
        output = build_outputs([spec], rig.pin_factory)[spec.name]
    except Exception as exc:  # noqa: BLE001 - whatever the library raised is the finding
        return Part(name=spec.name, outcome=Outcome.FAIL, detail=_error(exc))
    try:
        for i, (_, value) in enumerate(steps):
            if i:
                output.drive(value)
            level = output.level()
            seen.append(f"{value}->{level:g}")
            if level != value:
                return Part(
                    name=spec.name,
                    outcome=Outcome.FAIL,
                    detail=f"pin {spec.pins[0]} driven to {value}, reads {level:g}"
                    f" ({', '.join(seen)})",
                )
            if i == 1:
                time.sleep(rig.pulse_s)  # the pulse a person at the board sees or hears
    except Exception as exc:  # noqa: BLE001 - whatever the library raised is the finding
        return Part(name=spec.name, outcome=Outcome.FAIL, detail=_error(exc))
    finally:
        try:
            output.drive(safe)
        finally:
            output.close()
    return Part(
        name=spec.name,
        outcome=Outcome.PASS,
        detail=f"pin {spec.pins[0]} pulsed {rig.pulse_s:g} s, read back {', '.join(seen)}",
    )
