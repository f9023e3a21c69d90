"""Heavy libraries load only where they are used: the CLI and pure core start fast on a Pi Zero."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("aiortc", "av", "aiohttp", "aioice", "livekit.api", "livekit.rtc", "gpiozero", "paho")


@pytest.mark.parametrize(
    "modules",
    [
        "edge.protocol.signal, edge.protocol.packets, edge.protocol.participants",
        "edge.config, edge.token, edge.cli, edge.backoff",
    ],
)
def test_import_does_not_load_heavy_libraries(modules: str) -> None:
    code = (
        f"import sys, {modules}\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_check_itself_sees_heavy_imports() -> None:
    code = "import sys, edge.livekit.room\nprint('aiortc' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
