"""RoomState: who is in the room and what changed, derived from join and update messages.

Remote participants are keyed by identity (a rejoining peer keeps its identity but gets a new
sid); for one sid, an update older than what we hold (`version`) is ignored.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from livekit.protocol import models as proto_models

_DISCONNECTED = proto_models.ParticipantInfo.DISCONNECTED
MAX_REMEMBERED_DEPARTURES = 1024


@dataclass(frozen=True, slots=True)
class Participant:
    """A snapshot of one participant."""

    identity: str
    sid: str
    name: str
    metadata: str
    attributes: Mapping[str, str]
    kind: str
    """`STANDARD`, `AGENT`, `INGRESS`, ..."""
    version: int
    client_protocol: int = 0
    """What the participant's SDK speaks to peers (`edge.protocol.rpc_v2`): 0 RPC v1 only, 1
    also RPC v2, 2 also single-packet data streams."""

    @classmethod
    def from_info(cls, info: proto_models.ParticipantInfo) -> Participant:
        """Snapshot a `ParticipantInfo`."""
        return cls(
            identity=info.identity,
            sid=info.sid,
            name=info.name,
            metadata=info.metadata,
            attributes=MappingProxyType(dict(info.attributes)),
            kind=proto_models.ParticipantInfo.Kind.Name(info.kind),
            version=info.version,
            client_protocol=info.client_protocol,
        )


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    """A remote participant appeared."""

    participant: Participant


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    """A remote participant left; `reason` is a DisconnectReason name."""

    participant: Participant
    reason: str


@dataclass(frozen=True, slots=True)
class AttributesChanged:
    """Attributes of a participant changed; a deleted key maps to ""."""

    identity: str
    changed: Mapping[str, str]
    local: bool


@dataclass(frozen=True, slots=True)
class MetadataChanged:
    """A participant's metadata or name changed."""

    identity: str
    metadata: str
    name: str
    local: bool


@dataclass(frozen=True, slots=True)
class RoomMetadataChanged:
    """The room's metadata changed (set by an app through the server API)."""

    old: str
    new: str


RoomStateEvent = (
    ParticipantJoined | ParticipantLeft | AttributesChanged | MetadataChanged | RoomMetadataChanged
)


def diff_attributes(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Keys whose value changed; removed keys map to ""."""
    changed = {k: v for k, v in new.items() if old.get(k) != v}
    changed.update({k: "" for k in old if k not in new})
    return changed


class RoomState:
    """The room as we know it; `apply_*` return the events the change implies."""

    def __init__(self, join: proto_models.ParticipantInfo, room: proto_models.Room) -> None:
        self.local = Participant.from_info(join)
        self.room_sid = room.sid
        self.room_name = room.name
        self.metadata = room.metadata
        self.remotes: dict[str, Participant] = {}
        self._departed: OrderedDict[str, None] = OrderedDict()
        """Sids already reported as left (their updates may repeat); the newest 1024."""

    def apply_join(self, others: Iterable[proto_models.ParticipantInfo]) -> list[RoomStateEvent]:
        """Participants already present when we joined."""
        return self.apply_update(others)

    def apply_update(self, infos: Iterable[proto_models.ParticipantInfo]) -> list[RoomStateEvent]:
        """A `ParticipantUpdate`: each info is the full state of one participant."""
        events: list[RoomStateEvent] = []
        for info in infos:
            if info.sid == self.local.sid or info.identity == self.local.identity:
                events.extend(self._apply_local(info))
            else:
                events.extend(self._apply_remote(info))
        return events

    def apply_room(self, room: proto_models.Room) -> list[RoomStateEvent]:
        """A `RoomUpdate`."""
        old, self.metadata = self.metadata, room.metadata
        self.room_sid = room.sid or self.room_sid
        return [RoomMetadataChanged(old=old, new=room.metadata)] if old != room.metadata else []

    def _apply_local(self, info: proto_models.ParticipantInfo) -> list[RoomStateEvent]:
        if info.sid != self.local.sid or info.version < self.local.version:
            return []
        return self._changes(self.local, self._replace_local(info), local=True)

    def _replace_local(self, info: proto_models.ParticipantInfo) -> Participant:
        self.local = Participant.from_info(info)
        return self.local

    def _apply_remote(self, info: proto_models.ParticipantInfo) -> list[RoomStateEvent]:
        current = self.remotes.get(info.identity)
        if current is not None and current.sid == info.sid and info.version < current.version:
            return []
        new = Participant.from_info(info)
        if info.state == _DISCONNECTED:
            if current is not None and current.sid != info.sid:
                return []  # an older session of someone who is back already
            reason = proto_models.DisconnectReason.Name(info.disconnect_reason)
            # A participant never announced to us still counts (the server batches joins of
            # non-publishers, so a short visit can end before we hear of it); report it once.
            if self.remotes.pop(info.identity, None) is None and info.sid in self._departed:
                return []
            self._departed[info.sid] = None
            if len(self._departed) > MAX_REMEMBERED_DEPARTURES:
                self._departed.popitem(last=False)
            return [ParticipantLeft(participant=new, reason=reason)]
        self.remotes[info.identity] = new
        if current is None:
            return [ParticipantJoined(participant=new)]
        if current.sid != info.sid:
            # Same identity, new session: the old one is gone without a DISCONNECTED update.
            return [
                ParticipantLeft(participant=current, reason="REJOINED"),
                ParticipantJoined(participant=new),
            ]
        return self._changes(current, new, local=False)

    @staticmethod
    def _changes(old: Participant, new: Participant, *, local: bool) -> list[RoomStateEvent]:
        events: list[RoomStateEvent] = []
        changed = diff_attributes(old.attributes, new.attributes)
        if changed:
            events.append(AttributesChanged(identity=new.identity, changed=changed, local=local))
        if (old.metadata, old.name) != (new.metadata, new.name):
            events.append(
                MetadataChanged(
                    identity=new.identity, metadata=new.metadata, name=new.name, local=local
                )
            )
        return events
