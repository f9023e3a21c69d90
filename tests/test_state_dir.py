"""An unusable state directory is a config error (exit 2, no traceback), found before running."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main
from edge.config import load_config
from edge.state_dir import check_state_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
TOML = """\
[livekit]
url = "ws://127.0.0.1:9"
room = "r"
identity = "e"
api_key = "devkey"
api_secret = "edge-participant-test-secret-0123456789"

[daemon]
state_dir = "{state_dir}"

[[telemetry.sensors]]
name = "t"
kind = "simulated"
period_s = 1
"""


def _config(tmp_path: Path, state_dir: Path | str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(TOML.format(state_dir=state_dir))
    path.chmod(0o600)
    return path


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """A state directory that cannot exist: a regular file sits where its parent would be."""
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "state"


def test_check_config_rejects_a_state_dir_under_a_file(
    tmp_path: Path, blocked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config", str(_config(tmp_path, blocked))]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (f"edge: daemon.state_dir: {blocked}: {blocked.parent} is not a directory\n")


def test_run_exits_2_with_one_line_and_no_traceback(tmp_path: Path, blocked: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(_config(tmp_path, blocked))],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"edge: daemon.state_dir: {blocked}: {blocked.parent} is not a directory" in (
        proc.stderr
    )


def test_missing_levels_are_probed_and_removed_again(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, tmp_path / "new" / "state"))
    assert check_state_dir(config).errors == ()
    assert not (tmp_path / "new").exists()  # checking leaves nothing behind


def test_an_absolute_spool_path_is_named_by_its_own_key(tmp_path: Path, blocked: Path) -> None:
    path = _config(tmp_path, tmp_path)
    path.write_text(path.read_text() + f'\n[telemetry]\nspool_path = "{blocked}/spool.db"\n')
    [line] = check_state_dir(load_config(path)).errors
    assert line.startswith(f"telemetry.spool_path: {blocked}: ")


def test_permission_is_only_a_warning_for_check_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    path = _config(tmp_path, tmp_path / "state")

    assert main(["check-config", "--config", str(path)]) == 0
    assert f"  warning: daemon.state_dir: {tmp_path / 'state'}: cannot create " in (
        capsys.readouterr().out
    )
    assert main(["run", "--config", str(path)]) == 2
    assert "Permission denied (as user " in capsys.readouterr().err


def test_without_sensors_nothing_is_written_and_nothing_checked(
    tmp_path: Path, blocked: Path
) -> None:
    path = _config(tmp_path, blocked)
    path.write_text(path.read_text().split("[[telemetry.sensors]]")[0])
    assert check_state_dir(load_config(path)).errors == ()
