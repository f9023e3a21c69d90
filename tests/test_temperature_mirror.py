"""The °C mirror: one key per sensor, a 1 °C deadband, one change per 10 s unless it jumps 5 °C."""

from __future__ import annotations

from edge.telemetry.codec import Sample
from edge.temperature_mirror import TemperatureMirror


def reading(value: float | str, unit: str = "°C", sensor: str = "soc") -> Sample:
    return Sample(sensor=sensor, value=value, unit=unit, time_us=0)


def test_the_first_reading_goes_in_then_small_moves_do_not() -> None:
    mirror = TemperatureMirror()
    assert mirror.changes(reading(48.26), 0.0) == {"edge.temperature.soc": "48.3"}
    for n in range(60):  # a minute of noise and drift under 1 °C
        assert mirror.changes(reading(48.26 + (0.9 if n % 2 else -0.9)), 1.0 + n) == {}


def test_a_move_of_a_degree_goes_in_at_most_once_per_10_s() -> None:
    mirror = TemperatureMirror()
    mirror.changes(reading(48.0), 0.0)
    assert mirror.changes(reading(49.0), 5.0) == {}  # too soon
    assert mirror.changes(reading(49.2), 10.0) == {"edge.temperature.soc": "49.2"}
    assert mirror.changes(reading(50.5), 15.0) == {}
    assert mirror.changes(reading(50.2), 19.9) == {}
    assert mirror.changes(reading(50.2), 20.0) == {"edge.temperature.soc": "50.2"}


def test_a_jump_of_5_degrees_goes_in_at_once() -> None:
    mirror = TemperatureMirror()
    mirror.changes(reading(48.0), 0.0)
    assert mirror.changes(reading(53.0), 0.5) == {"edge.temperature.soc": "53.0"}
    assert mirror.changes(reading(47.9), 1.0) == {"edge.temperature.soc": "47.9"}


def test_sensors_have_their_own_band_and_other_units_are_not_mirrored() -> None:
    mirror = TemperatureMirror()
    assert mirror.changes(reading(48.0), 0.0) == {"edge.temperature.soc": "48.0"}
    assert mirror.changes(reading(20.0, sensor="room"), 1.0) == {"edge.temperature.room": "20.0"}
    assert mirror.changes(reading(40.0, unit="%", sensor="humidity"), 0.0) == {}
    assert mirror.changes(reading("hot"), 30.0) == {}
    assert mirror.changes(reading(float("nan")), 30.0) == {}
