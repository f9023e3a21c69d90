"""The [telemetry] config section: defaults, sensors by kind, every mistake by dotted path."""

from __future__ import annotations

import tomllib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.telemetry.spec import SCHEMA, SensorKind, SensorSpec, TelemetryConfig, parse_telemetry
from edge.toml_table import Table


def parse(text: str) -> tuple[TelemetryConfig, list[str]]:
    return parse_data(tomllib.loads(text).get("telemetry", {}))


def parse_data(data: dict[str, Any]) -> tuple[TelemetryConfig, list[str]]:
    issues: list[str] = []
    config = parse_telemetry(Table("telemetry", data, issues, SCHEMA))
    return config, issues


def test_an_empty_section_gives_the_defaults() -> None:
    config, issues = parse("")
    assert issues == []
    assert config == TelemetryConfig()
    assert (config.spool_path, config.spool_max_rows) == ("edge-telemetry.sqlite3", 100_000)
    assert (config.batch_window_s, config.topic, config.events_topic) == (
        0.5,
        "edge.telemetry",
        "edge.events",
    )


def test_sensors_of_every_kind() -> None:
    config, issues = parse(
        """
        [telemetry]
        spool_path = "/var/lib/edge/spool.db"
        spool_max_rows = 5000
        batch_window_s = 1
        topic = "t"
        events_topic = ""

        [[telemetry.sensors]]
        name = "soc"
        kind = "soc_temperature"
        period_s = 2

        [[telemetry.sensors]]
        name = "root"
        kind = "disk"
        path = "/data"

        [[telemetry.sensors]]
        name = "wifi"
        kind = "wifi_signal"
        interface = "wlan1"

        [[telemetry.sensors]]
        name = "co2"
        kind = "python"
        target = "my_sensors.scd30:read_co2"
        unit = "ppm"

        [[telemetry.sensors]]
        name = "sim"
        kind = "simulated"
        mean = 20
        amplitude = 5
        seed = 7
        """
    )
    assert issues == []
    assert config.spool_max_rows == 5000
    assert config.events_topic == ""
    assert [s.kind for s in config.sensors] == [
        SensorKind.SOC_TEMPERATURE,
        SensorKind.DISK,
        SensorKind.WIFI_SIGNAL,
        SensorKind.PYTHON,
        SensorKind.SIMULATED,
    ]
    assert config.sensors[0] == SensorSpec(name="soc", kind=SensorKind.SOC_TEMPERATURE, period_s=2)
    assert config.sensors[1].path == "/data"
    assert config.sensors[2].interface == "wlan1"
    assert (config.sensors[3].target, config.sensors[3].unit) == (
        "my_sensors.scd30:read_co2",
        "ppm",
    )
    assert (config.sensors[4].mean, config.sensors[4].seed) == (20.0, 7)


def test_every_mistake_is_named_by_its_path() -> None:
    _, issues = parse(
        """
        [telemetry]
        spool_max_rows = 10
        topic = "x"
        events_topic = "x"
        colour = "red"

        [[telemetry.sensors]]
        name = "a"
        kind = "soc_temperature"

        [[telemetry.sensors]]
        name = "a"
        kind = "thermometer"
        period_s = 0

        [[telemetry.sensors]]
        kind = "python"
        target = "not a target"
        path = "/"
        """
    )
    assert issues == [
        "telemetry.sensors[1].kind: expected one of soc_temperature, cpu_load, memory, disk, "
        "wifi_signal, throttled, simulated, python, gpio, got 'thermometer'",
        "telemetry.sensors[1].period_s: expected a number from 0.05 to 86400, got 0",
        "telemetry.sensors[2].name: required",
        "telemetry.sensors[2].path: does not apply to a python sensor",
        "telemetry.sensors[2].target: expected 'module:function', got 'not a target'",
        "telemetry.spool_max_rows: expected an integer from 100 to 100000000, got 10",
        "telemetry.events_topic: must differ from topic",
        "telemetry.colour: unknown key",
    ]


def test_duplicate_sensor_names_are_refused() -> None:
    _, issues = parse(
        """
        [[telemetry.sensors]]
        name = "a"
        kind = "cpu_load"
        [[telemetry.sensors]]
        name = "a"
        kind = "memory"
        """
    )
    assert issues == ["telemetry.sensors: sensor name 'a' is used more than once"]


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.just([])
)
keys = st.sampled_from([*SCHEMA["telemetry.sensors[]"], "bogus"])


@given(
    st.dictionaries(st.sampled_from([*SCHEMA["telemetry"], "x"]), scalars, max_size=6),
    st.lists(st.dictionaries(keys, scalars, max_size=6), max_size=3),
)
def test_any_input_parses_or_reports_issues_never_crashes(
    top: dict[str, Any], sensors: list[dict[str, Any]]
) -> None:
    data = {k: v for k, v in top.items() if v is not None}
    data["sensors"] = [{k: v for k, v in s.items() if v is not None} for s in sensors]
    config, issues = parse_data(data)
    assert all(i.startswith("telemetry") for i in issues)
    if not issues:
        assert len(config.sensors) == len(sensors)


def test_keys_a_kind_requires_are_reported_by_path() -> None:
    _, issues = parse(
        """
        [[telemetry.sensors]]
        name = "p"
        kind = "python"
        [[telemetry.sensors]]
        name = "g"
        kind = "gpio"
        [[telemetry.sensors]]
        name = "k"
        """
    )
    assert issues == [
        "telemetry.sensors[0].target: required",
        "telemetry.sensors[1].input: required",
        "telemetry.sensors[2].kind: required",
    ]
