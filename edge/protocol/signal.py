"""SignalSession: the client side of LiveKit's WebSocket signalling, without I/O.

`receive(data, now)` turns one binary frame from the server into events; `poll(now)` returns
frames that are due (pings) and raises `SignalTimeout` when the server went quiet. Builders
(`offer`, `answer`, `leave`, `update_metadata`, `sync_state`) return frames to send.

A lost signalling connection may be resumed: a new socket opened with `resume_query`, and
`resume(now)` on this session, whose next first message is then `Resumed` (or a `leave` when
the server no longer has the session).
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from google.protobuf.message import DecodeError
from livekit.protocol import models as proto_models
from livekit.protocol import rtc as proto_rtc

from edge import __version__
from edge.errors import SignalError, SignalTimeout
from edge.protocol.rpc_v2 import CLIENT_PROTOCOL_RPC_V2

_LOGGER = logging.getLogger(__name__)

PROTOCOL_VERSION = 17
"""Signalling protocol version we speak (JS and Rust SDKs send the same)."""
CLIENT_PROTOCOL = CLIENT_PROTOCOL_RPC_V2
"""The client protocol we advertise (`ClientInfo.client_protocol`, which the server mirrors into
our `ParticipantInfo`): 1, RPC v2. Peers that speak it call us over data streams; the others
keep to v1. Not 2: that also promises single-packet streams to peers that read them."""
JOIN_RESPONSE_TIMEOUT_S = 5.0
DEFAULT_PING_INTERVAL_S = 5.0
DEFAULT_PING_TIMEOUT_S = 15.0
QUALITY = proto_models.ConnectionQuality


class SignalState(enum.Enum):
    """Where the signalling session is."""

    CONNECTING = "connecting"
    """Socket open, waiting for the JoinResponse (or ReconnectResponse when resuming)."""
    JOINED = "joined"
    """JoinResponse received; pings running."""
    CLOSED = "closed"
    """We left, the server told us to leave, or the session timed out."""


class Target(enum.IntEnum):
    """Which peer connection a signal refers to (`SignalTarget`)."""

    PUBLISHER = proto_rtc.SignalTarget.PUBLISHER
    SUBSCRIBER = proto_rtc.SignalTarget.SUBSCRIBER


class ResumeReason(enum.IntEnum):
    """Why a session is being resumed (`ReconnectReason`, sent to the server)."""

    SIGNAL_DISCONNECTED = proto_models.ReconnectReason.RR_SIGNAL_DISCONNECTED
    PUBLISHER_FAILED = proto_models.ReconnectReason.RR_PUBLISHER_FAILED
    SUBSCRIBER_FAILED = proto_models.ReconnectReason.RR_SUBSCRIBER_FAILED


class LeaveAction(enum.IntEnum):
    """What the server wants us to do after a `leave`."""

    DISCONNECT = proto_rtc.LeaveRequest.DISCONNECT
    RESUME = proto_rtc.LeaveRequest.RESUME
    RECONNECT = proto_rtc.LeaveRequest.RECONNECT


LEAVE_REASON_HINTS = {
    "DUPLICATE_IDENTITY": "another participant joined with our identity; give each device its own",
    "PARTICIPANT_REMOVED": "removed from the room by an administrator",
    "ROOM_DELETED": "the room was deleted",
    "ROOM_CLOSED": "the room was closed",
    "SERVER_SHUTDOWN": "the server is shutting down",
    "JOIN_FAILURE": "the server could not complete the join (peer connection never became active)",
}
"""What a `leave` reason means for the person reading the log."""


def leave_hint(reason: str) -> str:
    """` (<what it means>)` for a `leave` reason with a hint, else ""."""
    hint = LEAVE_REASON_HINTS.get(reason, "")
    return f" ({hint})" if hint else ""


# Reasons after which rejoining would only fight someone (or be refused again).
FINAL_LEAVE_REASONS = frozenset({"DUPLICATE_IDENTITY", "PARTICIPANT_REMOVED", "ROOM_DELETED"})


@dataclass(frozen=True, slots=True)
class Joined:
    """The server accepted the join."""

    response: proto_rtc.JoinResponse


@dataclass(frozen=True, slots=True)
class OfferReceived:
    """The server offers a (re)negotiation of the subscriber peer connection."""

    sdp: str
    offer_id: int


@dataclass(frozen=True, slots=True)
class AnswerReceived:
    """The server answered our publisher offer."""

    sdp: str
    answer_id: int


@dataclass(frozen=True, slots=True)
class CandidateReceived:
    """A remote ICE candidate; `final` marks the server's last one for `target`."""

    target: Target
    candidate_init: str
    final: bool


