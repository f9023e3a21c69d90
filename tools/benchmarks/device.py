"""What a device process does, whichever SDK it runs on: the same payloads and pacing.

`device_edge` and `device_official` adapt one SDK each to `DeviceSide`; `serve` joins the
pieces: say hello once joined, then run the runner's commands until told to stop.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from .clip import Clip, load_clip
from .pacer import FramePacer
from .wire import Channel, Message

HELLO_TOPIC = "bench.hello"
TELEMETRY_TOPIC = "bench.telemetry"
STREAM_TOPIC = "bench.bytes"
RPC_METHOD = "bench.echo"
ATTRIBUTE_KEY = "bench.t"

_STAMP = struct.Struct("<iq")
"""Sequence number (negative during warm-up) and `time.monotonic_ns()` at send."""


class DeviceSide(Protocol):
    """One SDK's way of doing what the scenarios need."""

    async def publish(self, payload: bytes, topic: str) -> None: ...

    async def set_attributes(self, attributes: Mapping[str, str]) -> None: ...

    async def send_bytes(self, data: bytes, topic: str, attributes: Mapping[str, str]) -> None: ...

    async def publish_media(self, clip: Clip, pacer: FramePacer, bitrate: int) -> int:
        """Publish `clip` (looped, frames as `pacer` gives them) and a tone; return video
        frames sent. `bitrate` (bit/s) is the clip's, for SDKs that announce it."""
        ...


def stamped(seq: int, size: int) -> bytes:
    """A telemetry message of `size` bytes carrying `seq` and the send time."""
    head = _STAMP.pack(seq, time.monotonic_ns())
    return head + bytes(max(0, size - len(head)))


def read_stamp(payload: bytes) -> tuple[int, int]:
    """(seq, sent_ns) of a `stamped` message."""
    seq, sent_ns = _STAMP.unpack_from(payload)
    return int(seq), int(sent_ns)


def stream_payload(size: int, seed: int) -> bytes:
    """Incompressible, reproducible bytes: both SDKs move exactly the same content."""
    return random.Random(seed).randbytes(size)


def echo_payload(size: int) -> str:
    return "x" * size


async def serve(side: DeviceSide, channel: Channel, *, joined_ns: int) -> None:
    """Announce the join (with a first data packet), then run commands until `stop`."""
    await side.publish(stamped(0, 16), HELLO_TOPIC)
    channel.send("joined", joined_ns=joined_ns, hello_sent_ns=time.monotonic_ns())
    async for command in channel.commands():
        match command["cmd"]:
            case "telemetry":
                sent = await _telemetry(side, command)
                channel.send("telemetry_sent", sent=sent)
            case "attributes":
                sent = await _attributes(side, command)
                channel.send("attributes_sent", sent=sent)
            case "stream":
                data = stream_payload(int(command["size"]), seed=int(command["i"]))
                started_ns = time.monotonic_ns()
                await side.send_bytes(
                    data, STREAM_TOPIC, {"i": str(command["i"]), "t0": str(started_ns)}
                )
                channel.send("stream_sent", i=command["i"], queued_ns=time.monotonic_ns())
            case "media":
                clip = load_clip(
                    Path(command["clip"]),
                    width=int(command["width"]),
                    height=int(command["height"]),
                    fps=int(command["fps"]),
                )
                pacer = FramePacer(clip.fps, round(float(command["seconds"]) * clip.fps))
                # Video + audio + 50 Hz telemetry together, as a camera board runs.
                async with asyncio.TaskGroup() as tg:
                    media = tg.create_task(
                        side.publish_media(clip, pacer, int(command["bitrate"])),
                        name="bench.media",
                    )
                    telemetry = tg.create_task(
                        _telemetry_with_camera(side, command, pacer, channel),
                        name="bench.telemetry",
                    )
                channel.send(
                    "media_sent",
                    frames=media.result(),
                    expected=pacer.count,
                    lateness_ns=pacer.lateness_ns,
                    telemetry=telemetry.result(),
                )
            case other:
                channel.send("error", message=f"unknown command {other!r}")


async def _tick(start_ns: int, index: int, period_s: float) -> None:
    """Sleep until `start + index * period` (a schedule, so send time does not drift)."""
    delay_ns = start_ns + int(index * period_s * 1e9) - time.monotonic_ns()
    if delay_ns > 0:
        await asyncio.sleep(delay_ns / 1e9)


async def _telemetry(side: DeviceSide, command: Message, *, until_ns: int | None = None) -> int:
    """Send the command's messages on schedule; none after `until_ns`. Returns those sent."""
    count, warmup = int(command["count"]), int(command["warmup"])
    size, period_s = int(command["size"]), 1.0 / float(command["hz"])
    start_ns = time.monotonic_ns()
    sent = 0
    for index, seq in enumerate(range(-warmup, count)):
        await _tick(start_ns, index, period_s)
        if until_ns is not None and time.monotonic_ns() > until_ns:
            break
        await side.publish(stamped(seq, size), TELEMETRY_TOPIC)
        sent += seq >= 0
    return sent


async def _telemetry_with_camera(
    side: DeviceSide, command: Message, pacer: FramePacer, channel: Channel
) -> int:
    """Telemetry from the camera's first frame until it stops; says when the camera started."""
    await pacer.started.wait()
    channel.send("media_started", at_ns=time.monotonic_ns())
    return await _telemetry(side, command, until_ns=pacer.deadline_ns)


async def _attributes(side: DeviceSide, command: Message) -> int:
    count, warmup = int(command["count"]), int(command["warmup"])
    period_s = float(command["period_s"])
    start_ns = time.monotonic_ns()
    for index, seq in enumerate(range(-warmup, count)):
        await _tick(start_ns, index, period_s)
        await side.set_attributes({ATTRIBUTE_KEY: f"{seq}:{time.monotonic_ns()}"})
    return count
