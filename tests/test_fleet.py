"""`edge fleet` without a server: the template read into boards, one log naming them, and the
fleet's supervision of its boards (signals, errors, who talks to systemd) over a stand-in
for `edge.daemon.run_board`."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge import daemon as edge_daemon
from edge import fleet, pyav_stand_in
from edge.cli import main
from edge.config import Config
from edge.errors import ConfigError, EdgeError, JoinRefused, ServerLeft
from edge.systemd import Notifier

TEMPLATE = """\
[livekit]
url = "ws://127.0.0.1:7880"
room = "site-{index}"
identity = "sim"
api_key = "devkey"
api_secret = "edge-participant-test-secret-0123456789"

[[telemetry.sensors]]
name = "soc"
kind = "simulated"
unit = "°C"
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_TOKEN", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


def _write(tmp_path: Path, text: str = TEMPLATE) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_the_template_becomes_one_config_per_board(tmp_path: Path) -> None:
    configs = fleet.load_fleet(_write(tmp_path), count=3, prefix=None, state_dir=None)
    assert [c.livekit.identity for c in configs] == ["sim-0001", "sim-0002", "sim-0003"]
    assert [c.livekit.room for c in configs] == ["site-1", "site-2", "site-3"]
    assert [c.daemon.state_dir for c in configs] == [str(tmp_path / i) for i in ("sim-0001",
            "sim-0002", "sim-0003")]  # fmt: skip
    boards = tmp_path / "boards"
    configs = fleet.load_fleet(_write(tmp_path), count=2, prefix="load", state_dir=boards)
    assert [c.spool_path for c in configs] == [
        boards / "load-0001" / "edge-telemetry.sqlite3",
        boards / "load-0002" / "edge-telemetry.sqlite3",
    ]


def test_the_state_directory_defaults_as_for_edge_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path, TEMPLATE.replace("[[telemetry", '[daemon]\nstate_dir = "/srv/x"\n\n[[telemetry')
    )
    [config] = fleet.load_fleet(path, count=1, prefix=None, state_dir=None)
    assert config.daemon.state_dir == "/srv/x/sim-0001"
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/edge:/other")
    [config] = fleet.load_fleet(_write(tmp_path), count=1, prefix=None, state_dir=None)
    assert config.daemon.state_dir == "/var/lib/edge/sim-0001"


def test_a_bad_template_is_reported_once_per_problem_naming_the_board(tmp_path: Path) -> None:
    path = _write(tmp_path, TEMPLATE.replace('room = "site-{index}"', "room = 5"))
    with pytest.raises(ConfigError) as caught:
        fleet.load_fleet(path, count=50, prefix=None, state_dir=None)
    assert caught.value.issues == [
        f"{path} (board sim-0001): livekit.room: expected a string, got int"
    ]
    with pytest.raises(ConfigError, match="no such file"):
        fleet.load_fleet(tmp_path / "missing.toml", count=2, prefix=None, state_dir=None)
    shared = TEMPLATE.replace(
        'unit = "°C"', f'unit = "°C"\n\n[telemetry]\nspool_path = "{tmp_path}/s.db"'
    )
    with pytest.raises(ConfigError, match="would be shared by 2 boards"):
        fleet.load_fleet(_write(tmp_path, shared), count=2, prefix=None, state_dir=None)


async def test_one_log_handler_names_the_board_of_the_task_that_logs() -> None:
    out = io.StringIO()
    handler = fleet.log_handler(out)
    logger = logging.getLogger("tests.fleet.log")
    logger.addHandler(handler)
    logger.propagate = False

    async def board() -> None:
        logger.warning("from the board")
        await asyncio.create_task(child(), name="test.child")  # child tasks inherit the board

    async def child() -> None:
        logger.warning("from a task of the board")

    try:
        for identity in ("sim-0001", "sim-0002"):
            context = fleet.copy_board_context(identity)
            await asyncio.create_task(board(), name="test.board", context=context)
        logger.warning("from the fleet")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = [line.split(" ", 3)[3] for line in out.getvalue().splitlines()]  # after the time
    assert lines == [
        "[sim-0001] tests.fleet.log: from the board",
        "[sim-0001] tests.fleet.log: from a task of the board",
        "[sim-0002] tests.fleet.log: from the board",
        "[sim-0002] tests.fleet.log: from a task of the board",
        "tests.fleet.log: from the fleet",
    ]


def _configs(tmp_path: Path, count: int) -> tuple[Config, ...]:
    return fleet.load_fleet(_write(tmp_path), count=count, prefix=None, state_dir=tmp_path)


class FakeBoards:
    """Stands in for `run_board`: records how each board was started and what it saw."""

    def __init__(self, outcomes: dict[str, EdgeError | None]) -> None:
        self.outcomes = outcomes
        self.started: dict[str, dict[str, Any]] = {}
        self.stopped: list[str] = []
        self.all_started = asyncio.Event()

    async def run_board(
        self,
        config: Config,
        *,
        stop: asyncio.Event,
        simulate: bool,
        notifier: Notifier,
        keep_logs: bool,
    ) -> EdgeError | None:
        identity = config.livekit.identity
        self.started[identity] = {
            "simulate": simulate,
            "keep_logs": keep_logs,
            "systemd": notifier.enabled,
            "board": fleet.BOARD.get(),
        }
        if len(self.started) == len(self.outcomes):
            self.all_started.set()
        notifier.ready(f"connected to room {config.livekit.room!r} as {identity!r}")
        outcome = self.outcomes[identity]
        if outcome is not None:
            return outcome
        await stop.wait()
        self.stopped.append(identity)
        return None


