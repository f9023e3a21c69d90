"""Topic layout, validation and MQTT matching."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.mqtt.topics import Topics, base_topic, filter_error, level, matches, topic_error

LEVEL = st.text(alphabet="abc$/ +#", min_size=0, max_size=6).filter(
    lambda s: "/" not in s and "+" not in s and "#" not in s
)
TOPIC = st.lists(LEVEL, min_size=1, max_size=5).map("/".join)


def test_layout_under_the_base() -> None:
    t = Topics(base_topic("edge/{identity}", "pi 4/kitchen"))
    assert t.base == "edge/pi_4_kitchen"
    assert t.availability == "edge/pi_4_kitchen/availability"
    assert t.state == "edge/pi_4_kitchen/state"
    assert t.sensor("soc temp") == "edge/pi_4_kitchen/sensor/soc_temp"
    assert t.command("gpio.set") == "edge/pi_4_kitchen/cmd/gpio.set"
    assert t.reply("gpio.set", "ha") == "edge/pi_4_kitchen/reply/gpio.set/ha"
    assert t.discovery("switch", "pi", "relay") == "homeassistant/switch/pi/relay/config"


def test_command_topics_parse_back() -> None:
    t = Topics("edge/pi")
    assert t.parse_command("edge/pi/cmd/gpio.set") == ("gpio.set", "")
    assert t.parse_command("edge/pi/cmd/gpio.set/ha") == ("gpio.set", "ha")
    for other in ("edge/pi/cmd/", "edge/pi/cmd/a/b/c", "edge/pi/state", "edge/pix/cmd/a"):
        assert t.parse_command(other) is None


def test_validation_says_what_is_wrong() -> None:
    assert topic_error("a/b") is None
    assert topic_error("a/+") == "topic 'a/+' must not contain wildcards (+ or #)"
    assert topic_error("") == "topic must not be empty"
    assert topic_error("a\x00") == "topic must not contain NUL"
    assert topic_error("\udc80") == "topic is not valid Unicode text"
    assert filter_error("a/#") is None
    assert filter_error("a/#/b") == "topic filter 'a/#/b': '#' must be a whole last level"
    assert filter_error("a/b+") == "topic filter 'a/b+': '+' must be a whole level"


def test_matching_follows_mqtt_rules() -> None:
    assert matches("a/+/c", "a/b/c")
    assert not matches("a/+/c", "a/b/d")
    assert matches("a/#", "a")
    assert matches("a/#", "a/b/c")
    assert not matches("a/+", "a/b/c")
    assert matches("+/+", "/x")
    assert not matches("#", "$SYS/broker")
    assert matches("$SYS/#", "$SYS/broker")


@given(TOPIC)
def test_every_topic_matches_itself_and_hash(topic: str) -> None:
    assert matches(topic, topic)
    assert matches("#", topic) != topic.startswith("$")


@given(TOPIC, TOPIC)
def test_plus_matches_exactly_one_level(a: str, b: str) -> None:
    levels = a.split("/")
    pattern = "/".join(["+"] * len(levels))
    assert matches(pattern, a) != a.startswith("$")
    if len(b.split("/")) != len(levels):
        assert not matches(pattern, b)


@given(st.text(max_size=30))
def test_level_is_always_one_safe_level(name: str) -> None:
    cleaned = level(name)
    assert cleaned
    assert topic_error(cleaned) is None
    assert "/" not in cleaned
