"""SignalSession: the sans-I/O signalling core, driven with hand-built server frames."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from livekit.protocol import models as proto_models
from livekit.protocol import rtc as proto_rtc

from edge.errors import SignalError, SignalTimeout
from edge.protocol import signal as sig


def frame(**kwargs: object) -> bytes:
    return proto_rtc.SignalResponse(**kwargs).SerializeToString()  # type: ignore[arg-type]


def join_frame(*, ping_interval: int = 5, ping_timeout: int = 15) -> bytes:
    join = proto_rtc.JoinResponse(
        room=proto_models.Room(name="lab", sid="RM_1", metadata="m0"),
        participant=proto_models.ParticipantInfo(identity="edge", sid="PA_1"),
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
    )
    return frame(join=join)


def sent(data: bytes) -> proto_rtc.SignalRequest:
    req = proto_rtc.SignalRequest()
    req.ParseFromString(data)
    return req


def joined_session(now: float = 100.0) -> sig.SignalSession:
    session = sig.SignalSession(now=now)
    session.receive(join_frame(), now)
    return session


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://127.0.0.1:7880", "ws://127.0.0.1:7880/rtc"),
        ("http://host:7880/", "ws://host:7880/rtc"),
        ("https://example.org/base", "wss://example.org/base/rtc"),
        ("wss://example.org/base/", "wss://example.org/base/rtc"),
    ],
)
def test_rtc_url_maps_scheme_and_appends_rtc(url: str, expected: str) -> None:
    assert sig.rtc_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://host", "host:7880", "ws://", ""])
def test_rtc_url_rejects_bad_urls_with_a_clear_message(url: str) -> None:
    with pytest.raises(SignalError, match="must be ws://, wss://, http:// or https://"):
        sig.rtc_url(url)


def test_join_query_advertises_protocol_17_and_client_protocol_1_rpc_v2() -> None:
    query = sig.join_query(device_model="Pi Zero 2 W")
    assert query["protocol"] == "17"
    assert query["client_protocol"] == "1"  # RPC v2; not 2 (we send no single-packet streams)
    assert query["auto_subscribe"] == "0"
    assert query["device_model"] == "Pi Zero 2 W"
    assert "sdk" not in query  # never claim to be an SDK whose quirks the server works around


def test_join_query_encodes_attributes_as_padded_urlsafe_json() -> None:
    query = sig.join_query(attributes={"location": "bench", "empty": ""})
    decoded = json.loads(base64.urlsafe_b64decode(query["attributes"]))
    assert decoded == {"location": "bench"}


def test_validate_url_uses_http_scheme() -> None:
    url = sig.validate_url("wss://example.org", {"protocol": "17"})
    parts = urlsplit(url)
    assert (parts.scheme, parts.path) == ("https", "/rtc/validate")
    assert parse_qs(parts.query) == {"protocol": ["17"]}


def test_join_adopts_server_ping_settings() -> None:
    session = sig.SignalSession(now=0.0)
    [event] = session.receive(join_frame(ping_interval=3, ping_timeout=9), 1.0)
    assert isinstance(event, sig.Joined)
    assert event.response.room.name == "lab"
    assert session.state is sig.SignalState.JOINED
    assert (session.ping_interval_s, session.ping_timeout_s) == (3.0, 9.0)


def test_first_message_other_than_join_or_leave_is_an_error() -> None:
    session = sig.SignalSession(now=0.0)
    with pytest.raises(SignalError, match="expected join or leave"):
        session.receive(frame(refresh_token="x"), 0.5)


def test_leave_as_first_message_reports_the_reason() -> None:
    session = sig.SignalSession(now=0.0)
    leave = proto_rtc.LeaveRequest(
        reason=proto_models.DisconnectReason.DUPLICATE_IDENTITY,
        action=proto_rtc.LeaveRequest.DISCONNECT,
    )
    [event] = session.receive(frame(leave=leave), 0.1)
    assert event == sig.LeaveReceived(
        reason="DUPLICATE_IDENTITY", action=sig.LeaveAction.DISCONNECT
    )
    assert event.final
    assert session.state is sig.SignalState.CLOSED


def test_leave_with_reconnect_action_is_not_final() -> None:
    event = sig.LeaveReceived(reason="DUPLICATE_IDENTITY", action=sig.LeaveAction.RECONNECT)
    assert not event.final
    assert not sig.LeaveReceived(reason="SERVER_SHUTDOWN", action=sig.LeaveAction.DISCONNECT).final


def test_no_join_response_times_out() -> None:
    session = sig.SignalSession(now=0.0)
    assert session.poll(4.9) == []
    with pytest.raises(SignalTimeout, match="no join response"):
        session.poll(5.1)


def test_pings_follow_the_interval_and_carry_timestamp_and_rtt() -> None:
    session = joined_session(now=100.0)
    assert session.poll(104.0) == []
    [ping] = session.poll(105.0)
    req = sent(ping)
    assert req.WhichOneof("message") == "ping_req"
    assert req.ping_req.timestamp == 105_000
    assert session.poll(106.0) == []
    pong = proto_rtc.Pong(last_ping_timestamp=105_000, timestamp=1)
    [event] = session.receive(frame(pong_resp=pong), 105.040)
    assert event == sig.PongReceived(rtt_ms=40)
    [ping2] = session.poll(110.0)
    assert sent(ping2).ping_req.rtt == 40


def test_silence_longer_than_ping_timeout_raises() -> None:
    session = joined_session(now=100.0)
    session.poll(105.0)
    session.receive(frame(refresh_token="t"), 110.0)  # any message keeps the session alive
    session.poll(124.9)
    with pytest.raises(SignalTimeout, match="no message from the server for 15 s"):
        session.poll(125.1)
    assert session.state is sig.SignalState.CLOSED


def test_next_deadline_is_the_earlier_of_ping_and_timeout() -> None:
    session = joined_session(now=100.0)
    assert session.next_deadline() == 105.0
    session.poll(105.0)
    assert session.next_deadline() == 110.0


def test_offers_count_up_and_answers_echo_the_server_offer_id() -> None:
    session = joined_session()
    first = sent(session.offer("v=0 a"))
    second = sent(session.offer("v=0 b"))
    assert (first.offer.id, second.offer.id, session.last_offer_id) == (1, 2, 2)
    assert first.offer.type == "offer"
    answer = sent(session.answer("v=0 c", 7))
    assert (answer.answer.type, answer.answer.id, answer.answer.sdp) == ("answer", 7, "v=0 c")


def test_server_messages_become_events() -> None:
    session = joined_session()
    offer = proto_rtc.SessionDescription(type="offer", sdp="o", id=3)
    trickle = proto_rtc.TrickleRequest(
        candidateInit='{"candidate":"c"}', target=proto_rtc.SignalTarget.SUBSCRIBER, final=True
    )
    room = proto_models.Room(name="lab", metadata="m1")
    update = proto_rtc.ParticipantUpdate(participants=[proto_models.ParticipantInfo(identity="x")])
    refused = proto_rtc.RequestResponse(
        request_id=4, reason=proto_rtc.RequestResponse.NOT_ALLOWED, message="no"
    )
    events = [
        *session.receive(frame(offer=offer), 101),
        *session.receive(frame(trickle=trickle), 101),
        *session.receive(frame(room_update=proto_rtc.RoomUpdate(room=room)), 101),
        *session.receive(frame(update=update), 101),
        *session.receive(frame(refresh_token="new-token"), 101),
        *session.receive(frame(request_response=refused), 101),
    ]
    assert events[0] == sig.OfferReceived(sdp="o", offer_id=3)
    assert events[1] == sig.CandidateReceived(
        target=sig.Target.SUBSCRIBER, candidate_init='{"candidate":"c"}', final=True
    )
    assert isinstance(events[2], sig.RoomUpdated)
    assert events[2].room.metadata == "m1"
    assert isinstance(events[3], sig.ParticipantsUpdated)
    assert events[3].participants[0].identity == "x"
    assert events[4] == sig.TokenRefreshed(token="new-token")
    assert "new-token" not in repr(events[4])
    assert events[5] == sig.RequestAnswered(request_id=4, reason="NOT_ALLOWED", message="no")
    assert not events[5].ok


def test_track_messages_become_events_and_mute_is_sent_by_sid() -> None:
    session = joined_session()
    refused = proto_rtc.RequestResponse(
        reason=proto_rtc.RequestResponse.NOT_ALLOWED,
        message="source not allowed",
        add_track=proto_rtc.AddTrackRequest(cid="cam-1"),
    )
    events = [
        *session.receive(frame(track_subscribed=proto_rtc.TrackSubscribed(track_sid="TR_1")), 1),
        *session.receive(
            frame(track_unpublished=proto_rtc.TrackUnpublishedResponse(track_sid="TR_2")), 1
        ),
        *session.receive(frame(mute=proto_rtc.MuteTrackRequest(sid="TR_3", muted=True)), 1),
        *session.receive(frame(request_response=refused), 1),
    ]
    assert events == [
        sig.TrackSubscribed(track_sid="TR_1"),
        sig.TrackUnpublished(track_sid="TR_2"),
        sig.MuteRequested(track_sid="TR_3", muted=True),
        sig.TrackRefused(cid="cam-1", reason="NOT_ALLOWED", message="source not allowed"),
    ]
    req = sent(session.mute_track("TR_1", muted=False))
    assert (req.mute.sid, req.mute.muted) == ("TR_1", False)


def test_connection_quality_updates_become_one_event() -> None:
    session = joined_session()
    updates = proto_rtc.ConnectionQualityUpdate(
        updates=[
            proto_rtc.ConnectionQualityInfo(
                participant_sid="PA_1", quality=proto_models.ConnectionQuality.GOOD, score=4.1
            ),
            proto_rtc.ConnectionQualityInfo(
                participant_sid="PA_2", quality=proto_models.ConnectionQuality.LOST
            ),
        ]
    )
    assert session.receive(frame(connection_quality=updates), 1) == [
        sig.QualityChanged(qualities=(("PA_1", "good"), ("PA_2", "lost")))
    ]


def test_update_metadata_numbers_requests_and_deletes_with_empty_values() -> None:
    session = joined_session()
    rid1, data1 = session.update_metadata(attributes={"a": "1", "gone": ""})
    rid2, _ = session.update_metadata(name="New name")
    req = sent(data1)
    assert (rid1, rid2) == (1, 2)
    assert req.update_metadata.request_id == 1
    assert dict(req.update_metadata.attributes) == {"a": "1", "gone": ""}


def test_leave_is_client_initiated_and_closes_the_session() -> None:
    session = joined_session()
    req = sent(session.leave())
    assert req.leave.reason == proto_models.DisconnectReason.CLIENT_INITIATED
    assert req.leave.action == proto_rtc.LeaveRequest.DISCONNECT
    assert session.state is sig.SignalState.CLOSED
    assert session.poll(1e9) == []


def test_malformed_frame_raises_signal_error_and_session_survives() -> None:
    session = joined_session()
    with pytest.raises(SignalError, match="malformed signal message"):
        session.receive(b"\xff\xff\xff", 101)
    assert session.state is sig.SignalState.JOINED
    assert session.receive(frame(refresh_token="t"), 102) == [sig.TokenRefreshed(token="t")]


@given(st.binary(max_size=512))
def test_any_bytes_give_events_or_signal_error(data: bytes) -> None:
    session = joined_session()
    try:
        events = session.receive(data, 101.0)
    except SignalError:
        return
    assert isinstance(events, list)


# -- resuming ----------------------------------------------------------------------------------


def test_resume_query_names_the_session_and_keeps_the_join_parameters() -> None:
    query = sig.resume_query(
        sig.join_query(device_model="pi"),
        participant_sid="PA_abc",
        reason=sig.ResumeReason.SIGNAL_DISCONNECTED,
    )
    assert query["reconnect"] == "1"
    assert query["sid"] == "PA_abc"
    assert query["reconnect_reason"] == str(proto_models.ReconnectReason.RR_SIGNAL_DISCONNECTED)
    assert query["protocol"] == "17"
    assert query["device_model"] == "pi"


def test_resumed_session_expects_reconnect_and_keeps_timers_and_ids() -> None:
    session = joined_session(now=100.0)
    session.offer("v=0")
    session.resume(now=200.0)
    before = session.state
    assert session.poll(201.0) == []  # no pings before the server answers
    reconnect = proto_rtc.ReconnectResponse(last_message_seq=7)
    [event] = session.receive(frame(reconnect=reconnect), 201.0)
    assert event == sig.Resumed(response=reconnect)
    assert (before, session.state) == (sig.SignalState.CONNECTING, sig.SignalState.JOINED)
    assert session.ping_interval_s == 5.0
    [ping] = session.poll(201.0)  # pings resume at once on the new socket
    assert sent(ping).WhichOneof("message") == "ping_req"
    assert sent(session.offer("v=0")).offer.id == 2  # offer ids carry on


def test_resumed_session_refuses_a_join_and_reports_a_leave() -> None:
    session = joined_session()
    session.resume(now=200.0)
    with pytest.raises(SignalError, match="expected reconnect or leave"):
        session.receive(join_frame(), 200.5)
    leave = proto_rtc.LeaveRequest(
        reason=proto_models.DisconnectReason.STATE_MISMATCH,
        action=proto_rtc.LeaveRequest.RECONNECT,
    )
    [event] = session.receive(frame(leave=leave), 201.0)
    assert isinstance(event, sig.LeaveReceived)
    assert event.reason == "STATE_MISMATCH"
    assert not event.final


def test_silent_server_during_resume_times_out() -> None:
    session = joined_session()
    session.resume(now=200.0)
    with pytest.raises(SignalTimeout, match="no join response"):
        session.poll(200.0 + sig.JOIN_RESPONSE_TIMEOUT_S + 0.1)


def test_sync_state_lists_published_tracks_and_the_last_subscriber_exchange() -> None:
    session = joined_session()
    track = proto_models.TrackInfo(sid="TR_1", name="camera", type=proto_models.TrackType.VIDEO)
    request = sent(
        session.sync_state(
            published=[("cam-cid", track)],
            subscriber_offer=("offer-sdp", 3),
            subscriber_answer="answer-sdp",
        )
    )
    state = request.sync_state
    assert [(t.cid, t.track.sid) for t in state.publish_tracks] == [("cam-cid", "TR_1")]
    assert (state.offer.type, state.offer.sdp, state.offer.id) == ("offer", "offer-sdp", 3)
    assert (state.answer.type, state.answer.sdp, state.answer.id) == ("answer", "answer-sdp", 3)
    assert state.subscription.subscribe
    assert list(state.subscription.track_sids) == []
    empty = sent(session.sync_state(published=[], subscriber_offer=None, subscriber_answer=""))
    assert not empty.sync_state.HasField("offer")


def test_simulate_builds_one_scenario_and_rejects_unknown_ones() -> None:
    session = joined_session()
    request = sent(session.simulate(switch_candidate_protocol=0))
    assert request.simulate.WhichOneof("scenario") == "switch_candidate_protocol"
    with pytest.raises(SignalError, match="unknown scenario"):
        session.simulate(no_such_thing=True)


def test_a_leave_with_values_a_newer_server_added_still_ends_the_session_cleanly() -> None:
    session = joined_session()
    leave = proto_rtc.LeaveRequest()
    leave.ParseFromString(b"\x10\x63\x18\x09")  # reason 99, action 9: unknown to us
    [event] = session.receive(frame(leave=leave), 101.0)
    assert event == sig.LeaveReceived(reason="UNKNOWN_99", action=sig.LeaveAction.RECONNECT)
    assert not event.final
