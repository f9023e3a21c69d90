"""PeerConnection: one aiortc RTCPeerConnection plus LiveKit's `_reliable`/`_lossy` channels.

aiortc's camelCase API and pyee events stop here; the Room sees snake_case methods and plain
callbacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from aiortc.sdp import SessionDescription, candidate_from_sdp
from livekit.protocol import rtc as proto_rtc

from edge.errors import PeerConnectionError
from edge.livekit import checksum, ice, sctp, sctp_inbound
from edge.livekit.liveness import StreamSample
from edge.livekit.video_sender import AccessUnitFeed, LeanVideoSender

_LOGGER = logging.getLogger(__name__)

RELIABLE_LABEL = "_reliable"
LOSSY_LABEL = "_lossy"
_ICE_SCHEMES = ("stun:", "turn:", "turns:")
_DESCRIPTION_ERRORS = (
    ValueError,
    InternalError,
    InvalidAccessError,
    InvalidStateError,
    OperationError,
)
"""What aiortc raises for a session description it cannot create or apply."""

MessageHandler = Callable[[bytes, bool], None]
"""Called with (data, reliable) for every binary data-channel message."""
KeyframeHandler = Callable[[], None]
"""Called when the remote side asks for a keyframe (RTCP PLI or FIR)."""
StateHandler = Callable[[str], None]
"""Called with the new connection state (`connecting`, `connected`, `failed`, `closed`)."""
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]
"""Runs a coroutine as a named task of the peer connection's owner."""


ICE_RESTART_TIMEOUT_S = 30.0
"""An ICE restart without a working pair by then has failed (the server's own limit is 15 s)."""


def ice_configuration(
    servers: Iterable[proto_rtc.ICEServer], *, relay_only: bool = False
) -> RTCConfiguration:
    """aiortc configuration from the JoinResponse's ICE servers (other URL schemes dropped)."""
    ice = []
    for server in servers:
        urls = [u for u in server.urls if u.startswith(_ICE_SCHEMES)]
        if urls:
            ice.append(
                RTCIceServer(
                    urls=urls,
                    username=server.username or None,
                    credential=server.credential or None,
                )
            )
    config = RTCConfiguration(iceServers=ice)
    if relay_only:
        _LOGGER.warning(
            "server asks for relay-only ICE, which aiortc cannot enforce; using all candidates"
        )
    return config


