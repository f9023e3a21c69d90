"""Room: joins a LiveKit room over signalling + two aiortc peer connections.

    async with Room.connect(options, token) as room:
        async for event in room.events():
            ...

The room owns its tasks (signal reader, keep-alive timer) in one TaskGroup. Leaving the
`async with` block sends a clean LeaveRequest and closes everything.

When the signalling connection is lost (closed, silent past the ping timeout, or the server
asks us to), the room tries to resume the session for `RoomOptions.resume_timeout_s`: a new
socket that names our participant, then an ICE restart of both peer connections. The session
survives with the same participant, tracks, data channels and handlers, between the events
`Reconnecting` and `Reconnected`. When the server no longer has the session, or the time is
up, the room ends with `Disconnected` and its owner joins again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from livekit.protocol import models as proto_models
from livekit.protocol import rtc as proto_rtc

from edge.errors import (
    EdgeError,
    PeerConnectionError,
    RoomError,
    ServerLeft,
    SignalError,
)
from edge.livekit.feed import EventFeed
from edge.livekit.liveness import DEAF_AFTER_S, DeafnessWatch
from edge.livekit.packet_router import PacketHandler, PacketRouter
from edge.livekit.peers import PeerConnection, ice_configuration
from edge.livekit.publisher import LocalTrack, PublishableTrack, TrackOptions, TrackPublisher
from edge.livekit.resume import SessionResume
from edge.livekit.room_events import (
    ConnectionState,
    DataReceived,
    Disconnected,
    Reconnected,
    Reconnecting,
    RoomEvent,
)
from edge.livekit.signal_link import SignalLink
from edge.livekit.signal_socket import SignalSocket, join_response
from edge.protocol import packets
from edge.protocol import signal as sig
from edge.protocol.participants import Participant, ParticipantJoined, RoomState

__all__ = [
    "ConnectionState",
    "DataReceived",
    "Disconnected",
    "PacketHandler",
    "Reconnected",
    "Reconnecting",
    "Room",
    "RoomEvent",
    "RoomOptions",
]

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
LIVENESS_PERIOD_S = 1.0
"""How often the inbound data channels are checked for deafness."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomOptions:
    """How to join."""

    url: str
    """Server URL (ws, wss, http or https)."""
    attributes: Mapping[str, str]
    """Participant attributes set at join."""
    connect_timeout_s: float = 10.0
    """Upper bound for WebSocket + JoinResponse + data channels open."""
    resume_timeout_s: float = 15.0
    """How long a lost session is tried to be resumed before the room ends (0: never)."""
    other_servers: bool = False
    """The deployment has other URLs to join through: resuming stops as soon as this node is
    seen down (refusing connections), so the owner can rejoin elsewhere."""
    device_model: str = ""
    """Reported to the server as client info."""
    event_queue_size: int = 1024
    """Bound of the event queue; when full the oldest event is dropped and counted."""
    deaf_after_s: float = DEAF_AFTER_S
    """Data received but undelivered this long while connected ends the session (a new one
    has new data channels); see `edge.livekit.liveness`."""