@dataclass(frozen=True, slots=True)
class ParticipantsUpdated:
    """Full `ParticipantInfo`s of participants that changed (ourselves included)."""

    participants: tuple[proto_models.ParticipantInfo, ...]


@dataclass(frozen=True, slots=True)
class RoomUpdated:
    """The room's info (metadata, counts) changed."""

    room: proto_models.Room


@dataclass(frozen=True, slots=True)
class TrackPublished:
    """The server registered a track we announced with `add_track`."""

    cid: str
    track: proto_models.TrackInfo


@dataclass(frozen=True, slots=True)
class TrackRefused:
    """The server refused a track we announced with `add_track`."""

    cid: str
    reason: str
    """`NOT_ALLOWED` (no publish grant for that source), `LIMIT_EXCEEDED`, ..."""
    message: str


@dataclass(frozen=True, slots=True)
class TrackSubscribed:
    """One of our tracks got its first subscriber (a keyframe is due)."""

    track_sid: str


@dataclass(frozen=True, slots=True)
class TrackUnpublished:
    """The server removed one of our tracks."""

    track_sid: str


@dataclass(frozen=True, slots=True)
class MuteRequested:
    """The server (an admin) asks us to mute or unmute one of our tracks."""

    track_sid: str
    muted: bool


@dataclass(frozen=True, slots=True)
class QualityChanged:
    """The server's view of participants' connection quality (`excellent` ... `lost`)."""

    qualities: tuple[tuple[str, str], ...]
    """(participant sid, quality) pairs."""


@dataclass(frozen=True, slots=True)
class LeaveReceived:
    """The server ended (or refused) our session."""

    reason: str
    action: LeaveAction

    @property
    def final(self) -> bool:
        """True when rejoining must not be attempted automatically."""
        return self.action is LeaveAction.DISCONNECT and self.reason in FINAL_LEAVE_REASONS


@dataclass(frozen=True, slots=True)
class Resumed:
    """The server took us back into our session (same participant, tracks and channels)."""

    response: proto_rtc.ReconnectResponse


@dataclass(frozen=True, slots=True)
class TokenRefreshed:
    """A fresh token from the server, to use for the next (re)connect."""

    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RequestAnswered:
    """The server's verdict on a request we sent (e.g. `update_metadata`)."""

    request_id: int
    reason: str
    """`OK`, or why it was refused (`NOT_ALLOWED`, `LIMIT_EXCEEDED`, ...)."""
    message: str

    @property
    def ok(self) -> bool:
        """True when the request was applied."""
        return self.reason == "OK"


@dataclass(frozen=True, slots=True)
class PongReceived:
    """Round-trip time measured from a ping."""

    rtt_ms: int


SignalEvent = (
    Joined
    | Resumed
    | OfferReceived
    | AnswerReceived
    | CandidateReceived
    | ParticipantsUpdated
    | RoomUpdated
    | TrackPublished
    | TrackRefused
    | TrackSubscribed
    | TrackUnpublished
    | MuteRequested
    | QualityChanged
    | LeaveReceived
    | TokenRefreshed
    | RequestAnswered
    | PongReceived
)


