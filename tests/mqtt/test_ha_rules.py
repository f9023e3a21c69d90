"""The Home Assistant rules checker catches what HA would ignore or misread."""

from __future__ import annotations

from tests.mqtt.ha_rules import problems

DEVICE = {"identifiers": ["edge_pi"], "name": "pi"}
GOOD = {"name": "soc", "unique_id": "edge_pi_soc", "state_topic": "e/pi/sensor/soc",
        "device": DEVICE, "unit_of_measurement": "°C", "device_class": "temperature",
        "state_class": "measurement"}  # fmt: skip


def test_a_good_config_and_its_abbreviated_form_pass() -> None:
    assert problems("homeassistant/sensor/pi/soc/config", GOOD) == []
    short = {"name": "soc", "uniq_id": "u", "stat_t": "t", "dev": {"ids": ["x"], "mf": "m"},
             "unit_of_meas": "°C", "dev_cla": "temperature", "stat_cla": "measurement"}  # fmt: skip
    assert problems("homeassistant/sensor/pi/soc/config", short) == []


def test_what_home_assistant_would_ignore_is_named() -> None:
    assert problems("homeassistant/sensor/pi.kitchen/soc/config", GOOD) == [
        "homeassistant/sensor/pi.kitchen/soc/config: HA's discovery topic matcher does not match it"
    ]
    topic = "homeassistant/sensor/pi/soc/config"
    assert problems(topic, {**GOOD, "unit_of_measurement": "%"}) == [
        f"{topic}: unit '%' is not valid for temperature: ['K', '°C', '°F']"
    ]
    assert problems(topic, {**GOOD, "stat_topic": "x"}) == [f"{topic}: unknown key 'stat_topic'"]
    missing = {k: v for k, v in GOOD.items() if k != "state_topic"}
    assert problems(topic, missing) == [f"{topic}: state_topic is required"]
    switch = "homeassistant/switch/pi/lamp/config"
    assert problems(switch, {"name": "lamp", "unique_id": "u", "device": DEVICE}) == [
        f"{switch}: command_topic is required"
    ]
