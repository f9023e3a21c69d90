"""A data-only daemon (no [camera], [microphone] or [mqtt]) loads no media codecs nor MQTT.

The daemon is built for real from such a config in a fresh interpreter, after the same import
preparation as `edge run` (`pyav_stand_in.install_for`); its first session is replaced by a
probe that reports what is loaded at that moment, so the check covers both module imports and
the imports `run_daemon` does while wiring the services. aiortc's package `__init__` imports
its media stack, which imports names from `av`: without media, those come from the stand-in,
so FFmpeg's libraries are never mapped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA_ONLY = """\
[livekit]
url = "ws://127.0.0.1:9"
room = "workshop"
identity = "edge-pi-01"
api_key = "devkey"
api_secret = "0123456789abcdef0123456789abcdef"
"""

PROBE = """\
import asyncio, json, sys
from pathlib import Path
from edge import pyav_stand_in
from edge.config import load_config

config = load_config(Path(sys.argv[1]), env={}, simulate=True)
pyav_stand_in.install_for(config)
import edge.daemon

async def probe(daemon, *, stop):
    real = [m for m in sys.modules if m.split(".")[0] == "av" and not pyav_stand_in.installed()]
    maps = Path("/proc/self/maps").read_text()
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "paho"
        or m.startswith(("edge.media", "edge.mqtt"))) + real
        + (["libavcodec"] if "libavcodec" in maps else [])))
    return None

edge.daemon._run = probe
asyncio.run(edge.daemon.run_daemon(config, simulate=True))
"""
PURE = {
    "edge.media",
    "edge.media.spec",
    "edge.media.microphone_spec",
    "edge.mqtt",
    "edge.mqtt.spec",
    "edge.mqtt.topics",
}
"""Config dataclasses and topic rules: no libraries behind them."""


def loaded(tmp_path: Path, extra: str = "") -> list[str]:
    path = tmp_path / "edge.toml"
    path.write_text(DATA_ONLY + extra)
    path.chmod(0o600)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True
    )
    result: list[str] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_a_data_only_daemon_loads_no_media_or_mqtt_module_of_ours(tmp_path: Path) -> None:
    modules = loaded(tmp_path)
    ours = [m for m in modules if m.startswith(("edge.media", "edge.mqtt")) and m not in PURE]
    assert ours == []
    assert [m for m in modules if m.split(".")[0] == "paho"] == []
    assert [m for m in modules if m.split(".")[0] == "av"] == []  # only the stand-in
    assert "libavcodec" not in modules  # FFmpeg never mapped


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('[microphone]\nsource = "synthetic"\n', "edge.media.service"),
        ('[microphone]\nsource = "synthetic"\n', "libavcodec"),
        ('[camera]\nsource = "synthetic"\n', "av"),
        ('[mqtt]\nhost = "127.0.0.1"\n', "edge.mqtt.bridge"),
    ],
)
def test_the_probe_sees_a_configured_service_load(
    tmp_path: Path, section: str, expected: str
) -> None:
    assert expected in loaded(tmp_path, "\n" + section)
