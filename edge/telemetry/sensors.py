"""Sensors: things with a name and a unit whose `read()` returns one value.

`read()` may block (it reads files or runs a program); the sampler calls it off the event loop.
It returns a float, int, bool or str, raises `SensorUnavailable` when this board has no such
source (the sampler then logs one line and stops asking), and raises anything else for a
failed reading (logged, retried next period).

Built-ins read what Linux and Raspberry Pi OS expose: SoC temperature (°C), 1-minute load
average, memory in use (%), disk in use (%), Wi-Fi signal level (dBm) and the firmware's
under-voltage/throttling flags (`vcgencmd get_throttled`, Raspberry Pi only: bit 0 under-voltage
now, bit 2 throttled now, bit 16 under-voltage has occurred, ...). `SimulatedSensor` serves
`--simulate` and tests.

Plug-in point for custom sensors: `kind = "python"` with `target = "package.module:function"`.
The function takes no arguments and returns the value; `unit` comes from the config:

    [[telemetry.sensors]]
    name = "co2"
    kind = "python"
    target = "my_sensors.scd30:read_co2"
    unit = "ppm"
    period_s = 10

The module is imported when the service starts (an import error makes the sensor unavailable).
GPIO-input sensors (buttons, distance, MCP3xxx ADC as telemetry) are not here yet: they will
read through `edge.gpio` devices.
"""

from __future__ import annotations

import importlib
import math
import random
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from edge.telemetry.codec import Value
from edge.telemetry.spec import BUILTIN_UNITS, SensorKind, SensorSpec

VCGENCMD_TIMEOUT_S = 2.0


class SensorUnavailable(Exception):
    """This board has no such source; asking again will not help."""


class Sensor(Protocol):
    """A source of readings."""

    @property
    def name(self) -> str: ...

    @property
    def unit(self) -> str: ...

    def read(self) -> Value:
        """One reading; may block."""
        ...


@dataclass(frozen=True, slots=True)
class FileSensor:
    """A value parsed from a text file (under `root`, `/` on a real board)."""

    name: str
    unit: str
    file: str
    parse: Callable[[str], Value]
    root: Path = Path("/")

    def read(self) -> Value:
        path = self.root / self.file.lstrip("/")
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise SensorUnavailable(f"{path} does not exist on this board") from None
        return self.parse(text)


def _millidegrees(text: str) -> float:
    return round(int(text.strip()) / 1000.0, 3)


def _load1(text: str) -> float:
    return float(text.split()[0])


def _memory_used_percent(text: str) -> float:
    fields = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines() if line}
    total, available = fields["MemTotal"], fields["MemAvailable"]
    return round(100.0 * (total - available) / total, 2)


def _wifi_level(interface: str) -> Callable[[str], Value]:
    def parse(text: str) -> Value:
        for line in text.splitlines()[2:]:
            name, _, rest = line.partition(":")
            if name.strip() == interface:
                return float(rest.split()[2].rstrip("."))
        raise SensorUnavailable(f"no wireless interface {interface!r}")

    return parse


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Percentage of the file system at `path` in use."""

    name: str
    path: str = "/"
    unit: str = "%"

    def read(self) -> Value:
        try:
            usage = shutil.disk_usage(self.path)
        except FileNotFoundError:
            raise SensorUnavailable(f"{self.path} does not exist") from None
        return round(100.0 * usage.used / usage.total, 2)


@dataclass(frozen=True, slots=True)
class Throttled:
    """`vcgencmd get_throttled` as an integer of flags (Raspberry Pi firmware only)."""

    name: str
    unit: str = "flags"
    command: tuple[str, ...] = ("vcgencmd", "get_throttled")

    def read(self) -> Value:
        if shutil.which(self.command[0]) is None:
            raise SensorUnavailable(f"{self.command[0]} not found (not a Raspberry Pi?)")
        out = subprocess.run(
            self.command, capture_output=True, text=True, timeout=VCGENCMD_TIMEOUT_S, check=True
        ).stdout
        return int(out.strip().partition("=")[2], 16)  # "throttled=0x50005"


@dataclass(slots=True)
class SimulatedSensor:
    """mean + amplitude·sin(2π t / cycle_s) + Gaussian noise from a seeded generator."""

    name: str
    unit: str = ""
    mean: float = 0.0
    amplitude: float = 1.0
    cycle_s: float = 60.0
    noise: float = 0.1
    seed: int = 0
    clock: Callable[[], float] = time.time
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def read(self) -> Value:
        phase = 2 * math.pi * self.clock() / self.cycle_s
        value = self.mean + self.amplitude * math.sin(phase) + self._rng.gauss(0.0, self.noise)
        return round(value, 3)


@dataclass(frozen=True, slots=True)
class PythonSensor:
    """A user function `module:function`, imported lazily on first read."""

    name: str
    target: str
    unit: str = ""
    _loaded: list[Callable[[], Value]] = field(default_factory=list)

    def read(self) -> Value:
        if not self._loaded:
            module_name, _, attr = self.target.partition(":")
            try:
                obj: object = importlib.import_module(module_name)
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except (ImportError, AttributeError) as exc:
                raise SensorUnavailable(f"cannot load {self.target}: {exc}") from None
            if not callable(obj):
                raise SensorUnavailable(f"{self.target} is not callable")
            self._loaded.append(obj)
        return self._loaded[0]()


@dataclass
class GpioSensor:
    """A `[[gpio.inputs]]` device read through the GPIO service (which owns the pins)."""

    name: str
    unit: str
    input: str
    read_input: Callable[[str], Value] | None

    def read(self) -> Value:
        """The input's current reading."""
        if self.read_input is None:
            raise SensorUnavailable(f"no GPIO service to read input {self.input!r}")
        return self.read_input(self.input)


def build_sensor(
    spec: SensorSpec,
    *,
    root: Path = Path("/"),
    read_input: Callable[[str], Value] | None = None,
) -> Sensor:
    """The sensor a spec describes (`root` relocates /sys and /proc, for tests).

    `read_input` reads a GPIO input by name (the daemon passes the GPIO service's).
    """
    unit = spec.unit or BUILTIN_UNITS.get(spec.kind, "")
    match spec.kind:
        case SensorKind.GPIO:
            return GpioSensor(spec.name, unit, spec.input, read_input)
        case SensorKind.SOC_TEMPERATURE:
            file = "sys/class/thermal/thermal_zone0/temp"
            return FileSensor(spec.name, unit, file, _millidegrees, root)
        case SensorKind.CPU_LOAD:
            return FileSensor(spec.name, unit, "proc/loadavg", _load1, root)
        case SensorKind.MEMORY:
            return FileSensor(spec.name, unit, "proc/meminfo", _memory_used_percent, root)
        case SensorKind.DISK:
            return DiskUsage(spec.name, spec.path, unit)
        case SensorKind.WIFI_SIGNAL:
            parse = _wifi_level(spec.interface)
            return FileSensor(spec.name, unit, "proc/net/wireless", parse, root)
        case SensorKind.THROTTLED:
            return Throttled(spec.name, unit)
        case SensorKind.SIMULATED:
            return SimulatedSensor(
                spec.name,
                unit,
                mean=spec.mean,
                amplitude=spec.amplitude,
                cycle_s=spec.cycle_s,
                noise=spec.noise,
                seed=spec.seed,
            )
        case SensorKind.PYTHON:
            return PythonSensor(spec.name, spec.target, unit)
