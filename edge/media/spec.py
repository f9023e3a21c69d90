"""Media specs: the `[camera]` and `[microphone]` config sections as frozen dataclasses.

Each key is declared once below (`edge.settings.setting`): its default, bounds and doc. A
camera's picture defaults follow its `source` (the test pattern is smaller) and, for a real
camera, the board profile; `python -m edge.reference` renders docs/configuration.md's tables.

[camera]
source = "picamera2"        # picamera2 | v4l2 | synthetic (test pattern; `--simulate` uses it)
encoder = "hardware"        # hardware (Pi Zero 2 W .. Pi 4) | software (libx264, e.g. the Pi 5)

[microphone]
source = "pyaudio"          # pyaudio | synthetic (a sine tone; `--simulate` uses it)
sample_rate = 48000         # 20 ms frames of sample_rate / 50 samples
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.media.microphone_spec import (
    BOARD,
    AudioKind,
    MicrophoneConfig,
    describe_microphone,
    parse_microphone,
)
from edge.settings import Read, known_keys, read_section, setting
from edge.toml_table import Table

if TYPE_CHECKING:
    from edge.board import BoardProfile as BoardDefaults

__all__ = [
    "AudioKind",
    "CameraConfig",
    "CameraKind",
    "EncoderKind",
    "MicrophoneConfig",
    "describe_camera",
    "describe_microphone",
    "parse_camera",
    "parse_microphone",
]


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


HARDWARE_MAX_SIZE = (1920, 1080)
HARDWARE_MAX_PIXEL_RATE = 1920 * 1080 * 30
"""The Pi's encoder manages 1080p30 (H.264 level 4.x)."""
SOFTWARE_MAX_SIZE = (3840, 2160)
MIN_SIDE = 32


def _picture(synthetic: Any, board: Callable[[BoardDefaults], Any]) -> dict[str, Any]:
    """A picture default's declaration: `synthetic` for the test pattern, else the board
    profile's, if any, else the declared one."""

    def default(read: Read) -> Any:
        if read["source"] is CameraKind.SYNTHETIC:
            return synthetic
        profile: BoardDefaults | None = read.context.get("board")
        return None if profile is None else board(profile)

    return {"default_from": default, "shown_default": f"{BOARD}; synthetic `{synthetic}`"}


def _encoder(read: Read) -> EncoderKind | None:
    if read["source"] is not CameraKind.PICAMERA2:
        return EncoderKind.SOFTWARE
    profile: BoardDefaults | None = read.context.get("board")
    return None if profile is None else EncoderKind(profile.encoder)


def _device(device: str, read: Read) -> str | None:
    if read["source"] is CameraKind.PICAMERA2 and not device.isdigit():
        return f"expected a camera number such as '0' for picamera2, got {device!r}"
    return None


def _side(index: int) -> Callable[[int, Read], str | None]:
    """A picture side's check: even (4:2:0 chroma is subsampled by two), within the encoder's
    range (`index` 0: width, 1: height)."""

    def check(value: int, read: Read) -> str | None:
        hardware = read["encoder"] is EncoderKind.HARDWARE
        maximum = (HARDWARE_MAX_SIZE if hardware else SOFTWARE_MAX_SIZE)[index]
        if value % 2 or not MIN_SIDE <= value <= maximum:
            kind = "hardware" if hardware else "software"
            return f"must be even and {MIN_SIDE}..{maximum} for the {kind} encoder, got {value}"
        return None

    return check


