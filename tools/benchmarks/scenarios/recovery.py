"""8: recovery after the device's link is cut for `cut_s` (20 s) and restored.

Ours is the `edge run` daemon (`recovery_edge.py`), the reference a script on the official SDK
(`recovery_official.py`); both take 10 readings a second, all the time, and keep what they
could not send. The runner cuts the veth of the device's namespace, restores it `cut_s` later
and measures, from the device's own reports and the observer's arrivals:

- detect: cut → the device says it lost the room (ours: STATUS=reconnecting/offline;
  official: its `reconnecting` event); none within the cut counts as not detected;
- rejoin: restore → the device is back (ours: STATUS=connected; official: `reconnected`);
- drain: rejoin → the observer has every reading taken before the restore (ours resends
  spooled batches; the reference sends its queue);
- lost: readings taken before the restore that never arrived.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from ..report import Row, at_most, percentile
from ..session import PACKAGE, Pair
from ..wire import ChildFailed, Message
from . import Params, Raw, Scenario, total

STEADY_READINGS = 20
"""Readings the observer must have before the cut (the device is streaming)."""
REJOIN_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 15.0
"""After the rejoin; readings still missing then count as lost."""


async def measure(pair: Pair, params: Params) -> Raw:
    ns = pair.netns
    assert ns is not None, "scenario 8 runs in a network namespace"
    pair.observer.send("readings", count=STEADY_READINGS, timeout_s=30)
    steady = await pair.observer.expect("readings", timeout_s=35)
    if not steady["ok"]:
        raise RuntimeError(f"device not streaming: {steady['count']} reading(s) seen")

    await asyncio.to_thread(ns.cut)
    cut_ns = time.monotonic_ns()
    restore_at = time.monotonic() + params.cut_s
    detected: Message | None = None
    try:
        detected = await pair.device.expect("detected", timeout_s=params.cut_s)
    except ChildFailed:
        if pair.device.proc.returncode is not None:
            raise
    await asyncio.sleep(max(0.0, restore_at - time.monotonic()))  # the rest of the cut
    await asyncio.to_thread(ns.restore)
    restore_ns, restored_us = time.monotonic_ns(), time.time_ns() // 1000

    if detected is None:  # noticed only after the restore, if at all
        detected = await pair.device.expect("detected", timeout_s=REJOIN_TIMEOUT_S)
    rejoined = await pair.device.expect("rejoined", timeout_s=REJOIN_TIMEOUT_S)
    pair.observer.send("drain", restored_us=restored_us, timeout_s=DRAIN_TIMEOUT_S)
    drained = await pair.observer.expect("drained", timeout_s=DRAIN_TIMEOUT_S + 5)
    detect_ns = int(detected["at_ns"])
    rejoin_ns = int(rejoined["at_ns"])
    raw: Raw = {
        "cut_s": params.cut_s,
        "detect_s": (detect_ns - cut_ns) / 1e9,
        "detected_during_cut": detect_ns < restore_ns,
        "rejoin_s": (rejoin_ns - restore_ns) / 1e9,
        "rejoin_detail": rejoined.get("detail", ""),
        "lost": len(drained["missing"]),
        "duplicates": drained["duplicates"],
        "readings_before_restore": drained["last_needed_seq"],
    }
    if drained["drained_ns"] is not None:
        raw["drain_s"] = max(0.0, (drained["drained_ns"] - rejoin_ns) / 1e9)
        raw["delivered_s"] = (drained["drained_ns"] - restore_ns) / 1e9
    return raw


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "8 recovery, 20 s cut"

    def worst(runs: Sequence[Raw], key: str) -> float | None:
        return percentile([r[key] for r in runs if r.get(key) is not None], 100)

    note = ""
    undetected = sum(not r.get("detected_during_cut", True) for r in edge if "error" not in r)
    if undetected:
        note = f"{undetected} run(s): the loss was noticed only after the link came back"
    lost_note = ""
    if total(official, "lost"):
        lost_note = (
            "official: readings whose publish_data returned before the SDK noticed the cut "
            "went into the dead session and were not resent after its reconnect"
        )
    return [
        Row(
            name,
            "detect (worst)",
            "s",
            worst(edge, "detect_s"),
            worst(official, "detect_s"),
            at_most(16),
            note,
        ),
        Row(
            name,
            "rejoin after restore (worst)",
            "s",
            worst(edge, "rejoin_s"),
            worst(official, "rejoin_s"),
            at_most(5),
        ),
        Row(
            name,
            "drain after rejoin (worst)",
            "s",
            worst(edge, "drain_s"),
            worst(official, "drain_s"),
        ),
        Row(
            name,
            "restore → all delivered (worst)",
            "s",
            worst(edge, "delivered_s"),
            worst(official, "delivered_s"),
        ),
        Row(
            name,
            "lost",
            "readings",
            total(edge, "lost"),
            total(official, "lost"),
            at_most(0),
            lost_note,
        ),
        Row(
            name, "duplicates", "readings", total(edge, "duplicates"), total(official, "duplicates")
        ),
    ]


SCENARIO = Scenario(
    "recovery",
    "recovery after a 20 s cut",
    measure,
    rows,
    in_namespace=True,
    devices={"edge": f"{PACKAGE}.recovery_edge", "official": f"{PACKAGE}.recovery_official"},
    hello=False,
    max_runs=1,  # each run holds a 20 s cut: one per SDK keeps the bench within minutes
)
