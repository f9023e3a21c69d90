"""Telemetry specs: the `[telemetry]` config section as frozen dataclasses.

[telemetry]
spool_path = "edge-telemetry.sqlite3"   # relative: under the daemon's state directory
spool_max_rows = 100000     # spool bound; over it the oldest go (sent first, then unsent: counted)
batch_window_s = 0.5        # readings are gathered this long into one byte stream
max_batch_readings = 500    # most readings in one stream
confirm_after_s = 20.0      # a sent batch counts as delivered once the room stayed up this long
history_max_readings = 10000  # most readings one telemetry.history answer carries
history_allow = []          # who may call telemetry.history (shell patterns); empty = nobody
topic = "edge.telemetry"    # byte streams of msgpack batches (see edge.telemetry.codec)
events_topic = "edge.events"  # text streams of human-readable events; "" = off

[[telemetry.sensors]]
name = "soc"                # unique; the `sensor` field of each reading
kind = "soc_temperature"    # soc_temperature | cpu_load | memory | disk | wifi_signal |
                            # throttled | simulated | python | gpio
period_s = 5.0
path = "/"                  # disk: the file system to measure
interface = "wlan0"         # wifi_signal
target = "pkg.mod:read"     # python: a function taking no arguments, returning the value
input = "door"              # gpio: a [[gpio.inputs]] name (buttons/digital: changes too)
unit = ""                   # overrides the built-in unit (python, simulated)
mean = 0.0                  # simulated: mean + amplitude * sin(2π t / cycle_s) + noise
amplitude = 1.0
cycle_s = 60.0
noise = 0.1                 # standard deviation of the seeded Gaussian noise
seed = 0
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from edge import wire
from edge.settings import known_keys, read_section, setting
from edge.telemetry.codec import MAX_NAME_BYTES
from edge.toml_table import Table


class SensorKind(enum.Enum):
    """Where a sensor's readings come from."""

    SOC_TEMPERATURE = "soc_temperature"
    CPU_LOAD = "cpu_load"
    MEMORY = "memory"
    DISK = "disk"
    WIFI_SIGNAL = "wifi_signal"
    THROTTLED = "throttled"
    SIMULATED = "simulated"
    PYTHON = "python"
    GPIO = "gpio"


BUILTIN_UNITS = {
    SensorKind.SOC_TEMPERATURE: "°C",
    SensorKind.MEMORY: "%",
    SensorKind.DISK: "%",
    SensorKind.WIFI_SIGNAL: "dBm",
    SensorKind.THROTTLED: "flags",
}
"""The unit of a kind's readings when the config gives none."""

_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


