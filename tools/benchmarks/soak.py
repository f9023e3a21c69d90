"""`tools/bench --soak MINUTES`: the `edge run` daemon under mixed load for a long time.

One `livekit-server`; the daemon (`edge run --simulate`, GPIO outputs, a 5 Hz telemetry sensor)
in a network namespace when one can be made; in this process, on LiveKit's official SDK:

- 3 callers: every `burst_every_s`, each fires a burst of mixed calls (`gpio.read`,
  `gpio.list`, `gpio.set` with a hold) `in_flight` at a time, and updates its own attributes;
- a probe: caller 1 calls `gpio.read` once a second (the deaf-period detector);
- an observer: counts the edge's telemetry readings (by sequence number) and attribute changes;
- churn: every `churn_every_s` a participant joins, sets an output, and leaves;
- link cuts: the namespace's link is cut for `cut_s` every `cut_every_s` (first after
  `cut_first_s`).

The daemon's own sd_notify STATUS= lines (from a notify socket bound here, as systemd would)
say when it claims to be connected. RSS comes from /proc every `rss_every_s`. At the end the
load stops, the observer waits up to `drain_s` for every reading taken so far, and the
figures (`soak_figures.py`) are printed and written as JSON. Goals are in the table; nothing
here asserts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
from livekit import api, rtc

from . import netns, soak_figures
from .recovery_device import EDGE_TELEMETRY_TOPIC
from .server import Server, default_binary, livekit_server

EDGE_IDENTITY = "soak-edge"
CALLERS = 3
PROBE_PERIOD_S = 1.0
PROBE_TIMEOUT_S = 3.0
DEAF_MIN_S = 5.0
"""Shorter runs of failed probes are noise (one lost call, a slow reply), not a deaf channel."""
HEAL_S = 20.0
"""After a restore the edge did not notice, the time its session gets to work again."""
JOIN_TIMEOUT_S = 30.0
RSS_GOAL_MB_PER_H = 2.0

CONFIG = """
[livekit]
url = "{url}"
room = "{room}"
identity = "{identity}"
api_key = "{api_key}"
api_secret = "{api_secret}"

[daemon]
state_dir = "{state_dir}"

[gpio]
link_loss_grace_s = 5.0

[[gpio.outputs]]
name = "relay"
kind = "digital"
pin = 17
allow = ["soak-*"]

[[gpio.outputs]]
name = "fan"
kind = "pwm"
pin = 18
allow = ["soak-*"]

[telemetry]
batch_window_s = 0.2

[[telemetry.sensors]]
name = "soak"
kind = "simulated"
period_s = {period_s}
"""


@dataclass(frozen=True, slots=True)
class Plan:
    """How hard and how often; scaled down for runs shorter than a few minutes."""

    duration_s: float
    burst_every_s: float = 15.0
    burst_calls: int = 40
    in_flight: int = 10
    churn_every_s: float = 20.0
    cut_first_s: float = 60.0
    cut_every_s: float = 180.0
    cut_s: float = 20.0
    """Longer than ICE consent's patience: the edge must notice, rejoin and resend."""
    sensor_period_s: float = 0.2
    rss_every_s: float = 5.0
    drain_s: float = 30.0

    @classmethod
    def for_minutes(cls, minutes: float) -> Plan:
        duration = minutes * 60.0
        return cls(
            duration_s=duration,
            burst_every_s=min(15.0, duration / 4),
            churn_every_s=min(20.0, duration / 4),
            cut_first_s=min(60.0, duration / 3),
            cut_s=min(20.0, duration / 6),
            rss_every_s=min(5.0, duration / 10),
        )


@dataclass
class Record:
    """Everything the run saw, in monotonic seconds from the start."""

    t0: float = field(default_factory=time.monotonic)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    probes: list[soak_figures.Probe] = field(default_factory=list)
    cuts: list[soak_figures.Cut] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    anon: list[tuple[float, int]] = field(default_factory=list)
    """RssAnon: the heap and other private memory, without the code pages RSS also counts
    (those grow as more of the libraries is first touched, bounded by their size)."""
    calls: int = 0
    call_errors: list[tuple[float, int]] = field(default_factory=list)
    """(when the call was answered or gave up, error code)."""
    churn_joins: int = 0
    attribute_changes: int = 0
    readings: set[int] = field(default_factory=set)
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.t0


def _token(server: Server, identity: str, room: str) -> str:
    grants = api.VideoGrants(
        room_join=True, room=room, can_publish_data=True, can_update_own_metadata=True
    )
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


@contextlib.asynccontextmanager
async def _joined(server: Server, room: str, identity: str) -> AsyncIterator[rtc.Room]:
    lk = rtc.Room()
    await asyncio.wait_for(lk.connect(server.url, _token(server, identity, room)), JOIN_TIMEOUT_S)
    try:
        yield lk
    finally:
        await lk.disconnect()


