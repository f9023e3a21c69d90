"""The Opus adapter against PyAV's real libopus: mono packets near the configured bitrate."""

from __future__ import annotations

import fractions
import itertools
import math
import struct
from typing import Any

import av
import pytest

from edge.media.opus import FRAME_SAMPLES, OPUS_RATE, OPUS_TIME_BASE, OpusEncoder

SECONDS = 5


def tone_frames(seconds: int, *, rate: int = OPUS_RATE, channels: int = 1) -> list[av.AudioFrame]:
    """20 ms s16 frames of a 440 Hz tone with some noise-like overtones (harder than a sine)."""
    samples = rate // 50
    frames = []
    for n in range(seconds * 50):
        values = []
        for i in range(samples):
            t = (n * samples + i) / rate
            v = 0.4 * math.sin(2 * math.pi * 440 * t) + 0.2 * math.sin(2 * math.pi * 3173 * t * t)
            values += [int(v * 32767)] * channels
        frame = av.AudioFrame(
            format="s16", layout="mono" if channels == 1 else "stereo", samples=samples
        )
        frame.planes[0].update(struct.pack(f"<{len(values)}h", *values))
        frame.sample_rate = rate
        frame.pts = n * samples
        frame.time_base = fractions.Fraction(1, rate)
        frames.append(frame)
    return frames


def encode(encoder: OpusEncoder, frames: list[av.AudioFrame]) -> list[av.Packet[Any]]:
    return [packet for frame in frames for packet in encoder.encode(frame)]


@pytest.mark.parametrize("kbps", [16, 32, 64])
def test_the_stream_is_mono_near_the_configured_bitrate(kbps: int) -> None:
    encoder = OpusEncoder(bitrate_kbps=kbps, complexity=5)
    packets = encode(encoder, tone_frames(SECONDS))
    assert encoder.channels == 1
    # The TOC byte's s bit (RFC 6716 section 3.1) says stereo; every packet is mono.
    assert all(bytes(p)[0] & 0x04 == 0 for p in packets)
    payload_bits = sum(len(bytes(p)) for p in packets) * 8
    measured_kbps = payload_bits / (len(packets) * FRAME_SAMPLES / OPUS_RATE) / 1000
    assert 0.5 * kbps <= measured_kbps <= 1.25 * kbps


def test_a_higher_bitrate_spends_more_bytes() -> None:
    frames = tone_frames(2)
    low = sum(len(bytes(p)) for p in encode(OpusEncoder(bitrate_kbps=12, complexity=5), frames))
    high = sum(len(bytes(p)) for p in encode(OpusEncoder(bitrate_kbps=96, complexity=5), frames))
    assert high > 3 * low


def test_stereo_48k_and_16k_input_become_20ms_mono_packets_on_the_48k_clock() -> None:
    for rate, channels in ((OPUS_RATE, 2), (16_000, 1)):
        encoder = OpusEncoder(bitrate_kbps=32, complexity=0)
        packets = encode(encoder, tone_frames(1, rate=rate, channels=channels))
        assert len(packets) >= 48
        assert all(p.time_base == OPUS_TIME_BASE for p in packets)
        pts = [p.pts or 0 for p in packets]
        assert pts[0] == 0
        assert {b - a for a, b in itertools.pairwise(pts)} == {FRAME_SAMPLES}
        assert all(bytes(p)[0] & 0x04 == 0 for p in packets)
