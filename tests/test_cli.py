"""The `edge` command line: exit codes, one-line errors, nothing secret on the way out."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit import api
from livekit.api.access_token import Claims

from edge import __version__
from edge.cli import main
from edge.config import Config
from edge.errors import EdgeError, JoinRefused

API_KEY = "devkey"
API_SECRET = "edge-participant-test-secret-0123456789"

GOOD_TOML = f"""\
[livekit]
url = "ws://127.0.0.1:7880"
room = "workshop"
identity = "edge-pi-01"
name = "Workshop Pi"
attributes = {{ location = "workshop" }}
api_key = "{API_KEY}"
api_secret = "{API_SECRET}"
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No credentials from the developer's shell; the root log level restored afterwards."""
    for name in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def _verify(jwt: str) -> Claims:
    return api.TokenVerifier(API_KEY, API_SECRET).verify(jwt)


def test_check_config_ok_prints_a_redacted_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, GOOD_TOML)
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"{path}: OK"
    for expected in ("ws://127.0.0.1:7880", "workshop", "edge-pi-01", "api key 'devkey'"):
        assert expected in out
    assert API_SECRET not in out + err
    assert "  gpio: 0 output(s), 0 input(s)" in out.splitlines()
    assert "  mqtt: off (no [mqtt] section)" in out.splitlines()


def test_check_config_summarises_devices_sensors_and_the_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = (
        '[[gpio.outputs]]\nname = "lamp"\npin = 17\n'
        '[[telemetry.sensors]]\nname = "soc"\nkind = "soc_temperature"\n'
        '[mqtt]\nhost = "broker.local"\n'
    )
    path = _write(tmp_path, GOOD_TOML + extra)
    assert main(["check-config", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  gpio: 1 (lamp) output(s), 0 input(s)" in lines
    assert f"  telemetry: 1 (soc) sensor(s), spool {tmp_path / 'edge-telemetry.sqlite3'}" in lines
    assert "  mqtt: broker.local:1883" in lines


def test_check_config_lists_every_issue_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = GOOD_TOML.replace("ws://127.0.0.1:7880", "ftp://x") + "[daemon]\nlog_level = 'loud'\n"
    path = _write(tmp_path, text)
    assert main(["check-config", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "edge: livekit.url: expected a ws://, wss://, http:// or https:// URL, got 'ftp://x'",
        "edge: daemon.log_level: expected one of debug, info, warning, error, got 'loud'",
    ]


def test_check_config_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nope.toml"
    assert main(["check-config", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"edge: {path}: no such file\n"


def test_check_config_refuses_an_expired_static_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwaSIsImV4cCI6MTAwMDAwMDAwMH0.c2ln"  # exp 2001
    text = '[livekit]\nurl = "ws://h"\nroom = "r"\nidentity = "pi"\n'
    path = _write(tmp_path, text + f'token = "{expired}"\n')
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edge: token: expired at 2001-09-09T01:46:40Z (now ")
    assert "Traceback" not in err


def test_token_from_flags_prints_only_a_jwt(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["token", "--api-key", API_KEY, "--api-secret", API_SECRET]
    assert main([*argv, "--room", "workshop", "--identity", "viewer", "--ttl", "120"]) == 0
    out, err = capsys.readouterr()
    jwt = out.strip()
    assert out == jwt + "\n"
    assert jwt.count(".") == 2
    assert err == ""
    claims = _verify(jwt)
    assert (claims.identity, claims.video and claims.video.room) == ("viewer", "workshop")


def test_token_from_config_carries_the_device_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, GOOD_TOML)
    assert main(["token", "--config", str(path)]) == 0
    claims = _verify(capsys.readouterr().out.strip())
    assert (claims.identity, claims.name) == ("edge-pi-01", "Workshop Pi")
    assert claims.attributes == {"location": "workshop"}


def test_token_with_another_identity_is_an_observer_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, GOOD_TOML)
    assert main(["token", "--config", str(path), "--identity", "viewer", "--observer"]) == 0
    claims = _verify(capsys.readouterr().out.strip())
    assert (claims.identity, claims.name, claims.attributes) == ("viewer", "", {})
    assert claims.video is not None
    assert (claims.video.room, claims.video.can_publish) == ("workshop", False)


def test_token_takes_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)
    assert main(["token", "--room", "workshop", "--identity", "viewer"]) == 0
    assert _verify(capsys.readouterr().out.strip()).identity == "viewer"


def test_token_without_credentials_says_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["token", "--room", "workshop", "--ttl", "5"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "edge: api key: required (give --api-key, --config or set LIVEKIT_API_KEY)",
        "edge: api secret: required (give --api-secret, --config or set LIVEKIT_API_SECRET)",
        "edge: identity: required (give --identity or --config)",
        "edge: --ttl: expected 60 to 2592000 s, got 5",
    ]


def test_run_with_a_bad_config_returns_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "[livekit]\n")
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "edge: livekit.url: required\n" in err
    assert "Traceback" not in err


def _fake_daemon(monkeypatch: pytest.MonkeyPatch, outcome: int | BaseException) -> list[object]:
    """Stand in for `edge.daemon`; return the list the fake's calls are recorded in."""
    calls: list[object] = []

    async def run_daemon(config: Config, *, simulate: bool) -> int:
        calls.append((config.livekit.identity, simulate))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    module = types.ModuleType("edge.daemon")
    monkeypatch.setattr(module, "run_daemon", run_daemon, raising=False)
    monkeypatch.setitem(sys.modules, "edge.daemon", module)
    return calls


def test_run_hands_the_config_to_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_daemon(monkeypatch, 0)
    path = _write(tmp_path, GOOD_TOML)
    assert main(["run", "--config", str(path), "--simulate", "--log-level", "debug"]) == 0
    assert calls == [("edge-pi-01", True)]
    assert logging.getLogger().level == logging.DEBUG


def test_run_reports_an_edge_error_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_daemon(monkeypatch, JoinRefused("join refused: 401 invalid token", status=401))
    path = _write(tmp_path, GOOD_TOML)
    assert main(["run", "--config", str(path)]) == 3  # refused for good: not restarted
    assert capsys.readouterr().err.endswith("edge: join refused: 401 invalid token\n")
    _fake_daemon(monkeypatch, EdgeError("spool disk vanished"))
    assert main(["run", "--config", str(path)]) == 1  # anything else: systemd restarts it


def test_run_interrupted_returns_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_daemon(monkeypatch, KeyboardInterrupt())
    assert main(["run", "--config", str(_write(tmp_path, GOOD_TOML))]) == 130


def test_version_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"edge {__version__}\n"
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("usage: edge")
    assert main(["run"]) == 2
    assert "--config" in capsys.readouterr().err


def test_check_config_warns_when_home_assistant_may_not_set_an_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = (
        '[[gpio.outputs]]\nname = "lamp"\npin = 17\nallow = ["operator-*"]\n'
        '[[gpio.outputs]]\nname = "fan"\nkind = "pwm"\npin = 18\nallow = ["mqtt:ha"]\n'
        '[mqtt]\nhost = "broker.local"\n'
    )
    path = _write(tmp_path, GOOD_TOML + extra)
    assert main(["check-config", "--config", str(path)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert warnings == [
        "  warning: mqtt: Home Assistant (caller 'mqtt:ha') may not set output 'lamp', so it "
        'appears there read-only; add "mqtt:ha" to its allow list to control it from Home '
        "Assistant"
    ]