class PeerConnection:
    """A publisher (we offer) or subscriber (server offers) peer connection."""

    def __init__(
        self,
        *,
        name: str,
        configuration: RTCConfiguration,
        on_message: MessageHandler,
        on_state: StateHandler,
        spawn: Spawn,
    ) -> None:
        self.name = name
        sctp.tune()
        checksum.install()
        sctp_inbound.install()
        ice.install()
        self._pc = RTCPeerConnection(configuration=configuration)
        self._on_message = on_message
        self._on_state = on_state
        self._channels: dict[str, RTCDataChannel] = {}
        self._pending_candidates: list[Any] = []
        self._pending_end = False
        self._has_remote = False
        self._channels_open = asyncio.Event()
        self._aborted = False
        self._spawn = spawn
        self._restart_pending = False
        """We offered an ICE restart; the answer brings the remote credentials."""
        self._restarted: asyncio.Future[None] | None = None
        """Resolved when the latest ICE restart has nominated a pair (or failed)."""
        self._restarting: list[ice.RestartableConnection] = []
        self._checks: asyncio.Task[None] | None = None
        """The connectivity checks of the latest ICE restart (a later restart cancels them,
        so only the latest one ever reports)."""
        self._video_senders: dict[int, LeanVideoSender] = {}
        self._pc.on("datachannel", self._adopt_channel)
        self._pc.on("connectionstatechange", self._state_changed)

    @property
    def connection_state(self) -> str:
        """aiortc's connection state."""
        state: str = self._pc.connectionState
        return state

    def create_data_channels(self) -> None:
        """Create our `_reliable` (ordered) and `_lossy` (unordered, no retransmit) channels."""
        for channel in (
            self._pc.createDataChannel(RELIABLE_LABEL, ordered=True),
            self._pc.createDataChannel(LOSSY_LABEL, ordered=False, maxRetransmits=0),
        ):
            self._adopt_channel(channel)

    async def wait_channels_open(self, *, timeout_s: float) -> None:
        """Wait until `_reliable` and `_lossy` (ours or the server's) are open, or raise."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._channels_open.wait()
            if self._aborted:
                raise PeerConnectionError(f"{self.name}: closed while opening data channels")
        except TimeoutError:
            raise PeerConnectionError(
                f"{self.name} data channels not open within {timeout_s:g} s "
                f"(connection state: {self.connection_state})"
            ) from None

    async def create_offer(self) -> str:
        """A complete offer (aiortc gathers every local candidate into the SDP)."""
        try:
            await self._pc.setLocalDescription(await self._pc.createOffer())
        except _DESCRIPTION_ERRORS as exc:
            raise PeerConnectionError(f"{self.name}: cannot create an offer: {exc}") from None
        sdp: str = self._pc.localDescription.sdp
        return sdp

    async def set_answer(self, sdp: str) -> None:
        """Apply the server's answer to our offer (completing an ICE restart we offered)."""
        if self._restart_pending:
            self._restart_pending = False
            username, password = _ice_credentials(sdp)
            for connection in self._restarting:
                connection.remote_username = username
                connection.remote_password = password
            self._start_checks()
        await self._set_remote(RTCSessionDescription(sdp=sdp, type="answer"))

    async def answer_offer(self, sdp: str) -> str:
        """Apply a server offer and return our complete answer.

        An offer with new ICE credentials restarts ICE (the server does so when a session is
        resumed): our answer carries new credentials and the checks run again.
        """
        username, password = _ice_credentials(sdp)
        restarted = [
            c
            for c in self._ice_connections()
            if c.remote_username is not None and c.remote_username != username
        ]
        if restarted:
            _LOGGER.info("%s: the server restarts ICE", self.name)
            self._restart(restarted, username=username, password=password)
            self._start_checks()
        await self._set_remote(RTCSessionDescription(sdp=sdp, type="offer"))
        try:
            await self._pc.setLocalDescription(await self._pc.createAnswer())
        except _DESCRIPTION_ERRORS as exc:
            raise PeerConnectionError(f"{self.name}: cannot answer the offer: {exc}") from None
        answer: str = self._pc.localDescription.sdp
        return answer

    async def add_candidate(self, candidate_init: str, *, final: bool) -> None:
        """Add a trickled remote candidate; queued until the remote description is set."""
        candidate = parse_candidate(candidate_init)
        if candidate is not None:
            self._pending_candidates.append(candidate)
        self._pending_end = self._pending_end or final
        if self._has_remote:
            await self._flush_candidates()

    def restart_ice(self) -> None:
        """Restart ICE from our side: the next offer carries new credentials, its answer
        the server's, and then the checks run again (see `wait_ice_restarted`)."""
        connections = self._ice_connections()
        if not connections:
            raise PeerConnectionError(f"{self.name}: no ICE transport to restart")
        self._restart(connections, username=None, password=None)
        self._restart_pending = True

    @property
    def network_changed(self) -> bool:
        """An address our ICE candidates were gathered on is gone: ICE cannot be restarted
        over them, only a new peer connection (a new session) can reach the server again."""
        return any(c.addresses_gone for c in self._ice_connections())

    async def wait_ice_restarted(self, *, timeout_s: float) -> None:
        """Wait until the latest ICE restart has a working pair; raise if it fails or times out.

        Returns at once when no restart is in progress.
        """
        if self._restarted is None:
            return
        if self._restarted.done() and self._restarted.exception() is None:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self._restarted)
        except TimeoutError:
            raise PeerConnectionError(
                f"{self.name}: ICE restart did not complete within {timeout_s:g} s"
            ) from None

    def channel_open(self, reliable: bool) -> bool:
        """Whether our channel of that kind is open for sending."""
        channel = self._channels.get(RELIABLE_LABEL if reliable else LOSSY_LABEL)
        return channel is not None and channel.readyState == "open"

    def send(self, data: bytes, *, reliable: bool) -> None:
        """Queue one message on `_reliable` or `_lossy`; raise if that channel is not open."""
        label = RELIABLE_LABEL if reliable else LOSSY_LABEL
        channel = self._channels.get(label)
        if channel is None or channel.readyState != "open":
            raise PeerConnectionError(f"{self.name} data channel {label} is not open")
        channel.send(data)

    def buffered_amount(self, *, reliable: bool) -> int:
        """Bytes queued on that channel and not yet handed to SCTP."""
        channel = self._channels.get(RELIABLE_LABEL if reliable else LOSSY_LABEL)
        return 0 if channel is None else int(channel.bufferedAmount)

    async def drain(self, *, max_buffered: int, reliable: bool = True) -> None:
        """Wait until at most `max_buffered` bytes are queued on that channel, or it closes."""
        channel = self._channels.get(RELIABLE_LABEL if reliable else LOSSY_LABEL)
        if channel is None:
            return
        low = asyncio.Event()
        wake = low.set
        channel.bufferedAmountLowThreshold = max_buffered
        channel.on("bufferedamountlow", wake)
        channel.on("close", wake)
        try:
            while channel.bufferedAmount > max_buffered and channel.readyState == "open":
                low.clear()
                await low.wait()
        finally:
            channel.remove_listener("bufferedamountlow", wake)
            channel.remove_listener("close", wake)

    def add_sender(
        self,
        track: Any,
        *,
        mime_type: str,
        prefer: Mapping[str, str] | None = None,
        on_keyframe_request: KeyframeHandler | None = None,
    ) -> Any:
        """Send `track` (an aiortc MediaStreamTrack) in a new send-only m-line; return its handle.

        Only `mime_type` (plus retransmission) is negotiated, codecs whose fmtp matches `prefer`
        first. aiortc answers a PLI/FIR by asking its own encoder for a keyframe, which does
        nothing for pre-encoded input: `on_keyframe_request` takes that role. An H.264 track
        that hands out access units (`video_sender.AccessUnitFeed`) is packetised and sent by
        `LeanVideoSender` instead of aiortc's per-packet path.
        """
        transceiver = self._pc.addTransceiver(track, direction="sendonly")
        rtx = f"{track.kind}/rtx"
        codecs = [
            c
            for c in RTCRtpSender.getCapabilities(track.kind).codecs
            if c.mimeType.lower() in (mime_type.lower(), rtx)
        ]
        wanted = dict(prefer or {})
        codecs.sort(key=lambda c: not all(c.parameters.get(k) == v for k, v in wanted.items()))
        transceiver.setCodecPreferences(codecs)
        if on_keyframe_request is not None:
            transceiver.sender._send_keyframe = on_keyframe_request  # type: ignore[method-assign]
        if mime_type.lower() == "video/h264" and isinstance(track, AccessUnitFeed):
            self._video_senders[id(transceiver)] = LeanVideoSender.install(
                transceiver.sender, track
            )
        return transceiver

    def video_sender(self, handle: Any) -> LeanVideoSender | None:
        """Our packetiser under a handle from `add_sender`; None where aiortc's own sends
        (audio, and a video track that hands out `av` frames or packets, not access units)."""
        return self._video_senders.get(id(handle))

    def stop_sender(self, handle: Any) -> None:
        """Stop sending on a handle from `add_sender`; the next offer marks its m-line inactive."""
        handle.direction = "inactive"
        if handle.sender.track is not None:
            handle.sender.track.stop()

    def inbound_samples(self) -> list[StreamSample]:
        """The SCTP association's inbound streams, for the room's `DeafnessWatch`."""
        streams = sctp_inbound.inbound_streams(self._pc.sctp)
        return [
            StreamSample(
                name=f"{self.name} SCTP stream {stream_id}",
                held=stream.blocked,
                delivered=stream.delivered,
                overflowed=stream.overflowed,
            )
            for stream_id, stream in streams.items()
        ]

    async def aclose(self) -> None:
        """Close the connection and its channels; idempotent."""
        await self._pc.close()

    def _ice_transports(self) -> set[Any]:
        transports = {t.receiver.transport.transport for t in self._pc.getTransceivers()}
        if self._pc.sctp is not None:
            transports.add(self._pc.sctp.transport.transport)
        return transports

    def _ice_connections(self) -> list[ice.RestartableConnection]:
        return [
            t._connection
            for t in self._ice_transports()
            if isinstance(t._connection, ice.RestartableConnection) and t.state != "closed"
        ]

    def _restart(
        self,
        connections: list[ice.RestartableConnection],
        *,
        username: str | None,
        password: str | None,
    ) -> None:
        if self._checks is not None:
            self._checks.cancel()  # a restart still checking is superseded
            self._checks = None
        for connection in connections:
            try:
                connection.restart(remote_username=username, remote_password=password)
            except ConnectionError as exc:
                raise PeerConnectionError(f"{self.name}: {exc}") from None
        for transport in self._ice_transports():
            if transport._connection in connections:
                transport.iceGatherer._remote_candidates_end = False  # they trickle anew
        self._restarting = connections
        self._pending_end = False
        self.expect_ice_restart()

    def expect_ice_restart(self) -> None:
        """The server is about to restart ICE: `wait_ice_restarted` waits for it."""
        if self._restarted is None or self._restarted.done():
            self._restarted = asyncio.get_running_loop().create_future()

    def _start_checks(self) -> None:
        connections = list(self._restarting)

        async def checks() -> None:
            try:
                async with asyncio.timeout(ICE_RESTART_TIMEOUT_S):
                    for connection in connections:
                        await connection.connect()
            except (ConnectionError, TimeoutError) as exc:
                reason = str(exc) or f"no pair within {ICE_RESTART_TIMEOUT_S:g} s"
                self._restart_done(PeerConnectionError(f"{self.name}: {reason}"))
            else:
                self._restart_done(None)

        self._checks = self._spawn(checks(), f"{self.name}.ice-restart")

    def _restart_done(self, error: PeerConnectionError | None) -> None:
        future = self._restarted
        if future is None or future.done():
            return
        if error is None:
            _LOGGER.info("%s: ICE restarted", self.name)
            future.set_result(None)
        else:
            _LOGGER.warning("ICE restart failed: %s", error)
            future.set_exception(error)
            future.exception()  # retrieved here; `wait_ice_restarted` raises it again
            self._on_state("failed")  # no pair carries data any more: the session is over

    async def _set_remote(self, description: RTCSessionDescription) -> None:
        try:
            await self._pc.setRemoteDescription(description)
        except _DESCRIPTION_ERRORS as exc:
            kind = description.type
            raise PeerConnectionError(f"{self.name}: cannot apply the {kind}: {exc}") from None
        self._has_remote = True
        await self._flush_candidates()

    async def _flush_candidates(self) -> None:
        pending, self._pending_candidates = self._pending_candidates, []
        for candidate in pending:
            await self._pc.addIceCandidate(candidate)
        if self._pending_end:
            self._pending_end = False
            await self._pc.addIceCandidate(None)

    def _adopt_channel(self, channel: RTCDataChannel) -> None:
        label = channel.label
        reliable = label == RELIABLE_LABEL
        if label in (RELIABLE_LABEL, LOSSY_LABEL):
            self._channels.setdefault(label, channel)

        def on_message(message: bytes | str) -> None:
            if isinstance(message, bytes):
                self._on_message(message, reliable)
            else:
                _LOGGER.debug("%s: ignoring text message on %s", self.name, label)

        channel.on("message", on_message)
        channel.on("open", self._check_open)
        self._check_open()  # channels the remote side created may arrive already open

    def abort_wait(self) -> None:
        """Make a pending `wait_channels_open` fail now (the session is gone)."""
        self._aborted = True
        self._channels_open.set()

    def _check_open(self) -> None:
        if self.channel_open(True) and self.channel_open(False):
            self._channels_open.set()

    def _state_changed(self) -> None:
        _LOGGER.debug("%s peer connection %s", self.name, self._pc.connectionState)
        self._on_state(self._pc.connectionState)


