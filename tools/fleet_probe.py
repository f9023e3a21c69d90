"""Figures of `edge fleet` against one local livekit-server: join time, memory, idle CPU, RPC.

    PYTHONPATH=. .venv/bin/python -m tools.fleet_probe --count 1 --count 50 --count 200

For each count, in turn: a fresh livekit-server (tools/benchmarks/server.py; `--nodes 2`: two
sharing a Redis, the boards entering through the first, the caller through the second), then
`edge fleet --count N` with one room per board (`room = "fleet-{index}"`), a simulated sensor
every 5 s and a relay each. Measured:

- joined: seconds from starting the fleet process to its "all N board(s) joined" line;
- RSS, PSS, open files and threads of the fleet process, and its CPU % of one core over `--idle`
  seconds of idling;
- RPC round trips from one official-SDK caller to `--sample` random boards, `--calls` each
  (one `gpio.set`, then `gpio.read`s), one call at a time: p50 and p99;
- SIGTERM: the exit status and how long the fleet took to leave every room.

Per board memory is (RSS at N - RSS at 1) / N, from the count-1 run when it was asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from livekit import api, rtc

from tools.benchmarks import procstat
from tools.benchmarks import server as lk_server

REPO_ROOT = Path(__file__).resolve().parent.parent
JOIN_TIMEOUT_S = 300.0
MIB = 1024 * 1024
TRACEBACK_LINES = 40
"""Lines kept after the first error line (its traceback)."""

TEMPLATE = """\
[livekit]
url = [{urls}]
room = "fleet-{{index}}"
identity = "sim"
api_key = "{api_key}"
api_secret = "{api_secret}"

