"""A participant on LiveKit's official SDK (`livekit.rtc`), the other side of e2e tests.

`OfficialPeer` wraps an `rtc.Room` and records what it sees into plain lists, so tests
can assert on history with `assert_eventually` instead of wiring callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from livekit import api, rtc
from livekit.protocol.room import UpdateRoomMetadataRequest

from tests.helpers import assert_eventually


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveKitServer:
    """A running livekit-server started by the `livekit_server` fixture."""

    url: str
    """Signalling URL for clients, `ws://127.0.0.1:<port>`."""
    http_url: str
    """Same port over HTTP, for the server API and health checks."""
    api_key: str
    api_secret: str
    log_path: str
    """Server stdout and stderr."""


@dataclass(frozen=True, slots=True)
class Received:
    """One data packet delivered to an `OfficialPeer`."""

    sender_identity: str | None
    """None when the packet came from the server API rather than a participant."""
    topic: str | None
    payload: bytes
    kind: rtc.DataPacketKind.ValueType


@dataclass(frozen=True, slots=True)
class Departure:
    """A remote participant that left, with the reason the server gave."""

    identity: str
    reason: str | None
    """`DisconnectReason` name (e.g. `CLIENT_INITIATED`), None when unknown."""


def mint_token(
    server: LiveKitServer,
    *,
    identity: str,
    room: str,
    name: str | None = None,
    attributes: dict[str, str] | None = None,
) -> str:
    """A join token for `room` with publish, subscribe, data and own-metadata grants."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=True,
    )
    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_grants(grants)
    )
    if name is not None:
        token = token.with_name(name)
    if attributes:
        token = token.with_attributes(attributes)
    return token.to_jwt()


@dataclass(eq=False)
class OfficialPeer:
    """An official-SDK participant and everything it has observed, in arrival order."""

    identity: str
    room: rtc.Room
    connected: list[str] = field(default_factory=list)
    """Identities of remote participants that joined (`participant_connected`)."""
    disconnected: list[Departure] = field(default_factory=list)
    """Remote participants that left (`participant_disconnected`)."""
    attribute_changes: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    """(identity, changed attributes) from `participant_attributes_changed`."""
    received: list[Received] = field(default_factory=list)
    """Data packets from `data_received`."""
    room_metadata: list[str] = field(default_factory=list)
    """New room metadata values from `room_metadata_changed`."""
    own_disconnects: list[str] = field(default_factory=list)
    """`DisconnectReason` names from this peer's own `disconnected` event."""

    def __post_init__(self) -> None:
        self.room.on("participant_connected", self._on_connected)
        self.room.on("participant_disconnected", self._on_disconnected)
        self.room.on("participant_attributes_changed", self._on_attributes)
        self.room.on("data_received", self._on_data)
        self.room.on("room_metadata_changed", self._on_room_metadata)
        self.room.on("disconnected", self._on_own_disconnect)

    @classmethod
    async def connect(cls, url: str, token: str, *, identity: str) -> OfficialPeer:
        """Join the room named in `token`; event recording starts before the join."""
        peer = cls(identity=identity, room=rtc.Room())
        await peer.room.connect(url, token)
        return peer

    @property
    def local(self) -> rtc.LocalParticipant:
        return self.room.local_participant

    def remote(self, identity: str) -> rtc.RemoteParticipant | None:
        """The remote participant with this identity, if it is in the room now."""
        return self.room.remote_participants.get(identity)

    def participant(self, identity: str) -> rtc.RemoteParticipant:
        """The remote participant with this identity; `LookupError` if it is not in the room."""
        found = self.room.remote_participants.get(identity)
        if found is None:
            raise LookupError(f"{identity!r} is not in the room")
        return found

    async def wait_participant(
        self,
        identity: str,
        timeout: float = 15,  # noqa: ASYNC109 - an upper bound for polling
    ) -> rtc.RemoteParticipant:
        """Wait until `identity` is a remote participant in the room."""
        participant = await assert_eventually(
            lambda: self.remote(identity),
            timeout=timeout,
            message=lambda: (
                f"{self.identity} never saw {identity}; "
                f"present: {sorted(self.room.remote_participants)}"
            ),
        )
        assert participant is not None
        return participant

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        await self.local.set_attributes(attributes)

    async def publish_data(
        self,
        payload: bytes,
        *,
        topic: str,
        reliable: bool = True,
        destination_identities: list[str] | None = None,
    ) -> None:
        await self.local.publish_data(
            payload,
            topic=topic,
            reliable=reliable,
            destination_identities=list(destination_identities or []),
        )

    async def disconnect(self) -> None:
        """Leave the room; a no-op when already disconnected."""
        await self.room.disconnect()

    def _on_connected(self, participant: rtc.RemoteParticipant) -> None:
        self.connected.append(participant.identity)

    def _on_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        reason = participant.disconnect_reason
        name = None if reason is None else rtc.DisconnectReason.Name(reason)
        self.disconnected.append(Departure(participant.identity, name))

    def _on_attributes(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        self.attribute_changes.append((participant.identity, dict(changed)))

    def _on_data(self, packet: rtc.DataPacket) -> None:
        sender = packet.participant.identity if packet.participant else None
        self.received.append(Received(sender, packet.topic, packet.data, packet.kind))

    def _on_room_metadata(self, _old: str, new: str) -> None:
        self.room_metadata.append(new)

    def _on_own_disconnect(self, reason: rtc.DisconnectReason.ValueType) -> None:
        self.own_disconnects.append(rtc.DisconnectReason.Name(reason))


async def set_room_metadata(server: LiveKitServer, room: str, metadata: str) -> None:
    """Set room metadata through the server API (RoomService.UpdateRoomMetadata)."""
    lkapi = api.LiveKitAPI(
        url=server.http_url, api_key=server.api_key, api_secret=server.api_secret
    )
    try:
        await lkapi.room.update_room_metadata(
            UpdateRoomMetadataRequest(room=room, metadata=metadata)
        )
    finally:
        await lkapi.aclose()
