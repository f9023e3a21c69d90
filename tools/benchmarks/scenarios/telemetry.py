"""1: telemetry latency device → observer, small reliable data packets at 50 Hz."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..report import Row, at_most, ms, percentile
from ..session import Pair
from . import Params, Raw, Scenario, mean, samples, total

GRACE_S = 10.0


async def measure(pair: Pair, params: Params) -> Raw:
    n = params.telemetry_count + params.warmup
    pair.device.send(
        "telemetry",
        count=params.telemetry_count,
        warmup=params.warmup,
        size=params.telemetry_size,
        hz=params.telemetry_hz,
    )
    await pair.device.expect("telemetry_sent", timeout_s=n / params.telemetry_hz + GRACE_S)
    pair.observer.send("collect", kind="telemetry", expect=params.telemetry_count, timeout_s=5)
    got = await pair.observer.expect("collected", timeout_s=GRACE_S)
    return {
        "latencies_ns": got["latencies_ns"],
        "lost": len(got["missing"]),
        "sent": params.telemetry_count,
    }


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "1 telemetry 50 Hz"

    def pct(runs: Sequence[Raw], q: float) -> float | None:
        return percentile(ms(samples(runs, "latencies_ns")), q)

    def mib(runs: Sequence[Raw]) -> float | None:
        value = mean(runs, "pss_bytes")
        return None if value is None else value / 2**20

    return [
        Row(name, "latency p50", "ms", pct(edge, 50), pct(official, 50)),
        Row(
            name,
            "latency p99",
            "ms",
            pct(edge, 99),
            pct(official, 99),
            at_most(10, times_official=1.5, plus=2),
        ),
        Row(name, "lost", "msgs", total(edge, "lost"), total(official, "lost"), at_most(0)),
        Row(name, "device CPU", "% core", mean(edge, "cpu_percent"), mean(official, "cpu_percent")),
        Row(name, "device PSS (steady)", "MiB", mib(edge), mib(official), at_most(100)),
    ]


SCENARIO = Scenario("telemetry", "telemetry latency device → observer", measure, rows)
