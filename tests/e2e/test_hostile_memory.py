"""1000 hostile calls from several official-SDK peers leave the daemon's memory where it was.

The calls that cost memory before they were bounded (history answers, snapshots, log bundles,
big and deep payloads) come from four participants at once, 25 in flight each: intruders with
no permission, and an operator who may read history and take snapshots but asks for all of it,
as fast as it can. PSS is read from the kernel (`/proc/<pid>/smaps_rollup`) after a warm-up
round of the same calls and again after the 1000; the bound is 10 % (issue: 300 history calls
took 63 to 141 MiB, never given back). Python's own heap grew by ~1 MB here even before the
fix; what stayed was glibc's per-thread arenas (see `edge/allocator.py`): on a loaded machine
PSS grew 12 to 27 % without the arena cap, under 2 % with it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable
from pathlib import Path

import pytest

from tests.conftest import OfficialPeerFactory
from tests.e2e.test_access import OK, answer, start_and_watch
from tests.e2e.test_daemon import StartEdge, start_edge, write_config  # noqa: F401 - fixture
from tests.helpers import assert_eventually
from tests.official_peer import LiveKitServer, OfficialPeer

pytestmark = pytest.mark.e2e

EDGE = "edge-hostile"
SENSORS = "\n".join(
    f"""
[[telemetry.sensors]]
name = "s{n}"
kind = "simulated"
period_s = 0.05
"""
    for n in range(4)
)
CONFIG = f"""
[daemon]
logs_allow = ["auditor"]

[[gpio.outputs]]
name = "lamp"
kind = "digital"
pin = 17
allow = ["operator-*"]

[telemetry]
history_allow = ["operator-*"]
history_max_readings = 10000
{SENSORS}

[camera]
source = "synthetic"
width = 640
height = 480
framerate = 5
bitrate = 200000
allow = ["operator-*"]
"""
DEEP = '{"device": ' + "[" * 1500 + "]" * 1500 + "}"
BIG = json.dumps({"device": "lamp", "value": 1, "pad": "x" * 15_000})

# caller, method, payload, the answers it may get besides 2004 (over the caller's limits,
# checked first: a flood costs the least there)
CALLS: list[tuple[str, str, object, frozenset[str | int]]] = [
    ("intruder-1", "telemetry.history", {"since_seq": 0, "limit": 10000}, frozenset({2003})),
    ("intruder-2", "camera.snapshot", {}, frozenset({2003})),
    ("intruder-3", "edge.logs", {"lines": 1000}, frozenset({2003})),
    ("intruder-1", "gpio.set", BIG, frozenset({2000, 2003})),
    ("intruder-2", "gpio.set", DEEP, frozenset({2000, 2003})),
    ("intruder-3", "no.such.method", {}, frozenset({1400})),
    ("operator-1", "telemetry.history", {"since_seq": 0, "limit": 10000}, frozenset({OK, 2004})),
    ("operator-1", "camera.snapshot", {}, frozenset({OK, 2004})),
    ("operator-1", "edge.logs", {"lines": 1000}, frozenset({2003})),
    ("operator-1", "gpio.set", BIG, frozenset({2000})),
]
PEERS = ("operator-1", "intruder-1", "intruder-2", "intruder-3")
IN_FLIGHT = 25


def memory_kib(pid: int) -> dict[str, int]:
    """The kernel's memory figures for `pid` (`Pss`, `Pss_Anon`, `Anonymous`, ...) in KiB."""
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        figures[key] = int(value.split()[0])
    return figures


async def fire(peers: dict[str, OfficialPeer], total: int) -> list[str]:
    """`total` calls of the mix, each peer with IN_FLIGHT at once; the unexpected answers."""
    plan = list(itertools.islice(itertools.cycle(CALLS), total))
    wrong: list[str] = []

    async def caller(identity: str) -> None:
        mine = [row for row in plan if row[0] == identity]
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(method: str, payload: object, allowed: frozenset[str | int]) -> None:
            async with gate:
                got = await answer(peers[identity], method, payload, edge=EDGE, timeout=15)
            if got not in allowed | {2004}:
                wrong.append(f"{identity} {method}: {got}, want one of {sorted(map(str, allowed))}")

        async with asyncio.TaskGroup() as group:
            for _, method, payload, allowed in mine:
                group.create_task(one(method, payload, allowed), name=f"test.{identity}.call")

    async with asyncio.TaskGroup() as group:
        for identity in PEERS:
            group.create_task(caller(identity), name=f"test.{identity}")
    return wrong


@pytest.mark.slow
async def test_a_thousand_hostile_calls_leave_pss_within_ten_percent(
    start_edge: StartEdge,  # noqa: F811 - the fixture
    official_peer: OfficialPeerFactory,
    livekit_server: LiveKitServer,
    room_name: str,
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "edge.toml", livekit_server, room_name, identity=EDGE)
    config.write_text(config.read_text() + CONFIG)
    edge, peers, _ = await start_and_watch(start_edge, official_peer, config, EDGE, PEERS)

    # History to amplify: 4 sensors at 20 Hz; wait until an answer could carry 1000 readings.
    async def has_reading(seq: int) -> bool:
        reply = await peers["operator-1"].local.perform_rpc(
            destination_identity=EDGE,
            method="telemetry.history",
            payload=json.dumps({"since_seq": seq, "limit": 1}),
        )
        return bool(json.loads(reply)["count"])

    reached: Awaitable[bool] = assert_eventually(
        lambda: has_reading(1000), timeout=90, interval=0.5
    )
    await reached
    warm_up = await fire(peers, 2 * len(CALLS) * len(PEERS))
    assert not warm_up, "\n".join(warm_up)
    before = memory_kib(edge.proc.pid)

    wrong = await fire(peers, 1000)

    after = memory_kib(edge.proc.pid)
    logging.getLogger(__name__).warning("hostile calls: %s -> %s", before, after)
    assert not wrong, "\n".join(wrong[:20])
    pss = before["Pss"], after["Pss"]
    assert pss[1] <= pss[0] * 1.10, f"PSS {pss[0]} KiB -> {pss[1]} KiB (+{pss[1] / pss[0] - 1:.1%})"
    # Still serving, and nothing reached a handler's traceback.
    lamp_on = {"device": "lamp", "value": 1}
    assert await answer(peers["operator-1"], "gpio.set", lamp_on, edge=EDGE) == OK
    assert not any("Traceback" in line for line in edge.lines), edge.log()
