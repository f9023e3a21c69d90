"""Backoff: grows, caps, and jitters within bounds."""

from __future__ import annotations

import random

from edge.backoff import Backoff


def test_delays_grow_then_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.delay(10_000) == 30.0


def test_jitter_stays_within_the_stated_fraction() -> None:
    backoff = Backoff(base_s=2.0, cap_s=8.0, jitter=0.5, rng=random.Random(7))
    delays = [backoff.delay(3) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 100  # really randomised, so devices do not retry in lockstep
