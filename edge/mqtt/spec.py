"""MQTT specs: the `[mqtt]` config section as a frozen dataclass.

[mqtt]
host = "localhost"
port = 1883                    # default 8883 with tls = true
tls = false
ca_file = ""                   # CA bundle for tls; empty = the system's
username = ""
password = ""                  # secret; never logged
client_id = ""                 # empty = "edge-<identity>"
base_topic = "edge/{identity}" # every topic of this device lives under it
discovery_prefix = "homeassistant"
discovery = true               # publish Home Assistant discovery configs
ha_caller = "mqtt:ha"          # who Home Assistant's commands come from (for allow-lists)
input_period_s = 1.0           # how often inputs are read for `<base>/input/<name>`
keepalive_s = 30
outbox_size = 1000             # publishes held while the broker is away (oldest dropped)
commands = ["gpio.list", "gpio.set", "gpio.pulse", "gpio.read", "gpio.lease"]
publish_allow = []             # topic filters `mqtt.publish` may write
read_allow = []                # topic filters `mqtt.read` may read
forward = []                   # local topic filters forwarded into the room
rpc_allow = []                 # room identities (shell patterns) allowed mqtt.publish / mqtt.read
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from edge import wire
from edge.mqtt.topics import filter_error, level, topic_error
from edge.settings import known_keys, read_section, setting
from edge.toml_table import Table

HA_CALLER = re.compile(r"mqtt:[A-Za-z0-9_-]+")
DEFAULT_COMMANDS = wire.GPIO_METHODS


def _caller(who: str) -> str | None:
    ok = HA_CALLER.fullmatch(who)
    return None if ok else f"expected 'mqtt:' and letters, digits, _ or -, got {who!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttConfig:
    """The broker connection, the topic layout and the allow-lists."""

    host: str = setting("localhost", kind="string", max_bytes=253, doc="The broker; not empty.")
    tls: bool = setting(False, kind="bool", doc="Connect with TLS.")
    port: int = setting(
        1883,
        kind="int",
        low=1,
        high=65535,
        default_from=lambda read: 8883 if read["tls"] else 1883,
        shown_default="`1883`, `8883` with `tls = true`",
        doc="The broker's port.",
    )
    ca_file: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        doc="CA bundle for TLS; empty = the system's; only with `tls = true`.",
    )
    username: str = setting("", kind="string", max_bytes=256, doc="Broker login.")
    password: str = setting(
        "",
        kind="string",
        max_bytes=256,
        secret=True,
        doc="Needs a `username`; `edge check` warns when others can read the config file.",
    )
    client_id: str = setting("", kind="string", max_bytes=128, doc="Empty = `edge-<identity>`.")
    base_topic: str = setting(
        "edge/{identity}",
        kind="string",
        max_bytes=512,
        check=lambda base: topic_error(base.replace("{identity}", "x")),
        doc="Every topic of this device lives under it.",
    )
    discovery_prefix: str = setting(
        "homeassistant",
        kind="string",
        max_bytes=256,
        check=topic_error,
        doc="Home Assistant discovery prefix.",
    )
    discovery: bool = setting(
        True, kind="bool", doc="Publish Home Assistant MQTT discovery configs."
    )
    ha_caller: str = setting(
        "mqtt:ha",
        kind="string",
        max_bytes=64,
        check=_caller,
        doc="Home Assistant's caller identity (`mqtt:` and letters, digits, `_`, `-`); put it in"
        " `allow` lists.",
    )
    input_period_s: float = setting(
        1.0,
        kind="float",
        low=0.05,
        high=3600.0,
        doc="Inputs are also read this often for `input/<name>`.",
    )
    keepalive_s: int = setting(30, kind="int", low=5, high=3600, doc="MQTT keep-alive.")
    outbox_size: int = setting(
        1000,
        kind="int",
        low=1,
        high=100_000,
        doc="Publishes held while the broker is away (oldest dropped, counted).",
    )
    commands: tuple[str, ...] = setting(
        DEFAULT_COMMANDS,
        kind="strings",
        doc="Methods accepted on `<base>/cmd/<method>/<who>`; anything else is refused without"
        " a call.",
    )
    publish_allow: tuple[str, ...] = setting(
        (),
        kind="strings",
        check=filter_error,
        doc="Topic filters room participants may publish to with `mqtt.publish`.",
    )
    read_allow: tuple[str, ...] = setting(
        (),
        kind="strings",
        check=filter_error,
        doc="Topic filters whose last value `mqtt.read` returns.",
    )
    forward: tuple[str, ...] = setting(
        (),
        kind="strings",
        check=filter_error,
        doc="Local topic filters sent into the room (data packets, topic `mqtt/<topic>`).",
    )
    rpc_allow: tuple[str, ...] = setting(
        (),
        kind="strings",
        doc="Participant identities allowed to call `mqtt.publish` / `mqtt.read`.",
    )

    def client_id_for(self, identity: str) -> str:
        return self.client_id or f"edge-{level(identity)}"


SCHEMA: Mapping[str, tuple[str, ...]] = {"mqtt": known_keys(MqttConfig)}


def parse_mqtt(table: Table) -> MqttConfig:
    """Read the `[mqtt]` table; problems are recorded on `table`'s issue list."""
    values = read_section(table, MqttConfig)
    tls = values["tls"]
    if not values["host"]:
        table.issue("host", "must not be empty")
        values["host"] = "localhost"
    if values["ca_file"] and not tls:
        table.issue("ca_file", "only used with tls = true")
    if values["password"] and not values["username"]:
        table.issue("password", "needs a username")
    values["discovery_prefix"] = values["discovery_prefix"] or "homeassistant"
    if not values["ha_caller"]:
        table.issue("ha_caller", _caller("") or "")
    table.check_unknown()
    return MqttConfig(**values)
