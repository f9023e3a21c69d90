"""PeerConnection: one aiortc RTCPeerConnection plus LiveKit's `_reliable`/`_lossy` channels.

aiortc's camelCase API and pyee events stop here; the Room sees snake_case methods and plain
callbacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp
from livekit.protocol import rtc as proto_rtc

from edge.errors import PeerConnectionError

_LOGGER = logging.getLogger(__name__)

RELIABLE_LABEL = "_reliable"
LOSSY_LABEL = "_lossy"
_ICE_SCHEMES = ("stun:", "turn:", "turns:")

MessageHandler = Callable[[bytes, bool], None]
"""Called with (data, reliable) for every binary data-channel message."""
KeyframeHandler = Callable[[], None]
"""Called when the remote side asks for a keyframe (RTCP PLI or FIR)."""
StateHandler = Callable[[str], None]
"""Called with the new connection state (`connecting`, `connected`, `failed`, `closed`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SctpTimers:
    """Retransmission timeouts of the SCTP association that carries the data channels.

    aiortc keeps RFC 4960's conservative values; libwebrtc (LiveKit's official SDKs, browsers)
    uses these. It matters on a lossy link: a reliable message whose retransmission is lost
    too waits for the timer, and every later message on the ordered channel waits behind it,
    so under 5 % loss aiortc's 1 s floor puts about a second on the p99 telemetry latency.
    """

    rto_initial_s: float = 0.5
    """Before the first round trip is measured (aiortc: 3 s; libwebrtc: 0.5 s)."""
    rto_min_s: float = 0.22
    """Floor of the computed timeout (aiortc: 1 s; libwebrtc: 0.22 s). It stays above the
    peer's delayed-ack time (pion, on the server: 200 ms for a lone packet)."""
    rto_max_s: float = 3.0
    """Ceiling (aiortc: 60 s; libwebrtc caps its timer backoff at 3 s), so a long stall
    does not leave the association waiting long after the link is back."""


SCTP_TIMERS = SctpTimers()
"""What every PeerConnection uses (see `tune_sctp`)."""


def tune_sctp(timers: SctpTimers = SCTP_TIMERS) -> None:
    """Set aiortc's SCTP timer constants: the one place we change aiortc's behaviour.

    They are module globals of `aiortc.rtcsctptransport`, read when a transport is created
    (the initial timeout) and at every round-trip update (floor and ceiling), so setting them
    before a peer connection negotiates applies to its association. Idempotent.
    """
    from aiortc import rtcsctptransport

    rtcsctptransport.SCTP_RTO_INITIAL = timers.rto_initial_s
    rtcsctptransport.SCTP_RTO_MIN = timers.rto_min_s  # type: ignore[assignment]
    rtcsctptransport.SCTP_RTO_MAX = timers.rto_max_s  # type: ignore[assignment]


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
    ) -> None:
        self.name = name
        tune_sctp()
        self._pc = RTCPeerConnection(configuration=configuration)
        self._on_message = on_message
        self._on_state = on_state
        self._channels: dict[str, RTCDataChannel] = {}
        self._pending_candidates: list[Any] = []
        self._pending_end = False
        self._has_remote = False
        self._channels_open = asyncio.Event()
        self._aborted = False
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
        await self._pc.setLocalDescription(await self._pc.createOffer())
        sdp: str = self._pc.localDescription.sdp
        return sdp

    async def set_answer(self, sdp: str) -> None:
        """Apply the server's answer to our offer."""
        await self._set_remote(RTCSessionDescription(sdp=sdp, type="answer"))

    async def answer_offer(self, sdp: str) -> str:
        """Apply a server offer and return our complete answer."""
        await self._set_remote(RTCSessionDescription(sdp=sdp, type="offer"))
        await self._pc.setLocalDescription(await self._pc.createAnswer())
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
        nothing for pre-encoded input: `on_keyframe_request` takes that role.
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
        return transceiver

    def stop_sender(self, handle: Any) -> None:
        """Stop sending on a handle from `add_sender`; the next offer marks its m-line inactive."""
        handle.direction = "inactive"
        if handle.sender.track is not None:
            handle.sender.track.stop()

    async def aclose(self) -> None:
        """Close the connection and its channels; idempotent."""
        await self._pc.close()

    async def _set_remote(self, description: RTCSessionDescription) -> None:
        await self._pc.setRemoteDescription(description)
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
