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


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorSpec:
    """One sensor; fields that do not apply to its kind keep their defaults."""

    name: str
    kind: SensorKind
    period_s: float = 5.0
    unit: str = ""
    """Unit override; empty = the kind's own (python, simulated: none)."""
    path: str = "/"
    """disk: the mount point measured."""
    interface: str = "wlan0"
    """wifi_signal: the wireless interface."""
    target: str = ""
    """python: `module:function`, called with no arguments off the event loop."""
    mean: float = 0.0
    amplitude: float = 1.0
    cycle_s: float = 60.0
    noise: float = 0.1
    seed: int = 0
    input: str = ""
    """gpio: the `[[gpio.inputs]]` device to sample (buttons and digital inputs also report
    every change as it happens)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetryConfig:
    """Sensors, the spool and the uplink."""

    sensors: tuple[SensorSpec, ...] = ()
    spool_path: str = "edge-telemetry.sqlite3"
    """Relative paths are resolved against the daemon's state directory."""
    spool_max_rows: int = 100_000
    batch_window_s: float = 0.5
    max_batch_readings: int = 500
    confirm_after_s: float = 20.0
    """Longer than the server's ping timeout (15 s), so a silently dead link is noticed first."""
    history_max_readings: int = 10_000
    history_allow: tuple[str, ...] = ()
    """Caller identities (shell patterns) that may call `telemetry.history`; empty: nobody."""
    topic: str = wire.Topic.TELEMETRY
    events_topic: str = wire.Topic.EVENTS


SCHEMA: Mapping[str, tuple[str, ...]] = {
    "telemetry": (
        "sensors", "spool_path", "spool_max_rows", "batch_window_s", "max_batch_readings",
        "confirm_after_s", "history_max_readings", "history_allow", "topic", "events_topic",
    ),
    "telemetry.sensors[]": (
        "name", "kind", "period_s", "unit", "path", "interface", "target", "mean", "amplitude",
        "cycle_s", "noise", "seed", "input",
    ),
}  # fmt: skip

_KIND_FIELDS = {
    SensorKind.DISK: ("path",),
    SensorKind.WIFI_SIGNAL: ("interface",),
    SensorKind.PYTHON: ("target",),
    SensorKind.GPIO: ("input",),
    SensorKind.SIMULATED: ("mean", "amplitude", "cycle_s", "noise", "seed"),
}


def parse_telemetry(table: Table) -> TelemetryConfig:
    """Read the `[telemetry]` table; problems are recorded on `table`'s issue list."""
    d = TelemetryConfig()
    sensors = tuple(s for s in (_sensor(t) for t in table.items("sensors")) if s is not None)
    spool_path = table.string("spool_path", max_bytes=4096) or d.spool_path
    max_rows = table.number("spool_max_rows", d.spool_max_rows, low=100, high=1e8, integer=True)
    window = table.number("batch_window_s", d.batch_window_s, low=0.0, high=60.0)
    batch = table.number(
        "max_batch_readings", d.max_batch_readings, low=1, high=10000, integer=True
    )
    confirm = table.number("confirm_after_s", d.confirm_after_s, low=0.0, high=3600.0)
    history = table.number(
        "history_max_readings", d.history_max_readings, low=1, high=100_000, integer=True
    )
    history_allow = table.strings("history_allow", d.history_allow)
    topic = table.string("topic", max_bytes=256) if table.has("topic") else d.topic
    if not topic:
        table.issue("topic", "must not be empty")
    events = (
        table.string("events_topic", max_bytes=256) if table.has("events_topic") else d.events_topic
    )
    if events and events == topic:
        table.issue("events_topic", "must differ from topic")
    table.check_unknown()
    names = [s.name for s in sensors]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        table.issue("sensors", f"sensor name {dup!r} is used more than once")
    return TelemetryConfig(
        sensors=sensors,
        spool_path=spool_path,
        spool_max_rows=int(max_rows),
        batch_window_s=float(window),
        max_batch_readings=int(batch),
        confirm_after_s=float(confirm),
        history_max_readings=int(history),
        history_allow=history_allow,
        topic=topic or d.topic,
        events_topic=events,
    )


def _sensor(t: Table) -> SensorSpec | None:
    d = SensorSpec(name="", kind=SensorKind.SIMULATED)
    name = t.string("name", required=True, max_bytes=MAX_NAME_BYTES)
    kind_text = t.choice("kind", "", tuple(k.value for k in SensorKind)) if t.has("kind") else ""
    if not t.has("kind"):
        t.issue("kind", "required")
    kind = SensorKind(kind_text) if kind_text else None
    period = t.number("period_s", d.period_s, low=0.05, high=86400.0)
    unit = t.string("unit", max_bytes=MAX_NAME_BYTES)
    for key in SCHEMA["telemetry.sensors[]"][4:]:
        if kind is not None and t.has(key) and key not in _KIND_FIELDS.get(kind, ()):
            t.issue(key, f"does not apply to a {kind.value} sensor")
    path = t.string("path") or d.path
    interface = t.string("interface", max_bytes=15) or d.interface
    target = t.string("target", required=kind is SensorKind.PYTHON, max_bytes=256)
    if target and not _TARGET.fullmatch(target):
        t.issue("target", f"expected 'module:function', got {target!r}")
    mean = t.number("mean", d.mean, low=-1e12, high=1e12)
    amplitude = t.number("amplitude", d.amplitude, low=0.0, high=1e12)
    cycle = t.number("cycle_s", d.cycle_s, low=0.001, high=1e9)
    noise = t.number("noise", d.noise, low=0.0, high=1e12)
    seed = t.number("seed", d.seed, low=0, high=2**63 - 1, integer=True)
    gpio_input = t.string("input", required=kind is SensorKind.GPIO, max_bytes=64)
    t.check_unknown()
    if not name or kind is None:
        return None
    return SensorSpec(
        name=name,
        kind=kind,
        period_s=float(period),
        unit=unit,
        path=path,
        interface=interface,
        target=target,
        mean=float(mean),
        amplitude=float(amplitude),
        cycle_s=float(cycle),
        noise=float(noise),
        seed=int(seed),
        input=gpio_input,
    )
