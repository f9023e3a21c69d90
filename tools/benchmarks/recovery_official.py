"""Scenario 8's reference: the same device as a careful script on LiveKit's official SDK.

It takes a reading every 1/`RECOVERY_HZ` s into an in-memory queue and publishes each as a
reliable data packet, oldest first, dropping a reading from the queue only once
`publish_data` returned (it waits while the SDK reconnects). The SDK resumes or rejoins by
itself (`reconnecting` / `reconnected` events); should it give up, the script joins again.
"""

from __future__ import annotations

import asyncio
import collections
import time

from livekit import rtc
from livekit.rtc.participant import PublishDataError

from .recovery_device import RECOVERY_HZ, RECOVERY_TOPIC, ConnectionReport, encode_reading
from .wire import Channel, Message, run_child

QUEUE_LIMIT = 100_000
"""Readings kept while they cannot be sent; the oldest go first beyond this."""
REJOIN_DELAY_S = 1.0


class Reference:
    def __init__(self, config: Message, channel: Channel) -> None:
        self.config = config
        self.room = rtc.Room()
        self.report = ConnectionReport(channel)
        self.queue: collections.deque[bytes] = collections.deque(maxlen=QUEUE_LIMIT)
        self.queued = asyncio.Event()
        self.gone = asyncio.Event()
        """The SDK gave up on the room (it emits `disconnected`)."""
        self.closing = False
        self._watch()

    def _watch(self) -> None:
        self.room.on("reconnecting", lambda: self._state("reconnecting"))
        self.room.on("reconnected", lambda: self._state("connected"))
        self.room.on("disconnected", lambda _reason: self._lost())

    def _state(self, name: str) -> None:
        self.report.state(name, time.monotonic_ns())

    def _lost(self) -> None:
        if self.closing:
            return
        self._state("reconnecting")
        self.gone.set()

    async def connect(self) -> None:
        await self.room.connect(self.config["url"], self.config["token"])
        self._state("connected")

    async def sample(self) -> None:
        start, seq = time.monotonic(), 0
        while True:
            seq += 1
            await asyncio.sleep(max(0.0, start + seq / RECOVERY_HZ - time.monotonic()))
            self.queue.append(encode_reading(seq, time.time_ns() // 1000))
            self.queued.set()

    async def send(self) -> None:
        while True:
            while not self.queue:
                self.queued.clear()
                await self.queued.wait()
            try:
                await self.room.local_participant.publish_data(
                    self.queue[0], reliable=True, topic=RECOVERY_TOPIC
                )
            except PublishDataError:
                await self.gone.wait()  # only a room the SDK gave up on refuses; rejoin below
                continue
            self.queue.popleft()

    async def rejoin_when_gone(self) -> None:
        while True:
            await self.gone.wait()
            try:
                self.room = rtc.Room()  # a room that disconnected cannot connect again
                self._watch()
                await self.connect()
                self.gone.clear()
            except rtc.ConnectError:
                await asyncio.sleep(REJOIN_DELAY_S)


async def main(config: Message, channel: Channel) -> None:
    reference = Reference(config, channel)
    await reference.connect()
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(reference.sample(), name="reference.sample"),
                tg.create_task(reference.send(), name="reference.send"),
                tg.create_task(reference.rejoin_when_gone(), name="reference.rejoin"),
            ]
            async for command in channel.commands():
                channel.send("error", message=f"unknown command {command.get('cmd')!r}")
            for task in tasks:
                task.cancel()
    finally:
        reference.closing = True
        await reference.room.disconnect()


if __name__ == "__main__":
    run_child(main)
