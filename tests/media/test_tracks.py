"""The video track's keyframe hook, which aiortc calls from its RTCP handling."""

from __future__ import annotations

import fractions

import pytest
from aiortc.mediastreams import MediaStreamError

from edge.errors import MediaError
from edge.media.frames import EncodedFrame
from edge.media.tracks import EncodedVideoTrack


class BrokenSource:
    """A source whose encoder cannot be asked for a keyframe."""

    def __init__(self) -> None:
        self.asked = 0

    async def next_frame(self) -> EncodedFrame:
        raise AssertionError("not read here")

    def request_keyframe(self) -> None:
        self.asked += 1
        raise ModuleNotFoundError("No module named 'videodev2'")


def test_a_failing_keyframe_request_never_reaches_aiortc(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = BrokenSource()
    track = EncodedVideoTrack(source)
    track.request_keyframe()  # aiortc's PLI handling would close the transport on a raise
    track.request_keyframe()
    assert source.asked == 2
    assert caplog.text.count("asking the source for a keyframe failed") == 1
    assert track.readyState == "live"


class Frames:
    """A source handing out the given frames, counting keyframe requests."""

    def __init__(self, frames: list[tuple[bytes, bool]]) -> None:
        self._frames = [
            EncodedFrame(data=data, keyframe=key, timestamp_us=1_000_000 + i * 40_000)
            for i, (data, key) in enumerate(frames)
        ]
        self.asked = 0

    async def next_frame(self) -> EncodedFrame:
        if not self._frames:
            raise MediaError("source ended")
        return self._frames.pop(0)

    def request_keyframe(self) -> None:
        self.asked += 1


async def test_sending_starts_at_an_idr_and_counts_time_from_it() -> None:
    source = Frames([(b"p1", False), (b"p2", False), (b"idr", True), (b"p3", False)])
    track = EncodedVideoTrack(source)
    assert await track.next_access_unit() == (b"idr", 0)
    assert source.asked == 2  # one per frame dropped while waiting for the IDR
    assert await track.next_access_unit() == (b"p3", 40_000)
    assert track.frames_sent == 2


async def test_after_unmuting_sending_resumes_at_the_next_idr() -> None:
    source = Frames([(b"idr", True), (b"p1", False), (b"p2", False), (b"idr2", True)])
    track = EncodedVideoTrack(source)
    assert await track.next_access_unit() == (b"idr", 0)
    track.set_muted(True)
    track.set_muted(False)  # asks for an IDR at once
    assert source.asked == 1
    assert await track.next_access_unit() == (b"idr2", 120_000)
    assert source.asked == 3


async def test_a_failed_source_ends_the_track_with_aiortcs_error() -> None:
    source = Frames([])
    track = EncodedVideoTrack(source)
    with pytest.raises(MediaStreamError):
        await track.next_access_unit()
    assert track.readyState == "ended"
    assert isinstance(track.error, MediaError)


async def test_aiortcs_own_sender_gets_the_same_units_as_av_packets() -> None:
    track = EncodedVideoTrack(Frames([(b"\x00\x00\x01\x65", True), (b"\x00\x00\x01\x41", False)]))
    await track.recv()
    packet = await track.recv()
    assert bytes(packet) == b"\x00\x00\x01\x41"
    assert packet.pts == 40_000
    assert packet.time_base == fractions.Fraction(1, 1_000_000)
