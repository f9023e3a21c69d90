"""The soak run's arithmetic: deaf periods, RSS slope, lost readings."""

from __future__ import annotations

from tools.benchmarks.soak_figures import Cut, Probe, deaf_periods, growth_per_hour, missing

CONNECTED = [(0.0, "connected")]


def _probes(fail_from: float, fail_to: float, until: float = 60.0) -> list[Probe]:
    return [Probe(float(t), not fail_from <= t < fail_to) for t in range(int(until))]


def test_failed_probes_while_claiming_connected_are_a_deaf_period() -> None:
    [period] = deaf_periods(_probes(10, 20), CONNECTED, [], timeout_s=3.0, min_s=5.0, heal_s=20.0)
    assert (period.start_s, period.end_s, period.failed_probes) == (10.0, 22.0, 10)


def test_a_short_run_of_failures_is_noise() -> None:
    assert deaf_periods(_probes(10, 11), CONNECTED, [], timeout_s=3.0, min_s=5.0, heal_s=20.0) == []


def test_failures_while_the_edge_says_it_is_reconnecting_are_not_deaf() -> None:
    timeline = [(0.0, "connected"), (9.0, "reconnecting"), (21.0, "connected")]
    assert deaf_periods(_probes(10, 20), timeline, [], timeout_s=3.0, min_s=5.0, heal_s=20.0) == []


def test_a_cut_excuses_failures_until_the_edge_is_back() -> None:
    timeline = [(0.0, "connected"), (25.0, "reconnecting"), (40.0, "connected")]
    cuts = [Cut(10.0, 30.0)]
    assert (
        deaf_periods(_probes(10, 40), timeline, cuts, timeout_s=3.0, min_s=5.0, heal_s=20.0) == []
    )
    # Still failing long after it said it was back: deaf.
    [period] = deaf_periods(_probes(10, 55), timeline, cuts, timeout_s=3.0, min_s=5.0, heal_s=20.0)
    assert period.start_s == 41.0


def test_a_cut_the_edge_never_noticed_is_excused_for_heal_s_only() -> None:
    cuts = [Cut(10.0, 20.0)]
    assert (
        deaf_periods(_probes(10, 30), CONNECTED, cuts, timeout_s=3.0, min_s=5.0, heal_s=20.0) == []
    )
    [period] = deaf_periods(
        _probes(10, 60, until=70), CONNECTED, cuts, timeout_s=3.0, min_s=5.0, heal_s=20.0
    )
    assert period.start_s == 41.0


def test_rss_growth_is_the_slope_after_warm_up() -> None:
    samples = [(0.0, 50_000_000)] + [(t, 60_000_000 + int(t) * 1000) for t in range(10, 100, 10)]
    assert growth_per_hour(samples, warmup_s=10.0) == 3_600_000.0
    assert growth_per_hour(samples[:2], warmup_s=10.0) is None


def test_missing_readings() -> None:
    assert missing({1, 2, 4, 7}, 7) == [3, 5, 6]
