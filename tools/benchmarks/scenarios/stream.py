"""4: byte-stream throughput device → observer, 1 MiB of incompressible bytes per stream.

Throughput of one stream: its size over the time from the device starting to send it to
the observer having read the last byte. Streams go one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..report import Row, at_least, percentile
from ..session import Pair
from . import Params, Raw, Scenario, mean, samples

STREAM_TIMEOUT_S = 30.0


async def measure(pair: Pair, params: Params) -> Raw:
    streams = []
    for i in range(params.stream_count):
        pair.device.send("stream", i=i, size=params.stream_size)
        got = await pair.observer.expect("stream", timeout_s=STREAM_TIMEOUT_S)
        await pair.device.expect("stream_sent", timeout_s=STREAM_TIMEOUT_S)
        if got["i"] != i or got["bytes"] != params.stream_size:
            raise RuntimeError(f"stream {i}: observer got {got}")
        seconds = (got["done_ns"] - got["started_ns"]) / 1e9
        streams.append({**got, "seconds": seconds})
    return {
        "streams": streams,
        "mb_per_s": [params.stream_size / s["seconds"] / 1e6 for s in streams],
    }


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "4 byte stream 1 MiB"
    return [
        Row(
            name,
            "throughput (median)",
            "MB/s",
            percentile(samples(edge, "mb_per_s"), 50),
            percentile(samples(official, "mb_per_s"), 50),
            at_least(2, times_official=0.25),
        ),
        Row(name, "device CPU", "% core", mean(edge, "cpu_percent"), mean(official, "cpu_percent")),
    ]


SCENARIO = Scenario("stream", "1 MiB byte-stream throughput", measure, rows)