async def test_sigterm_stops_every_board_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))  # a board must not use it
    configs = _configs(tmp_path, 3)
    boards = FakeBoards(dict.fromkeys((c.livekit.identity for c in configs), None))
    monkeypatch.setattr(edge_daemon, "run_board", boards.run_board)

    async def terminate_once_started() -> None:
        await boards.all_started.wait()
        signal.raise_signal(signal.SIGTERM)

    caplog.set_level(logging.INFO, logger="edge.fleet")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(terminate_once_started(), name="test.sigterm")
        assert await fleet.run_fleet(configs, stagger_s=0.0) == 0
    assert boards.started == {
        i: {"simulate": True, "keep_logs": False, "systemd": False, "board": i}
        for i in ("sim-0001", "sim-0002", "sim-0003")
    }
    assert sorted(boards.stopped) == ["sim-0001", "sim-0002", "sim-0003"]
    assert "all 3 board(s) joined" in caplog.text
    assert "SIGTERM received: every board leaves its room" in caplog.text
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the fleet's handler is gone


async def test_a_board_that_ends_for_good_leaves_the_others_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    configs = _configs(tmp_path, 3)
    refused = ServerLeft(
        "evicted: DUPLICATE_IDENTITY", reason="DUPLICATE_IDENTITY", can_reconnect=False
    )
    boards = FakeBoards({"sim-0001": None, "sim-0002": refused, "sim-0003": None})
    monkeypatch.setattr(edge_daemon, "run_board", boards.run_board)

    async def terminate_once_started() -> None:
        await boards.all_started.wait()
        signal.raise_signal(signal.SIGINT)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(terminate_once_started(), name="test.sigint")
        with pytest.raises(ServerLeft) as caught:
            await fleet.run_fleet(configs, stagger_s=0.0)
    assert caught.value is refused  # so `edge fleet` exits as `edge run` would: 3
    assert sorted(boards.stopped) == ["sim-0001", "sim-0003"]  # they ran on until SIGINT
    assert "stopped for good: evicted: DUPLICATE_IDENTITY (2 of 3 board(s) still running)" in (
        caplog.text
    )


async def test_when_every_board_has_ended_the_fleet_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = _configs(tmp_path, 2)
    first = JoinRefused("join refused: 401 invalid token", status=401)
    boards = FakeBoards({"sim-0001": first, "sim-0002": EdgeError("spool disk vanished")})
    monkeypatch.setattr(edge_daemon, "run_board", boards.run_board)
    with pytest.raises(EdgeError) as caught:
        await fleet.run_fleet(configs, stagger_s=0.0)
    assert caught.value in (first, boards.outcomes["sim-0002"])


def test_edge_fleet_runs_the_boards_and_exits_as_edge_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[object] = []

    async def run_fleet(configs: tuple[Config, ...], *, stagger_s: float) -> int:
        calls.append(([c.livekit.identity for c in configs], stagger_s))
        return 0

    monkeypatch.setattr(fleet, "run_fleet", run_fleet)
    monkeypatch.setattr(pyav_stand_in, "install_for", lambda config: calls.append("no PyAV"))
    path = _write(tmp_path)
    args = ["fleet", "--config", str(path), "--count", "2", "--identity-prefix", "lab"]
    assert main([*args, "--stagger", "5", "--state-dir", str(tmp_path / "b")]) == 0
    assert calls == ["no PyAV", (["lab-0001", "lab-0002"], 5.0)]

    assert main(["fleet", "--config", str(path), "--count", "0"]) == 2
    assert capsys.readouterr().err.endswith("edge: --count: expected 1 to 5000 boards, got 0\n")
    assert main(["fleet", "--config", str(path), "--count", "many"]) == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err

    async def refused(configs: tuple[Config, ...], *, stagger_s: float) -> int:
        raise JoinRefused("join refused: 401 invalid token", status=401)

    monkeypatch.setattr(fleet, "run_fleet", refused)
    assert main(["fleet", "--config", str(path), "--count", "2"]) == 3
    assert capsys.readouterr().err.endswith("edge: join refused: 401 invalid token\n")


async def test_real_boards_run_side_by_side_without_touching_the_process(tmp_path: Path) -> None:
    """Three `run_board`s in one loop, their server unreachable: each retries on its own; none
    installs a signal handler, a log handler or a systemd notifier, and all stop on `stop`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # nothing listens here once the socket is closed
    template = TEMPLATE.replace("ws://127.0.0.1:7880", f"ws://127.0.0.1:{closed}")
    configs = fleet.load_fleet(_write(tmp_path, template), count=3, prefix=None, state_dir=None)
    handlers = list(logging.getLogger().handlers)
    stop = asyncio.Event()
    seen: dict[str, list[str]] = {}

    class Watch(Notifier):
        def __init__(self, identity: str) -> None:
            super().__init__(None)
            self.identity = identity

        def ready(self, status: str) -> None:
            assert logging.getLogger().handlers == handlers
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
            seen.setdefault(self.identity, []).append(status)
            if len(seen) == len(configs):
                stop.set()

    results = await asyncio.gather(
        *(
            edge_daemon.run_board(
                c, stop=stop, simulate=True, notifier=Watch(c.livekit.identity), keep_logs=False
            )
            for c in configs
        )
    )
    assert results == [None, None, None]
    assert sorted(seen) == ["sim-0001", "sim-0002", "sim-0003"]
    assert all(s[0].startswith("offline, retrying") for s in seen.values()), seen
    assert logging.getLogger().handlers == handlers
    for config in configs:
        assert config.spool_path.is_file()  # each its own spool, in its own directory
