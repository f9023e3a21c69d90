"""LeanVideoSender: pre-encoded H.264 to the wire without aiortc's per-packet Python.

aiortc keeps what it does once per session or once a second: negotiation, DTLS and its SRTP
keys, the send loop's lifecycle (start, stop, track end), RTCP reception (PLI/FIR reach the
keyframe hook `peers.add_sender` installs) and its sender reports. Per frame, its send loop
asks `_next_encoded_frame` for a frame to packetise; here that call packetises the access unit
itself (`edge.protocol.h264_rtp`), protects each packet with the transport's SRTP session and
hands it straight to the selected ICE pair's datagram transport, then tells aiortc there is
nothing left to send. No object, coroutine or datetime per packet.

What aiortc would otherwise read from its own packet bookkeeping comes from here instead:
NACKs are answered from our bounded history (`_retransmit`), and the sender reports carry our
packet and octet counts and the latest frame's timestamps (`_send_rtcp`).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Protocol, runtime_checkable

from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket

from edge.livekit.ice import RestartableConnection
from edge.protocol.h264_rtp import H264Packetizer, RtpHistory, StreamIds, ntp_time

_LOGGER = logging.getLogger(__name__)

HISTORY_PACKETS = 512
"""Packets kept for NACKs: about 2 s of 720p30 at 2 Mbit/s (~270 packets/s), ~0.7 MB."""
_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_ICE_COMPONENT = 1


@runtime_checkable
class AccessUnitFeed(Protocol):
    """A track handing out Annex B access units (`EncodedVideoTrack` is one)."""

    async def next_access_unit(self) -> tuple[bytes, int]:
        """(access unit, microseconds since the first); MediaStreamError once ended."""
        ...


class LeanVideoSender:
    """Sends one track's access units for an aiortc `RTCRtpSender` (see `install`)."""

    def __init__(self, sender: Any, feed: AccessUnitFeed) -> None:
        self._sender = sender
        self._feed = feed
        self._aiortc_send = sender.send
        self._aiortc_send_rtcp = sender._send_rtcp
        self._packetizer: H264Packetizer | None = None
        self._history: RtpHistory | None = None
        self._warned = False
        self.packets_sent = 0
        self.octets_sent = 0
        """Payload octets, as a sender report counts them."""
        self.retransmitted = 0
        self._last_ntp = 0
        self._last_rtp = 0

    @classmethod
    def install(cls, sender: Any, feed: AccessUnitFeed) -> LeanVideoSender:
        """Take over the per-packet work of `sender` (before it starts) for `feed`."""
        lean = cls(sender, feed)
        sender.send = lean._start
        sender._next_encoded_frame = lean._next_encoded_frame
        sender._retransmit = lean._retransmit
        sender._send_rtcp = lean._send_rtcp
        return lean

    async def _start(self, parameters: Any) -> None:
        """aiortc's `send`: learn the negotiated ids (first call only), then start its loops."""
        if self._packetizer is None:
            self._configure(parameters)
        await self._aiortc_send(parameters)

    def _configure(self, parameters: Any) -> None:
        codec = parameters.codecs[0]
        ext = {e.uri: e.id for e in parameters.headerExtensions}
        ids = StreamIds(
            payload_type=codec.payloadType,
            ssrc=self._sender._ssrc,
            mid=parameters.muxId,
            mid_id=ext.get(_MID_URI, 0),
            abs_send_time_id=ext.get(_ABS_SEND_TIME_URI, 0),
        )
        rtx = next(
            (
                StreamIds(payload_type=c.payloadType, ssrc=self._sender._rtx_ssrc)
                for c in parameters.codecs
                if c.mimeType.lower() == "video/rtx"
                and str(c.parameters.get("apt")) == str(codec.payloadType)
            ),
            None,
        )
        # Lower half: no sequence-number rollover before the receiver has its first packet.
        self._packetizer = H264Packetizer(
            ids, first_sequence=secrets.randbelow(1 << 15), timestamp_origin=secrets.randbits(32)
        )
        self._history = RtpHistory(
            HISTORY_PACKETS, rtx=rtx, rtx_first_sequence=secrets.randbelow(1 << 15)
        )

    async def _next_encoded_frame(self, codec: Any) -> None:
        """aiortc's per-frame call: send the next access unit ourselves, leave it nothing."""
        del codec
        data, pts_us = await self._feed.next_access_unit()
        if self._sender._enabled and self._packetizer is not None:
            self._send_frame(self._packetizer, data, pts_us)

    def _send_frame(self, packetizer: H264Packetizer, data: bytes, pts_us: int) -> None:
        now = time.time()
        try:
            packets = packetizer.packetize(data, pts_us, send_time_s=now)
        except ValueError as exc:
            if not self._warned:
                self._warned = True
                _LOGGER.warning("video: dropping an access unit we cannot packetise: %s", exc)
            return
        self._send(packets)  # ConnectionError ends aiortc's send loop, as its own send would
        assert self._history is not None
        self._history.add(packets)
        self.packets_sent += len(packets)
        self.octets_sent += packetizer.payload_octets
        self._last_ntp = ntp_time(now)
        self._last_rtp = packetizer.timestamp(pts_us)

    def _send(self, packets: list[bytes]) -> None:
        """SRTP-protect and send each packet on the selected pair, now, without awaiting."""
        dtls = self._sender.transport
        if dtls.state != "connected":
            raise ConnectionError("cannot send RTP: DTLS is not connected")
        connection: RestartableConnection = dtls.transport._connection
        pair = connection.selected_pair(_ICE_COMPONENT)  # the previous one while ICE restarts
        if pair is None or pair.protocol.transport is None:
            raise ConnectionError("cannot send RTP: no ICE candidate pair selected")
        protect = dtls._tx_srtp.protect
        sendto = pair.protocol.transport.sendto
        address = pair.remote_addr
        for packet in packets:
            sendto(protect(packet), address)

    async def _retransmit(self, sequence_number: int) -> None:
        """aiortc's NACK handling, per lost packet: resend it if the history still holds it."""
        if self._history is None:
            return
        packet = self._history.retransmission(sequence_number)
        if packet is None:
            return
        try:
            self._send([packet])
        except ConnectionError:
            return  # the send loop ends on the same error with the next frame
        self.retransmitted += 1

    async def _send_rtcp(self, packets: list[Any]) -> None:
        """aiortc's report sending, with our counts in place of its (unused) ones."""
        ssrc = self._sender._ssrc
        await self._aiortc_send_rtcp(
            [
                RtcpSrPacket(ssrc=ssrc, sender_info=self._sender_info(), reports=p.reports)
                if isinstance(p, RtcpSrPacket) and p.ssrc == ssrc
                else p
                for p in packets
            ]
        )

    def _sender_info(self) -> RtcpSenderInfo:
        return RtcpSenderInfo(
            ntp_timestamp=self._last_ntp,
            rtp_timestamp=self._last_rtp,
            packet_count=self.packets_sent & 0xFFFFFFFF,
            octet_count=self.octets_sent & 0xFFFFFFFF,
        )