class Room:
    """A joined room; create with `Room.connect`."""

    def __init__(
        self,
        options: RoomOptions,
        *,
        tg: asyncio.TaskGroup,
        socket: SignalSocket,
        session: sig.SignalSession,
        join: proto_rtc.JoinResponse,
        token: str,
        query: Mapping[str, str],
    ) -> None:
        self.options = options
        self.state = ConnectionState.CONNECTING
        self.disconnect_error: EdgeError | None = None
        self.token = token
        """The latest token: ours, or a refreshed one from the server."""
        self._tg = tg
        self._session = session
        self._link = SignalLink(
            socket,
            session,
            spawn=self._spawn,
            on_event=self._handle_signal,
            on_lost=self._signal_lost,
        )
        self._room_state = RoomState(join.participant, join.room)
        self._subscriber_primary = join.subscriber_primary
        self._feed: EventFeed[RoomEvent] = EventFeed(
            maxsize=options.event_queue_size,
            is_last=lambda e: isinstance(e, Disconnected),
            name="room events",
        )
        self._router = PacketRouter(self._emit)
        self._disconnected = asyncio.Event()
        self._sequencer = packets.ReliableSequencer()
        self._pending_requests: dict[int, asyncio.Future[sig.RequestAnswered]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._resuming: asyncio.Task[None] | None = None
        self._query = query
        self._resume_enabled = (
            options.resume_timeout_s > 0
            and join.client_configuration.resume_connection
            != proto_models.ClientConfigSetting.DISABLED
        )
        self._subscriber_offer: tuple[str, int] | None = None
        self._subscriber_answer = ""
        relay_only = (
            join.client_configuration.force_relay == proto_models.ClientConfigSetting.ENABLED
        )
        config = ice_configuration(join.ice_servers, relay_only=relay_only)
        self._subscriber = PeerConnection(
            name="subscriber",
            configuration=config,
            on_message=self._router.receive,
            on_state=self._on_pc_state,
            spawn=self._spawn,
        )
        self._publisher = PeerConnection(
            name="publisher",
            configuration=config,
            on_message=self._router.receive,
            on_state=self._on_pc_state,
            spawn=self._spawn,
        )
        self._room_state.apply_join(join.other_participants)
        self._publications = TrackPublisher(peer=self._publisher, session=session, send=self._send)
        self._resume = SessionResume(
            link=self._link,
            publications=self._publications,
            publisher=self._publisher,
            subscriber=self._subscriber,
            url=options.url,
            others=options.other_servers,
            connect_timeout_s=options.connect_timeout_s,
            query=self._resume_query,
            token=lambda: self.token,
            sync_state=self._sync_state,
            subscriber_negotiated=lambda: self._subscriber_offer is not None,
        )
        self._deafness = DeafnessWatch(deaf_after_s=options.deaf_after_s)
        self._rtt_ms: float | None = None
        self.network_quality = ""
        """How the server rates our connection (`excellent`, `good`, `poor`, `lost`; "" unknown)."""

    @classmethod
    @asynccontextmanager
    async def connect(cls, options: RoomOptions, token: str) -> AsyncIterator[Room]:
        """Join, yield the connected room, and leave cleanly on exit."""
        query = sig.join_query(device_model=options.device_model, attributes=options.attributes)
        socket = await SignalSocket.connect(
            options.url, token=token, query=query, timeout_s=options.connect_timeout_s
        )
        room: Room | None = None
        try:
            session = sig.SignalSession(now=time.monotonic())
            join = await join_response(socket, session)
            _LOGGER.info(
                "joined room %r as %r (sid %s, server %s, %d other participant(s))",
                join.room.name,
                join.participant.identity,
                join.participant.sid,
                join.server_info.version or "?",
                len(join.other_participants),
            )
            try:
                async with asyncio.TaskGroup() as tg:
                    room = cls(
                        options,
                        tg=tg,
                        socket=socket,
                        session=session,
                        join=join,
                        token=token,
                        query=query,
                    )
                    try:
                        await room._start()
                        yield room
                    finally:
                        await room._shutdown()
            except BaseExceptionGroup as group:
                # Room tasks never raise; a group here wraps the one error of the caller's block.
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise
        finally:
            if room is None:
                await socket.aclose()

    @property
    def local_participant(self) -> Participant:
        """Ourselves, as the server last described us."""
        return self._state().local

    @property
    def remote_participants(self) -> Mapping[str, Participant]:
        """Everyone else, by identity."""
        return dict(self._state().remotes)

    @property
    def name(self) -> str:
        """The room name."""
        return self._state().room_name

    @property
    def metadata(self) -> str:
        """The room's metadata."""
        return self._state().metadata

    def events(self) -> AsyncIterator[RoomEvent]:
        """A new subscription to room events, in order, ending after `Disconnected`.

        It starts with a `ParticipantJoined` for everyone already in the room, so a consumer
        never misses a participant whenever it subscribes. Each subscription has its own bounded
        queue (`RoomOptions.event_queue_size`); a consumer that falls behind loses its oldest
        events, counted and logged.
        """
        backlog = [ParticipantJoined(participant=p) for p in self._room_state.remotes.values()]
        return aiter(self._feed.subscribe(backlog))

    def start_task(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run `coro` in the room's task group; cancelled when the room closes.

        The coroutine must handle its own errors: an exception escaping it ends the room.
        """
        task = self._tg.create_task(coro, name=name)
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)
        return task

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """`start_task` for the room's parts (signalling link, peer connections)."""
        return self.start_task(coro, name=f"room.{name}")

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    @property
    def held_packets(self) -> int:
        """Packets received for kinds that no handler has registered for yet."""
        return self._router.held

    def register_packet_handler(self, kind: str, handler: PacketHandler) -> None:
        """Route incoming DataPackets whose value is `kind` (e.g. `rpc_request`) to `handler`."""
        self._router.register(kind, handler)

    async def send_packet(self, packet: proto_models.DataPacket, *, reliable: bool = True) -> None:
        """Send a DataPacket built elsewhere (RPC, streams); reliable ones get the next sequence."""
        publisher = self._connected_publisher()
        if reliable:
            packet.sequence = self._sequencer.next()
        packet.kind = (
            proto_models.DataPacket.RELIABLE if reliable else proto_models.DataPacket.LOSSY
        )
        publisher.send(packets.checked_size(packet.SerializeToString()), reliable=reliable)

    async def drain(self, *, max_buffered: int) -> None:
        """Wait until at most `max_buffered` bytes wait in the reliable channel's send queue."""
        await self._connected_publisher().drain(max_buffered=max_buffered)

    async def wait_disconnected(self) -> EdgeError | None:
        """Wait until the connection ends; return why (None after our own leave)."""
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
        """Send a user packet to everyone (or to `destination_identities`)."""
        publisher = self._connected_publisher()
        sequence = self._sequencer.next() if reliable else 0
        data = packets.encode_user(
            payload,
            topic=topic,
            reliable=reliable,
            destination_identities=destination_identities,
            sequence=sequence,
        )
        if not reliable and len(data) > packets.LOSSY_ADVISED_BYTES:
            _LOGGER.debug("lossy packet of %d bytes will be fragmented", len(data))
        publisher.send(data, reliable=reliable)

    @property
    def rtt_ms(self) -> float | None:
        """Signalling round-trip time from the last ping (None before the first answer)."""
        return self._rtt_ms

    @property
    def local_tracks(self) -> Mapping[str, LocalTrack]:
        """Our published tracks by sid."""
        return dict(self._publications.tracks)

    async def publish_track(self, track: PublishableTrack, options: TrackOptions) -> LocalTrack:
        """Publish an aiortc track (camera: pre-encoded H.264; microphone: PCM for Opus)."""
        self._connected_publisher()
        return await self._publications.publish(track, options)

    async def unpublish_track(self, sid: str) -> None:
        """Stop publishing one of our tracks."""
        self._connected_publisher()
        await self._publications.unpublish(sid)

    async def set_track_muted(self, sid: str, *, muted: bool) -> None:
        """Mute (stop sending, tell the room) or unmute one of our tracks."""
        self._connected_publisher()
        await self._publications.set_muted(sid, muted)

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        """Set (or with "" delete) attributes; raise `RoomError` if the server refuses."""
        await self._update_metadata(attributes=attributes)

    async def set_metadata(self, metadata: str) -> None:
        """Replace our participant metadata (non-empty)."""
        await self._update_metadata(metadata=metadata)

    async def set_name(self, name: str) -> None:
        """Change our display name (non-empty)."""
        await self._update_metadata(name=name)

    # -- joining ---------------------------------------------------------------------------

    async def _start(self) -> None:
        self._publisher.create_data_channels()
        self._link.start()
        deadline = time.monotonic() + self.options.connect_timeout_s
        try:
            await self._publications.negotiate(timeout_s=self.options.connect_timeout_s)
            await self._publisher.wait_channels_open(timeout_s=self.options.connect_timeout_s)
            if self._subscriber_primary:
                # Data for us arrives on the server's channels: until they are open, the
                # server drops what others send us. Only then are we really in the room.
                remaining = max(0.1, deadline - time.monotonic())
                await self._subscriber.wait_channels_open(timeout_s=remaining)
        except RoomError:
            if self.disconnect_error is not None:  # lost while connecting: say why
                raise self.disconnect_error from None
            raise
        if self.state is ConnectionState.CONNECTING:
            self._set_state(ConnectionState.CONNECTED)
            self._spawn(self._watch_liveness(), "liveness")

    # -- running ---------------------------------------------------------------------------

    async def _handle_signal(self, event: sig.SignalEvent) -> None:
        match event:
            case sig.OfferReceived(sdp=sdp, offer_id=offer_id):
                try:
                    answer = await self._subscriber.answer_offer(sdp)
                except PeerConnectionError as exc:
                    self._lost(exc)
                    return
                self._subscriber_offer, self._subscriber_answer = (sdp, offer_id), answer
                await self._send(self._session.answer(answer, offer_id))
            case (
                sig.AnswerReceived()
                | sig.TrackPublished()
                | sig.TrackRefused()
                | sig.TrackSubscribed()
                | sig.MuteRequested()
                | sig.TrackUnpublished()
            ):
                await self._publications.handle(event)
            case sig.CandidateReceived(target=target, candidate_init=init, final=final):
                pc = self._publisher if target is sig.Target.PUBLISHER else self._subscriber
                try:
                    await pc.add_candidate(init, final=final)
                except RoomError as exc:
                    _LOGGER.warning("%s", exc)
            case sig.ParticipantsUpdated(participants=infos):
                for change in self._state().apply_update(infos):
                    self._emit(change)
            case sig.RoomUpdated(room=info):
                for change in self._state().apply_room(info):
                    self._emit(change)
            case sig.PongReceived(rtt_ms=rtt_ms):
                self._rtt_ms = float(rtt_ms)
            case sig.QualityChanged(qualities=qualities):
                mine = self._room_state.local.sid
                for sid, quality in qualities:
                    if sid == mine:
                        self.network_quality = quality
            case sig.TokenRefreshed(token=token):
                self.token = token
                _LOGGER.debug("the server refreshed our access token")
            case sig.RequestAnswered(request_id=request_id):
                future = self._pending_requests.pop(request_id, None)
                if future is not None and not future.done():
                    future.set_result(event)
            case sig.LeaveReceived(reason=reason):
                message = f"server ended the session: {reason}{sig.leave_hint(reason)}"
                error = ServerLeft(message, reason=reason, can_reconnect=not event.final)
                if event.action is sig.LeaveAction.RESUME:
                    self._signal_lost(error)
                else:
                    self._lost(error)
            case _:
                _LOGGER.debug("signal event %s", type(event).__name__)

    async def _watch_liveness(self) -> None:
        """End the session when a data channel holds data it never delivers (deaf)."""
        while not self._disconnected.is_set():
            await asyncio.sleep(LIVENESS_PERIOD_S)  # a periodic check, not synchronisation
            if self.state is not ConnectionState.CONNECTED:
                self._deafness.reset()  # resuming: the time away does not count
                continue
            samples = self._subscriber.inbound_samples() + self._publisher.inbound_samples()
            reason = self._deafness.check(samples, now=time.monotonic())
            if reason is not None:
                _LOGGER.error("data channel deaf: %s; leaving to join anew", reason)
                with contextlib.suppress(RoomError):
                    await self._link.send(self._session.leave())
                self._lost(PeerConnectionError(f"data channel deaf: {reason}"))
                return

    def _on_pc_state(self, state: str) -> None:
        if state == "failed" and self.state in (
            ConnectionState.CONNECTED,
            ConnectionState.RECONNECTING,
        ):
            self._lost(PeerConnectionError("peer connection failed (ICE/DTLS)"))

    # -- resuming --------------------------------------------------------------------------

    def _signal_lost(self, error: EdgeError) -> None:
        """Resume the session if we can, else end the room."""
        if self.state is ConnectionState.RECONNECTING:
            self._resume.signal_lost_again()
            return
        pcs_alive = all(
            pc.connection_state not in ("failed", "closed")
            for pc in (self._publisher, self._subscriber)
        )
        if not (self.state is ConnectionState.CONNECTED and self._resume_enabled and pcs_alive):
            self._lost(error)
            return
        _LOGGER.warning("signal connection lost (%s); resuming the session", error)
        self._publications.abort_negotiation("the signal connection was lost")
        self._set_state(ConnectionState.RECONNECTING)
        self._emit(Reconnecting(reason=str(error)))
        self._resuming = self.start_task(self._resume_session(error), name="room.resume")

    async def _resume_session(self, error: EdgeError) -> None:
        try:
            outage = await self._resume.run(error, timeout_s=self.options.resume_timeout_s)
        except RoomError as exc:
            self._lost(exc)
            return
        except Exception as exc:  # whatever went wrong, the room ends cleanly
            _LOGGER.exception("resuming the session failed unexpectedly")
            self._lost(RoomError(f"resuming the session failed: {exc!r}"))
            return
        _LOGGER.info("session resumed after %.1f s", outage)
        self._set_state(ConnectionState.CONNECTED)
        self._emit(Reconnected(outage_s=outage))

    def _resume_query(self) -> dict[str, str]:
        return sig.resume_query(
            self._query,
            participant_sid=self.local_participant.sid,
            reason=sig.ResumeReason.SIGNAL_DISCONNECTED,
        )

    def _sync_state(self) -> bytes:
        return self._session.sync_state(
            published=self._publications.published(),
            subscriber_offer=self._subscriber_offer,
            subscriber_answer=self._subscriber_answer,
        )

    # -- helpers ---------------------------------------------------------------------------

    async def _update_metadata(
        self, *, name: str = "", metadata: str = "", attributes: Mapping[str, str] | None = None
    ) -> None:
        self._connected_publisher()
        request_id, frame = self._session.update_metadata(
            name=name, metadata=metadata, attributes=attributes
        )
        future: asyncio.Future[sig.RequestAnswered] = asyncio.get_running_loop().create_future()
        self._pending_requests[request_id] = future
        await self._send(frame)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                answer = await future
        except TimeoutError:
            raise SignalError(
                f"server did not confirm the metadata update within {REQUEST_TIMEOUT_S:g} s"
            ) from None
        finally:
            self._pending_requests.pop(request_id, None)
        if not answer.ok:
            hint = (
                " (the token lacks the canUpdateOwnMetadata grant)"
                if answer.reason == "NOT_ALLOWED"
                else ""
            )
            raise RoomError(
                f"server refused to update our participant: {answer.reason}: {answer.message}{hint}"
            )

    async def _send(self, frame: bytes) -> None:
        await self._link.send(frame)

    async def simulate_scenario(self, **scenario: Any) -> None:
        """Ask the server to simulate a fault, as LiveKit's SDKs can (for tests and drills):
        one `SimulateScenario` field, e.g. `switch_candidate_protocol=0` restarts ICE."""
        await self._send(self._session.simulate(**scenario))

    def _connected_publisher(self) -> PeerConnection:
        if self.state is not ConnectionState.CONNECTED:
            raise RoomError(f"room is {self.state.value}, not connected")
        return self._publisher

    def _state(self) -> RoomState:
        return self._room_state

    def _emit(self, event: RoomEvent) -> None:
        self._feed.publish(event)

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self.state:
            _LOGGER.info("room connection %s -> %s", self.state.value, state.value)
            self.state = state

    def _lost(self, error: EdgeError) -> None:
        if self._disconnected.is_set():
            return
        final = isinstance(error, ServerLeft) and not error.can_reconnect
        _LOGGER.warning("disconnected: %s", error)
        self.disconnect_error = error
        self._set_state(ConnectionState.DISCONNECTED)
        self._disconnected.set()
        if self._resuming is not None and self._resuming is not asyncio.current_task():
            self._resuming.cancel()  # ended meanwhile (a final leave, a failed peer connection)
        self._publications.close()
        for pc in (self._publisher, self._subscriber):
            pc.abort_wait()
        self._emit(Disconnected(reason=str(error), final=final))

    async def _shutdown(self) -> None:
        if not self._disconnected.is_set():
            try:
                await self._link.send(self._session.leave())
                _LOGGER.info("left room cleanly")
            except SignalError:
                _LOGGER.debug("could not send leave")
        self._session.state = sig.SignalState.CLOSED
        if not self._disconnected.is_set():
            self._set_state(ConnectionState.DISCONNECTED)
            self._disconnected.set()
            self._emit(Disconnected(reason="left", final=True))
        self._publications.close()
        for task in list(self._tasks):
            task.cancel()
        await self._link.aclose()
        for pc in (self._publisher, self._subscriber):
            await pc.aclose()
