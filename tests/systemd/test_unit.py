"""systemd/edge.service: valid for systemd, sandboxed (exposure <= 2.0), and still a daemon
that can reach GPIO, cameras and sound."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import needs

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd/edge.service"
MAX_EXPOSURE = 2.0
HOST_UNITS = Path("/usr/lib/systemd/system")

needs_analyze = pytest.mark.usefixtures("systemd_analyze")
needs_host_units = pytest.mark.usefixtures("host_units")


@pytest.fixture
def systemd_analyze() -> str:
    return needs.program("systemd-analyze", package="systemd")


@pytest.fixture
def host_units() -> Path:
    """The host's unit directory, to borrow sysinit.target and friends from."""
    if not HOST_UNITS.is_dir():
        needs.missing(f"no {HOST_UNITS} (Debian package systemd): {needs.SETUP}")
    return HOST_UNITS


def settings(path: Path) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file; repeated keys keep every value in order."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def system_root(tmp_path: Path) -> Path:
    """A scratch root with this unit, a stub `edge` to execute and the host's system units."""
    root = tmp_path / "root"
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/edge.service")
    stub = root / "opt/edge/.venv/bin/edge"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    return root


@needs_analyze
@needs_host_units
def test_the_unit_passes_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    root = system_root(tmp_path)
    out = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "edge.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (out.returncode, out.stderr, out.stdout) == (0, "", "")


@needs_analyze
@needs_host_units
def test_verify_notices_a_broken_unit(tmp_path: Path) -> None:
    root = system_root(tmp_path)
    unit = root / "etc/systemd/system/edge.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=banana"))
    (root / "opt/edge/.venv/bin/edge").unlink()
    out = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "edge.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "banana" in out.stderr
    assert "is not executable" in out.stderr


@needs_analyze
def test_security_exposure_is_at_most_two() -> None:
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for edge\.service: (\d+\.\d+)", out.stdout)
    assert found, out.stdout + out.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, out.stdout


def test_the_unit_keeps_what_the_daemon_and_the_hardware_need() -> None:
    unit = settings(UNIT)
    assert unit["Type"] == ["notify"]
    assert unit["WatchdogSec"] == ["30"]
    assert unit["ExecStart"] == ["/opt/edge/.venv/bin/edge run --config /etc/edge/edge.toml"]
    assert unit["ExecStopPost"] == [
        "/opt/edge/.venv/bin/edge safe-state --config /etc/edge/edge.toml"
    ]
    assert unit["Restart"] == ["always"]
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= unit.keys()
    assert (unit["User"], unit["Group"]) == (["edge"], ["edge"])
    assert unit["SupplementaryGroups"] == ["gpio video audio i2c spi"]
    assert unit["StateDirectory"] == unit["RuntimeDirectory"] == ["edge"]
    assert unit["ConfigurationDirectory"] == ["edge"]
    assert unit["DevicePolicy"] == ["closed"]
    allowed = {value.split()[0] for value in unit["DeviceAllow"]}
    needed = {"char-gpiochip", "char-video4linux", "char-media", "char-dma_heap", "char-alsa"}
    assert needed | {"char-i2c", "char-spi"} <= allowed
    # Each of these would cut the board off its devices, network or sensors.
    assert unit.get("PrivateDevices", ["no"]) == ["no"]
    assert unit.get("PrivateNetwork", ["no"]) == ["no"]
    assert unit.get("ProcSubset", ["all"]) == ["all"]
    # liblgpio makes its notification pipe in LG_WD, lgpio.py opens it relative to the working
    # directory: both one writable directory, or importing lgpio fails (no GPIO at all).
    assert "LG_WD=%t/edge" in unit["Environment"]
    assert unit["WorkingDirectory"] == ["%t/edge"]


def test_systemd_does_not_restart_what_a_restart_cannot_fix() -> None:
    # A bad config or a final refusal by the server (duplicate identity: a restart would evict
    # the other device, which would evict us...) must stop; anything else is restarted.
    from edge.cli import EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE

    prevented = {int(code) for code in settings(UNIT)["RestartPreventExitStatus"][0].split()}
    assert prevented == {EXIT_USAGE, EXIT_REFUSED}
    assert EXIT_FAILED not in prevented
    assert settings(UNIT)["Restart"] == ["always"]
