"""The video track's keyframe hook, which aiortc calls from its RTCP handling."""

from __future__ import annotations

import pytest

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