def _ice_credentials(sdp: str) -> tuple[str, str]:
    """The ICE username fragment and password of a description (its first m-line)."""
    try:
        description = SessionDescription.parse(sdp)
        params = description.media[0].ice
        username = params.usernameFragment if params is not None else None
        password = params.password if params is not None else None
        if not username or not password:
            raise ValueError("no ICE username fragment or password")
    except (ValueError, IndexError, AttributeError, AssertionError) as exc:
        raise PeerConnectionError(f"malformed session description: {exc}") from None
    return str(username), str(password)


def parse_candidate(candidate_init: str) -> Any | None:
    """An aiortc candidate from the RTCIceCandidateInit JSON LiveKit trickles; None if empty."""
    try:
        init = json.loads(candidate_init)
        line: str = init.get("candidate") or ""
        if not line:
            return None
        candidate = candidate_from_sdp(
            line.split(":", 1)[1] if line.startswith("candidate:") else line
        )
    except (ValueError, TypeError, AttributeError, AssertionError, IndexError) as exc:
        raise PeerConnectionError(
            f"malformed ICE candidate {candidate_init[:120]!r}: {exc}"
        ) from None
    candidate.sdpMid = init.get("sdpMid")
    candidate.sdpMLineIndex = init.get("sdpMLineIndex")
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0
    return candidate
