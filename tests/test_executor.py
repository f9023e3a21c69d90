"""A host-name lookup stuck in the resolver does not keep `edge run` alive after it stopped."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest

from edge.executor import DaemonThreadExecutor

REPO_ROOT = Path(__file__).resolve().parent.parent
HANG_S = 60.0
# `edge run` with a resolver that hangs like one whose DNS server does not answer.
SCRIPT = f"""
import socket, sys, time
def hanging_getaddrinfo(*args, **kwargs):
    print("resolving", file=sys.stderr, flush=True)
    time.sleep({HANG_S})
    raise socket.gaierror(-3, "Temporary failure in name resolution")
socket.getaddrinfo = hanging_getaddrinfo
from edge.cli import main
sys.exit(main(sys.argv[1:]))
"""


async def test_run_exits_promptly_while_a_lookup_hangs(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        '[livekit]\nurl = "ws://edge-unresolvable.example:7880"\nroom = "r"\nidentity = "e"\n'
        'api_key = "k"\napi_secret = "a-secret-long-enough-for-hmac-sha256-tokens"\n'
    )
    config.chmod(0o600)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        "run",
        "--config",
        str(config),
        cwd=REPO_ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            while b"resolving" not in (line := await proc.stderr.readline()):
                assert line, "edge exited before resolving the host name"
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        async with asyncio.timeout(HANG_S / 2):  # well before the lookup would end
            rest = await proc.stderr.read()
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, rest.decode()
    assert b"stopped" in rest
    assert time.monotonic() - started < HANG_S / 2


def test_results_exceptions_and_shutdown() -> None:
    pool = DaemonThreadExecutor(max_workers=2)
    assert pool.submit(lambda x: x * 2, 21).result(timeout=5) == 42
    failing = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=5)
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        pool.submit(print)
