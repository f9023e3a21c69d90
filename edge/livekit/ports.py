"""The narrow views of a room that services depend on, so tests can hand them a fake.

A `Room` satisfies `SessionRoom`, `RpcRoom`, `StreamRoom`, `PacketRoom`, `LinkRoom`, `DataRoom`,
`MetadataRoom` and `TrackRoom`; an `RpcEndpoint` satisfies `MethodRegistrar` and
`MethodTable`; a `StreamEndpoint` satisfies `BytesSender` and `FileSender`. mypy checks each
wherever the daemon passes the real object, and `edge.testing.fake_room` supplies a fake of
each.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from livekit.protocol import models as proto_models

    from edge.errors import EdgeError
    from edge.livekit.packet_router import PacketHandler
    from edge.livekit.publisher import LocalTrack, PublishableTrack, TrackOptions
    from edge.livekit.room_events import ConnectionState, RoomEvent
    from edge.livekit.rpc_registry import RpcHandler
    from edge.livekit.stream_writers import ProgressCallback
    from edge.protocol.participants import Participant
    from edge.protocol.schema import Schema
    from edge.protocol.streams import StreamInfo


class PacketRoom(Protocol):
    """Data packets both ways, tasks owned by the room, and its event feed."""

    @property
    def state(self) -> ConnectionState: ...

    def register_packet_handler(self, kind: str, handler: PacketHandler) -> None: ...

    def start_task(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]: ...

    def events(self) -> AsyncIterator[RoomEvent]: ...

    async def send_packet(
        self, packet: proto_models.DataPacket, *, reliable: bool = True
    ) -> None: ...


class StreamRoom(PacketRoom, Protocol):
    """A packet room that can also wait for its send buffer to drain (paced streams)."""

    async def drain(self, *, max_buffered: int) -> None: ...


class RpcRoom(StreamRoom, Protocol):
    """A stream room that also knows its remote participants (what each peer speaks)."""

    @property
    def remote_participants(self) -> Mapping[str, Participant]: ...


class AttributeSetter(Protocol):
    """Sets (or with "" deletes) our participant attributes."""

    async def set_attributes(self, attributes: Mapping[str, str]) -> None: ...


class SessionRoom(RpcRoom, AttributeSetter, Protocol):
    """A room a service both talks through and shows its status in."""


class LinkRoom(Protocol):
    """A room whose connection a session follows: its state now, and its end."""

    @property
    def state(self) -> ConnectionState: ...

    async def wait_disconnected(self) -> EdgeError | None: ...


class AudienceRoom(LinkRoom, Protocol):
    """A linked room whose participants a session follows (who wants what it sends)."""

    def events(self) -> AsyncIterator[RoomEvent]: ...


class DataRoom(Protocol):
    """A room that user data packets are published into while it is connected."""

    @property
    def state(self) -> ConnectionState: ...

    async def publish_data(
        self,
        payload: bytes,
        *,
        topic: str | None = ...,
        reliable: bool = ...,
        destination_identities: Sequence[str] = ...,
    ) -> None: ...


class MetadataRoom(DataRoom, Protocol):
    """A data room whose metadata is mirrored: the current value and its event feed."""

    @property
    def metadata(self) -> str: ...

    def events(self) -> AsyncIterator[RoomEvent]: ...


class TrackRoom(Protocol):
    """A room media tracks are published into, muted in and removed from."""

    @property
    def disconnect_error(self) -> EdgeError | None: ...

    async def publish_track(self, track: PublishableTrack, options: TrackOptions) -> LocalTrack: ...

    async def unpublish_track(self, sid: str) -> None: ...

    async def set_track_muted(self, sid: str, *, muted: bool) -> None: ...


class MethodRegistrar(Protocol):
    """Where a service registers the RPC methods it answers."""

    def register_method(
        self,
        method: str,
        handler: RpcHandler,
        *,
        description: str = ...,
        params: Schema | None = ...,
        max_bytes: int = ...,
    ) -> None: ...


class MethodTable(MethodRegistrar, Protocol):
    """A registrar a session-scoped service also takes its methods back from."""

    def unregister_method(self, method: str) -> None: ...


class BytesSender(Protocol):
    """Sends an in-memory payload as one byte stream."""

    async def send_bytes(
        self,
        data: bytes,
        *,
        topic: str = ...,
        name: str = ...,
        mime_type: str = ...,
        attributes: Mapping[str, str] | None = ...,
        destination_identities: Sequence[str] = ...,
    ) -> StreamInfo: ...


class FileSender(Protocol):
    """Sends a file as one byte stream."""

    async def send_file(
        self,
        path: str | os.PathLike[str],
        *,
        topic: str = ...,
        name: str | None = ...,
        mime_type: str | None = ...,
        attributes: Mapping[str, str] | None = ...,
        destination_identities: Sequence[str] = ...,
        on_progress: ProgressCallback | None = ...,
    ) -> StreamInfo: ...
