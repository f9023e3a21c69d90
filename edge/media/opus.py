"""Opus encoder: mono at a configured bitrate and complexity, through PyAV's libopus.

aiortc encodes any `av.AudioFrame` a track returns as stereo at a fixed 96 kbit/s (about
120 kbit/s on the wire). A Pi's uplink has better uses for that, so the audio track encodes
itself and hands aiortc `av.Packet`s, which its sender puts on the wire as they are (the same
path the camera's H.264 takes). The packets carry pts in 1/48000 s, Opus's RTP clock.
"""

from __future__ import annotations

import fractions
from typing import Any

import av

from edge.errors import MediaError

OPUS_RATE = 48_000
"""Opus's RTP clock and the rate libopus is fed at."""
FRAME_SAMPLES = OPUS_RATE // 50
"""20 ms per packet."""
OPUS_TIME_BASE = fractions.Fraction(1, OPUS_RATE)


class OpusEncoder:
    """PCM frames in, mono Opus packets out (one per 20 ms once libopus has its lookahead)."""

    def __init__(self, *, bitrate_kbps: int, complexity: int) -> None:
        try:
            codec: Any = av.CodecContext.create("libopus", "w")
        except Exception as exc:  # the library boundary: PyAV built without libopus
            raise MediaError(f"PyAV has no libopus encoder: {exc}") from exc
        codec.bit_rate = bitrate_kbps * 1000
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = OPUS_RATE
        codec.time_base = OPUS_TIME_BASE
        codec.options = {"application": "voip", "compression_level": str(complexity)}
        self._codec = codec
        self._resampler = av.AudioResampler(
            format="s16", layout="mono", rate=OPUS_RATE, frame_size=FRAME_SAMPLES
        )
        self._first_pts: int | None = None

    def encode(self, frame: av.AudioFrame) -> list[av.Packet[Any]]:
        """Packets for `frame` (none while libopus buffers), pts counted from the first one."""
        packets: list[av.Packet[Any]] = []
        for chunk in self._resampler.resample(frame):
            packets += self._codec.encode(chunk)
        for packet in packets:
            pts = packet.pts or 0
            if self._first_pts is None:
                self._first_pts = pts
            packet.pts = pts - self._first_pts
            packet.time_base = OPUS_TIME_BASE
        return packets

    @property
    def channels(self) -> int:
        """Channels in the encoded stream (always 1)."""
        return int(self._codec.layout.nb_channels)
