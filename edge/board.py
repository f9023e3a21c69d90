"""Board profiles: what a kind of board has (pins, encoder, defaults), and which one this is.

The profiles are TOML files shipped inside the package (`edge/boards/<name>.toml`; `boards/` at
the repository root links there). A board is recognised by the model string the firmware puts
in the device tree (`/proc/device-tree/model`, e.g. "Raspberry Pi 4 Model B Rev 1.4"): the part
before " Rev " must equal one of a profile's `models` (exactly: "Compute Module 4" is a prefix
of "Compute Module 4S", another board). The user config picks a profile with
`[board] profile = "auto" | "<name>"`; its own sections (camera, gpio, ...) sit on top.
"""

from __future__ import annotations

import functools
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from edge.errors import ConfigError
from edge.settings import known_keys, read_section, setting
from edge.toml_table import Table, type_name

_LOGGER = logging.getLogger(__name__)

MODEL_PATH = Path("/proc/device-tree/model")
"""Where Linux exposes the device tree's model string (NUL-terminated)."""
AUTO = "auto"
"""`[board] profile` value that means: detect from the device tree."""
GENERIC = "generic"
"""The profile of any host that is not a known board, and of `edge run --simulate`."""
REVISION_SEPARATOR = " Rev "
ENCODERS = ("hardware", "software")
MAX_PIN = 53
"""Highest BCM GPIO number any supported SoC has (bank 0 of BCM2835..2711)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardSection:
    """The user config's `[board]` section."""

    profile: str = setting(
        AUTO,
        kind="string",
        doc="The board profile: `auto` (detected from `/proc/device-tree/model`; `generic`"
        " under `--simulate`) or a profile name: `pi-zero-w`, `pi-zero-2-w`, `pi-3`, `pi-4`,"
        " `pi-5`, `cm3`, `cm4`, `cm4s`, `generic` ([install.md](install.md#board-profiles)).",
    )


