"""A device on LiveKit's official Python SDK (`livekit.rtc`), driven over JSON lines."""

from __future__ import annotations

import time
from collections.abc import Mapping

from livekit import rtc

from .device import RPC_METHOD, serve
from .wire import Channel, Message, run_child


class OfficialSide:
    def __init__(self, room: rtc.Room) -> None:
        self._local = room.local_participant

    async def publish(self, payload: bytes, topic: str) -> None:
        await self._local.publish_data(payload, topic=topic, reliable=True)

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        await self._local.set_attributes(dict(attributes))

    async def send_bytes(self, data: bytes, topic: str, attributes: Mapping[str, str]) -> None:
        # Without compression, as ours: the payload is random anyway; this measures transport.
        await self._local.send_bytes(
            data, topic=topic, name="bench.bin", attributes=dict(attributes), compress=False
        )


async def _echo(invocation: rtc.RpcInvocationData) -> str:
    return invocation.payload


async def main(config: Message, channel: Channel) -> None:
    room = rtc.Room()
    await room.connect(config["url"], config["token"])
    try:
        joined_ns = time.monotonic_ns()
        room.local_participant.register_rpc_method(RPC_METHOD, _echo)
        await serve(OfficialSide(room), channel, joined_ns=joined_ns)
    finally:
        await room.disconnect()


if __name__ == "__main__":
    run_child(main)
