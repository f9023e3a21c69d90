"""7: start-up, from the device's process creation to joined and to its first packet seen.

The process imports its SDK, joins, and publishes one reliable data packet; the observer
(already in the room) timestamps its arrival. Memory is the PSS right after that, idle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..report import Row, at_most, percentile
from ..session import Pair
from . import Params, Raw, Scenario, mean


async def measure(pair: Pair, params: Params) -> Raw:
    del params
    return {}  # `startup`, `pss_bytes` and CPU are recorded for every run by the runner


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "7 start-up"

    def pct(runs: Sequence[Raw], key: str, q: float) -> float | None:
        return percentile([r["startup"][key] for r in runs if "startup" in r], q)

    def mib(runs: Sequence[Raw]) -> float | None:
        value = mean(runs, "pss_bytes")
        return None if value is None else value / 2**20

    return [
        Row(name, "→ joined p50", "s", pct(edge, "joined_s", 50), pct(official, "joined_s", 50)),
        Row(
            name,
            "→ first packet seen p50",
            "s",
            pct(edge, "first_packet_seen_s", 50),
            pct(official, "first_packet_seen_s", 50),
            at_most(3),
        ),
        Row(
            name,
            "→ first packet seen max",
            "s",
            pct(edge, "first_packet_seen_s", 100),
            pct(official, "first_packet_seen_s", 100),
            at_most(3),
        ),
        Row(name, "device PSS (idle, joined)", "MiB", mib(edge), mib(official)),
    ]


SCENARIO = Scenario("startup", "process start → joined and publishing", measure, rows)
