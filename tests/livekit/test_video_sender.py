"""Our H.264 sender under aiortc, over the loopback: aiortc's receiver decodes every frame.

Two of our PeerConnections with real ICE, DTLS and SRTP; the far end's aiortc receiver
depacketises and decodes what `LeanVideoSender` sends, its RTCP (NACK, PLI, reports) comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import itertools
import struct
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest

from edge.livekit.peers import PeerConnection
from edge.livekit.video_sender import HISTORY_PACKETS, LeanVideoSender
from edge.media.frames import EncodedFrame
from edge.media.synthetic import pattern_picture
from edge.media.tracks import EncodedVideoTrack
from tests.helpers import assert_eventually
from tests.livekit.conftest import MakePeer

WIDTH, HEIGHT, FRAMES = 320, 240, 12


def encoded_clip() -> list[tuple[bytes, bool]]:
    """FRAMES + 1 access units from libx264 (IDR first), Annex B as a camera's encoder gives
    them. aiortc's jitter buffer releases a frame when the next one starts: one more to send."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "qp=12"}
    units = []
    for index in range(FRAMES + 1):
        picture = pattern_picture(WIDTH, HEIGHT, index)
        picture.pts = index
        units += [(bytes(p), p.is_keyframe) for p in codec.encode(picture)]
    units += [(bytes(p), p.is_keyframe) for p in codec.encode(None)]
    assert units[0][1], "the clip starts at an IDR"
    return units


class ClipSource:
    """Hands out the clip once, then waits (a camera that stopped delivering), or in a loop."""

    def __init__(self, units: list[tuple[bytes, bool]], *, loop: bool = False) -> None:
        self._units = list(units)
        self._loop = loop
        self._index = 0
        self.keyframes_asked = 0

    @property
    def read(self) -> int:
        """Access units handed out so far."""
        return self._index

    async def next_frame(self) -> EncodedFrame:
        if self._index >= len(self._units) and not self._loop:
            await asyncio.Event().wait()
        data, keyframe = self._units[self._index % len(self._units)]
        self._index += 1
        await asyncio.sleep(0.005)
        return EncodedFrame(data=data, keyframe=keyframe, timestamp_us=self._index * 33_333)

    def request_keyframe(self) -> None:
        self.keyframes_asked += 1


Setup = tuple[PeerConnection, PeerConnection, Any, ClipSource, list[tuple[int, int, bytes]]]


