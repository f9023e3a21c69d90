"""Media specs: the `[camera]` and `[microphone]` config sections as frozen dataclasses.

[camera]
enabled = true
source = "picamera2"        # picamera2 | v4l2 | synthetic (test pattern; `--simulate` uses it)
encoder = "hardware"        # hardware (Pi Zero 2 W .. Pi 4) | software (libx264, e.g. the Pi 5)
device = ""                 # picamera2: camera number ("" = 0); v4l2: path ("" = /dev/video0)
name = "camera"             # track name
width = 1280                # synthetic: 640
height = 720                # synthetic: 360
framerate = 30.0            # synthetic: 15
bitrate = 1500000           # bits per second
keyframe_interval_s = 2.0   # periodic IDR; viewers' PLIs ask for extra ones (rate-limited)
allow = []                  # who may call media.set / camera.snapshot on it; empty = nobody
clip = ""                   # synthetic: replay this H.264 file instead of libx264 (edge.media.clip)

[microphone]
enabled = true
source = "pyaudio"          # pyaudio | synthetic (a sine tone; `--simulate` uses it)
device = ""                 # input device: a name substring or an index ("" = the default)
name = "microphone"         # track name
sample_rate = 48000         # 20 ms frames of sample_rate / 50 samples
channels = 1
tone_hz = 440.0             # synthetic: the tone's frequency
bitrate_kbps = 32           # Opus, mono: 6..128 kbit/s
complexity = 5              # Opus encoder effort 0..10 (lower spares a Pi Zero's CPU)
allow = []                  # who may call media.set on it; empty = nobody
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.toml_table import Table

if TYPE_CHECKING:
    from edge.board import BoardProfile as BoardDefaults


class CameraKind(enum.Enum):
    """Where camera pictures come from."""

    PICAMERA2 = "picamera2"
    """A Raspberry Pi camera through picamera2 (libcamera)."""
    V4L2 = "v4l2"
    """A USB/V4L2 camera read with PyAV and encoded with libx264."""
    SYNTHETIC = "synthetic"
    """A moving test pattern encoded with libx264."""


class EncoderKind(enum.Enum):
    """Which H.264 encoder picamera2 drives."""

    HARDWARE = "hardware"
    """The SoC's V4L2 encoder (Pi Zero 2 W up to Pi 4): `H264Encoder`."""
    SOFTWARE = "software"
    """libx264 through PyAV (Pi 5, no hardware encoder): `LibavH264Encoder`."""


class AudioKind(enum.Enum):
    """Where microphone audio comes from."""

    PYAUDIO = "pyaudio"
    """A sound card input through pyaudio (PortAudio)."""
    SYNTHETIC = "synthetic"
    """A sine tone."""


HARDWARE_MAX_SIZE = (1920, 1080)
HARDWARE_MAX_PIXEL_RATE = 1920 * 1080 * 30
"""The Pi's encoder manages 1080p30 (H.264 level 4.x)."""
SOFTWARE_MAX_SIZE = (3840, 2160)
MIN_SIDE = 32
SAMPLE_RATES = (16000, 24000, 32000, 44100, 48000)
FRAMES_PER_SECOND_AUDIO = 50
"""Audio frames are 20 ms."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraConfig:
    """The camera track: device, encoder and picture settings."""

    enabled: bool = True
    """Publish at start; `media.set` turns it on and off at run time."""
    source: CameraKind = CameraKind.PICAMERA2
    encoder: EncoderKind = EncoderKind.HARDWARE
    """picamera2 only: the Pi's hardware encoder or libx264."""
    device: str = ""
    """picamera2: the camera number ("" = 0); v4l2: the device path ("" = /dev/video0)."""
    name: str = "camera"
    """Track name in the room."""
    width: int = 1280
    height: int = 720
    framerate: float = 30.0
    bitrate: int = 1_500_000
    """Target bits per second of the H.264 stream."""
    keyframe_interval_s: float = 2.0
    """Seconds between periodic IDRs; PLIs from viewers ask for extra ones."""
    allow: tuple[str, ...] = ()
    """Caller identity patterns allowed to call media.set and camera.snapshot; empty: nobody."""
    clip: str = ""
    """synthetic: a pre-encoded H.264 file replayed instead of encoding with libx264, for a
    PyAV without it (PyPI's armv7l wheel); see edge.media.clip."""

    @property
    def keyframe_interval_frames(self) -> int:
        """`keyframe_interval_s` in frames (the encoder's `iperiod`), at least 1."""
        return max(1, round(self.keyframe_interval_s * self.framerate))