async def _call(lk: rtc.Room, record: Record, method: str, payload: dict[str, Any]) -> bool:
    record.calls += 1
    try:
        await lk.local_participant.perform_rpc(
            destination_identity=EDGE_IDENTITY,
            method=method,
            payload=json.dumps(payload),
            response_timeout=PROBE_TIMEOUT_S,
        )
    except rtc.RpcError as exc:
        record.call_errors.append((record.now(), exc.code))
        return False
    return True


def _mixed_call(rng: random.Random) -> tuple[str, dict[str, Any]]:
    roll = rng.random()
    if roll < 0.5:
        return "gpio.read", {"device": rng.choice(["relay", "fan"])}
    if roll < 0.7:
        return "gpio.list", {}
    if rng.random() < 0.5:
        return "gpio.set", {"device": "relay", "value": rng.randint(0, 1), "hold_s": 5}
    return "gpio.set", {"device": "fan", "value": round(rng.random(), 2), "hold_s": 5}


async def _caller(lk: rtc.Room, index: int, plan: Plan, record: Record) -> None:
    rng = random.Random(index)
    burst = 0
    while True:
        await asyncio.sleep(plan.burst_every_s * (0.5 + rng.random()))
        burst += 1
        await lk.local_participant.set_attributes({"soak.burst": str(burst)})
        gate = asyncio.Semaphore(plan.in_flight)

        async def one(gate: asyncio.Semaphore = gate) -> None:
            async with gate:
                await _call(lk, record, *_mixed_call(rng))

        async with asyncio.TaskGroup() as tg:
            for _ in range(plan.burst_calls):
                tg.create_task(one())


async def _probe(lk: rtc.Room, record: Record) -> None:
    while True:
        at = record.now()
        ok = await _call(lk, record, "gpio.read", {"device": "relay"})
        record.probes.append(soak_figures.Probe(at, ok))
        await asyncio.sleep(max(0.0, at + PROBE_PERIOD_S - record.now()))


async def _churn(server: Server, room: str, plan: Plan, record: Record) -> None:
    n = 0
    while True:
        await asyncio.sleep(plan.churn_every_s)
        n += 1
        async with _joined(server, room, f"soak-churn-{n}") as lk:
            record.churn_joins += 1
            await lk.local_participant.set_attributes({"soak.churn": str(n)})
            await _call(lk, record, "gpio.set", {"device": "relay", "value": 1, "hold_s": 30})


def _observe(lk: rtc.Room, record: Record, tasks: set[asyncio.Task[None]]) -> None:
    async def read(reader: rtc.ByteStreamReader) -> None:
        batch = msgpack.unpackb(b"".join([chunk async for chunk in reader]))
        for seq, *_ in batch["readings"]:
            if int(seq) in record.readings:
                record.duplicates += 1
            record.readings.add(int(seq))

    def on_stream(reader: rtc.ByteStreamReader, sender: str) -> None:
        task = asyncio.create_task(read(reader), name="soak.telemetry")
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_attributes(changed: dict[str, str], participant: rtc.Participant) -> None:
        if participant.identity == EDGE_IDENTITY:
            record.attribute_changes += 1

    lk.register_byte_stream_handler(EDGE_TELEMETRY_TOPIC, on_stream)
    lk.on("participant_attributes_changed", on_attributes)


