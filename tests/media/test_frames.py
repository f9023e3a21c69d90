"""Pure helpers: the keyframe rate limiter and Annex-B NAL splitting."""

from __future__ import annotations

import pytest

from edge.media.frames import KeyframeLimiter, nal_types, nal_units
from tests.clock import Clock


def test_the_first_request_goes_through_and_a_burst_costs_one_more_idr() -> None:
    clock = Clock()
    forced: list[float] = []
    limiter = KeyframeLimiter(lambda: forced.append(clock.now), min_interval_s=0.5, clock=clock)
    limiter.request()
    clock.now += 0.1
    for _ in range(10):
        limiter.request()
        limiter.poll()
    assert forced == [100.0]
    clock.now += 0.39
    limiter.poll()
    assert forced == [100.0]
    clock.now += 0.02  # 0.51 s after the first
    limiter.poll()
    limiter.poll()
    assert forced == [100.0, pytest.approx(100.51)]
    assert limiter.forced == 2


def test_an_idr_from_the_encoder_answers_a_pending_request() -> None:
    clock = Clock()
    forced: list[float] = []
    limiter = KeyframeLimiter(lambda: forced.append(clock.now), clock=clock)
    limiter.request()
    limiter.request()  # pending
    limiter.saw_keyframe()  # the periodic IDR came first
    clock.now += 10
    limiter.poll()
    assert forced == [100.0]


def test_without_requests_poll_forces_nothing() -> None:
    forced: list[int] = []
    limiter = KeyframeLimiter(lambda: forced.append(1), clock=Clock())
    limiter.poll()
    assert (forced, limiter.forced) == ([], 0)


def test_nal_units_with_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\x42\xc0\x1e\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88\x84"
    assert list(nal_units(data)) == [b"\x67\x42\xc0\x1e", b"\x68\xce", b"\x65\x88\x84"]
    assert nal_types(data) == [7, 8, 5]
    assert nal_types(b"") == []
