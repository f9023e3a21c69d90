"""The device twin core: coalescing, diffs, deletions, size limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.twin import DeviceFacts, Twin


def send(twin: Twin, now: float) -> dict[str, str] | None:
    update = twin.poll(now)
    if update is not None:
        twin.sent(update)
    return update


def test_first_update_goes_at_once_then_at_most_one_per_interval() -> None:
    twin = Twin(min_interval_s=2.0)
    twin.update({"a": "1"})
    assert send(twin, 10.0) == {"a": "1"}
    twin.update({"a": "2"})
    twin.update({"a": "3", "b": "x"})
    assert twin.poll(11.0) is None
    assert twin.next_due(11.0) == 12.0
    assert send(twin, 12.0) == {"a": "3", "b": "x"}  # coalesced: "2" never went out
    assert twin.poll(20.0) is None  # nothing changed


def test_only_changed_keys_and_deleted_keys_as_empty() -> None:
    twin = Twin(min_interval_s=0)
    twin.update({"a": "1", "b": "2", "c": "3"})
    send(twin, 0)
    twin.update({"a": "1", "b": "9", "c": None})
    assert send(twin, 1) == {"b": "9", "c": ""}
    assert twin.published == {"a": "1", "b": "9"}
    twin.update({"a": ""})
    assert send(twin, 2) == {"a": ""}


def test_a_key_set_and_removed_between_sends_never_goes_out() -> None:
    twin = Twin(min_interval_s=0)
    twin.update({"a": "1"})
    twin.update({"a": None})
    assert twin.poll(0) is None


def test_failed_update_is_offered_again_after_the_interval() -> None:
    twin = Twin(min_interval_s=2)
    twin.update({"a": "1"})
    update = twin.poll(0)
    assert update == {"a": "1"}
    assert twin.next_due(0.5) is None  # in flight
    twin.failed(update)
    assert twin.poll(1) is None
    assert twin.poll(2) == {"a": "1"}


def test_oversize_values_are_refused_and_never_sent() -> None:
    twin = Twin(max_value_bytes=10, max_total_bytes=20)
    refusals = twin.update({"ok": "x", "big": "y" * 11, "bad": "\udc80"})
    assert [(r.key, r.reason) for r in refusals] == [
        ("big", "value is 11 bytes, over the 10-byte limit"),
        ("bad", "not valid Unicode text"),
    ]
    refusals = twin.update({"k1": "1234567890", "k2": "1234567890"})
    assert [(r.key, r.reason) for r in refusals] == [
        ("k2", "the twin would be 27 bytes, over its 20")
    ]
    assert twin.poll(0) == {"ok": "x", "k1": "1234567890"}


def test_rejoin_diffs_against_what_the_new_session_has() -> None:
    twin = Twin(min_interval_s=0)
    twin.update({"a": "1", "b": "2"})
    send(twin, 0)
    twin.update({"b": None})
    twin.rejoined({"a": "1", "b": "2", "join.only": "x"})
    assert send(twin, 1) == {"b": ""}  # the join-only key is not ours to delete


def test_device_facts_become_edge_keys() -> None:
    facts = DeviceFacts(
        online=True,
        board_model="Raspberry Pi 4 Model B",
        version="0.1.0",
        uptime_s=185.0,
        temperatures_c={"soc": 48.26},
        rtt_ms=None,
    )
    attributes = facts.as_attributes()
    assert attributes["edge.status"] == "online"
    assert attributes["edge.uptime_s"] == "180"
    assert attributes["edge.temperature.soc"] == "48.3"
    assert attributes["edge.rtt_ms"] is None  # unknown: deleted from the twin


ATTRS = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "é"]), st.text(max_size=8), max_size=5)


@given(st.lists(ATTRS, min_size=1, max_size=8))
def test_room_ends_up_equal_to_the_twin(changes: list[dict[str, str]]) -> None:
    twin = Twin(min_interval_s=1.0, max_total_bytes=40)
    room: dict[str, str] = {}
    now = 0.0
    for change in changes:
        twin.update(change)
        now += 0.5
        update = twin.poll(now)
        if update is not None:
            assert all(room.get(k) != v for k, v in update.items())  # only changes go out
            room.update(update)
            room = {k: v for k, v in room.items() if v}
            twin.sent(update)
        assert sum(len(k.encode()) + len(v.encode()) for k, v in twin.desired.items()) <= 40
    update = twin.poll(now + 10)
    if update is not None:
        room.update(update)
        room = {k: v for k, v in room.items() if v}
    assert room == twin.desired
