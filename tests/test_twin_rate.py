"""The twin-rate benchmark runs on the demo config and sees the deadband's effect."""

from __future__ import annotations

from tools.benchmarks.twin_rate import MIRRORS, demo_sensors, measure


def test_the_demo_config_has_a_celsius_sensor_and_the_deadband_sends_less() -> None:
    assert any(sensor.unit == "°C" for sensor, _period in demo_sensors())
    before, now = (measure(mirror(), minutes=3) for mirror in MIRRORS.values())
    assert before.per_minute > 20  # a reading a second, coalesced to one update per 2 s
    assert now.per_minute < before.per_minute / 2