SCHEMA: Mapping[str, tuple[str, ...]] = {"board": known_keys(BoardSection)}
_PROFILE_SCHEMA: Mapping[str, tuple[str, ...]] = {
    "": ("name", "description", "arch", "debian_arches", "models", "encoder", "camera", "audio",
         "gpio"),
    "camera": ("width", "height", "framerate", "bitrate"),
    "audio": ("device", "sample_rate", "channels"),
    "gpio": ("chip", "first_pin", "last_pin", "pwm_pins", "spi_pins", "reserved"),
    "gpio.reserved[]": ("pin", "reason"),
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraDefaults:
    """What the camera captures unless the config's `[camera]` says otherwise."""

    width: int
    """Picture width in pixels."""
    height: int
    """Picture height in pixels."""
    framerate: float
    """Frames per second."""
    bitrate: int
    """Target H.264 bitrate, bits per second."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioDefaults:
    """What the microphone captures unless the config's `[microphone]` says otherwise."""

    device: str
    """Input device name substring or index; empty = the system default."""
    sample_rate: int
    """Samples per second."""
    channels: int
    """1 (mono) or 2."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardProfile:
    """One kind of board, as read from `edge/boards/<name>.toml`."""

    name: str
    """Profile name, the file's stem (`pi-zero-2-w`)."""
    description: str
    """Human name (`Raspberry Pi Zero 2 W`)."""
    arch: str
    """CPU architecture of the SoC (`armv6`, `armv8`); empty for the generic host."""
    debian_arches: tuple[str, ...]
    """Raspberry Pi OS / Debian architectures that run on it (`armhf`, `arm64`); empty = any."""
    models: tuple[str, ...]
    """Device-tree model strings without the ` Rev x.y` suffix that identify this board."""
    encoder: Literal["hardware", "software"]
    """H.264 encoder: the SoC's (`hardware`) or libx264 on the CPU (`software`)."""
    camera: CameraDefaults
    """Camera defaults sized for this board."""
    audio: AudioDefaults
    """Microphone defaults."""
    gpio_chip: str
    """Label of the GPIO chip driving the 40-pin header (`pinctrl-rp1` on the Pi 5); empty = any."""
    pins: tuple[int, ...]
    """BCM GPIO numbers a config may use."""
    pwm_pins: tuple[int, ...]
    """Pins with a hardware PWM channel of the SoC (facts only: lgpio, the pin library used,
    times PWM in software on every pin alike)."""
    spi_pins: tuple[int, ...]
    """SPI0 pins (CE0, MISO, MOSI, SCLK) an ADC input occupies."""
    reserved: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    """Pins a config must not use, with the reason (read-only)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reserved", MappingProxyType(dict(self.reserved)))

    @property
    def hardware_encoder(self) -> bool:
        """Whether the SoC encodes H.264 itself."""
        return self.encoder == "hardware"

    def matches(self, model: str) -> bool:
        """Whether a device-tree model string (revision and trailing NUL allowed) is this board."""
        return model_family(model) in self.models


def known_profiles() -> tuple[str, ...]:
    """Names of the shipped profiles, sorted."""
    folder = resources.files("edge") / "boards"
    return tuple(sorted(p.name[: -len(".toml")] for p in folder.iterdir() if _is_profile(p.name)))


@functools.cache
def load_profile(name: str) -> BoardProfile:
    """The shipped profile `name`; ConfigError naming the known ones if there is none."""
    known = known_profiles()
    if name not in known:
        raise ConfigError(f"unknown board {name!r} (known boards: {', '.join(known)})")
    source = f"edge/boards/{name}.toml"
    text = (resources.files("edge") / "boards" / f"{name}.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    issues: list[str] = []
    profile = _parse_profile(Table("", data, issues, _PROFILE_SCHEMA), data)
    if profile is not None and profile.name != name:
        issues.append(f"name: expected {name!r} (the file name), got {profile.name!r}")
    if issues or profile is None:
        raise ConfigError([f"{source}: {issue}" for issue in issues])
    return profile


def model_family(model: str) -> str:
    """`Raspberry Pi 4 Model B Rev 1.4\\0` → `Raspberry Pi 4 Model B`."""
    model = model.rstrip("\0").strip()
    head, separator, _ = model.rpartition(REVISION_SEPARATOR)
    return head if separator else model


def read_model(model_path: Path = MODEL_PATH) -> str | None:
    """The device tree's model string without its NUL, or None if there is no device tree."""
    try:
        raw = model_path.read_bytes()
    except OSError:
        return None
    model = raw.decode("utf-8", "replace").rstrip("\0").strip()
    return model or None


def profile_for_model(model: str) -> BoardProfile | None:
    """The profile whose `models` name this board, or None for a board we have no profile for."""
    for name in known_profiles():
        profile = load_profile(name)
        if profile.matches(model):
            return profile
    return None


def detect_board(model_path: Path = MODEL_PATH) -> BoardProfile:
    """This board's profile from the device tree; the generic profile when it is not known."""
    model = read_model(model_path)
    if model is None:
        return load_profile(GENERIC)
    profile = profile_for_model(model)
    if profile is None:
        _LOGGER.warning(
            "no board profile for %r: using %r (set [board] profile to one of %s)",
            model,
            GENERIC,
            ", ".join(known_profiles()),
        )
        return load_profile(GENERIC)
    return profile


def parse_board(table: Table, *, simulate: bool = False, model_path: Path = MODEL_PATH) -> str:
    """The profile name the `[board]` table asks for ("auto" resolved); issues go on `table`.

    `auto` means the generic profile under `simulate`, else the detected board.
    """
    requested = read_section(table, BoardSection)["profile"] or AUTO
    table.check_unknown()
    if requested == AUTO:
        return GENERIC if simulate else detect_board(model_path).name
    known = known_profiles()
    if requested not in known:
        table.issue("profile", f"unknown board {requested!r} (known: {AUTO}, {', '.join(known)})")
        return GENERIC
    return requested


def _parse_profile(top: Table, data: Mapping[str, object]) -> BoardProfile | None:
    before = top.issue_count
    name = top.string("name", required=True, max_bytes=64)
    description = top.string("description", required=True, max_bytes=128)
    arch = top.string("arch", max_bytes=32)
    debian_arches = top.strings("debian_arches", ())
    models = _models(top)
    encoder = top.choice("encoder", "software", ENCODERS)
    cam = top.section("camera")
    camera = CameraDefaults(
        width=int(cam.number("width", 1280, low=16, high=4096, integer=True)),
        height=int(cam.number("height", 720, low=16, high=4096, integer=True)),
        framerate=float(cam.number("framerate", 30.0, low=1.0, high=120.0)),
        bitrate=int(cam.number("bitrate", 1_500_000, low=50_000, high=50_000_000, integer=True)),
    )
    aud = top.section("audio")
    audio = AudioDefaults(
        device=aud.string("device", max_bytes=256),
        sample_rate=int(aud.number("sample_rate", 48000, low=8000, high=192000, integer=True)),
        channels=int(aud.number("channels", 1, low=1, high=2, integer=True)),
    )
    gpio = top.section("gpio")
    raw_gpio = data.get("gpio", {})
    raw = raw_gpio if isinstance(raw_gpio, Mapping) else {}
    chip = gpio.string("chip", max_bytes=64)
    first = int(gpio.number("first_pin", 0, low=0, high=MAX_PIN, integer=True))
    last = int(gpio.number("last_pin", 27, low=0, high=MAX_PIN, integer=True))
    pins = tuple(range(first, last + 1))
    if not pins:
        gpio.issue("last_pin", f"expected at least first_pin ({first}), got {last}")
    pwm_pins = _pin_list(gpio, "pwm_pins", raw.get("pwm_pins", []), pins)
    spi_pins = _pin_list(gpio, "spi_pins", raw.get("spi_pins", []), pins)
    reserved: dict[int, str] = {}
    for item in gpio.items("reserved"):
        pin = int(item.number("pin", -1, low=0, high=MAX_PIN, integer=True))
        reserved[pin] = item.string("reason", required=True, max_bytes=128)
        item.check_unknown()
    for table in (cam, aud, gpio, top):
        table.check_unknown()
    if top.issue_count > before:
        return None
    return BoardProfile(
        name=name,
        description=description,
        arch=arch,
        debian_arches=debian_arches,
        models=models,
        encoder="hardware" if encoder == "hardware" else "software",
        camera=camera,
        audio=audio,
        gpio_chip=chip,
        pins=pins,
        pwm_pins=pwm_pins,
        spi_pins=spi_pins,
        reserved=reserved,
    )


def _models(top: Table) -> tuple[str, ...]:
    models = top.strings("models", ())
    if any(model != model_family(model) for model in models):
        top.issue("models", f"expected model names without the {REVISION_SEPARATOR!r} suffix")
    return models


def _pin_list(table: Table, key: str, value: object, pins: tuple[int, ...]) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        table.issue(key, f"expected an array of pin numbers, got {type_name(value)}")
        return ()
    outside = [v for v in value if v not in pins]
    if outside:
        table.issue(key, f"pins {outside} are not between first_pin and last_pin")
    return tuple(value)


def _is_profile(filename: str) -> bool:
    return filename.endswith(".toml") and not filename.startswith(".")