[[telemetry.sensors]]
name = "soc"
kind = "simulated"
unit = "°C"
mean = 48.0

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
allow = ["op-*"]
"""


_SET = json.dumps({"device": "relay", "value": 1, "hold_s": 60})
_READ = json.dumps({"device": "relay"})


@dataclass
class Figures:
    count: int
    nodes: int
    stagger_s: float
    joined_s: float | None = None
    rss_mib: float = 0.0
    open_files: int = 0
    threads: int = 0
    pss_mib: float | None = None
    idle_cpu_percent: float | None = None
    rpc_p50_ms: float | None = None
    rpc_p99_ms: float | None = None
    rpc_calls: int = 0
    rpc_failures: int = 0
    rpc_slowest: list[tuple[float, int]] = field(default_factory=list)
    """The five slowest round trips (ms) and which call to its board each was (0: first)."""
    exit_status: int | None = None
    stop_s: float | None = None
    warnings: int = 0
    errors_seen: int = 0
    errors: list[str] = field(default_factory=list)


async def probe(
    binary: Path,
    count: int,
    *,
    nodes: int,
    stagger_s: float,
    idle_s: float,
    sample: int,
    calls: int,
) -> Figures:
    figures = Figures(count, nodes, stagger_s)
    with (
        tempfile.TemporaryDirectory(prefix="fleet-probe-") as tmp,
        _servers(binary, Path(tmp), nodes) as servers,
    ):
        workdir = Path(tmp)
        template = workdir / "fleet.toml"
        first = servers[0]
        urls = ", ".join(f'"{server.url}"' for server in servers)
        template.write_text(
            TEMPLATE.format(urls=urls, api_key=first.api_key, api_secret=first.api_secret)
        )
        template.chmod(0o600)
        command = ["fleet", "--config", str(template), "--count", str(count)]
        command += ["--stagger", str(stagger_s)]
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edge",
            *command,
            "--state-dir",
            str(workdir / "boards"),
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        joined = asyncio.Event()
        reader = asyncio.create_task(_read(proc, count, figures, joined), name="probe.stderr")
        try:
            try:
                async with asyncio.timeout(JOIN_TIMEOUT_S):
                    await joined.wait()
            except TimeoutError:
                figures.errors.append(f"not every board joined within {JOIN_TIMEOUT_S:g} s")
            else:
                figures.joined_s = time.monotonic() - started
            cpu_before = procstat.CpuSample(procstat.cpu_seconds(proc.pid), time.monotonic_ns())
            await asyncio.sleep(idle_s)  # the idle window being measured
            cpu_after = procstat.CpuSample(procstat.cpu_seconds(proc.pid), time.monotonic_ns())
            figures.idle_cpu_percent = procstat.cpu_percent(cpu_before, cpu_after)
            figures.rss_mib = _rss_bytes(proc.pid) / MIB
            figures.open_files = _open_files(proc.pid)
            figures.threads = _threads(proc.pid)
            pss = procstat.pss_bytes(proc.pid)
            figures.pss_mib = None if pss is None else pss / MIB
            await _rpc(servers[-1], count, figures, sample=sample, calls=calls)
        finally:
            stop_at = time.monotonic()
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            figures.exit_status = await proc.wait()
            figures.stop_s = time.monotonic() - stop_at
            await reader
    return figures


async def _read(
    proc: asyncio.subprocess.Process, count: int, figures: Figures, joined: asyncio.Event
) -> None:
    assert proc.stderr is not None
    marker = f"all {count} board(s) joined"
    traceback_lines = 0
    while line := (await proc.stderr.readline()).decode(errors="replace").rstrip():
        if marker in line:
            joined.set()
        if traceback_lines and not line[:4].isdigit():  # the lines after the first error
            figures.errors.append(line)
            traceback_lines -= 1
        if " ERROR " in line and not figures.errors_seen:
            traceback_lines = TRACEBACK_LINES
        figures.errors_seen += " ERROR " in line
        if " WARNING " in line:
            figures.warnings += 1
            if figures.warnings <= 3:
                figures.errors.append(line)
        if " ERROR " in line and len(figures.errors) < 10:
            figures.errors.append(line)


async def _rpc(
    server: lk_server.Server, count: int, figures: Figures, *, sample: int, calls: int
) -> None:
    """One caller, `sample` random boards (each in its own room), `calls` round trips each."""
    rng = random.Random(count)
    width = max(4, len(str(count)))
    rtts: list[float] = []
    calls_made: list[tuple[float, int]] = []
    """(round trip in ms, which call to its board: 0 is the first)"""
    for index in rng.sample(range(1, count + 1), min(sample, count)):
        room = rtc.Room()
        token = (
            api.AccessToken(server.api_key, server.api_secret)
            .with_identity("op-probe")
            .with_grants(api.VideoGrants(room_join=True, room=f"fleet-{index}"))
            .to_jwt()
        )
        await room.connect(server.url, token)
        try:
            for n in range(calls):
                # The first call switches the relay on; the rest read it (an output takes at
                # most 10 changes a second, so back-to-back sets would measure its limit).
                method, payload = ("gpio.set", _SET) if n == 0 else ("gpio.read", _READ)
                sent = time.perf_counter()
                try:
                    await room.local_participant.perform_rpc(
                        destination_identity=f"sim-{index:0{width}d}",
                        method=method,
                        payload=payload,
                        response_timeout=10.0,
                    )
                except rtc.RpcError as exc:
                    figures.rpc_failures += 1
                    if len(figures.errors) < 10:
                        figures.errors.append(f"rpc {index}#{n}: {exc.code} {exc.message}")
                    continue
                rtts.append((time.perf_counter() - sent) * 1000)
                calls_made.append((rtts[-1], n))
        finally:
            await room.disconnect()
    figures.rpc_calls = len(rtts) + figures.rpc_failures
    figures.rpc_slowest = [(round(ms, 1), n) for ms, n in sorted(calls_made, reverse=True)[:5]]
    if len(rtts) >= 2:
        cuts = statistics.quantiles(rtts, n=100, method="inclusive")
        figures.rpc_p50_ms, figures.rpc_p99_ms = cuts[49], cuts[98]


@contextlib.contextmanager
def _servers(binary: Path, workdir: Path, nodes: int) -> Iterator[list[lk_server.Server]]:
    """One livekit-server, or `nodes` of them sharing a Redis (the boards' first URL is the
    first node; the caller joins through the last)."""
    if nodes == 1:
        with lk_server.livekit_server(binary, workdir) as server:
            yield [server]
        return
    redis_port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        servers = []
        for n in range(1, nodes + 1):
            node_dir = workdir / f"node-{n}"
            node_dir.mkdir()
            port, config = lk_server.write_config(
                node_dir,
                api_key=lk_server.API_KEY,
                api_secret=lk_server.API_SECRET,
                log_level="warn",
                redis=f"127.0.0.1:{redis_port}",
            )
            log = node_dir / "server.log"
            procs.append(lk_server.spawn(lk_server.server_command(binary, config), log))
            http_url = f"http://127.0.0.1:{port}"
            lk_server.wait_ready(procs[-1], http_url, log)
            servers.append(
                lk_server.Server(
                    f"ws://127.0.0.1:{port}", http_url, lk_server.API_KEY, lk_server.API_SECRET, log
                )
            )
        yield servers
    finally:
        for proc in procs:
            lk_server.stop(proc)
        redis.terminate()
        redis.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def _open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, action="append", required=True)
    parser.add_argument("--idle", type=float, default=30.0, metavar="S", help="idle window")
    parser.add_argument("--sample", type=int, default=20, help="boards called")
    parser.add_argument("--calls", type=int, default=10, help="calls per board")
    parser.add_argument("--nodes", type=int, default=1, help="livekit-server nodes (Redis)")
    parser.add_argument("--stagger", type=float, default=0.0, help="edge fleet --stagger")
    args = parser.parse_args()
    binary = lk_server.default_binary(REPO_ROOT)
    baseline: float | None = None
    for count in args.count:
        figures = asyncio.run(
            probe(
                binary,
                count,
                nodes=args.nodes,
                stagger_s=args.stagger,
                idle_s=args.idle,
                sample=args.sample,
                calls=args.calls,
            )
        )
        if count == 1:
            baseline = figures.rss_mib
        per_board = None if baseline is None or count == 1 else (figures.rss_mib - baseline) / count
        print(json.dumps({**asdict(figures), "rss_per_board_mib": per_board}), flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