def rtc_url(url: str) -> str:
    """Return the v0 signalling endpoint for a server URL (`https://h/x` → `wss://h/x/rtc`)."""
    parts = urlsplit(url)
    schemes = {"ws": "ws", "http": "ws", "wss": "wss", "https": "wss"}
    if parts.scheme not in schemes or not parts.hostname:
        raise SignalError(
            f"server URL must be ws://, wss://, http:// or https:// with a host, got {url!r}"
        )
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((schemes[parts.scheme], parts.netloc, path + "rtc", "", ""))


def join_query(
    *,
    auto_subscribe: bool = False,
    device_model: str = "",
    attributes: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Query parameters of a fresh v0 join (the token travels in the Authorization header).

    `attributes` are set at join (needs the canUpdateOwnMetadata grant); empty values are ignored.
    """
    query = {
        "protocol": str(PROTOCOL_VERSION),
        "client_protocol": str(CLIENT_PROTOCOL),
        "version": __version__,
        "os": platform.system().lower(),
        "os_version": platform.release(),
        "auto_subscribe": "1" if auto_subscribe else "0",
    }
    if device_model:
        query["device_model"] = device_model
    initial = {k: v for k, v in (attributes or {}).items() if v}
    if initial:
        query["attributes"] = base64.urlsafe_b64encode(json.dumps(initial).encode()).decode()
    return query


def resume_query(
    query: Mapping[str, str], *, participant_sid: str, reason: ResumeReason
) -> dict[str, str]:
    """The query of a join that resumes session `participant_sid` instead of starting one."""
    return {
        **query,
        "reconnect": "1",
        "sid": participant_sid,
        "reconnect_reason": str(int(reason)),
    }


def validate_url(url: str, query: Mapping[str, str]) -> str:
    """The HTTP URL that explains a refused join in plain text (what the SDKs fetch)."""
    ws = rtc_url(url)
    scheme = "https" if ws.startswith("wss") else "http"
    return f"{scheme}{ws[ws.index(':') :]}/validate?{urlencode(query)}"


class SignalSession:
    """State of one signalling connection; see the module docstring."""

    def __init__(self, *, now: float) -> None:
        self.state = SignalState.CONNECTING
        self.ping_interval_s = DEFAULT_PING_INTERVAL_S
        self.ping_timeout_s = DEFAULT_PING_TIMEOUT_S
        self.rtt_ms = 0
        self._opened_at = now
        self._last_received = now
        self._next_ping = now
        self._offer_id = 0
        self._request_id = 0
        self._resuming = False

    def resume(self, now: float) -> None:
        """Start over on a new socket that resumes this session (timers and ids carry on)."""
        self.state = SignalState.CONNECTING
        self._opened_at = now
        self._last_received = now
        self._resuming = True

    def receive(self, data: bytes, now: float) -> list[SignalEvent]:
        """Parse one server frame; raise `SignalError` for bytes that are not a SignalResponse."""
        if self.state is SignalState.CLOSED:
            return []
        msg = proto_rtc.SignalResponse()
        try:
            msg.ParseFromString(data)
        except (DecodeError, UnicodeDecodeError) as exc:  # the latter: pure-Python protobuf
            raise SignalError(f"malformed signal message ({len(data)} bytes): {exc}") from exc
        self._last_received = now
        kind = msg.WhichOneof("message")
        if self.state is SignalState.CONNECTING:
            first = "reconnect" if self._resuming else "join"
            if kind not in (first, "leave"):
                raise SignalError(f"expected {first} or leave as first signal message, got {kind}")
        return self._dispatch(msg, kind, now)

    def poll(self, now: float) -> list[bytes]:
        """Frames due now (pings); raise `SignalTimeout` if the server has gone quiet."""
        if self.state is SignalState.CONNECTING:
            if now - self._opened_at > JOIN_RESPONSE_TIMEOUT_S:
                self.state = SignalState.CLOSED
                raise SignalTimeout(f"no join response within {JOIN_RESPONSE_TIMEOUT_S:g} s")
            return []
        if self.state is not SignalState.JOINED:
            return []
        if now - self._last_received > self.ping_timeout_s:
            self.state = SignalState.CLOSED
            raise SignalTimeout(f"no message from the server for {self.ping_timeout_s:g} s")
        if now < self._next_ping:
            return []
        self._next_ping = now + self.ping_interval_s
        ping = proto_rtc.Ping(timestamp=int(now * 1000), rtt=self.rtt_ms)
        return [proto_rtc.SignalRequest(ping_req=ping).SerializeToString()]

    def next_deadline(self) -> float:
        """When `poll` next has something to do."""
        if self.state is SignalState.CONNECTING:
            return self._opened_at + JOIN_RESPONSE_TIMEOUT_S
        return min(self._next_ping, self._last_received + self.ping_timeout_s)

    def offer(self, sdp: str) -> bytes:
        """A publisher offer; ids count up from 1 so answers can be matched."""
        self._offer_id += 1
        desc = proto_rtc.SessionDescription(type="offer", sdp=sdp, id=self._offer_id)
        return proto_rtc.SignalRequest(offer=desc).SerializeToString()

    @property
    def last_offer_id(self) -> int:
        """Id of the latest publisher offer (0 before the first)."""
        return self._offer_id

    def answer(self, sdp: str, offer_id: int) -> bytes:
        """Our answer to a subscriber offer, echoing its id."""
        desc = proto_rtc.SessionDescription(type="answer", sdp=sdp, id=offer_id)
        return proto_rtc.SignalRequest(answer=desc).SerializeToString()

    def add_track(self, request: proto_rtc.AddTrackRequest) -> bytes:
        """Announce a track before the offer that carries it."""
        return proto_rtc.SignalRequest(add_track=request).SerializeToString()

    def mute_track(self, track_sid: str, *, muted: bool) -> bytes:
        """Tell the server one of our tracks is (un)muted."""
        mute = proto_rtc.MuteTrackRequest(sid=track_sid, muted=muted)
        return proto_rtc.SignalRequest(mute=mute).SerializeToString()

    def update_metadata(
        self, *, name: str = "", metadata: str = "", attributes: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Change our name/metadata/attributes; an attribute set to "" is deleted."""
        self._request_id += 1
        update = proto_rtc.UpdateParticipantMetadata(
            name=name,
            metadata=metadata,
            attributes=dict(attributes or {}),
            request_id=self._request_id,
        )
        return self._request_id, proto_rtc.SignalRequest(update_metadata=update).SerializeToString()

    def sync_state(
        self,
        *,
        published: Sequence[tuple[str, proto_models.TrackInfo]],
        subscriber_offer: tuple[str, int] | None,
        subscriber_answer: str,
    ) -> bytes:
        """What we hold, sent right after `Resumed`: our published tracks as (cid, TrackInfo),
        the last subscriber offer (sdp, id) and our answer to it. We subscribe to nothing."""
        state = proto_rtc.SyncState(
            publish_tracks=[
                proto_rtc.TrackPublishedResponse(cid=cid, track=track) for cid, track in published
            ],
            subscription=proto_rtc.UpdateSubscription(subscribe=True),
        )
        if subscriber_offer is not None:
            sdp, offer_id = subscriber_offer
            state.offer.CopyFrom(proto_rtc.SessionDescription(type="offer", sdp=sdp, id=offer_id))
            state.answer.CopyFrom(
                proto_rtc.SessionDescription(type="answer", sdp=subscriber_answer, id=offer_id)
            )
        return proto_rtc.SignalRequest(sync_state=state).SerializeToString()

    def simulate(self, **scenario: Any) -> bytes:
        """Ask the server to simulate a fault: one `SimulateScenario` field, for example
        `switch_candidate_protocol=0` (the server restarts ICE). LiveKit's SDKs offer the same."""
        try:
            request = proto_rtc.SimulateScenario(**scenario)
        except (ValueError, TypeError) as exc:
            raise SignalError(f"unknown scenario: {exc}") from None
        return proto_rtc.SignalRequest(simulate=request).SerializeToString()

    def leave(self) -> bytes:
        """An intentional, final leave; the session is closed afterwards."""
        self.state = SignalState.CLOSED
        leave = proto_rtc.LeaveRequest(
            reason=proto_models.DisconnectReason.CLIENT_INITIATED,
            action=proto_rtc.LeaveRequest.DISCONNECT,
        )
        return proto_rtc.SignalRequest(leave=leave).SerializeToString()

    def _dispatch(
        self, msg: proto_rtc.SignalResponse, kind: str | None, now: float
    ) -> list[SignalEvent]:
        if kind == "join":
            return [self._joined(msg.join, now)]
        if kind == "reconnect" and self.state is SignalState.CONNECTING:
            self.state = SignalState.JOINED
            self._next_ping = now
            return [Resumed(response=msg.reconnect)]
        if kind == "leave":
            self.state = SignalState.CLOSED
            reason = _name(proto_models.DisconnectReason, msg.leave.reason)
            try:
                action = LeaveAction(msg.leave.action)
            except ValueError:  # a newer server's action: go and join anew, never fight
                action = LeaveAction.RECONNECT
            return [LeaveReceived(reason=reason, action=action)]
        if kind == "offer":
            return [OfferReceived(sdp=msg.offer.sdp, offer_id=msg.offer.id)]
        if kind == "answer":
            return [AnswerReceived(sdp=msg.answer.sdp, answer_id=msg.answer.id)]
        if kind == "trickle":
            t = msg.trickle
            return [
                CandidateReceived(
                    target=Target(t.target), candidate_init=t.candidateInit, final=t.final
                )
            ]
        if kind == "update":
            return [ParticipantsUpdated(participants=tuple(msg.update.participants))]
        if kind == "room_update":
            return [RoomUpdated(room=msg.room_update.room)]
        if kind == "track_published":
            return [TrackPublished(cid=msg.track_published.cid, track=msg.track_published.track)]
        if kind == "refresh_token":
            return [TokenRefreshed(token=msg.refresh_token)]
        if kind == "pong_resp":
            self.rtt_ms = max(0, int(now * 1000) - msg.pong_resp.last_ping_timestamp)
            return [PongReceived(rtt_ms=self.rtt_ms)]
        if kind == "connection_quality":
            return [
                QualityChanged(
                    qualities=tuple(
                        (
                            u.participant_sid,
                            _name(proto_models.ConnectionQuality, u.quality).lower(),
                        )
                        for u in msg.connection_quality.updates
                    )
                )
            ]
        if kind == "track_subscribed":
            return [TrackSubscribed(track_sid=msg.track_subscribed.track_sid)]
        if kind == "track_unpublished":
            return [TrackUnpublished(track_sid=msg.track_unpublished.track_sid)]
        if kind == "mute":
            return [MuteRequested(track_sid=msg.mute.sid, muted=msg.mute.muted)]
        if kind == "request_response":
            rr = msg.request_response
            reason = _name(proto_rtc.RequestResponse.Reason, rr.reason)
            if rr.WhichOneof("request") == "add_track":
                return [TrackRefused(cid=rr.add_track.cid, reason=reason, message=rr.message)]
            return [RequestAnswered(request_id=rr.request_id, reason=reason, message=rr.message)]
        _LOGGER.debug("ignoring signal message %s", kind)
        return []

    def _joined(self, join: proto_rtc.JoinResponse, now: float) -> Joined:
        self.state = SignalState.JOINED
        if join.ping_interval > 0:
            self.ping_interval_s = float(join.ping_interval)
        if join.ping_timeout > 0:
            self.ping_timeout_s = float(join.ping_timeout)
        self._next_ping = now + self.ping_interval_s
        return Joined(response=join)


def _name(enum: Any, value: int) -> str:
    """The name of a protobuf enum value; `UNKNOWN_<n>` for one a newer server added."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return f"UNKNOWN_{value}"
    return name
