"""2: telemetry latency device → observer under random packet loss on the device's link.

Scenario 1's 50 Hz reliable messages, with the device in a network namespace whose veth drops
each packet, either way, with `loss_probability` (iptables `statistic`, see `netns.py`). The
loss starts once both have joined and ends after the observer collected.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence

from ..report import Row, at_most, ms, percentile
from ..session import Pair
from . import Params, Raw, Scenario, samples, telemetry, total


async def measure(pair: Pair, params: Params) -> Raw:
    assert pair.netns is not None, "scenario 2 runs in a network namespace"
    await asyncio.to_thread(pair.netns.loss, params.loss_probability)
    try:
        raw = await telemetry.measure(
            pair, dataclasses.replace(params, telemetry_count=params.loss_count)
        )
    finally:
        await asyncio.to_thread(pair.netns.restore)
    return {**raw, "loss_probability": params.loss_probability}


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "2 telemetry, 5 % loss"

    def pct(runs: Sequence[Raw], q: float) -> float | None:
        return percentile(ms(samples(runs, "latencies_ns")), q)

    return [
        Row(name, "latency p50", "ms", pct(edge, 50), pct(official, 50)),
        Row(name, "latency p99", "ms", pct(edge, 99), pct(official, 99), at_most(150)),
        Row(name, "latency max", "ms", pct(edge, 100), pct(official, 100)),
        Row(name, "lost", "msgs", total(edge, "lost"), total(official, "lost"), at_most(0)),
    ]


SCENARIO = Scenario(
    "loss", "telemetry latency under 5 % packet loss", measure, rows, in_namespace=True
)
