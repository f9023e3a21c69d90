"""DeafnessWatch: data held without delivery past the bound is deafness; progress is not."""

from __future__ import annotations

from edge.livekit.liveness import DeafnessWatch, StreamSample


def sample(held: int, delivered: int, *, overflowed: bool = False) -> list[StreamSample]:
    return [StreamSample("subscriber SCTP stream 1", held, delivered, overflowed)]


def test_data_held_without_delivery_past_the_bound_is_deaf() -> None:
    watch = DeafnessWatch(deaf_after_s=10)
    assert watch.check(sample(3, 40), now=100) is None
    assert watch.check(sample(9, 40), now=109.9) is None
    reason = watch.check(sample(12, 40), now=110)
    assert reason == (
        "subscriber SCTP stream 1 holds 12 undelivered chunk(s) and delivered nothing for 10 s"
    )


def test_a_busy_stream_that_keeps_delivering_is_not_deaf() -> None:
    watch = DeafnessWatch(deaf_after_s=10)
    for t in range(0, 100, 5):
        assert watch.check(sample(5, t), now=t) is None  # always holding, always delivering


def test_an_emptied_stream_or_a_reset_starts_the_clock_again() -> None:
    watch = DeafnessWatch(deaf_after_s=10)
    watch.check(sample(1, 0), now=0)
    assert watch.check(sample(0, 0), now=8) is None
    assert watch.check(sample(1, 0), now=9) is None
    assert watch.check(sample(1, 0), now=18) is None
    watch.reset()  # e.g. the session was resuming meanwhile
    assert watch.check(sample(1, 0), now=25) is None
    assert watch.check(sample(1, 0), now=35) is not None


def test_an_overflowed_stream_is_deaf_at_once() -> None:
    reason = DeafnessWatch().check(sample(0, 7, overflowed=True), now=0)
    assert reason == "subscriber SCTP stream 1 overflowed its reassembly bound and dropped data"