@contextlib.asynccontextmanager
async def connected(make_peer: MakePeer, source: ClipSource) -> AsyncIterator[Setup]:
    """Publisher with our video track, subscriber recording every RTP packet it receives."""
    track = EncodedVideoTrack(source)
    offerer, answerer = make_peer("publisher", []), make_peer("subscriber", [])
    arrived: list[tuple[int, int, bytes]] = []
    try:
        handle = offerer.add_sender(
            track,
            mime_type="video/H264",
            prefer={"packetization-mode": "1"},
            on_keyframe_request=track.request_keyframe,
        )
        offerer.create_data_channels()
        await offerer.set_answer(await answerer.answer_offer(await offerer.create_offer()))
        receiver = answerer._pc.getTransceivers()[0].receiver
        handle_rtp = receiver._handle_rtp_packet

        async def recording(packet: Any, arrival_time_ms: int) -> None:
            arrived.append((packet.ssrc, packet.sequence_number, packet.payload[:2]))
            await handle_rtp(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = recording  # type: ignore[method-assign]
        yield offerer, answerer, handle, source, arrived
    finally:
        await offerer.aclose()
        await answerer.aclose()


@pytest.fixture
async def publishing(make_peer: MakePeer) -> AsyncIterator[Setup]:
    """The clip published once."""
    async with connected(make_peer, ClipSource(encoded_clip())) as setup:
        yield setup


async def test_the_far_end_decodes_every_frame_we_packetise(publishing: Setup) -> None:
    offerer, answerer, handle, _, arrived = publishing
    lean = offerer.video_sender(handle)
    assert isinstance(lean, LeanVideoSender)
    remote = answerer._pc.getTransceivers()[0].receiver.track
    pictures: list[Any] = []
    async with asyncio.timeout(20):
        while len(pictures) < FRAMES:
            pictures.append(await remote.recv())
    assert {(p.width, p.height) for p in pictures} == {(WIDTH, HEIGHT)}
    assert lean.packets_sent > FRAMES  # the IDR took several FU-A packets
    assert len(arrived) == lean.packets_sent
    sequences = [seq for _, seq, _ in arrived]
    assert all((b - a) % 65_536 == 1 for a, b in itertools.pairwise(sequences))
    assert {ssrc for ssrc, _, _ in arrived} == {handle.sender._ssrc}


async def test_a_nack_is_answered_from_the_history_on_the_rtx_stream(publishing: Setup) -> None:
    offerer, answerer, handle, source, arrived = publishing
    lean = offerer.video_sender(handle)
    assert lean is not None
    await assert_eventually(lambda: lean.packets_sent >= 10)
    receiver = answerer._pc.getTransceivers()[0].receiver
    first = arrived[0][1]
    lost = [first + 2, first + 5]
    await receiver._send_rtcp_nack(handle.sender._ssrc, lost)
    rtx_ssrc = handle.sender._rtx_ssrc
    resent = await assert_eventually(lambda: [a for a in arrived if a[0] == rtx_ssrc][:2])
    assert [struct.unpack("!H", osn)[0] for _, _, osn in resent] == lost
    assert lean.retransmitted == 2
    # a sequence number the history never held is not answered; a PLI sent after that NACK
    # shows when it has been handled
    asked = source.keyframes_asked
    await receiver._send_rtcp_nack(handle.sender._ssrc, [(first - HISTORY_PACKETS) % 65_536])
    await receiver._send_rtcp_pli(handle.sender._ssrc)
    await assert_eventually(lambda: source.keyframes_asked > asked)
    assert lean.retransmitted == 2


async def test_sender_reports_carry_our_counts(publishing: Setup) -> None:
    offerer, answerer, handle, _, _ = publishing
    lean = offerer.video_sender(handle)
    assert lean is not None
    receiver = answerer._pc.getTransceivers()[0].receiver
    await assert_eventually(lambda: lean.packets_sent > FRAMES)

    async def reported() -> Any:
        stats = await receiver.getStats()
        remote = [s for s in stats.values() if s.type == "remote-outbound-rtp"]
        return remote and remote[0].packetsSent == lean.packets_sent and remote[0]

    report: Any = await assert_eventually(reported, timeout=10)
    assert report.bytesSent == lean.octets_sent
    assert lean.octets_sent > sum(len(u) for u, _ in encoded_clip()) * 0.95


async def test_nothing_is_sent_while_the_m_line_is_inactive(make_peer: MakePeer) -> None:
    async with connected(make_peer, ClipSource(encoded_clip(), loop=True)) as setup:
        offerer, answerer, handle, source, _ = setup
        lean = offerer.video_sender(handle)
        assert lean is not None
        await assert_eventually(lambda: lean.packets_sent > 0)
        handle.direction = "inactive"
        await offerer.set_answer(await answerer.answer_offer(await offerer.create_offer()))
        sent, read = lean.packets_sent, source.read
        await assert_eventually(lambda: source.read > read + 5)  # frames read and dropped
        assert lean.packets_sent == sent


async def test_video_keeps_flowing_through_an_ice_restart(make_peer: MakePeer) -> None:
    async with connected(make_peer, ClipSource(encoded_clip(), loop=True)) as setup:
        offerer, answerer, handle, _, arrived = setup
        lean = offerer.video_sender(handle)
        assert lean is not None
        await assert_eventually(lambda: lean.packets_sent > 0)
        offerer.restart_ice()
        offer = await offerer.create_offer()
        during = lean.packets_sent
        await assert_eventually(lambda: lean.packets_sent > during + 20)  # on the previous pair
        await offerer.set_answer(await answerer.answer_offer(offer))
        await offerer.wait_ice_restarted(timeout_s=10)
        after = lean.packets_sent
        await assert_eventually(lambda: lean.packets_sent > after + 20)
        assert handle.sender.track.readyState == "live"
        await assert_eventually(lambda: len(arrived) >= after + 20)


async def test_aiortc_keeps_sending_a_video_track_without_access_units(
    make_peer: MakePeer,
) -> None:
    from aiortc import MediaStreamTrack

    class Frames(MediaStreamTrack):
        kind = "video"

        async def recv(self) -> Any:
            await asyncio.Event().wait()

    offerer = make_peer("publisher", [])
    try:
        handle = offerer.add_sender(Frames(), mime_type="video/H264")
        assert offerer.video_sender(handle) is None
    finally:
        await offerer.aclose()


async def test_aioice_sends_on_a_pair_through_its_protocols_transport() -> None:
    # LeanVideoSender calls `pair.protocol.transport.sendto` itself, as aioice's send_data
    # does for every pair (a relayed pair's transport is the TURN allocation's).
    from aioice.ice import StunProtocol

    sent: list[tuple[bytes, tuple[str, int]]] = []

    class Recorder:
        def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
            sent.append((data, addr))

    protocol = StunProtocol(receiver=None)  # type: ignore[arg-type]
    protocol.transport = Recorder()  # type: ignore[assignment]
    await protocol.send_data(b"srtp", ("192.0.2.1", 4000))
    assert sent == [(b"srtp", ("192.0.2.1", 4000))]