def _pixel_rate(framerate: float, read: Read) -> str | None:
    """The hardware encoder's pixel-rate limit, checked once the size itself is fine."""
    if read["encoder"] is not EncoderKind.HARDWARE or read.refused & {"width", "height"}:
        return None
    width, height = read["width"], read["height"]
    if width * height * framerate <= HARDWARE_MAX_PIXEL_RATE:
        return None
    return (
        f"the hardware encoder manages at most 1920x1080 at 30 fps"
        f" ({HARDWARE_MAX_PIXEL_RATE} pixels/s), got {width}x{height} at {framerate:g}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraConfig:
    """The camera track: device, encoder and picture settings (in the order they are read)."""

    source: CameraKind = setting(
        CameraKind.PICAMERA2,
        kind="choice",
        choices=CameraKind,
        doc="`picamera2` (a Raspberry Pi camera), `v4l2` (a USB camera, encoded with libx264),"
        " `synthetic` (a moving test pattern; `--simulate` uses it).",
    )
    encoder: EncoderKind = setting(
        EncoderKind.HARDWARE,
        kind="choice",
        choices=EncoderKind,
        kinds=("picamera2",),
        elsewhere="applies to picamera2 only; {kind} uses libx264",
        default_from=_encoder,
        shown_default=BOARD,
        doc="picamera2 only: `hardware` (the SoC's H.264 encoder, Pi Zero 2 W up to Pi 4) or"
        " `software` (libx264, e.g. the Pi 5); other sources always use libx264.",
    )
    device: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        kinds=("picamera2", "v4l2"),
        check_with=_device,
        doc='picamera2: the camera number (`""` = 0); v4l2: the device path'
        ' (`""` = `/dev/video0`); not for synthetic.',
    )
    clip: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        kinds=("synthetic",),
        elsewhere='applies to source = "synthetic" only, not {kind}',
        doc="synthetic only: a pre-encoded H.264 file replayed instead of encoding with libx264,"
        " for a PyAV without it ([camera-and-audio.md](camera-and-audio.md"
        "#the-synthetic-camera-without-libx264-cameraclip)).",
    )
    name: str = setting(
        "camera", kind="string", max_bytes=256, blank=False, doc="Track name in the room."
    )
    width: int = setting(
        1280,
        kind="int",
        low=1,
        high=100_000,
        **_picture(640, lambda board: board.camera.width),
        check_with=_side(0),
        doc="Even, 32 to 1920 (hardware encoder) or 3840 (software).",
    )
    height: int = setting(
        720,
        kind="int",
        low=1,
        high=100_000,
        **_picture(360, lambda board: board.camera.height),
        check_with=_side(1),
        doc="Even, 32 to 1080 (hardware encoder) or 2160 (software).",
    )
    framerate: float = setting(
        30.0,
        kind="float",
        low=1.0,
        high=120.0,
        **_picture(15.0, lambda board: board.camera.framerate),
        check_with=_pixel_rate,
        doc="Frames per second; the hardware encoder manages at most 1920x1080 at 30 fps worth"
        " of pixels per second.",
    )
    bitrate: int = setting(
        1_500_000,
        kind="int",
        low=50_000,
        high=25_000_000,
        **_picture(600_000, lambda board: board.camera.bitrate),
        doc="Target bits per second of the H.264 stream.",
    )
    keyframe_interval_s: float = setting(
        2.0,
        kind="float",
        low=0.1,
        high=60.0,
        doc="Seconds between periodic IDRs; viewers' PLIs ask for extra ones.",
    )
    allow: tuple[str, ...] = setting(
        (),
        kind="strings",
        doc="Who may call `media.set` / `camera.snapshot` on it; empty = nobody.",
    )
    enabled: bool = setting(
        True, kind="bool", doc="Publish at start; `media.set` turns it on and off at run time."
    )

    @property
    def keyframe_interval_frames(self) -> int:
        """`keyframe_interval_s` in frames (the encoder's `iperiod`), at least 1."""
        return max(1, round(self.keyframe_interval_s * self.framerate))


SCHEMA: Mapping[str, tuple[str, ...]] = {
    "camera": known_keys(CameraConfig),
    "microphone": known_keys(MicrophoneConfig),
}
"""The keys of both media sections (the microphone's are declared in its own module)."""


def parse_camera(table: Table, *, board: BoardDefaults | None = None) -> CameraConfig:
    """Read the `[camera]` table over the board profile's defaults; problems go on `table`."""
    values = read_section(table, CameraConfig, noun="camera", by="source", context={"board": board})
    table.check_unknown()
    return CameraConfig(**values)


SYNTHETIC_CAMERA = parse_camera(Table("camera", {"source": "synthetic"}, [], SCHEMA))
"""The test pattern's defaults: libx264 shares two small cores with everything else."""


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
