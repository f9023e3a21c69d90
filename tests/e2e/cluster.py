"""A real LiveKit cluster for tests: Debian's redis-server and livekit-server nodes sharing it.

Every node listens on its own free loopback ports with the same keys; Redis carries the room
data and the messages between nodes, so a participant that joins through one node meets those
that joined through another. `Node.kill()` makes a node vanish as a crashed host would.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests import needs
from tests.conftest import API_KEY, API_SECRET, REPO_ROOT, SERVER_MISSING
from tests.official_peer import LiveKitServer
from tools.benchmarks import server as lk_server

REDIS_READY_S = 10.0


@dataclass(slots=True)
class Node:
    """One livekit-server of the cluster."""

    server: LiveKitServer
    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL: the node vanishes without telling anyone."""
        self.proc.kill()
        self.proc.wait()


@dataclass(slots=True)
class Cluster:
    """Redis plus the nodes started so far; `add_node()` starts one more."""

    workdir: Path
    redis: str
    """`host:port` of the shared Redis."""
    nodes: list[Node] = field(default_factory=list)

    def add_node(self) -> Node:
        binary = lk_server.default_binary(REPO_ROOT)
        if not binary.is_file():
            needs.missing(SERVER_MISSING)
        workdir = self.workdir / f"node-{len(self.nodes) + 1}"
        workdir.mkdir()
        port, config_path = lk_server.write_config(
            workdir, api_key=API_KEY, api_secret=API_SECRET, log_level="info", redis=self.redis
        )
        log_path = workdir / "server.log"
        proc = lk_server.spawn(lk_server.server_command(binary, config_path), log_path)
        http_url = f"http://127.0.0.1:{port}"
        node = Node(
            LiveKitServer(
                url=f"ws://127.0.0.1:{port}",
                http_url=http_url,
                api_key=API_KEY,
                api_secret=API_SECRET,
                log_path=str(log_path),
            ),
            proc,
        )
        self.nodes.append(node)
        lk_server.wait_ready(proc, http_url, log_path)
        return node


@contextlib.contextmanager
def cluster(workdir: Path) -> Iterator[Cluster]:
    """Redis on a free loopback port (nothing saved to disk); every node stopped on exit."""
    redis_server = needs.program("redis-server", package="redis-server")
    port = _free_port()
    with (workdir / "redis.log").open("wb") as log:
        redis = subprocess.Popen(
            [redis_server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = Cluster(workdir, f"127.0.0.1:{port}")
    try:
        _wait_redis(redis, port)
        yield running
    finally:
        for node in running.nodes:
            lk_server.stop(node.proc)
        redis.terminate()
        redis.wait(timeout=10)


def _wait_redis(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + REDIS_READY_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.05)  # polling a process we started for readiness, bounded
    raise RuntimeError(f"redis-server did not answer PING within {REDIS_READY_S:g} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
