"""A throw-away livekit-server on free loopback ports, for one bench run.

Also the test suite's recipe (tests/conftest.py builds on these pieces): generated config with
its own keys, every port picked free on 127.0.0.1, readiness by polling `GET /`. With `ip`
(a local address such as a network namespace's veth peer, see `netns.py`) it listens there too
and advertises that address as its only ICE candidate, so clients on either side reach it.
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

LOOPBACK = "127.0.0.1"
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
{ip_filter}turn:
  enabled: false
logging:
  level: {log_level}
{redis}"""


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

    def url_via(self, ip: str) -> str:
        """The signalling URL on another address the server listens on (see `ip`)."""
        return self.url.replace("//127.0.0.1:", f"//{ip}:", 1)


def default_binary(repo_root: Path) -> Path:
    """`EDGE_LIVEKIT_SERVER`, else the binary that the setup script builds."""
    override = os.environ.get("EDGE_LIVEKIT_SERVER")
    return Path(override) if override else repo_root / ".cache" / "bin" / "livekit-server"


def write_config(
    workdir: Path,
    *,
    api_key: str,
    api_secret: str,
    log_level: str,
    ip: str = LOOPBACK,
    redis: str = "",
) -> tuple[int, Path]:
    """A server config on free ports in `workdir`; returns the HTTP/signal port and the file.

    With `redis` (`host:port`), the server is one node of a cluster sharing that Redis.

    With `ip`, ICE candidates are gathered on that address alone: candidates of other local
    addresses rewritten to the node IP would otherwise shadow it, and ICE checks sent to it
    would go unanswered.
    """
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
            api_key=api_key,
            api_secret=api_secret,
            log_level=log_level,
            ip_filter="" if ip == LOOPBACK else f"  ips:\n    includes: [{ip}/32]\n",
            redis=f"redis:\n  address: {redis}\n" if redis else "",
        )
    )
    return port, config_path


def server_command(binary: Path, config_path: Path, *, ip: str = LOOPBACK) -> tuple[str, ...]:
    """How to start the server on loopback (and `ip`), advertising `ip` in ICE candidates."""
    # An explicit node IP replaces the address of every host candidate (no STUN lookups).
    extra_bind = ("--bind", ip) if ip != LOOPBACK else ()
    return (
        str(binary),
        "--dev",
        "--bind",
        LOOPBACK,
        *extra_bind,
        "--node-ip",
        ip,
        "--config",
        str(config_path),
    )


def spawn(
    command: tuple[str, ...], log_path: Path, *, append: bool = False
) -> subprocess.Popen[bytes]:
    """Start the server process, its output going to `log_path`."""
    with log_path.open("ab" if append else "wb") as log:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )


def wait_ready(proc: subprocess.Popen[bytes], http_url: str, log_path: Path) -> None:
    """Poll `GET /` until it answers OK; raise `ServerError` with the log tail otherwise."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if _is_ready(http_url):
            return
        try:
            rc = proc.wait(timeout=POLL_INTERVAL_S)  # the poll interval; notices an early exit
        except subprocess.TimeoutExpired:
            continue
        raise ServerError(f"livekit-server exited with {rc}:\n{log_tail(log_path)}")
    raise ServerError(
        f"livekit-server not ready within {READY_TIMEOUT_S:g} s:\n{log_tail(log_path)}"
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; nothing if it has exited."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` of the server log."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


@contextmanager
def livekit_server(binary: Path, workdir: Path, *, ip: str = LOOPBACK) -> Iterator[Server]:
    """Start the server (also on `ip`, see `server_command`), yield how to reach it, stop it."""
    if not binary.is_file():
        raise ServerError(f"livekit-server not found at {binary}: run the setup script first")
    port, config_path = write_config(
        workdir, api_key=API_KEY, api_secret=API_SECRET, log_level="warn", ip=ip
    )
    log_path = workdir / "server.log"
    http_url = f"http://127.0.0.1:{port}"
    proc = spawn(server_command(binary, config_path, ip=ip), log_path)
    try:
        wait_ready(proc, http_url, log_path)
        yield Server(f"ws://127.0.0.1:{port}", http_url, API_KEY, API_SECRET, log_path)
    finally:
        stop(proc)


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