@dataclass(frozen=True, slots=True, kw_only=True)
class MicrophoneConfig:
    """The microphone track."""

    enabled: bool = True
    """Publish at start; `media.set` turns it on and off at run time."""
    source: AudioKind = AudioKind.PYAUDIO
    device: str = ""
    """Input device: a case-insensitive name substring or an index; "" = the default input."""
    name: str = "microphone"
    """Track name in the room."""
    sample_rate: int = 48_000
    channels: int = 1
    tone_hz: float = 440.0
    """synthetic: frequency of the sine tone."""
    bitrate_kbps: int = 32
    """Target kbit/s of the mono Opus stream."""
    complexity: int = 5
    """Opus encoder effort, 0 (cheapest) .. 10 (best quality per bit)."""
    allow: tuple[str, ...] = ()
    """Caller identity patterns allowed to call media.set on it; empty: nobody."""

    @property
    def frame_samples(self) -> int:
        """Samples per channel in one 20 ms frame."""
        return self.sample_rate // FRAMES_PER_SECOND_AUDIO


SYNTHETIC_CAMERA = CameraConfig(
    source=CameraKind.SYNTHETIC,
    encoder=EncoderKind.SOFTWARE,
    width=640,
    height=360,
    framerate=15.0,
    bitrate=600_000,
)
"""Defaults for the test pattern: libx264 shares two small cores with everything else."""

SCHEMA: Mapping[str, tuple[str, ...]] = {
    "camera": (
        "enabled", "source", "encoder", "device", "name", "width", "height", "framerate",
        "bitrate", "keyframe_interval_s", "allow", "clip",
    ),
    "microphone": (
        "enabled", "source", "device", "name", "sample_rate", "channels", "tone_hz",
        "bitrate_kbps", "complexity", "allow",
    ),
}  # fmt: skip


def parse_camera(table: Table, *, board: BoardDefaults | None = None) -> CameraConfig:
    """Read the `[camera]` table over the board profile's defaults; problems go on `table`."""
    source = CameraKind(table.choice("source", "picamera2", _values(CameraKind)))
    d = SYNTHETIC_CAMERA if source is CameraKind.SYNTHETIC else CameraConfig()
    if board is not None and source is not CameraKind.SYNTHETIC:
        d = dataclasses.replace(
            d,
            encoder=EncoderKind(board.encoder),
            width=board.camera.width,
            height=board.camera.height,
            framerate=board.camera.framerate,
            bitrate=board.camera.bitrate,
        )
    encoder = EncoderKind(table.choice("encoder", d.encoder.value, _values(EncoderKind)))
    if source is not CameraKind.PICAMERA2:
        if table.has("encoder"):
            table.issue("encoder", f"applies to picamera2 only; {source.value} uses libx264")
        encoder = EncoderKind.SOFTWARE
    device = table.string("device", max_bytes=4096)
    if device and source is CameraKind.PICAMERA2 and not device.isdigit():
        table.issue("device", f"expected a camera number such as '0' for picamera2, got {device!r}")
    if device and source is CameraKind.SYNTHETIC:
        table.issue("device", "does not apply to a synthetic camera")
    clip = table.string("clip", max_bytes=4096)
    if clip and source is not CameraKind.SYNTHETIC:
        table.issue("clip", f'applies to source = "synthetic" only, not {source.value}')
    name = _name(table, d.name)
    kind = "hardware" if encoder is EncoderKind.HARDWARE else "software"
    max_w, max_h = HARDWARE_MAX_SIZE if encoder is EncoderKind.HARDWARE else SOFTWARE_MAX_SIZE
    before = table.issue_count
    width = _side(table, "width", d.width, max_w, kind)
    height = _side(table, "height", d.height, max_h, kind)
    framerate = float(table.number("framerate", d.framerate, low=1.0, high=120.0))
    pixel_rate = width * height * framerate
    if (
        encoder is EncoderKind.HARDWARE
        and table.issue_count == before
        and pixel_rate > HARDWARE_MAX_PIXEL_RATE
    ):
        table.issue(
            "framerate",
            f"the hardware encoder manages at most 1920x1080 at 30 fps"
            f" ({HARDWARE_MAX_PIXEL_RATE} pixels/s), got {width}x{height} at {framerate:g}",
        )
    bitrate = table.number("bitrate", d.bitrate, low=50_000, high=25_000_000, integer=True)
    interval = table.number("keyframe_interval_s", d.keyframe_interval_s, low=0.1, high=60.0)
    allow = table.strings("allow", d.allow)
    enabled = table.boolean("enabled", d.enabled)
    table.check_unknown()
    return CameraConfig(
        enabled=enabled,
        source=source,
        encoder=encoder,
        device=device,
        name=name,
        width=width,
        height=height,
        framerate=framerate,
        bitrate=int(bitrate),
        keyframe_interval_s=float(interval),
        allow=allow,
        clip=clip,
    )


