"""RoomState: participants by identity, version ordering, attribute diffs, room metadata."""

from __future__ import annotations

from livekit.protocol import models as proto_models

from edge.protocol.participants import (
    AttributesChanged,
    MetadataChanged,
    ParticipantJoined,
    ParticipantLeft,
    RoomMetadataChanged,
    RoomState,
    diff_attributes,
)

Info = proto_models.ParticipantInfo


def info(identity: str, sid: str, version: int, **kwargs: object) -> Info:
    return Info(identity=identity, sid=sid, version=version, **kwargs)  # type: ignore[arg-type]


def state() -> RoomState:
    return RoomState(
        info("edge", "PA_me", 1), proto_models.Room(name="lab", sid="RM_1", metadata="m")
    )


def test_diff_reports_changes_and_deletions() -> None:
    assert diff_attributes({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {
        "b": "3",
        "c": "4",
    }
    assert diff_attributes({"a": "1"}, {}) == {"a": ""}


def test_existing_participants_are_announced_at_join() -> None:
    room = state()
    [event] = room.apply_join([info("viewer", "PA_v", 1, attributes={"k": "v"})])
    assert isinstance(event, ParticipantJoined)
    assert event.participant.identity == "viewer"
    assert dict(event.participant.attributes) == {"k": "v"}
    assert set(room.remotes) == {"viewer"}


def test_attribute_and_name_changes_of_a_remote() -> None:
    room = state()
    room.apply_update([info("viewer", "PA_v", 1, attributes={"k": "v"}, name="V")])
    events = room.apply_update([info("viewer", "PA_v", 2, attributes={"n": "1"}, name="W")])
    assert events == [
        AttributesChanged(identity="viewer", changed={"k": "", "n": "1"}, local=False),
        MetadataChanged(identity="viewer", metadata="", name="W", local=False),
    ]


def test_stale_versions_are_ignored() -> None:
    room = state()
    room.apply_update([info("viewer", "PA_v", 5, attributes={"k": "new"})])
    assert room.apply_update([info("viewer", "PA_v", 4, attributes={"k": "old"})]) == []
    assert room.remotes["viewer"].attributes["k"] == "new"


def test_disconnected_participant_leaves_with_reason() -> None:
    room = state()
    room.apply_update([info("viewer", "PA_v", 1)])
    [event] = room.apply_update(
        [
            info(
                "viewer",
                "PA_v",
                2,
                state=Info.DISCONNECTED,
                disconnect_reason=proto_models.DisconnectReason.CLIENT_INITIATED,
            )
        ]
    )
    assert isinstance(event, ParticipantLeft)
    assert event.reason == "CLIENT_INITIATED"
    assert room.remotes == {}


def test_disconnect_of_an_older_session_does_not_remove_the_new_one() -> None:
    room = state()
    room.apply_update([info("viewer", "PA_new", 1)])
    assert room.apply_update([info("viewer", "PA_old", 9, state=Info.DISCONNECTED)]) == []
    assert room.remotes["viewer"].sid == "PA_new"


def test_same_identity_new_sid_replaces_the_participant() -> None:
    room = state()
    room.apply_update([info("viewer", "PA_1", 3)])
    events = room.apply_update([info("viewer", "PA_2", 1)])
    assert [type(e) for e in events] == [ParticipantLeft, ParticipantJoined]
    assert room.remotes["viewer"].sid == "PA_2"


def test_updates_about_ourselves_change_the_local_participant() -> None:
    room = state()
    [event] = room.apply_update([info("edge", "PA_me", 2, attributes={"x": "1"})])
    assert event == AttributesChanged(identity="edge", changed={"x": "1"}, local=True)
    assert room.local.attributes == {"x": "1"}
    assert room.remotes == {}


def test_room_metadata_change_is_reported_once() -> None:
    room = state()
    assert room.apply_room(proto_models.Room(sid="RM_1", metadata="mode=eco")) == [
        RoomMetadataChanged(old="m", new="mode=eco")
    ]
    assert room.apply_room(proto_models.Room(sid="RM_1", metadata="mode=eco")) == []
    assert room.metadata == "mode=eco"


def test_departure_of_a_participant_never_announced_is_still_reported_once() -> None:
    # The server batches joins of non-publishers: a short visit may end before we hear of it.
    room = state()
    gone = info("op", "PA_op", 3, state=Info.DISCONNECTED)
    [event] = room.apply_update([gone])
    assert isinstance(event, ParticipantLeft)
    assert event.participant.identity == "op"
    assert room.apply_update([gone]) == []
    assert room.remotes == {}
