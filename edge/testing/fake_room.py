"""A room without a server: satisfies the `edge.livekit.ports` views and records what was sent.

`FakeRoom` carries data packets: hand it to an `RpcEndpoint` and drive a method with
`call(method, payload, caller=...)`, which delivers a request as that identity and waits
for the answer. It records user data in `published`, has `metadata` (change it with
`set_room_metadata`), and ends with `disconnect(error)`, which wakes `wait_disconnected`.
It does not carry media (`TrackRoom`). `MethodRecorder` and `StreamRecorder` stand in for
the endpoints when a test only needs what a service registered or sent.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from livekit.protocol import models as proto_models

from edge.errors import EdgeError
from edge.livekit.packet_router import PacketHandler
from edge.livekit.room_events import ConnectionState, Disconnected, RoomEvent
from edge.livekit.rpc_registry import RpcHandler
from edge.livekit.stream_writers import ProgressCallback
from edge.protocol.packets import OtherPacket
from edge.protocol.participants import Participant, RoomMetadataChanged
from edge.protocol.schema import Schema
from edge.protocol.streams import BYTES_MIME_TYPE, DEFAULT_NAME, StreamInfo, StreamKind

CALL_TIMEOUT_S = 10.0


class FakeRoom:
    """Packets both ways, attributes, tasks it owns, and an event feed tests push into."""

    def __init__(self) -> None:
        self.state = ConnectionState.CONNECTED
        self.handlers: dict[str, PacketHandler] = {}
        self.sent: list[proto_models.DataPacket] = []
        self.attributes: dict[str, str] = {}
        self.attribute_updates: list[dict[str, str]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.published: list[Published] = []
        self.metadata = ""
        self.disconnect_error: EdgeError | None = None
        self._disconnected = asyncio.Event()
        self._feeds: list[asyncio.Queue[RoomEvent]] = []
        self._sent_more = asyncio.Event()
        self._ids = 0
        self.remotes: dict[str, Participant] = {}
        """Remote participants by identity (tests add peers, e.g. with a `client_protocol`)."""

    @property
    def remote_participants(self) -> Mapping[str, Participant]:
        return dict(self.remotes)

    def register_packet_handler(self, kind: str, handler: PacketHandler) -> None:
        self.handlers[kind] = handler

    def start_task(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.append(task)
        return task

    def events(self) -> AsyncIterator[RoomEvent]:
        feed: asyncio.Queue[RoomEvent] = asyncio.Queue()
        self._feeds.append(feed)
        return self._follow(feed)

    async def _follow(self, feed: asyncio.Queue[RoomEvent]) -> AsyncIterator[RoomEvent]:
        while True:
            yield await feed.get()

    def emit(self, event: RoomEvent) -> None:
        """Deliver `event` (a participant leaving, a reconnect...) to every subscriber."""
        for feed in self._feeds:
            feed.put_nowait(event)

    def set_room_metadata(self, metadata: str) -> None:
        """Change the room's metadata and announce it, as the server does."""
        old, self.metadata = self.metadata, metadata
        self.emit(RoomMetadataChanged(old=old, new=metadata))

    def disconnect(self, error: EdgeError | None = None) -> None:
        """End the connection (`error` says why; None is our own leave) and announce it."""
        self.state = ConnectionState.DISCONNECTED
        self.disconnect_error = error
        self._disconnected.set()
        self.emit(Disconnected(reason=str(error) if error else "left", final=error is None))

    async def wait_disconnected(self) -> EdgeError | None:
        await self._disconnected.wait()
        return self.disconnect_error

    async def publish_data(
        self,
        payload: bytes,
        *,
        topic: str | None = None,
        reliable: bool = True,
        destination_identities: Sequence[str] = (),
    ) -> None:
        self.published.append(Published(payload, topic, reliable, tuple(destination_identities)))

    async def drain(self, *, max_buffered: int) -> None:
        """Nothing is ever buffered here."""

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        """Record the update and apply it to `attributes` ("" deletes a key)."""
        self.attribute_updates.append(dict(attributes))
        for key, value in attributes.items():
            if value:
                self.attributes[key] = value
            else:
                self.attributes.pop(key, None)

    async def send_packet(self, packet: proto_models.DataPacket, *, reliable: bool = True) -> None:
        self.sent.append(packet)
        self._sent_more.set()

    def deliver(self, packet: proto_models.DataPacket, *, sender: str) -> None:
        """Hand `packet` to the handler registered for its kind, as sent by `sender`."""
        kind = packet.WhichOneof("value")
        if kind is None or kind not in self.handlers:
            raise LookupError(f"no handler registered for a {kind!r} packet")
        self.handlers[kind](OtherPacket(kind, sender, packet))

    async def call(
        self, method: str, payload: str, *, caller: str = "caller"
    ) -> proto_models.RpcResponse:
        """Deliver one request of `method` from `caller` and wait for its answer."""
        self._ids += 1
        request_id = f"req-{self._ids}"
        request = proto_models.RpcRequest(
            id=request_id, method=method, payload=payload, response_timeout_ms=10_000, version=1
        )
        self.deliver(proto_models.DataPacket(rpc_request=request), sender=caller)
        async with asyncio.timeout(CALL_TIMEOUT_S):
            while True:
                for sent in self.sent:
                    if sent.WhichOneof("value") != "rpc_response":
                        continue
                    if sent.rpc_response.request_id == request_id:
                        return sent.rpc_response
                self._sent_more.clear()
                await self._sent_more.wait()

    async def aclose(self) -> None:
        """Cancel and await every task the room started."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass(frozen=True)
class Published:
    payload: bytes
    topic: str | None
    reliable: bool
    destination_identities: tuple[str, ...]


@dataclass
class Registration:
    handler: RpcHandler
    description: str
    params: Schema | None
    max_bytes: int


@dataclass
class MethodRecorder:
    """Records every `register_method` call, by method name."""

    methods: dict[str, Registration] = field(default_factory=dict)

    def register_method(
        self,
        method: str,
        handler: RpcHandler,
        *,
        description: str = "",
        params: Schema | None = None,
        max_bytes: int = 0,
    ) -> None:
        self.methods[method] = Registration(handler, description, params, max_bytes)

    def unregister_method(self, method: str) -> None:
        self.methods.pop(method, None)


@dataclass(frozen=True)
class SentStream:
    topic: str
    name: str
    mime_type: str
    destination_identities: tuple[str, ...]
    data: bytes


@dataclass
class StreamRecorder:
    """Records the byte streams and files a service sends, reading files when they are sent."""

    sent: list[SentStream] = field(default_factory=list)

    async def send_bytes(
        self,
        data: bytes,
        *,
        topic: str = "",
        name: str = DEFAULT_NAME,
        mime_type: str = BYTES_MIME_TYPE,
        attributes: Mapping[str, str] | None = None,
        destination_identities: Sequence[str] = (),
    ) -> StreamInfo:
        self.sent.append(SentStream(topic, name, mime_type, tuple(destination_identities), data))
        return StreamInfo(
            stream_id=f"stream-{len(self.sent)}",
            kind=StreamKind.BYTES,
            topic=topic,
            mime_type=mime_type,
            sender_identity="",
            timestamp_ms=0,
            total_length=len(data),
            attributes=dict(attributes or {}),
            name=name,
        )

    async def send_file(
        self,
        path: str | os.PathLike[str],
        *,
        topic: str = "",
        name: str | None = None,
        mime_type: str | None = None,
        attributes: Mapping[str, str] | None = None,
        destination_identities: Sequence[str] = (),
        on_progress: ProgressCallback | None = None,
    ) -> StreamInfo:
        data = await asyncio.to_thread(_read, path)
        return await self.send_bytes(
            data,
            topic=topic,
            name=name if name is not None else os.path.basename(path),
            mime_type=mime_type if mime_type is not None else BYTES_MIME_TYPE,
            destination_identities=destination_identities,
        )


def _read(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as file:
        return file.read()
