"""5: participant attribute change on the device → seen by the observer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..report import Row, at_most, ms, percentile
from ..session import Pair
from . import Params, Raw, Scenario, samples, total

GRACE_S = 10.0


async def measure(pair: Pair, params: Params) -> Raw:
    n = params.attribute_count + params.warmup
    pair.device.send(
        "attributes",
        count=params.attribute_count,
        warmup=params.warmup,
        period_s=params.attribute_period_s,
    )
    await pair.device.expect("attributes_sent", timeout_s=n * params.attribute_period_s + GRACE_S)
    pair.observer.send("collect", kind="attributes", expect=params.attribute_count, timeout_s=5)
    got = await pair.observer.expect("collected", timeout_s=GRACE_S)
    return {
        "latencies_ns": got["latencies_ns"],
        "lost": len(got["missing"]),
        "sent": params.attribute_count,
    }


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "5 attribute change"

    def pct(runs: Sequence[Raw], q: float) -> float | None:
        return percentile(ms(samples(runs, "latencies_ns")), q)

    return [
        Row(name, "p50", "ms", pct(edge, 50), pct(official, 50)),
        Row(name, "p99", "ms", pct(edge, 99), pct(official, 99), at_most(50)),
        Row(name, "not seen", "changes", total(edge, "lost"), total(official, "lost"), at_most(0)),
    ]


SCENARIO = Scenario("attributes", "attribute change → seen by observer", measure, rows)
