"""MQTT topic layout, validation and matching — pure.

Every topic of one edge lives under a base, by default `edge/<identity>`:

    <base>/availability          "online" / "offline", retained (the Last Will says "offline")
    <base>/state                 the device twin as one JSON object, retained
    <base>/room/metadata         the LiveKit room's metadata, retained
    <base>/sensor/<sensor>       one reading: {"value", "unit", "time_us"}
    <base>/output/<output>       an output's current value, retained
    <base>/output/<output>/info  what Home Assistant shows of it: {"max_hold_s", ...}, retained
    <base>/input/<input>         an input's current reading, retained
    <base>/cmd/<method>[/<who>]  a command; the payload is the method's JSON payload
    <base>/reply/<method>[/<who>]  its answer: {"ok": true, "result"} or {"ok": false, "error"}

Home Assistant discovery configs go to `<prefix>/<component>/<node_id>/<object_id>/config`;
Home Assistant accepts only `[a-zA-Z0-9_-]` in node and object ids (`object_id` makes one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_TOPIC_BYTES = 65_535
"""The MQTT limit on a topic's UTF-8 length."""
_UNSAFE_LEVEL = re.compile(r"[^A-Za-z0-9_.-]+")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")


def topic_error(topic: str) -> str | None:
    """Why `topic` cannot be published to, or None when it can."""
    return _check(topic, wildcards=False)


def filter_error(topic_filter: str) -> str | None:
    """Why `topic_filter` cannot be subscribed to, or None when it can."""
    return _check(topic_filter, wildcards=True)


def _check(text: str, *, wildcards: bool) -> str | None:
    what = "topic filter" if wildcards else "topic"
    if not text:
        return f"{what} must not be empty"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return f"{what} is not valid Unicode text"
    if size > MAX_TOPIC_BYTES:
        return f"{what} is {size} bytes, over the {MAX_TOPIC_BYTES}-byte limit"
    if "\x00" in text:
        return f"{what} must not contain NUL"
    levels = text.split("/")
    for i, level in enumerate(levels):
        if not wildcards and ("+" in level or "#" in level):
            return f"{what} {text!r} must not contain wildcards (+ or #)"
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"{what} {text!r}: '#' must be a whole last level"
        if "+" in level and level != "+":
            return f"{what} {text!r}: '+' must be a whole level"
    return None


def matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches `topic_filter` (MQTT rules: `$` topics escape leading wildcards)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    want = topic_filter.split("/")
    got = topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(got) or (level != "+" and level != got[i]):
            return False
    return len(want) == len(got)


def matches_any(filters: tuple[str, ...], topic: str) -> bool:
    """Whether any of `filters` matches `topic`."""
    return any(matches(f, topic) for f in filters)


def level(name: str) -> str:
    """`name` made safe as one topic level (and as a Home Assistant object id)."""
    cleaned = _UNSAFE_LEVEL.sub("_", name).strip("_")
    return cleaned or "_"


def object_id(name: str) -> str:
    """`name` as a Home Assistant node or object id (`[a-zA-Z0-9_-]` only)."""
    cleaned = _UNSAFE_ID.sub("_", name).strip("_")
    return cleaned or "_"


def base_topic(template: str, identity: str) -> str:
    """The base topic: `template` with `{identity}` replaced by a topic-safe identity."""
    return template.replace("{identity}", level(identity)).rstrip("/")


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one edge, from its base and the discovery prefix."""

    base: str
    discovery_prefix: str = "homeassistant"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def room_metadata(self) -> str:
        return f"{self.base}/room/metadata"

    @property
    def commands(self) -> str:
        """The filter the bridge subscribes to for commands."""
        return f"{self.base}/cmd/#"

    def sensor(self, name: str) -> str:
        return f"{self.base}/sensor/{level(name)}"

    def output(self, name: str) -> str:
        return f"{self.base}/output/{level(name)}"

    def output_info(self, name: str) -> str:
        return f"{self.output(name)}/info"

    def input(self, name: str) -> str:
        return f"{self.base}/input/{level(name)}"

    def command(self, method: str, who: str = "") -> str:
        return f"{self.base}/cmd/{method}" + (f"/{level(who)}" if who else "")

    def reply(self, method: str, who: str = "") -> str:
        return f"{self.base}/reply/{method}" + (f"/{level(who)}" if who else "")

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """(method, who) of a command topic (who is "" when absent), else None."""
        prefix = f"{self.base}/cmd/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) > 2 or not parts[0] or (len(parts) == 2 and not parts[1]):
            return None
        return parts[0], parts[1] if len(parts) == 2 else ""

    def discovery(self, component: str, node: str, entity: str) -> str:
        """`node` and `entity` are made ids (see `object_id`)."""
        return f"{self.discovery_prefix}/{component}/{object_id(node)}/{object_id(entity)}/config"
