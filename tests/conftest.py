"""Fixtures shared by the whole suite: task-leak guard, livekit-server, official peers."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from uuid import uuid4

import pytest

from tests.official_peer import LiveKitServer, OfficialPeer, mint_token
from tools.benchmarks import server as lk_server

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_LOG_TAIL_LINES = 60

# An explicit key pair instead of --dev's devkey/secret: PyJWT warns about HMAC keys
# under 32 bytes, and warnings are errors in this suite.
API_KEY = "devkey"
API_SECRET = "edge-participant-test-secret-0123456789"


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
        pytest.fail("livekit-server not built: run tools/setup")
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
