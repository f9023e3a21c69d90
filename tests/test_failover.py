"""Failover over a deployment's server URLs: sticky, hops quickly, then backs off."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.backoff import Backoff
from edge.failover import HOP_JITTER_S, Failover

A, B, C = "wss://a.example.org", "wss://b.example.org", "wss://c.example.org"


def failover(*urls: str, seed: int = 1) -> Failover:
    return Failover(urls, backoff=Backoff(rng=random.Random(seed)), rng=random.Random(seed))


def test_it_stays_on_the_url_that_works() -> None:
    f = failover(A, B)
    f.failed()
    assert f.current() == B
    f.joined()
    for _ in range(3):  # lost and rejoined: each loss moves on once, then B works again
        assert f.current() == B
        f.joined()
    assert f.current() == B


def test_each_untried_url_gets_a_quick_hop_then_the_round_backs_off() -> None:
    f = failover(A, B, C)
    hops = [f.failed(), f.failed()]
    assert f.current() == C
    assert all(0 <= d <= HOP_JITTER_S for d in hops)
    third = f.failed()  # all three failed in a row
    assert f.current() == A
    assert 0.5 <= third <= 1.0  # Backoff's first delay: 1 s with up to half jitter
    f.failed(), f.failed()
    assert 1.0 <= f.failed() <= 2.0  # the second round's end: the next backoff step


@given(st.lists(st.booleans(), max_size=40), st.integers(0, 2**32))
def test_with_one_url_it_is_exactly_the_daemons_backoff(outcomes: list[bool], seed: int) -> None:
    f = failover(A, seed=seed)
    reference, attempt = Backoff(rng=random.Random(seed)), 0
    for joined in outcomes:
        if joined:
            f.joined()
            attempt = 0
        assert f.failed() == reference.delay(attempt)
        attempt += 1
        assert f.current() == A
        assert not f.others


def test_the_token_endpoints_url_leads_and_a_repeated_offer_does_not_reset() -> None:
    f = failover(A, B)
    f.offer(C)
    assert f.urls == (C, A, B)
    assert f.current() == C
    f.failed()
    f.offer(C)  # the next join's token names it again: stay where the rotation is
    assert f.current() == A
    f.offer(B)  # a new offer starts there
    assert list(f.urls) == [B, A]
    assert f.current() == B
    f.offer("")
    assert f.current() == B


def test_repeated_urls_collapse_and_none_is_refused() -> None:
    assert failover(A, A, B).urls == (A, B)
    with pytest.raises(ValueError, match="at least one URL"):
        Failover(())
