"""Exit codes and messages a supervisor and a user can act on, against the real server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import jwt
import pytest

from tests.e2e.edge_process import EdgeProcess
from tests.official_peer import LiveKitServer

StartEdge = Callable[..., Awaitable[EdgeProcess]]
CANARY = "claim-canary-4f1d"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def start_edge() -> AsyncIterator[StartEdge]:
    """`python -m edge ...` from this source tree; killed at teardown if still running."""
    procs: list[EdgeProcess] = []

    async def start(*args: str) -> EdgeProcess:
        proc = await EdgeProcess.start(*args, cwd=REPO_ROOT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        await proc.kill()


def _static_token(server: LiveKitServer, room: str, *, secret: str, exp: float) -> str:
    now = time.time()
    claims = {
        "iss": server.api_key,
        "sub": "edge-x",
        "name": CANARY,
        "metadata": CANARY,
        "nbf": int(now) - 60,
        "exp": int(exp),
        "video": {"roomJoin": True, "room": room},
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _config(tmp_path: Path, server: LiveKitServer, room: str, token: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        f'[livekit]\nurl = "{server.url}"\nroom = "{room}"\nidentity = "edge-x"\n'
        f'token = "{token}"\n'
    )
    path.chmod(0o600)
    return path


async def test_an_expired_static_token_exits_3_not_1(
    start_edge: StartEdge, livekit_server: LiveKitServer, room_name: str, tmp_path: Path
) -> None:
    token = _static_token(
        livekit_server, room_name, secret=livekit_server.api_secret, exp=time.time() - 3600
    )
    edge = await start_edge(
        "run", "--config", str(_config(tmp_path, livekit_server, room_name, token))
    )
    assert await edge.wait(timeout=20) == 3, edge.log()  # systemd: RestartPreventExitStatus=3
    assert edge.lines[-1].startswith("edge: token: expired at "), edge.log()


async def test_a_refused_token_is_reported_without_its_claims(
    start_edge: StartEdge, livekit_server: LiveKitServer, room_name: str, tmp_path: Path
) -> None:
    token = _static_token(
        livekit_server,
        room_name,
        secret="a-secret-that-the-server-has-never-heard-of",
        exp=time.time() + 3600,
    )
    edge = await start_edge(
        "run", "--config", str(_config(tmp_path, livekit_server, room_name, token))
    )
    assert await edge.wait(timeout=20) == 3, edge.log()
    assert edge.lines[-1].startswith("edge: server refused the join (HTTP 401): "), edge.log()
    assert not any(CANARY in line for line in edge.lines), edge.log()
    assert not any(token.split(".")[1][:20] in line for line in edge.lines), edge.log()
