"""A data-only daemon (no [camera], [microphone] or [mqtt]) loads no media codecs nor MQTT.

The daemon is built for real from such a config in a fresh interpreter; its first session is
replaced by a probe that reports what is loaded at that moment, so the check covers both module
imports and the imports `run_daemon` does while wiring the services. PyAV itself still loads:
aiortc's package `__init__` imports its media stack (mediastreams, codecs), which imports `av`.
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
import edge.cli, edge.daemon
from edge.config import load_config

async def probe(daemon, *, stop):
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("av", "paho")
        or m.startswith(("edge.media", "edge.mqtt")))))
    return None

edge.daemon._run = probe
config = load_config(Path(sys.argv[1]), env={}, simulate=True)
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


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('[microphone]\nsource = "synthetic"\n', "edge.media.service"),
        ('[mqtt]\nhost = "127.0.0.1"\n', "edge.mqtt.bridge"),
    ],
)
def test_the_probe_sees_a_configured_service_load(
    tmp_path: Path, section: str, expected: str
) -> None:
    assert expected in loaded(tmp_path, "\n" + section)
