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

import msgpack  # type: ignore[import-untyped]
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
from .recovery_device import EDGE_TELEMETRY_TOPIC, RECOVERY_TOPIC, decode_reading
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


@dataclass
class _Readings:
    """Scenario 8: readings by seq (from 1), with when each first arrived."""

    arrived_ns: dict[int, int] = field(default_factory=dict)
    taken_us: dict[int, int] = field(default_factory=dict)
    duplicates: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, seq: int, time_us: int, now_ns: int) -> None:
        if seq in self.arrived_ns:
            self.duplicates += 1
            return
        self.arrived_ns[seq] = now_ns
        self.taken_us[seq] = time_us
        self.changed.set()

    async def wait(self, condition: Any, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return False
        return True

    async def wait_count(self, count: int, timeout_s: float) -> bool:
        return await self.wait(lambda: len(self.arrived_ns) >= count, timeout_s)

    def needed_through(self, restored_us: int) -> int | None:
        """The last seq taken before `restored_us`, once a later reading has arrived."""
        later = [seq for seq, taken in self.taken_us.items() if taken > restored_us]
        return min(later) - 1 if later else None

    async def drain(self, restored_us: int, timeout_s: float) -> dict[str, Any]:
        """Wait until every reading taken before `restored_us` has arrived (or time runs out)."""

        def complete() -> bool:
            last = self.needed_through(restored_us)
            return last is not None and all(s in self.arrived_ns for s in range(1, last + 1))

        done = await self.wait(complete, timeout_s)
        last = self.needed_through(restored_us) or max(self.arrived_ns, default=0)
        missing = [s for s in range(1, last + 1) if s not in self.arrived_ns]
        arrivals = [self.arrived_ns[s] for s in range(1, last + 1) if s in self.arrived_ns]
        return {
            "complete": done,
            "last_needed_seq": last,
            "drained_ns": max(arrivals) if done and arrivals else None,
            "missing": missing,
            "duplicates": self.duplicates,
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
        self.readings = _Readings()
        room.register_byte_stream_handler(EDGE_TELEMETRY_TOPIC, self._on_edge_telemetry)

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
        elif packet.topic == RECOVERY_TOPIC:
            self.readings.record(*decode_reading(packet.data), now_ns)
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
        # With a period, calls start on a schedule (a late call does not shift the rest);
        # without one, each starts when the previous answered.
        period_ns = round(float(command.get("period_s", 0.0)) * 1e9)
        begin_ns = time.monotonic_ns()
        latencies: list[int] = []
        timeouts, errors, wrong = 0, 0, 0
        done = 0
        for index, seq in enumerate(range(-warmup, count)):
            if period_ns:
                delay_ns = begin_ns + index * period_ns - time.monotonic_ns()
                if delay_ns > 0:
                    await asyncio.sleep(delay_ns / 1e9)
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

    def _on_edge_telemetry(self, reader: rtc.ByteStreamReader, sender: str) -> None:
        task = asyncio.create_task(self._read_batch(reader), name="observer.telemetry")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_batch(self, reader: rtc.ByteStreamReader) -> None:
        batch = msgpack.unpackb(b"".join([chunk async for chunk in reader]))
        now_ns = time.monotonic_ns()
        for seq, time_us, *_ in batch["readings"]:
            self.readings.record(int(seq), int(time_us), now_ns)

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
                case "readings":
                    ok = await observer.readings.wait_count(
                        int(command["count"]), float(command["timeout_s"])
                    )
                    channel.send("readings", ok=ok, count=len(observer.readings.arrived_ns))
                case "drain":
                    drained = await observer.readings.drain(
                        int(command["restored_us"]), float(command["timeout_s"])
                    )
                    channel.send("drained", **drained)
                case "rpc":
                    channel.send("rpc_done", **await observer.rpc(command))
                case other:
                    channel.send("error", message=f"unknown command {other!r}")
    finally:
        await observer.aclose()
        await room.disconnect()


if __name__ == "__main__":
    run_child(main)
