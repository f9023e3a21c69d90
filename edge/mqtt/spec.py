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
from dataclasses import dataclass, field

from edge import wire
from edge.mqtt.topics import filter_error, level, topic_error
from edge.toml_table import Table

HA_CALLER = re.compile(r"mqtt:[A-Za-z0-9_-]+")
DEFAULT_COMMANDS = wire.GPIO_METHODS


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttConfig:
    """The broker connection, the topic layout and the allow-lists."""

    host: str = "localhost"
    port: int = 1883
    tls: bool = False
    ca_file: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    client_id: str = ""
    """Empty: `edge-<identity>` (see `client_id_for`)."""
    base_topic: str = "edge/{identity}"
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    ha_caller: str = "mqtt:ha"
    """Home Assistant's commands arrive on `<base>/cmd/<method>/<who>` with this caller
    (`mqtt:<who>`); GPIO allow-lists must name it for HA to actuate."""
    input_period_s: float = 1.0
    keepalive_s: int = 30
    outbox_size: int = 1000
    commands: tuple[str, ...] = DEFAULT_COMMANDS
    """Methods accepted on `<base>/cmd/<method>`; anything else is refused without a call."""
    publish_allow: tuple[str, ...] = ()
    read_allow: tuple[str, ...] = ()
    forward: tuple[str, ...] = ()
    rpc_allow: tuple[str, ...] = ()

    def client_id_for(self, identity: str) -> str:
        return self.client_id or f"edge-{level(identity)}"


SCHEMA: Mapping[str, tuple[str, ...]] = {
    "mqtt": (
        "host", "port", "tls", "ca_file", "username", "password", "client_id", "base_topic",
        "discovery_prefix", "discovery", "ha_caller", "input_period_s", "keepalive_s",
        "outbox_size", "commands", "publish_allow", "read_allow", "forward", "rpc_allow",
    ),
}  # fmt: skip


def parse_mqtt(table: Table) -> MqttConfig:
    """Read the `[mqtt]` table; problems are recorded on `table`'s issue list."""
    d = MqttConfig()
    host = table.string("host", max_bytes=253) if table.has("host") else d.host
    if not host:
        table.issue("host", "must not be empty")
    tls = table.boolean("tls", d.tls)
    port = table.number("port", 8883 if tls else d.port, low=1, high=65535, integer=True)
    ca_file = table.string("ca_file", max_bytes=4096)
    if ca_file and not tls:
        table.issue("ca_file", "only used with tls = true")
    username = table.string("username", max_bytes=256)
    password = table.string("password", max_bytes=256)
    if password and not username:
        table.issue("password", "needs a username")
    client_id = table.string("client_id", max_bytes=128)
    base = table.string("base_topic", max_bytes=512) if table.has("base_topic") else d.base_topic
    _check_topic(table, "base_topic", base.replace("{identity}", "x"), wildcards=False)
    prefix = table.string("discovery_prefix", max_bytes=256) or d.discovery_prefix
    _check_topic(table, "discovery_prefix", prefix, wildcards=False)
    discovery = table.boolean("discovery", d.discovery)
    ha_caller = table.string("ha_caller", max_bytes=64) if table.has("ha_caller") else d.ha_caller
    if not HA_CALLER.fullmatch(ha_caller):
        table.issue("ha_caller", f"expected 'mqtt:' and letters, digits, _ or -, got {ha_caller!r}")
    input_period = table.number("input_period_s", d.input_period_s, low=0.05, high=3600.0)
    keepalive = table.number("keepalive_s", d.keepalive_s, low=5, high=3600, integer=True)
    outbox = table.number("outbox_size", d.outbox_size, low=1, high=100_000, integer=True)
    commands = table.strings("commands", d.commands)
    lists = {key: table.strings(key, ()) for key in ("publish_allow", "read_allow", "forward")}
    for key, filters in lists.items():
        for topic_filter in filters:
            _check_topic(table, key, topic_filter, wildcards=True)
    rpc_allow = table.strings("rpc_allow", ())
    table.check_unknown()
    return MqttConfig(
        host=host or d.host,
        port=int(port),
        tls=tls,
        ca_file=ca_file,
        username=username,
        password=password,
        client_id=client_id,
        base_topic=base,
        discovery_prefix=prefix,
        discovery=discovery,
        ha_caller=ha_caller,
        input_period_s=float(input_period),
        keepalive_s=int(keepalive),
        outbox_size=int(outbox),
        commands=commands,
        publish_allow=lists["publish_allow"],
        read_allow=lists["read_allow"],
        forward=lists["forward"],
        rpc_allow=rpc_allow,
    )


def _check_topic(table: Table, key: str, topic: str, *, wildcards: bool) -> None:
    error = filter_error(topic) if wildcards else topic_error(topic)
    if error is not None:
        table.issue(key, error)
