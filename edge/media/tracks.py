"""aiortc tracks over our sources: H.264 access units passed through, PCM for Opus.

The camera's hardware encoder output goes to the wire untouched (no decode, no re-encode):
`edge.livekit.video_sender` packetises the access units itself; aiortc's own sender, which
takes them as `av.Packet`s from `recv`, remains for a peer connection without that hook.
Keyframe requests from viewers (PLI/FIR, a new subscriber, unmute) go back to the source,
which asks its encoder for an IDR.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from edge.errors import MediaError

if TYPE_CHECKING:
    from edge.media.frames import EncodedFrame, PcmFrame
    from edge.media.opus import OpusEncoder

_LOGGER = logging.getLogger(__name__)

MICROSECONDS = fractions.Fraction(1, 1_000_000)


T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _Feed(Protocol[T_co]):
    async def next_frame(self) -> T_co: ...


class EncodedFeed(Protocol):
    """What the video track needs of a source (`frames.VideoSource` has it)."""

    async def next_frame(self) -> EncodedFrame: ...

    def request_keyframe(self) -> None: ...


class PcmFeed(Protocol):
    """What the audio track needs of a source (`frames.AudioSource` has it)."""

    async def next_frame(self) -> PcmFrame: ...


class _SourceTrack(MediaStreamTrack, Generic[T]):
    """A track pulling from one source; ends (and says why) when the source fails."""

    def __init__(self, source: _Feed[T]) -> None:
        super().__init__()
        self._feed = source
        self._muted = False
        self.error: MediaError | None = None
        """Why the track ended, if its source failed."""
        self.ended = asyncio.Event()
        """Set when the track ends (source failure or stop)."""

    def stop(self) -> None:
        """End the track (aiortc's sender stops reading it)."""
        super().stop()
        self.ended.set()

    async def _next(self) -> T:
        """The source's next item; MediaStreamError (aiortc's "track ended") once it fails."""
        if self.readyState != "live":
            raise MediaStreamError
        try:
            return await self._feed.next_frame()
        except MediaError as exc:
            if self.error is None:
                _LOGGER.warning("%s track ended: %s", self.kind, exc)
                self.error = exc
            self.stop()
            raise MediaStreamError from None


class EncodedVideoTrack(_SourceTrack["EncodedFrame"]):
    """Video track whose frames are the source's encoded H.264 access units."""

    kind = "video"

    def __init__(self, source: EncodedFeed) -> None:
        super().__init__(source)
        self._source = source
        self._awaiting_keyframe = True
        """A decoder can only start at an IDR: drop until one comes (first frame, unmute)."""
        self._origin_us: int | None = None
        self._warned_keyframe = False
        self.frames_sent = 0

    def request_keyframe(self) -> None:
        """A viewer lost the picture or just arrived; the source rate-limits these.

        aiortc calls this from its RTCP handling (the PLI hook): nothing raised may reach it,
        where it would close the transport (media and data channels). Caught, logged once.
        """
        try:
            self._source.request_keyframe()
        except Exception:  # the library boundary
            if not self._warned_keyframe:
                self._warned_keyframe = True
                _LOGGER.exception("video track: asking the source for a keyframe failed")

    def set_muted(self, muted: bool) -> None:
        """While muted nothing is sent; after unmuting, sending resumes at an IDR."""
        if muted == self._muted:
            return
        self._muted = muted
        if not muted:
            self._awaiting_keyframe = True
            self._source.request_keyframe()

    async def next_access_unit(self) -> tuple[bytes, int]:
        """The next access unit to send and its time in microseconds since the first one.

        Muted frames are skipped, and so is everything before an IDR (first frame, unmute).
        Raises aiortc's MediaStreamError once the track has ended.
        """
        while True:
            frame = await self._next()
            if self._muted:
                continue
            if self._awaiting_keyframe:
                if not frame.keyframe:
                    self._source.request_keyframe()
                    continue
                self._awaiting_keyframe = False
            if self._origin_us is None:
                self._origin_us = frame.timestamp_us
            self.frames_sent += 1
            return frame.data, frame.timestamp_us - self._origin_us

    async def recv(self) -> Any:
        """The next access unit as an `av.Packet` (aiortc's own sender; see `video_sender`)."""
        data, pts_us = await self.next_access_unit()
        packet = av.Packet(data)
        packet.pts = pts_us
        packet.time_base = MICROSECONDS
        return packet


class PcmAudioTrack(_SourceTrack["PcmFrame"]):
    """Audio track of the source's 20 ms PCM frames, as Opus packets from `encoder`.

    Without an encoder aiortc encodes the PCM itself (stereo, 96 kbit/s).
    """

    kind = "audio"

    def __init__(self, source: PcmFeed, encoder: OpusEncoder | None = None) -> None:
        super().__init__(source)
        self._samples = 0
        self._encoder = encoder
        self._pending: collections.deque[av.Packet[Any]] = collections.deque()

    def request_keyframe(self) -> None:
        """Audio has no keyframes."""

    def set_muted(self, muted: bool) -> None:
        """While muted the microphone's frames are read and dropped."""
        self._muted = muted

    async def recv(self) -> Any:
        """The next 20 ms: an Opus `av.Packet`, or without an encoder an `av.AudioFrame`."""
        while self._encoder is not None:
            if self._pending:
                return self._pending.popleft()
            self._pending.extend(self._encoder.encode(await self._next_pcm()))
        return await self._next_pcm()

    async def _next_pcm(self) -> av.AudioFrame:
        """The next unmuted 20 ms as an `av.AudioFrame` (s16); timestamps count samples."""
        while True:
            pcm = await self._next()
            pts = self._samples
            self._samples += pcm.samples  # time runs on while muted
            if self._muted:
                continue
            frame = av.AudioFrame(
                format="s16", layout="mono" if pcm.channels == 1 else "stereo", samples=pcm.samples
            )
            frame.planes[0].update(pcm.data)
            frame.sample_rate = pcm.sample_rate
            frame.pts = pts
            frame.time_base = fractions.Fraction(1, pcm.sample_rate)
            return frame
