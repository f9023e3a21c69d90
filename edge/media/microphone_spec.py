"""Microphone spec: the `[microphone]` config section as a frozen dataclass.

Each key is declared once below (`edge.settings.setting`); `edge.media.spec` re-exports it
with the camera's. The device, sample rate and channels default to the board profile's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edge.settings import Read, read_section, setting
from edge.toml_table import Table

if TYPE_CHECKING:
    from edge.board import BoardProfile as BoardDefaults

SAMPLE_RATES = (16000, 24000, 32000, 44100, 48000)
FRAMES_PER_SECOND_AUDIO = 50
DEFAULT_BITRATE_KBPS = 32
DEFAULT_COMPLEXITY = 5
"""Audio frames are 20 ms."""
BOARD = "board ({default})"
"""How the reference shows a default the board profile gives (the built-in one in brackets)."""


class AudioKind(enum.Enum):
    """Where microphone audio comes from."""

    PYAUDIO = "pyaudio"
    """A sound card input through pyaudio (PortAudio)."""
    SYNTHETIC = "synthetic"
    """A sine tone."""


def _audio_default(
    board: Callable[[BoardDefaults], Any], *, pyaudio_only: bool = False
) -> Callable[[Read], Any]:
    """The board profile's value, if the parser was given one; else the declared default."""

    def default(read: Read) -> Any:
        profile: BoardDefaults | None = read.context.get("board")
        if profile is None or (pyaudio_only and read["source"] is not AudioKind.PYAUDIO):
            return None
        return board(profile)

    return default


def _sample_rate(rate: int) -> str | None:
    if rate in SAMPLE_RATES:
        return None
    return f"expected one of {', '.join(str(r) for r in SAMPLE_RATES)}, got {rate}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MicrophoneConfig:
    """The microphone track (keys in the order they are read)."""

    source: AudioKind = setting(
        AudioKind.PYAUDIO,
        kind="choice",
        choices=AudioKind,
        doc="`pyaudio` (a sound card input through PortAudio) or `synthetic` (a sine tone;"
        " `--simulate` uses it).",
    )
    device: str = setting(
        "",
        kind="string",
        max_bytes=256,
        kinds=("pyaudio",),
        default_from=_audio_default(lambda board: board.audio.device, pyaudio_only=True),
        shown_default=BOARD,
        doc='Input device: a case-insensitive name substring or an index; `""` = the default'
        " input; not for synthetic.",
    )
    name: str = setting(
        "microphone", kind="string", max_bytes=256, blank=False, doc="Track name in the room."
    )
    sample_rate: int = setting(
        48_000,
        kind="int",
        low=8000,
        high=192_000,
        check=_sample_rate,
        default_from=_audio_default(lambda board: board.audio.sample_rate),
        shown_default=BOARD,
        doc=f"One of {', '.join(str(r) for r in SAMPLE_RATES)}; frames are 20 ms.",
    )
    channels: int = setting(
        1,
        kind="int",
        low=1,
        high=2,
        default_from=_audio_default(lambda board: board.audio.channels),
        shown_default=BOARD,
        doc="Input channels (the Opus stream is mono).",
    )
    tone_hz: float = setting(
        440.0,
        kind="float",
        low=20.0,
        high=96_000.0,
        bounds_from=lambda read: (20.0, read["sample_rate"] / 2),
        kinds=("synthetic",),
        elsewhere="applies to a synthetic microphone only, not {kind}",
        doc="synthetic only: the tone's frequency, at most half the sample rate.",
    )
    bitrate_kbps: int = setting(
        DEFAULT_BITRATE_KBPS,
        kind="int",
        low=6,
        high=128,
        doc="Target kbit/s of the mono Opus stream.",
    )
    complexity: int = setting(
        DEFAULT_COMPLEXITY,
        kind="int",
        low=0,
        high=10,
        doc="Opus encoder effort, 0 (cheapest) to 10 (best quality per bit).",
    )
    allow: tuple[str, ...] = setting(
        (), kind="strings", doc="Who may call `media.set` on it; empty = nobody."
    )
    enabled: bool = setting(
        True, kind="bool", doc="Publish at start; `media.set` turns it on and off at run time."
    )

    @property
    def frame_samples(self) -> int:
        """Samples per channel in one 20 ms frame."""
        return self.sample_rate // FRAMES_PER_SECOND_AUDIO


def parse_microphone(table: Table, *, board: BoardDefaults | None = None) -> MicrophoneConfig:
    """Read the `[microphone]` table over the board profile's defaults; problems go on `table`."""
    context = {"board": board}
    values = read_section(table, MicrophoneConfig, noun="microphone", by="source", context=context)
    table.check_unknown()
    return MicrophoneConfig(**values)


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
