"""The observer: always LiveKit's official SDK, watching (and calling) the device.

It reports when the device joins and when its first data packet arrives, records telemetry
and attribute latencies as they come (the device stamps `time.monotonic_ns()`, one clock
for every process on the machine), reports each byte stream once complete, and on command
runs a series of RPC calls to the device.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

from .device import (
    ATTRIBUTE_KEY,
    HELLO_TOPIC,
    RPC_METHOD,
    STREAM_TOPIC,
    TELEMETRY_TOPIC,
    echo_payload,
    read_stamp,
)
from .wire import Channel, Message, run_child


@dataclass
class _Series:
    """Latency per sequence number (ns), warm-up (negative seq) left out."""

    latencies_ns: dict[int, int] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, seq: int, sent_ns: int, now_ns: int) -> None:
        if seq >= 0 and seq not in self.latencies_ns:
            self.latencies_ns[seq] = now_ns - sent_ns
            self.changed.set()

    async def collect(self, expect: int, timeout_s: float) -> dict[str, Any]:
        try:
            async with asyncio.timeout(timeout_s):
                while len(self.latencies_ns) < expect:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            pass
        seen = dict(self.latencies_ns)
        self.latencies_ns.clear()
        return {
            "latencies_ns": [seen[s] for s in sorted(seen)],
            "missing": [s for s in range(expect) if s not in seen],
        }


class Observer:
    def __init__(self, room: rtc.Room, channel: Channel, device: str) -> None:
        self.room = room
        self.channel = channel
        self.device = device
        self.telemetry = _Series()
        self.attributes = _Series()
        self._tasks: set[asyncio.Task[None]] = set()
        room.on("participant_connected", self._on_connected)
        room.on("data_received", self._on_data)
        room.on("participant_attributes_changed", self._on_attributes)
        room.register_byte_stream_handler(STREAM_TOPIC, self._on_stream)

    def _on_connected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.device:
            self.channel.send("device_seen", at_ns=time.monotonic_ns())

    def _on_data(self, packet: rtc.DataPacket) -> None:
        now_ns = time.monotonic_ns()
        # The SDK gives no participant when the packet beats the participant's own join
        # update; the device is the only other sender in the room.
        if packet.participant is not None and packet.participant.identity != self.device:
            return
        if packet.topic == TELEMETRY_TOPIC:
            self.telemetry.record(*read_stamp(packet.data), now_ns)
        elif packet.topic == HELLO_TOPIC:
            self.channel.send("hello", at_ns=now_ns)

    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        now_ns = time.monotonic_ns()
        value = changed.get(ATTRIBUTE_KEY)
        if participant.identity == self.device and value:
            seq, sent_ns = value.split(":")
            self.attributes.record(int(seq), int(sent_ns), now_ns)

    def _on_stream(self, reader: rtc.ByteStreamReader, sender: str) -> None:
        task = asyncio.create_task(self._read_stream(reader), name="observer.stream")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_stream(self, reader: rtc.ByteStreamReader) -> None:
        first_ns, size = 0, 0
        async for chunk in reader:
            first_ns = first_ns or time.monotonic_ns()
            size += len(chunk)
        attributes = reader.info.attributes or {}
        self.channel.send(
            "stream",
            i=int(attributes.get("i", "-1")),
            started_ns=int(attributes.get("t0", "0")),
            first_chunk_ns=first_ns,
            done_ns=time.monotonic_ns(),
            bytes=size,
        )

    async def rpc(self, command: Message) -> dict[str, Any]:
        count, warmup = int(command["count"]), int(command["warmup"])
        payload = echo_payload(int(command["payload_size"]))
        timeout_s = float(command["response_timeout_s"])
        deadline = time.monotonic() + float(command["budget_s"])
        latencies: list[int] = []
        timeouts, errors, wrong = 0, 0, 0
        done = 0
        for seq in range(-warmup, count):
            if time.monotonic() > deadline:
                break
            started = time.monotonic_ns()
            try:
                answer = await self.room.local_participant.perform_rpc(
                    destination_identity=self.device,
                    method=RPC_METHOD,
                    payload=payload,
                    response_timeout=timeout_s,
                )
            except rtc.RpcError as exc:
                if seq >= 0:
                    done += 1
                    if exc.code in (
                        rtc.RpcError.ErrorCode.RESPONSE_TIMEOUT,
                        rtc.RpcError.ErrorCode.CONNECTION_TIMEOUT,
                    ):
                        timeouts += 1
                    else:
                        errors += 1
                continue
            if seq >= 0:
                done += 1
                latencies.append(time.monotonic_ns() - started)
                wrong += answer != payload
        return {
            "latencies_ns": latencies,
            "timeouts": timeouts,
            "errors": errors,
            "wrong_answers": wrong,
            "not_run": count - done,
        }

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def main(config: Message, channel: Channel) -> None:
    room = rtc.Room()
    observer = Observer(room, channel, device=config["device_identity"])
    await room.connect(config["url"], config["token"])
    try:
        channel.send("joined", at_ns=time.monotonic_ns())
        async for command in channel.commands():
            match command["cmd"]:
                case "collect":
                    series = getattr(observer, command["kind"])
                    result = await series.collect(
                        int(command["expect"]), float(command["timeout_s"])
                    )
                    channel.send("collected", **result)
                case "rpc":
                    channel.send("rpc_done", **await observer.rpc(command))
                case other:
                    channel.send("error", message=f"unknown command {other!r}")
    finally:
        await observer.aclose()
        await room.disconnect()


if __name__ == "__main__":
    run_child(main)
