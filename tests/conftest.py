"""Fixtures shared by the whole suite: lanes, task-leak guard, livekit-server, official peers."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, settings

from tests import needs
from tests.console.browser import missing_parts as browser_missing_parts
from tests.official_peer import LiveKitServer, OfficialPeer, mint_token
from tools.benchmarks import netns
from tools.benchmarks import server as lk_server

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_LOG_TAIL_LINES = 60

# An explicit key pair instead of --dev's devkey/secret: PyJWT warns about HMAC keys
# under 32 bytes, and warnings are errors in this suite.
API_KEY = "devkey"
API_SECRET = "edge-participant-test-secret-0123456789"


# Property tests share two cores with servers and browsers in CI: a slow example is the
# machine's load, not a bug, so no per-example deadline and no too-slow health check.
settings.register_profile(
    "shared-cores", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-cores")


# --- lanes: what a test needs, marked where it can be seen, checked in one place -------------

LANE_FIXTURES = {
    "server": {"livekit_server", "private_livekit_server", "official_peer"},
    "mqtt": {"mosquitto", "mosquitto_with_password", "private_mosquitto", "mqtt_peer"},
    "browser": {"browser"},
}
"""A test that uses one of these fixtures (directly or through another) gets the lane's marker."""
E2E_TIMEOUT_S = 300.0
"""Timeout of a test in the server, browser or netns lane that sets none of its own (the
default, pyproject's `timeout`, suits the rest): generous, as these share a loaded machine."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with the lanes it needs, so `-m "not server"` cannot miss one."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        for lane, lane_fixtures in LANE_FIXTURES.items():
            if fixtures & lane_fixtures:
                item.add_marker(lane)
        if item.get_closest_marker("e2e") is not None:
            item.add_marker("server")
        heavy = any(item.get_closest_marker(lane) for lane in ("server", "browser", "netns"))
        if heavy and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT_S))


SERVER_MISSING = "livekit-server is not built: tools/setup builds it"


def _server_missing() -> str | None:
    return None if lk_server.default_binary(REPO_ROOT).is_file() else SERVER_MISSING


def _mosquitto_missing() -> str | None:
    if needs.find("mosquitto") and needs.find("mosquitto_passwd"):
        return None
    return f"mosquitto is not installed (Debian package mosquitto): {needs.SETUP}"


LANE_CHECKS: dict[str, Callable[[], str | None]] = {
    "server": _server_missing,
    "mqtt": _mosquitto_missing,
    "browser": lambda: browser_missing_parts() or None,
    "netns": netns.unavailable_reason,
}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test whose lane's tools are missing is skipped, or failed where CI is set (needs.py)."""
    for lane, check in LANE_CHECKS.items():
        if item.get_closest_marker(lane) is not None and (reason := check()) is not None:
            needs.missing(reason)


# --- task-leak guard -----------------------------------------------------------------


@pytest.fixture(autouse=True)
async def no_lingering_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail an async test that leaves asyncio tasks running after its fixtures close."""
    yield
    if not inspect.iscoroutinefunction(request.function):
        return
    await asyncio.sleep(0)  # one loop turn for tasks that are just finishing
    current = asyncio.current_task()
    lingering = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if not lingering:
        return
    names = sorted(t.get_name() for t in lingering)
    for task in lingering:
        task.cancel()
    await asyncio.gather(*lingering, return_exceptions=True)
    pytest.fail(f"test left asyncio tasks running: {names}")


# --- livekit-server ------------------------------------------------------------------


@dataclass(slots=True)
class ServerProcess:
    """A livekit-server a test owns and may kill and start again."""

    server: LiveKitServer
    proc: subprocess.Popen[bytes]
    command: tuple[str, ...] = ()
    log_path: Path | None = None

    def kill(self) -> None:
        """SIGKILL: the server vanishes without telling anyone."""
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> None:
        """Start a killed server again on the same ports and keys (its rooms are gone)."""
        assert self.proc.poll() is not None, "kill() it first"
        assert self.log_path is not None
        self.proc = lk_server.spawn(self.command, self.log_path, append=True)
        _wait_ready(self.proc, self.server.http_url, self.log_path)


@contextmanager
def start_livekit_server(workdir: Path) -> Iterator[ServerProcess]:
    """A `--dev` livekit-server on free loopback ports with its own keys, stopped on exit."""
    binary = lk_server.default_binary(REPO_ROOT)
    if not binary.is_file():
        needs.missing(SERVER_MISSING)
    port, config_path = lk_server.write_config(
        workdir, api_key=API_KEY, api_secret=API_SECRET, log_level="info"
    )
    log_path = workdir / "server.log"
    http_url = f"http://127.0.0.1:{port}"
    command = lk_server.server_command(binary, config_path)
    server = LiveKitServer(
        url=f"ws://127.0.0.1:{port}",
        http_url=http_url,
        api_key=API_KEY,
        api_secret=API_SECRET,
        log_path=str(log_path),
    )
    running = ServerProcess(server, lk_server.spawn(command, log_path), command, log_path)
    try:
        _wait_ready(running.proc, http_url, log_path)
        yield running
    finally:
        lk_server.stop(running.proc)  # the latest process, after any restart


@pytest.fixture(scope="session")
def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """The shared server of the test session."""
    with start_livekit_server(tmp_path_factory.mktemp("livekit-server")) as running:
        yield running.server


@pytest.fixture
def private_livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of this test's own, for tests that kill or restart it."""
    with start_livekit_server(tmp_path_factory.mktemp("private-livekit-server")) as running:
        yield running


def _wait_ready(proc: subprocess.Popen[bytes], http_url: str, log_path: Path) -> None:
    try:
        lk_server.wait_ready(proc, http_url, log_path)
    except lk_server.ServerError as exc:
        pytest.fail(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the livekit-server log tail to failures of tests that used the server."""
    report = yield
    server = getattr(item, "funcargs", {}).get("livekit_server")
    if report.failed and isinstance(server, LiveKitServer):
        report.sections.append(
            (
                f"livekit-server log (last {SERVER_LOG_TAIL_LINES} lines)",
                lk_server.log_tail(Path(server.log_path), SERVER_LOG_TAIL_LINES),
            )
        )
    return report


# --- rooms and official peers ----------------------------------------------------------


@pytest.fixture
def room_name(request: pytest.FixtureRequest) -> str:
    """A fresh room per test, so tests never see each other."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name[:40]).strip("-")
    return f"t-{base}-{uuid4().hex[:8]}"


class OfficialPeerFactory(Protocol):
    def __call__(
        self,
        identity: str,
        *,
        name: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> Awaitable[OfficialPeer]: ...


@pytest.fixture
async def official_peer(
    livekit_server: LiveKitServer, room_name: str
) -> AsyncIterator[OfficialPeerFactory]:
    """Join official-SDK peers to this test's room; all leave at teardown."""
    peers: list[OfficialPeer] = []

    async def join(
        identity: str,
        *,
        name: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> OfficialPeer:
        token = mint_token(
            livekit_server,
            identity=identity,
            room=room_name,
            name=name,
            attributes=attributes,
        )
        peer = await OfficialPeer.connect(livekit_server.url, token, identity=identity)
        peers.append(peer)
        return peer

    yield join
    for peer in reversed(peers):
        await peer.disconnect()
