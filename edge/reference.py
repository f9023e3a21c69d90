"""Reference: the per-key tables of docs/configuration.md, rendered from the declarations.

Each table sits between `<!-- keys: SECTION -->` and `<!-- /keys -->` markers; everything
around them is hand-written. `python -m edge.reference` rewrites the tables in place;
`--check` only reports whether they are current (exit status 1 when not).
"""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from edge.board import BoardSection
from edge.config import DaemonConfig, LiveKitConfig, SimulationConfig
from edge.gpio.spec import GpioConfig, InputSpec, OutputSpec
from edge.media.spec import CameraConfig, MicrophoneConfig
from edge.mqtt.spec import MqttConfig
from edge.settings import Setting, settings
from edge.telemetry.spec import SensorSpec, TelemetryConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SECTIONS: dict[str, type] = {
    "livekit": LiveKitConfig,
    "daemon": DaemonConfig,
    "simulation": SimulationConfig,
    "board": BoardSection,
    "gpio": GpioConfig,
    "gpio.outputs": OutputSpec,
    "gpio.inputs": InputSpec,
    "telemetry": TelemetryConfig,
    "telemetry.sensors": SensorSpec,
    "mqtt": MqttConfig,
    "camera": CameraConfig,
    "microphone": MicrophoneConfig,
}
"""The sections whose keys are declared with `edge.settings.setting`, by TOML name."""
_REGION = re.compile(r"(<!-- keys: (?P<name>[\w.]+) -->\n).*?(<!-- /keys -->)", re.DOTALL)


def render(text: str) -> str:
    """`text` with every marked table replaced by the one rendered from its section."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in SECTIONS:
            raise KeyError(f"docs/configuration.md: no section {name!r} to render")
        body = "\n".join(table(SECTIONS[name]))
        return f"{match[1]}{body}\n{match[3]}"

    return _REGION.sub(fill, text)


def table(cls: type) -> list[str]:
    """A Markdown table of a section's settings: key, type, default, bounds, meaning."""
    lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for spec in settings(cls):
        shown = "required" if spec.required else _shown(spec.default)
        default = spec.shown_default.replace("{default}", shown) or shown
        kind = _type(spec) + (" (secret)" if spec.secret else "")
        cells = (f"`{spec.key}`", kind, default, _bounds(spec), spec.doc)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def _type(spec: Setting) -> str:
    names = {
        "strings": "array of strings",
        "one_or_more": "string or array of strings",
        "attributes": "table of strings",
        "choice": "string",
        "tables": "array of tables",
    }
    return names.get(spec.kind, spec.kind)


def _bounds(spec: Setting) -> str:
    if spec.choices:
        return ", ".join(f"`{choice}`" for choice in spec.choices)
    if spec.kind in ("int", "float"):
        low = f"above {_number(spec.low)}" if spec.open_low else _number(spec.low)
        return (
            f"{low} to {_number(spec.high)}"
            if not spec.open_low
            else f"{low}, at most {_number(spec.high)}"
        )
    if spec.max_bytes is not None:
        return f"at most {_number(spec.max_bytes)} bytes"
    return ""


def _number(value: float) -> str:
    if value != int(value):
        return repr(value)
    return f"{int(value):,}".replace(",", " ") if abs(value) >= 10_000 else str(int(value))


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, enum.Enum):
        return f'`"{value.value}"`'
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    if isinstance(value, Mapping):
        return "`{}`" if not value else f"`{dict(value)}`"
    return f"`{value}`"


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    fresh = render(text)
    if "--check" in argv:
        if fresh != text:
            sys.stderr.write(f"{DOC.name} is stale; run: python -m edge.reference\n")
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
