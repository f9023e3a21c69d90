"""Per-caller RPC limits without I/O: concurrency, rate, the overall cap, bounded memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.protocol.rpc_limits import CallLimiter, CallLimits

LIMITS = CallLimits(per_caller=2, in_flight=3, rate_per_s=1.0, burst=4)


def test_a_caller_gets_at_most_per_caller_calls_in_flight() -> None:
    limiter = CallLimiter()
    assert limiter.admit("a", "m", LIMITS, 0.0) is None
    assert limiter.admit("a", "m", LIMITS, 0.0) is None
    refusal = limiter.admit("a", "m", LIMITS, 0.0)
    assert refusal == "'a' already has 2 m call(s) in flight"
    assert limiter.admit("b", "m", LIMITS, 0.0) is None  # others are not starved by 'a'
    limiter.release("a", "m")
    assert limiter.admit("a", "m", LIMITS, 0.0) is None


def test_the_method_has_an_overall_cap_across_callers() -> None:
    limiter = CallLimiter()
    for caller in "abc":
        assert limiter.admit(caller, "m", LIMITS, 0.0) is None
    refusal = limiter.admit("d", "m", LIMITS, 0.0)
    assert refusal == "3 m call(s) in flight already; try again shortly"
    assert limiter.admit("d", "other", LIMITS, 0.0) is None  # per method
    limiter.release("b", "m")
    assert limiter.admit("d", "m", LIMITS, 0.0) is None


def test_the_rate_allows_a_burst_then_refills_over_time() -> None:
    limiter = CallLimiter()
    results = []
    for _ in range(6):
        results.append(limiter.admit("a", "m", LIMITS, 10.0))
        limiter.release("a", "m")
    assert results[:4] == [None] * 4
    assert results[4] == "over 1 m call(s) per second for 'a'"
    assert limiter.admit("a", "m", LIMITS, 10.5) is not None
    assert limiter.admit("a", "m", LIMITS, 11.01) is None


def test_a_refused_call_counts_nothing_so_refusals_never_lock_a_caller_out() -> None:
    limiter = CallLimiter()
    for _ in range(1000):
        limiter.admit("a", "m", LIMITS, 0.0)  # 2 admitted, never released, the rest refused
    limiter.release("a", "m")
    limiter.release("a", "m")
    assert limiter.admit("a", "m", LIMITS, 100.0) is None


def test_the_table_of_callers_stays_bounded_however_many_identities_pass() -> None:
    limiter = CallLimiter(max_tracked=50)
    for n in range(10_000):
        assert limiter.admit(f"caller-{n}", "m", LIMITS, float(n)) is None
        limiter.release(f"caller-{n}", "m")
    assert limiter.tracked <= 50


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["admit", "release"]),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["m", "n"]),
            st.floats(0, 5),
        ),
        max_size=80,
    )
)
def test_admitted_calls_never_exceed_any_limit(
    steps: list[tuple[str, str, str, float]],
) -> None:
    limiter = CallLimiter()
    running: dict[tuple[str, str], int] = {}
    now = 0.0
    for action, caller, method, advance in steps:
        now += advance
        key = (caller, method)
        if action == "admit":
            if limiter.admit(caller, method, LIMITS, now) is None:
                running[key] = running.get(key, 0) + 1
        elif running.get(key):
            limiter.release(caller, method)
            running[key] -= 1
        assert all(count <= LIMITS.per_caller for count in running.values())
        for m in ("m", "n"):
            assert sum(c for (_, mm), c in running.items() if mm == m) <= LIMITS.in_flight
