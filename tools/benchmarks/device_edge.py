"""A device on this project's LiveKit client (`edge.livekit`), driven over JSON lines."""

from __future__ import annotations

import time
from collections.abc import Mapping

from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint, RpcInvocation
from edge.livekit.streams import StreamEndpoint

from .device import RPC_METHOD, serve
from .wire import Channel, Message, run_child


class EdgeSide:
    def __init__(self, room: Room, streams: StreamEndpoint) -> None:
        self._room = room
        self._streams = streams

    async def publish(self, payload: bytes, topic: str) -> None:
        await self._room.publish_data(payload, topic=topic, reliable=True)

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        await self._room.set_attributes(attributes)

    async def send_bytes(self, data: bytes, topic: str, attributes: Mapping[str, str]) -> None:
        await self._streams.send_bytes(data, topic=topic, name="bench.bin", attributes=attributes)


async def _echo(invocation: RpcInvocation) -> str:
    return invocation.payload


async def main(config: Message, channel: Channel) -> None:
    options = RoomOptions(url=config["url"], attributes={})
    async with Room.connect(options, config["token"]) as room:
        joined_ns = time.monotonic_ns()
        # Both endpoints before any await, as the daemon does.
        rpc = RpcEndpoint(room)
        rpc.register_method(RPC_METHOD, _echo)
        streams = StreamEndpoint(room)
        await serve(EdgeSide(room, streams), channel, joined_ns=joined_ns)


if __name__ == "__main__":
    run_child(main)
