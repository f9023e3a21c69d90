"""6: CPU and memory of a camera board: 720p30 H.264 (the same pre-encoded packets for both
SDKs), a 48 kHz tone encoded to Opus, and 50 Hz telemetry, published together.

CPU is the device process's user+system time from the kernel's accounting over the publishing
window; memory is its PSS at the end of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..clip import encode_clip
from ..report import Row, at_most
from ..session import Pair
from . import Params, Raw, Scenario, mean

WIDTH, HEIGHT, FPS = 1280, 720, 30
SECONDS = 20.0
GRACE_S = 20.0
CLIP = Path(__file__).resolve().parents[3] / ".cache" / "bench" / "clip-720p30.h264"


async def measure(pair: Pair, params: Params) -> Raw:
    CLIP.parent.mkdir(parents=True, exist_ok=True)
    clip = encode_clip(
        CLIP,
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        seconds=10,
        keyint=FPS,
    )
    count = int(SECONDS * params.telemetry_hz)
    pair.device.send(
        "media",
        clip=str(clip),
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        seconds=SECONDS,
        count=count,
        warmup=0,
        size=params.telemetry_size,
        hz=params.telemetry_hz,
    )
    done = await pair.device.expect("media_sent", timeout_s=SECONDS + GRACE_S)
    return {"video_frames": done["frames"], "telemetry_sent": done["telemetry"]}


def rows(results: Mapping[str, Sequence[Raw]]) -> list[Row]:
    edge, official = results["edge"], results["official"]
    name = "6 720p30 + audio + telemetry"

    def mib(runs: Sequence[Raw]) -> float | None:
        value = mean(runs, "pss_bytes")
        return None if value is None else value / 2**20

    return [
        Row(
            name,
            "device CPU",
            "% core",
            mean(edge, "cpu_percent"),
            mean(official, "cpu_percent"),
            at_most(5, times_official=2),
        ),
        Row(name, "device PSS", "MiB", mib(edge), mib(official), at_most(100)),
        Row(
            name,
            "video frames sent",
            "frames",
            mean(edge, "video_frames"),
            mean(official, "video_frames"),
        ),
    ]


SCENARIO = Scenario("media", "CPU and memory publishing 720p30 H.264 + audio", measure, rows)