_SIMULATED = ("simulated",)


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorSpec:
    """One sensor; keys that do not apply to its kind keep their defaults."""

    name: str = setting(
        kind="string",
        max_bytes=MAX_NAME_BYTES,
        doc="Unique; the `sensor` field of each reading.",
    )
    kind: SensorKind = setting(
        kind="choice",
        choices=tuple(k.value for k in SensorKind),
        doc="`soc_temperature` (°C), `cpu_load`, `memory` (%), `disk` (%), `wifi_signal` (dBm),"
        " `throttled` (flags), `simulated`, `python`, `gpio`.",
    )
    period_s: float = setting(5.0, kind="float", low=0.05, high=86400.0, doc="Sampling period.")
    unit: str = setting(
        "",
        kind="string",
        max_bytes=MAX_NAME_BYTES,
        shown_default="the kind's own",
        doc="Unit override (python and simulated have none of their own).",
    )
    path: str = setting("/", kind="string", kinds=("disk",), doc="disk: the mount point measured.")
    interface: str = setting(
        "wlan0",
        kind="string",
        max_bytes=15,
        kinds=("wifi_signal",),
        doc="wifi_signal: the wireless interface.",
    )
    target: str = setting(
        "",
        kind="string",
        max_bytes=256,
        kinds=("python",),
        required_when=lambda read: read["kind"] == "python",
        check=lambda target: (
            None if _TARGET.fullmatch(target) else f"expected 'module:function', got {target!r}"
        ),
        doc="python (required there): `module:function`, called with no arguments off the event"
        " loop, returning the value.",
    )
    mean: float = setting(
        0.0,
        kind="float",
        low=-1e12,
        high=1e12,
        kinds=_SIMULATED,
        doc="simulated: readings are `mean + amplitude * sin(2π t / cycle_s) + noise`.",
    )
    amplitude: float = setting(
        1.0, kind="float", low=0.0, high=1e12, kinds=_SIMULATED, doc="simulated: the swing."
    )
    cycle_s: float = setting(
        60.0,
        kind="float",
        low=0.001,
        high=1e9,
        kinds=_SIMULATED,
        doc="simulated: period of the sine.",
    )
    noise: float = setting(
        0.1,
        kind="float",
        low=0.0,
        high=1e12,
        kinds=_SIMULATED,
        doc="simulated: standard deviation of the seeded Gaussian noise.",
    )
    seed: int = setting(
        0, kind="int", low=0, high=2**63 - 1, kinds=_SIMULATED, doc="simulated: the noise's seed."
    )
    input: str = setting(
        "",
        kind="string",
        max_bytes=64,
        kinds=("gpio",),
        required_when=lambda read: read["kind"] == "gpio",
        doc="gpio (required there): a `[[gpio.inputs]]` name; buttons and digital inputs also"
        " report every change as it happens.",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetryConfig:
    """Sensors, the spool and the uplink."""

    sensors: tuple[SensorSpec, ...] = setting(
        (), kind="tables", doc="The sensors, below (names unique)."
    )
    spool_path: str = setting(
        "edge-telemetry.sqlite3",
        kind="string",
        max_bytes=4096,
        doc="The sqlite spool; relative paths are resolved against `daemon.state_dir`.",
    )
    spool_max_rows: int = setting(
        100_000,
        kind="int",
        low=100,
        high=1e8,
        doc="Spool bound; over it the oldest go: sent history first, then unsent (counted).",
    )
    batch_window_s: float = setting(
        0.5,
        kind="float",
        low=0.0,
        high=60.0,
        doc="Readings are gathered this long into one byte stream.",
    )
    max_batch_readings: int = setting(
        500, kind="int", low=1, high=10000, doc="Most readings in one stream."
    )
    confirm_after_s: float = setting(
        20.0,
        kind="float",
        low=0.0,
        high=3600.0,
        doc="A sent batch counts as delivered once the room stayed connected this long (longer"
        " than the server's 15 s ping timeout, so a silently dead link is noticed first).",
    )
    history_max_readings: int = setting(
        10_000,
        kind="int",
        low=1,
        high=100_000,
        doc="Most readings one `telemetry.history` answer carries.",
    )
    history_allow: tuple[str, ...] = setting(
        (),
        kind="strings",
        doc="Who may call `telemetry.history`; empty = nobody.",
    )
    topic: str = setting(
        wire.Topic.TELEMETRY,
        kind="string",
        max_bytes=256,
        doc="Byte-stream topic of the msgpack batches; not empty.",
    )
    audience: str = setting(
        "room",
        kind="choice",
        choices=("room", "announced"),
        doc="Who receives live batches: `room` = everyone in the room; `announced` = only"
        " participants whose attribute `edge.wants.telemetry` names this edge (shell patterns,"
        " comma-separated); while none is there, readings wait in the spool.",
    )
    events_topic: str = setting(
        wire.Topic.EVENTS,
        kind="string",
        max_bytes=256,
        doc='Text streams of human-readable events (best-effort, not spooled); `""` = off;'
        " must differ from `topic`.",
    )


SCHEMA: Mapping[str, tuple[str, ...]] = {
    "telemetry": known_keys(TelemetryConfig),
    "telemetry.sensors[]": known_keys(SensorSpec),
}


def parse_telemetry(table: Table) -> TelemetryConfig:
    """Read the `[telemetry]` table; problems are recorded on `table`'s issue list."""
    sensors = tuple(s for s in (_sensor(t) for t in table.items("sensors")) if s is not None)
    values = read_section(table, TelemetryConfig)
    values["spool_path"] = values["spool_path"] or "edge-telemetry.sqlite3"
    if not values["topic"]:
        table.issue("topic", "must not be empty")
        values["topic"] = "edge.telemetry"
    elif values["events_topic"] == values["topic"]:
        table.issue("events_topic", "must differ from topic")
    table.check_unknown()
    names = [s.name for s in sensors]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        table.issue("sensors", f"sensor name {dup!r} is used more than once")
    return TelemetryConfig(sensors=sensors, **values)


def _sensor(t: Table) -> SensorSpec | None:
    values = read_section(t, SensorSpec, noun="sensor")
    t.check_unknown()
    if not values["name"] or not values["kind"]:
        return None
    values["path"] = values["path"] or "/"
    values["interface"] = values["interface"] or "wlan0"
    return SensorSpec(**{**values, "kind": SensorKind(values["kind"])})
