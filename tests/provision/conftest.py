"""Inputs shared by the provisioning tests: a public key, an edge config, the CLI runner."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.cli import main
from tests import needs

API_SECRET = "provision-test-secret-0123456789abcdef"
PASSPHRASE = "correct horse battery staple"
SSID = "Workshop Wi-Fi"
EDGE_TOML = f"""\
[livekit]
url = "wss://livekit.example.org"
room = "workshop"
identity = "edge-pi-07"
api_key = "APIprovisiontest"
api_secret = "{API_SECRET}"

[daemon]
log_level = "info"
""".encode()


def public_key(comment: str = "me@laptop", seed: int = 7) -> str:
    """An OpenSSH ed25519 public key line with a well-formed blob."""
    kind = b"ssh-ed25519"
    blob = struct.pack(">I", len(kind)) + kind + struct.pack(">I", 32) + bytes([seed]) * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


@dataclass(frozen=True, slots=True)
class Result:
    """What one `edge provision` run returned and printed."""

    status: int
    out: str
    err: str


Provision = Callable[..., Result]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "id_ed25519.pub"
    path.write_text(public_key() + "\n")
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "edge.toml"
    path.write_bytes(EDGE_TOML)
    return path


@pytest.fixture
def provision(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key_file: Path,
    config_file: Path,
) -> Provision:
    """Runs `edge provision TARGET` with a full set of valid options; extra ones override."""
    for name in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EDGE_WIFI_PASSPHRASE", PASSPHRASE)

    def run(target: Path, *extra: str, wifi: bool = True, config: bool = True) -> Result:
        args = ["provision", str(target), "--hostname", "edge-pi-07", "--user", "maker"]
        args += ["--ssh-key", str(key_file)]
        if wifi:
            args += ["--wifi-ssid", SSID, "--wifi-country", "gb"]
        if config:
            args += ["--config", str(config_file)]
        status = main([*args, *extra])
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return run


@pytest.fixture
def fat_tools() -> None:
    """mkfs.vfat and mtools, which make and read the test images."""
    needs.program("mkfs.vfat", package="dosfstools")
    needs.program("mcopy", package="mtools")


@pytest.fixture
def cloud_init() -> None:
    """cloud-init, whose own parser and schema check read what provisioning writes."""
    needs.program("cloud-init", package="cloud-init")
