"""tools/install: what it would do (--dry-run), and what it does to a scratch root."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests import needs

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "tools/install"
EXAMPLE = REPO / "systemd/edge.toml.example"

needs_root = pytest.mark.usefixtures("as_root")
needs_systemd_tools = pytest.mark.usefixtures("systemd_tools")


@pytest.fixture
def as_root() -> None:
    needs.root("chown to the edge group")


@pytest.fixture
def systemd_tools() -> None:
    for name in ("systemd-sysusers", "systemd-tmpfiles", "systemctl"):
        needs.program(name, package="systemd")


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INSTALL), "--root", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def snapshot(root: Path) -> dict[str, tuple[int, int, int, bytes | str]]:
    """Every path under `root` with its mode, owner, group and content (or link target)."""
    found: dict[str, tuple[int, int, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content: bytes | str = os.readlink(path)
        elif path.is_file():
            content = path.read_bytes()
        else:
            content = ""
        found[str(path.relative_to(root))] = (info.st_mode, info.st_uid, info.st_gid, content)
    return found


def group_members(root: Path) -> dict[str, tuple[int, list[str]]]:
    groups = {}
    for line in (root / "etc/group").read_text().splitlines():
        name, _, gid, members = line.split(":")
        groups[name] = (int(gid), [m for m in members.split(",") if m])
    return groups


def test_dry_run_prints_every_step_and_writes_nothing(tmp_path: Path) -> None:
    out = install(tmp_path, "--dry-run")
    assert out.returncode == 0, out.stderr
    commands = [line for line in out.stdout.splitlines() if line.startswith("+ ")]
    apt = next(c for c in commands if "apt-get install" in c)
    assert all(pkg in apt.split() for pkg in ("python3-venv", "python3-pyaudio"))
    assert f"+ chroot {tmp_path} python3 -m venv --system-site-packages /opt/edge/.venv" in commands
    pip = next(c for c in commands if " -m pip install " in c)
    # The tested versions, never whatever is newest on the index.
    src = "/opt/edge/src"
    assert pip.endswith(f"-m pip install --quiet --constraint {src}/constraints.txt {src}")
    assert "--upgrade" not in pip
    unit = f"{tmp_path}/etc/systemd/system/edge.service"
    assert f"+ install -D -m 0644 {REPO}/systemd/edge.service {unit}" in commands
    assert f"+ systemd-sysusers --root={tmp_path} {tmp_path}/etc/sysusers.d/edge.conf" in commands
    assert f"+ install -D -m 0640 {EXAMPLE} {tmp_path}/etc/edge/edge.toml" in commands
    assert commands[-1] == f"+ systemctl --root={tmp_path} enable edge.service"
    assert list(tmp_path.iterdir()) == []


def test_unknown_options_and_missing_roots_are_refused(tmp_path: Path) -> None:
    out = install(tmp_path, "--frobnicate")
    assert out.returncode == 1
    assert out.stderr == "install: error: unknown option: --frobnicate (see --help)\n"
    out = install(tmp_path / "absent", "--dry-run")
    assert out.returncode == 1
    assert "no such directory" in out.stderr


@needs_root
@needs_systemd_tools
def test_files_user_config_and_enablement_land_in_the_root(tmp_path: Path) -> None:
    out = install(tmp_path, "--files-only")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "etc/systemd/system/edge.service").read_bytes() == (
        REPO / "systemd/edge.service"
    ).read_bytes()
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants/edge.service"
    assert os.readlink(wants) == "/etc/systemd/system/edge.service"
    passwd = (tmp_path / "etc/passwd").read_text()
    assert "edge:x:" in passwd
    assert ":/var/lib/edge:" in passwd
    groups = group_members(tmp_path)
    for name in ("gpio", "video", "audio", "i2c", "spi"):
        assert groups[name][1] == ["edge"], name
    config = tmp_path / "etc/edge/edge.toml"
    info = config.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert (info.st_uid, info.st_gid) == (0, groups["edge"][0])
    assert config.read_bytes() == EXAMPLE.read_bytes()


@needs_root
@needs_systemd_tools
def test_a_second_run_keeps_the_config_and_only_tightens_its_mode(tmp_path: Path) -> None:
    assert install(tmp_path, "--files-only").returncode == 0
    config = tmp_path / "etc/edge/edge.toml"
    config.write_text('[livekit]\nurl = "wss://lk.example.org"\n')
    before = snapshot(tmp_path)
    config.chmod(0o644)  # as copied by hand: the secret readable by everyone
    out = install(tmp_path, "--files-only")
    assert out.returncode == 0, out.stderr
    assert "keeping /etc/edge/edge.toml" in out.stdout
    assert snapshot(tmp_path) == before
