"""A throw-away livekit-server on free loopback ports, for one bench run.

The same recipe as the test suite's fixture (tools must not import from tests/): generated
config with its own keys, every port picked free on 127.0.0.1, readiness by polling `GET /`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.1
LOG_TAIL_LINES = 40

API_KEY = "benchkey"
API_SECRET = "edge-participant-bench-secret-0123456789"
"""At least 32 bytes, so PyJWT does not warn about a short HMAC key."""

_CONFIG = """\
port: {port}
keys:
  {api_key}: {api_secret}
rtc:
  tcp_port: {rtc_tcp_port}
  udp_port: {rtc_udp_port}
  use_external_ip: false
  enable_loopback_candidate: true
turn:
  enabled: false
logging:
  level: warn
"""


class ServerError(RuntimeError):
    """The server could not be started."""


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    """`ws://127.0.0.1:<port>` for clients."""
    http_url: str
    api_key: str
    api_secret: str
    log_path: Path


def default_binary(repo_root: Path) -> Path:
    """`EDGE_LIVEKIT_SERVER`, else the binary that the setup script builds."""
    override = os.environ.get("EDGE_LIVEKIT_SERVER")
    return Path(override) if override else repo_root / ".cache" / "bin" / "livekit-server"


@contextmanager
def livekit_server(binary: Path, workdir: Path) -> Iterator[Server]:
    """Start the server, yield how to reach it, stop it on exit."""
    if not binary.is_file():
        raise ServerError(f"livekit-server not found at {binary}: run the setup script first")
    port = _free_port(socket.SOCK_STREAM, "127.0.0.1")
    # The server listens for ICE-TCP and UDP on every interface, so check all of them.
    rtc_tcp_port = _free_port(socket.SOCK_STREAM, "")
    rtc_udp_port = _free_port(socket.SOCK_DGRAM, "")
    config_path = workdir / "livekit.yaml"
    config_path.write_text(
        _CONFIG.format(
            port=port,
            rtc_tcp_port=rtc_tcp_port,
            rtc_udp_port=rtc_udp_port,
            api_key=API_KEY,
            api_secret=API_SECRET,
        )
    )
    log_path = workdir / "server.log"
    http_url = f"http://127.0.0.1:{port}"
    command = [
        str(binary),
        "--dev",
        "--bind",
        "127.0.0.1",
        "--node-ip",
        "127.0.0.1",
        "--config",
        str(config_path),
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        _wait_ready(proc, http_url, log_path)
        yield Server(f"ws://127.0.0.1:{port}", http_url, API_KEY, API_SECRET, log_path)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port(kind: socket.SocketKind, host: str) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _is_ready(http_url: str) -> bool:
    try:
        with urllib.request.urlopen(http_url + "/", timeout=1) as resp:
            return bool(resp.status == 200 and resp.read().strip() == b"OK")
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(proc: subprocess.Popen[bytes], http_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if _is_ready(http_url):
            return
        try:
            rc = proc.wait(timeout=POLL_INTERVAL_S)  # the poll interval; notices an early exit
        except subprocess.TimeoutExpired:
            continue
        raise ServerError(f"livekit-server exited with {rc}:\n{_tail(log_path)}")
    raise ServerError(f"livekit-server not ready within {READY_TIMEOUT_S:g} s:\n{_tail(log_path)}")


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except OSError as exc:
        return f"(no log: {exc})"
