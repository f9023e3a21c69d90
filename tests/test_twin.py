"""The device twin core: coalescing, urgent keys and their bucket, diffs, deletions, limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.twin import DeviceFacts, Twin, is_urgent


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


def test_urgent_keys_are_named() -> None:
    urgent = ["gpio.lamp", "edge.lease", "edge.status", "edge.connection", "edge.last_failsafe"]
    assert all(is_urgent(key) for key in urgent)
    assert not any(is_urgent(k) for k in ["edge.temperature.soc", "edge.rtt_ms", "edge.uptime_s"])


def test_an_urgent_change_goes_out_at_once_with_whatever_else_is_pending() -> None:
    twin = Twin(min_interval_s=2.0)
    twin.update({"edge.rtt_ms": "3"})
    assert send(twin, 10.0) == {"edge.rtt_ms": "3"}
    twin.update({"edge.rtt_ms": "4"})
    assert twin.next_due(10.1) == 12.0  # not urgent: coalesced
    twin.update({"gpio.lamp": "1"})
    assert twin.next_due(10.2) == 10.2  # leading edge
    assert send(twin, 10.2) == {"gpio.lamp": "1", "edge.rtt_ms": "4"}  # one update for both


def test_non_urgent_changes_stay_coalesced_to_the_interval() -> None:
    twin = Twin(min_interval_s=2.0)
    twin.update({"edge.temperature.soc": "48.0"})
    assert send(twin, 0.0) is not None
    for n in range(10):
        twin.update({"edge.temperature.soc": f"{49 + n}.0"})
        assert twin.poll(0.1 * (n + 1)) is None
    assert send(twin, 2.0) == {"edge.temperature.soc": "58.0"}


def test_the_bucket_allows_a_burst_then_one_per_refill_never_beyond_the_interval() -> None:
    twin = Twin(min_interval_s=2.0, burst=3, refill_s=2.0)
    twin.update({"edge.status": "online"})
    assert send(twin, 0.0) is not None  # the first update is free
    times = []
    now = 0.0
    for n in range(6):
        twin.update({"gpio.lamp": str(n % 2)})
        due = twin.next_due(now)
        assert due is not None
        now = due
        assert send(twin, now) == {"gpio.lamp": str(n % 2)}
        times.append(round(now, 3))
        now += 0.01  # the next change comes right after
    # Three at once (the burst), then the bucket is empty: each waits for the next token
    # (1 per 2 s) or the 2 s interval after the last update, whichever comes first.
    assert times == [0.0, 0.01, 0.02, 2.0, 4.0, 4.01]


def test_a_flapping_output_cannot_exceed_the_bucket_rate() -> None:
    twin = Twin(min_interval_s=2.0, burst=3, refill_s=2.0)
    sends = 0
    for step in range(600):  # 60 s of a change every 100 ms
        now = step / 10
        twin.update({"gpio.lamp": str(step % 2)})
        if send(twin, now) is not None:
            sends += 1
    # At most one per interval plus one per refill (and the burst): about one a second.
    assert sends <= 3 + 60 / 2.0 + 60 / 2.0 + 1


def test_a_pulse_reaches_the_room_whole_and_in_order_even_with_the_bucket_empty() -> None:
    twin = Twin(min_interval_s=2.0, burst=1, refill_s=2.0)
    room: list[dict[str, str]] = []
    twin.update({"gpio.fan": "1"})
    room.append(send(twin, 0.0) or {})
    twin.update({"gpio.fan": "0"})
    room.append(send(twin, 0.1) or {})  # the one token
    twin.update({"gpio.lamp": "1"})  # the pulse: on ...
    assert twin.poll(0.5) is None  # bucket empty
    twin.update({"gpio.lamp": "0"})  # ... off 1 s later, before "on" went out
    now = 0.5
    while (due := twin.next_due(now)) is not None:
        now = due
        room.append(send(twin, now) or {})
    lamp = [u["gpio.lamp"] for u in room if "gpio.lamp" in u]
    assert lamp == ["1", "0"]  # the "on" was not coalesced away
    assert twin.published["gpio.lamp"] == "0"
    assert now <= 0.1 + 2.0 + 2.0  # each waited at most the interval


def test_a_pulse_while_on_is_in_flight_needs_nothing_held() -> None:
    twin = Twin(min_interval_s=2.0)
    twin.update({"gpio.lamp": "1"})
    update = twin.poll(0.0)
    twin.update({"gpio.lamp": "0"})
    assert update == {"gpio.lamp": "1"}
    twin.sent(update)
    assert send(twin, 0.1) == {"gpio.lamp": "0"}


def test_a_held_urgent_value_is_dropped_on_rejoin() -> None:
    twin = Twin(min_interval_s=2.0, burst=1)
    twin.update({"gpio.lamp": "0"})
    send(twin, 0.0)
    twin.update({"gpio.lamp": "1"})
    send(twin, 0.1)
    twin.update({"gpio.lamp": "0"})
    twin.update({"gpio.lamp": "1"})  # out of tokens: "0" is held
    twin.update({"gpio.lamp": "0"})
    twin.rejoined({"gpio.lamp": "1"})  # a new session: only what is true now
    assert send(twin, 0.3) == {"gpio.lamp": "0"}


def test_a_failed_urgent_update_waits_for_the_interval_before_retrying() -> None:
    twin = Twin(min_interval_s=2.0)
    twin.update({"edge.status": "online"})
    send(twin, 0.0)
    twin.update({"gpio.lamp": "1"})
    update = twin.poll(0.5)
    assert update == {"gpio.lamp": "1"}
    twin.failed(update)
    assert twin.next_due(0.6) == 2.5
    assert send(twin, 2.5) == {"gpio.lamp": "1"}


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
        rtt_ms=None,
    )
    attributes = facts.as_attributes()
    assert attributes["edge.status"] == "online"
    assert attributes["edge.uptime_s"] == "180"
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


URGENT = st.dictionaries(
    st.sampled_from(["gpio.a", "gpio.b", "edge.lease", "x"]), st.sampled_from(["", "0", "1"])
)


@given(st.lists(st.tuples(URGENT, st.floats(0, 3)), min_size=1, max_size=20))
def test_with_urgent_keys_the_room_still_ends_up_equal_to_the_twin(
    changes: list[tuple[dict[str, str], float]],
) -> None:
    twin = Twin(min_interval_s=2.0, burst=2, refill_s=2.0)
    room: dict[str, str] = {}
    now = 0.0
    for change, gap in changes:
        twin.update(change)
        now += gap
        update = twin.poll(now)
        if update is not None:
            room = {k: v for k, v in {**room, **update}.items() if v}
            twin.sent(update)
    while (due := twin.next_due(now)) is not None:
        assert due - now <= 2.0 + 1e-9  # never longer than the interval
        now = due
        update = twin.poll(now)
        assert update is not None
        room = {k: v for k, v in {**room, **update}.items() if v}
        twin.sent(update)
    assert room == twin.desired


def test_a_connection_state_the_room_never_got_is_not_sent_after_the_link_is_back() -> None:
    twin = Twin(min_interval_s=2.0)
    twin.update({"edge.connection": "connected"})
    assert send(twin, 10.0) == {"edge.connection": "connected"}
    twin.update({"edge.connection": "reconnecting"})  # the link is down: this update fails
    update = twin.poll(10.1)
    assert update == {"edge.connection": "reconnecting"}
    twin.failed(update)
    twin.update({"edge.connection": "connected", "edge.reconnects": "1"})  # resumed
    # The room still has "connected": only the count changes, never a stale "reconnecting".
    assert send(twin, 12.1) == {"edge.reconnects": "1"}
