"""`edge provision` on a mounted boot partition (a directory)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from edge.provision.wifi import wpa_psk
from tests.provision.conftest import API_SECRET, EDGE_TOML, PASSPHRASE, SSID, Provision
from tests.provision.images import FLAVOURS


def _populate(root: Path, flavour: str) -> None:
    root.mkdir()
    for name, content in FLAVOURS[flavour].items():
        (root / name).write_bytes(content)


def test_a_mounted_bookworm_partition_is_provisioned_in_place(
    tmp_path: Path, provision: Provision
) -> None:
    boot = tmp_path / "bootfs"
    _populate(boot, "bookworm")
    (boot / "CMDLINE.TXT").write_bytes((boot / "cmdline.txt").read_bytes())
    (boot / "cmdline.txt").unlink()  # FAT keeps the case it was given

    result = provision(boot)

    assert result.status == 0, result.err
    assert f"wrote to directory {boot}:" in result.out
    assert (boot / "edge.toml").read_bytes() == EDGE_TOML
    assert b"systemd.run=/boot/firstrun.sh" in (boot / "CMDLINE.TXT").read_bytes()
    assert not (boot / "cmdline.txt").exists() or os.path.samefile(
        boot / "cmdline.txt", boot / "CMDLINE.TXT"
    )
    assert not [p for p in boot.iterdir() if p.name.startswith(".edge-provision-")]


def test_a_directory_that_is_not_a_boot_partition_is_left_alone(
    tmp_path: Path, provision: Provision
) -> None:
    home = tmp_path / "home"
    _populate(home, "not-boot")
    before = sorted(p.name for p in home.iterdir())

    result = provision(home)

    assert result.status == 1
    assert f"directory {home}: not a Raspberry Pi boot partition" in result.err
    assert sorted(p.name for p in home.iterdir()) == before


def test_a_missing_target_is_named(tmp_path: Path, provision: Provision) -> None:
    result = provision(tmp_path / "nowhere")

    assert result.status == 1
    assert f"edge: {tmp_path / 'nowhere'}: no such file or directory" in result.err


def test_a_config_made_from_flags_with_credentials_from_the_environment(
    tmp_path: Path, provision: Provision, monkeypatch: pytest.MonkeyPatch
) -> None:
    boot = tmp_path / "bootfs"
    _populate(boot, "bookworm")
    monkeypatch.setenv("LIVEKIT_API_KEY", "APIflags")
    monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)
    monkeypatch.delenv("EDGE_WIFI_PASSPHRASE")
    passphrase = tmp_path / "wifi.txt"
    passphrase.write_text(PASSPHRASE + "\n")
    flags = ["--url", "wss://lk.example.org", "--room", "hall", "--identity", "pi-9"]

    result = provision(boot, *flags, "--wifi-passphrase-file", str(passphrase), config=False)

    assert result.status == 0, result.err
    assert "edge: 'pi-9' in room 'hall' on wss://lk.example.org" in result.out
    assert API_SECRET not in result.out
    written = tomllib.loads((boot / "edge.toml").read_text())
    assert written["livekit"]["api_secret"] == API_SECRET
    assert wpa_psk(PASSPHRASE, SSID) in (boot / "firstrun.sh").read_text()