def parse_microphone(table: Table, *, board: BoardDefaults | None = None) -> MicrophoneConfig:
    """Read the `[microphone]` table over the board profile's defaults; problems go on `table`."""
    d = MicrophoneConfig()
    if board is not None:
        audio = board.audio
        d = dataclasses.replace(
            d, device=audio.device, sample_rate=audio.sample_rate, channels=audio.channels
        )
    source = AudioKind(table.choice("source", d.source.value, _values(AudioKind)))
    device = table.string("device", max_bytes=256) if table.has("device") else ""
    if not device and source is not AudioKind.SYNTHETIC:
        device = d.device
    if table.has("device") and source is AudioKind.SYNTHETIC:
        table.issue("device", "does not apply to a synthetic microphone")
    if table.has("tone_hz") and source is not AudioKind.SYNTHETIC:
        table.issue("tone_hz", f"applies to a synthetic microphone only, not {source.value}")
    name = _name(table, d.name)
    rate = int(table.number("sample_rate", d.sample_rate, low=8000, high=192_000, integer=True))
    if rate not in SAMPLE_RATES:
        rates = ", ".join(str(r) for r in SAMPLE_RATES)
        table.issue("sample_rate", f"expected one of {rates}, got {rate}")
        rate = d.sample_rate
    channels = int(table.number("channels", d.channels, low=1, high=2, integer=True))
    tone = float(table.number("tone_hz", d.tone_hz, low=20.0, high=rate / 2))
    bitrate_kbps = int(table.number("bitrate_kbps", d.bitrate_kbps, low=6, high=128, integer=True))
    complexity = int(table.number("complexity", d.complexity, low=0, high=10, integer=True))
    allow = table.strings("allow", d.allow)
    enabled = table.boolean("enabled", d.enabled)
    table.check_unknown()
    return MicrophoneConfig(
        enabled=enabled,
        source=source,
        device=device,
        name=name,
        sample_rate=rate,
        channels=channels,
        tone_hz=tone,
        bitrate_kbps=bitrate_kbps,
        complexity=complexity,
        allow=allow,
    )


def _values(kind: type[enum.Enum]) -> tuple[str, ...]:
    return tuple(str(member.value) for member in kind)


def _name(table: Table, default: str) -> str:
    if not table.has("name"):
        return default
    name = table.string("name", required=True, max_bytes=256)
    return name or default


def _side(table: Table, key: str, default: int, maximum: int, kind: str) -> int:
    """A picture side: even (4:2:0 chroma is subsampled by two) and within the encoder's range."""
    before = table.issue_count
    value = int(table.number(key, default, low=1, high=100_000, integer=True))
    if table.issue_count != before:
        return default
    if value % 2 or not MIN_SIDE <= value <= maximum:
        table.issue(
            key, f"must be even and {MIN_SIDE}..{maximum} for the {kind} encoder, got {value}"
        )
        return default
    return value


def describe_camera(config: CameraConfig | None) -> str:
    """One line for `edge check-config`."""
    if config is None:
        return "off (no [camera] section)"
    source = config.source.value + (
        f", {config.encoder.value} encoder" if config.source is CameraKind.PICAMERA2 else ""
    )
    return (
        f"{config.name!r} {config.width}x{config.height} at {config.framerate:g} fps,"
        f" {config.bitrate // 1000} kbit/s, IDR every {config.keyframe_interval_s:g} s"
        f" ({source}{', ' + config.device if config.device else ''})"
        + ("" if config.enabled else ", disabled")
    )


def describe_microphone(config: MicrophoneConfig | None) -> str:
    """One line for `edge check-config`."""
    if config is None:
        return "off (no [microphone] section)"
    device = f", device {config.device!r}" if config.device else ""
    tone = f", {config.tone_hz:g} Hz tone" if config.source is AudioKind.SYNTHETIC else ""
    return (
        f"{config.name!r} {config.sample_rate} Hz, {config.channels} channel(s),"
        f" Opus mono {config.bitrate_kbps} kbit/s"
        f" ({config.source.value}{device}{tone})" + ("" if config.enabled else ", disabled")
    )