async def _watch_status(sock: socket.socket, record: Record, connected: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while True:
        datagram = (await loop.sock_recv(sock, 4096)).decode(errors="replace")
        for line in datagram.splitlines():
            if line.startswith("STATUS="):
                state = line.removeprefix("STATUS=").split(" ", 1)[0].rstrip(",:")
                if not record.timeline or record.timeline[-1][1] != state:
                    record.timeline.append((record.now(), state))
                if state == "connected":
                    connected.set()


async def _sample_rss(pid: int, plan: Plan, record: Record) -> None:
    while True:
        rss = _rss_bytes(pid)
        if rss is not None:
            record.rss.append((record.now(), rss))
        anon = _rss_bytes(pid, "RssAnon:")
        if anon is not None:
            record.anon.append((record.now(), anon))
        await asyncio.sleep(plan.rss_every_s)


def _rss_bytes(pid: int, field_name: str = "VmRSS:") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def _cut_link(ns: netns.Namespace, plan: Plan, record: Record) -> None:
    await asyncio.sleep(plan.cut_first_s)
    while True:
        await asyncio.to_thread(ns.cut)
        at = record.now()
        await asyncio.sleep(plan.cut_s)
        await asyncio.to_thread(ns.restore)
        record.cuts.append(soak_figures.Cut(at, record.now()))
        await asyncio.sleep(max(0.0, plan.cut_every_s - plan.cut_s))


async def _start_edge(
    server: Server, ns: netns.Namespace | None, room: str, plan: Plan, workdir: Path, repo: Path
) -> tuple[asyncio.subprocess.Process, socket.socket]:
    url = server.url if ns is None else server.url_via(ns.host_ip)
    state_dir = workdir / "edge-state"
    state_dir.mkdir(exist_ok=True)
    config = workdir / "edge.toml"
    config.write_text(
        CONFIG.format(
            url=url,
            room=room,
            identity=EDGE_IDENTITY,
            api_key=server.api_key,
            api_secret=server.api_secret,
            state_dir=state_dir,
            period_s=plan.sensor_period_s,
        )
    )
    config.chmod(0o600)
    notify = workdir / "notify"
    notify.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.setblocking(False)
    argv = [sys.executable, "-m", "edge", "run", "--config", str(config), "--simulate"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "GPIOZERO_"))}
    with (workdir / "edge.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            *(argv if ns is None else ns.wrap(argv)),
            cwd=repo,
            env={**env, "NOTIFY_SOCKET": str(notify)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    return proc, sock


async def _stop_edge(proc: asyncio.subprocess.Process, record: Record) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(20):
            code = await proc.wait()
    except TimeoutError:
        proc.kill()
        code = await proc.wait()
        record.problems.append("the daemon did not stop within 20 s of SIGTERM")
    if code != 0:
        record.problems.append(f"the daemon exited {code}")


async def _drain(record: Record, through: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not soak_figures.missing(record.readings, through):
            return True
        await asyncio.sleep(0.5)
    return False


async def _load(
    server: Server,
    ns: netns.Namespace | None,
    plan: Plan,
    record: Record,
    room: str,
    edge_pid: int,
) -> None:
    """Callers, probe, churn, cuts and the RSS sampler, for the plan's duration."""
    async with contextlib.AsyncExitStack() as stack:
        callers = [
            await stack.enter_async_context(_joined(server, room, f"soak-caller-{i + 1}"))
            for i in range(CALLERS)
        ]
        workers: list[Coroutine[Any, Any, None]] = [
            _probe(callers[0], record),
            _churn(server, room, plan, record),
            _sample_rss(edge_pid, plan, record),
            *(_caller(lk, i, plan, record) for i, lk in enumerate(callers)),
        ]
        if ns is not None:
            workers.append(_cut_link(ns, plan, record))
        tasks = [asyncio.create_task(w, name=f"soak.worker-{i}") for i, w in enumerate(workers)]
        try:
            done, _ = await asyncio.wait(tasks, timeout=plan.duration_s)
            for task in done:  # a worker that ended early failed: say why
                record.problems.append(f"{task.get_name()}: {task.exception()!r}")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if ns is not None:
                await asyncio.to_thread(ns.restore)


async def run_soak(plan: Plan, workdir: Path, repo: Path) -> dict[str, Any]:
    """One soak run; the figures as plain data."""
    # The SDK logs every late RPC ack or reply as an error: counted above, not printed.
    logging.getLogger("livekit").setLevel(logging.CRITICAL)
    skipped = netns.unavailable_reason()
    record = Record()
    room = f"soak-{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        ns = None
        if skipped is None:
            try:
                ns = stack.enter_context(netns.namespace())
            except netns.NetnsUnavailable as exc:
                skipped = str(exc)
        ip = ns.host_ip if ns is not None else "127.0.0.1"
        server = stack.enter_context(livekit_server(default_binary(repo), workdir, ip=ip))
        observer = await stack.enter_async_context(_joined(server, room, "soak-observer"))
        reading_tasks: set[asyncio.Task[None]] = set()
        _observe(observer, record, reading_tasks)
        proc, sock = await _start_edge(server, ns, room, plan, workdir, repo)
        stack.callback(sock.close)
        connected = asyncio.Event()
        watcher = asyncio.create_task(_watch_status(sock, record, connected), name="soak.status")
        try:
            async with asyncio.timeout(JOIN_TIMEOUT_S):
                await connected.wait()
            record.t0 = time.monotonic()
            record.timeline = [(0.0, "connected")]
            rss_start = _rss_bytes(proc.pid)
            await _load(server, ns, plan, record, room, proc.pid)
            through = max(record.readings, default=0)
            drained = await _drain(record, through, plan.drain_s)
        finally:
            await _stop_edge(proc, record)
            watcher.cancel()
            for task in [watcher, *reading_tasks]:
                task.cancel()
            await asyncio.gather(watcher, *reading_tasks, return_exceptions=True)
    return _figures(plan, record, rss_start, through, drained, skipped)


def _figures(
    plan: Plan,
    record: Record,
    rss_start: int | None,
    through: int,
    drained: bool,
    no_cuts: str | None,
) -> dict[str, Any]:
    deaf = soak_figures.deaf_periods(
        record.probes,
        record.timeline,
        record.cuts,
        timeout_s=PROBE_TIMEOUT_S,
        min_s=DEAF_MIN_S,
        heal_s=HEAL_S,
    )
    growth = soak_figures.growth_per_hour(record.rss, warmup_s=min(60.0, plan.duration_s / 4))
    # Allocator pools and bounded caches fill for many minutes: the second half's slope says
    # whether growth is levelling off, which a whole-run slope hides.
    late = soak_figures.growth_per_hour(record.rss, warmup_s=plan.duration_s / 2)
    anon = soak_figures.growth_per_hour(record.anon, warmup_s=min(60.0, plan.duration_s / 4))
    lost = soak_figures.missing(record.readings, through)
    windows = soak_figures.excused_windows(record.cuts, record.timeline, heal_s=HEAL_S)
    in_cuts: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    for at, code in record.call_errors:
        # A call that gave up at `at` was sent up to PROBE_TIMEOUT_S earlier.
        cut = any(start <= at and at - PROBE_TIMEOUT_S <= end for start, end in windows)
        (in_cuts if cut else outside)[str(code)] += 1
    reconnects = sum(1 for _, state in record.timeline[1:] if state == "connected")
    return {
        "plan": {k: getattr(plan, k) for k in plan.__dataclass_fields__},
        "minutes": plan.duration_s / 60,
        "rss_start_bytes": rss_start,
        "rss_end_bytes": record.rss[-1][1] if record.rss else None,
        "rss_samples": len(record.rss),
        "rss_growth_bytes_per_hour": growth,
        "rss_growth_second_half_bytes_per_hour": late,
        "rss_series": [[round(t, 1), v] for t, v in record.rss],
        "anon_growth_bytes_per_hour": anon,
        "anon_series": [[round(t, 1), v] for t, v in record.anon],
        "rpc_calls": record.calls,
        "rpc_errors": dict(outside),
        "rpc_errors_during_cuts": dict(in_cuts),
        "probes": len(record.probes),
        "probes_failed": sum(not p.ok for p in record.probes),
        "deaf_periods": [
            {"start_s": p.start_s, "length_s": p.length_s, "failed_probes": p.failed_probes}
            for p in deaf
        ],
        "readings_through": through,
        "readings_lost": len(lost),
        "readings_lost_seqs": lost[:50],
        "readings_duplicates": record.duplicates,
        "drained": drained,
        "link_cuts": len(record.cuts),
        "link_cuts_not_measured": no_cuts,
        "reconnects": reconnects,
        "states": record.timeline,
        "churn_joins": record.churn_joins,
        "edge_attribute_changes": record.attribute_changes,
        "problems": record.problems,
    }


def render(fig: dict[str, Any]) -> str:
    """The figures as a short table with the goals."""

    def mb(value: float | None) -> str:
        return "n/a" if value is None else f"{value / 1e6:.2f} MB"

    growth = fig["rss_growth_bytes_per_hour"]

    def codes(errors: dict[str, int]) -> str:
        return ", ".join(f"{code}: {n}" for code, n in sorted(errors.items())) or "none"

    deaf = fig["deaf_periods"]
    longest = max((p["length_s"] for p in deaf), default=0.0)
    cuts = str(fig["link_cuts"])
    if fig["link_cuts_not_measured"]:
        cuts += f" (not cut: {fig['link_cuts_not_measured']})"
    lines = [
        f"soak: {fig['minutes']:g} min",
        f"  RSS                 {mb(fig['rss_start_bytes'])} -> {mb(fig['rss_end_bytes'])}"
        f" ({fig['rss_samples']} samples)",
        f"  RSS growth          {mb(growth)}/h (goal <= {RSS_GOAL_MB_PER_H:g} MB/h);"
        f" second half {mb(fig['rss_growth_second_half_bytes_per_hour'])}/h;"
        f" anonymous {mb(fig['anon_growth_bytes_per_hour'])}/h",
        f"  RPC calls           {fig['rpc_calls']}; errors by code: {codes(fig['rpc_errors'])}"
        f" (2004 is the outputs' own rate limit); during cuts: "
        f"{codes(fig['rpc_errors_during_cuts'])}",
        f"  probes              {fig['probes']}, failed {fig['probes_failed']}",
        f"  deaf periods        {len(deaf)} (goal 0), longest {longest:.1f} s",
        f"  readings            1..{fig['readings_through']}: lost {fig['readings_lost']}"
        f" (goal 0), duplicates {fig['readings_duplicates']}",
        f"  link cuts           {cuts}; edge reconnects {fig['reconnects']}",
        f"  churn joins         {fig['churn_joins']}; edge attribute changes "
        f"{fig['edge_attribute_changes']}",
    ]
    lines += [f"  problem: {p}" for p in fig["problems"]]
    return "\n".join(lines)
