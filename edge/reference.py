"""Reference: the per-key tables of docs/configuration.md, rendered from the declarations.

Each table sits between `<!-- keys: SECTION -->` and `<!-- /keys -->` markers; everything
around them is hand-written. `python -m edge.reference` rewrites the tables in place;
`--check` only reports whether they are current (exit status 1 when not).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from edge.board import BoardSection
from edge.config import DaemonConfig, LiveKitConfig, SimulationConfig
from edge.gpio.spec import GpioConfig
from edge.mqtt.spec import MqttConfig
from edge.settings import reference
from edge.telemetry.spec import SensorSpec, TelemetryConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SECTIONS: dict[str, type] = {
    "livekit": LiveKitConfig,
    "daemon": DaemonConfig,
    "simulation": SimulationConfig,
    "board": BoardSection,
    "gpio": GpioConfig,
    "telemetry": TelemetryConfig,
    "telemetry.sensors": SensorSpec,
    "mqtt": MqttConfig,
}
"""The sections whose keys are declared with `edge.settings.setting`, by TOML name."""
_REGION = re.compile(r"(<!-- keys: (?P<name>[\w.]+) -->\n).*?(<!-- /keys -->)", re.DOTALL)


def render(text: str) -> str:
    """`text` with every marked table replaced by the one rendered from its section."""

    def table(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in SECTIONS:
            raise KeyError(f"docs/configuration.md: no section {name!r} to render")
        body = "\n".join(reference(SECTIONS[name]))
        return f"{match[1]}{body}\n{match[3]}"

    return _REGION.sub(table, text)


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
