"""The [mqtt] config section."""

from __future__ import annotations

from edge.mqtt.spec import SCHEMA, MqttConfig, parse_mqtt
from edge.toml_table import Table


def parse(data: dict[str, object]) -> tuple[MqttConfig, list[str]]:
    issues: list[str] = []
    config = parse_mqtt(Table("mqtt", data, issues, SCHEMA))
    return config, issues


def test_defaults_and_tls_port() -> None:
    config, issues = parse({})
    assert issues == []
    assert (config.host, config.port, config.base_topic) == ("localhost", 1883, "edge/{identity}")
    assert config.client_id_for("pi 1") == "edge-pi_1"
    config, _ = parse({"tls": True})
    assert config.port == 8883


def test_password_is_never_shown() -> None:
    config, issues = parse({"username": "edge", "password": "hunter2"})
    assert issues == []
    assert "hunter2" not in repr(config)


def test_problems_are_reported_with_paths() -> None:
    _, issues = parse(
        {
            "port": 0,
            "password": "x",
            "publish_allow": ["a/#/b"],
            "base_topic": "edge/+",
            "hots": "x",
        }
    )
    # Each key's own problems in declaration order, then problems between keys.
    assert issues == [
        "mqtt.port: expected an integer from 1 to 65535, got 0",
        "mqtt.base_topic: topic 'edge/+' must not contain wildcards (+ or #)",
        "mqtt.publish_allow: topic filter 'a/#/b': '#' must be a whole last level",
        "mqtt.password: needs a username",
        "mqtt.hots: unknown key (did you mean 'host'?)",
    ]


def test_the_home_assistant_caller_is_an_mqtt_identity() -> None:
    config, issues = parse({"ha_caller": "mqtt:homeassistant", "input_period_s": 0.5})
    assert issues == []
    assert (config.ha_caller, config.input_period_s) == ("mqtt:homeassistant", 0.5)
    assert parse({})[0].ha_caller == "mqtt:ha"
    _, issues = parse({"ha_caller": "ha/x"})
    assert issues == ["mqtt.ha_caller: expected 'mqtt:' and letters, digits, _ or -, got 'ha/x'"]
