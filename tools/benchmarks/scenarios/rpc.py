"""3: RPC round trip observer → device (echo), sequential calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..report import Row, at_most, ms, percentile
from ..session import Pair
from . import Params, Raw, Scenario, samples, total

RESPONSE_TIMEOUT_S = 2.0
SECONDS_PER_CALL_BOUND = 0.05
"""The observer stops calling after count x this (+ slack), so a slow side stays bounded."""


async def measure(pair: Pair, params: Params) -> Raw:
    budget_s = 5.0 + (params.rpc_count + params.warmup) * SECONDS_PER_CALL_BOUND
    pair.observer.send(
        "rpc",
        count=params.rpc_count,
        warmup=params.warmup,
        payload_size=params.rpc_payload_size,
        response_timeout_s=RESPONSE_TIMEOUT_S,
        budget_s=budget_s,
    )
    got = await pair.observer.expect("rpc_done", timeout_s=budget_s + 2 * RESPONSE_TIMEOUT_S + 5)
    del got["event"]
    return got


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "3 RPC round trip"

    def pct(runs: Sequence[Raw], q: float) -> float | None:
        return percentile(ms(samples(runs, "latencies_ns")), q)

    note = ""
    not_run = total(edge, "not_run")
    if not_run:
        note = f"{not_run:.0f} call(s) not made: the time budget ran out"
    return [
        Row(name, "p50", "ms", pct(edge, 50), pct(official, 50), at_most(5, times_official=1.2)),
        Row(name, "p99", "ms", pct(edge, 99), pct(official, 99), at_most(20, times_official=1.2)),
        Row(
            name,
            "timeouts",
            "calls",
            total(edge, "timeouts"),
            total(official, "timeouts"),
            at_most(0),
            note,
        ),
        Row(name, "errors", "calls", total(edge, "errors"), total(official, "errors"), at_most(0)),
    ]


SCENARIO = Scenario("rpc", "RPC round trip observer → device", measure, rows)
