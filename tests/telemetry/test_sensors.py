"""Built-in sensors parse what Linux exposes, and say clearly when a board has no such source."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from edge.telemetry.sensors import SensorUnavailable, Throttled, build_sensor
from edge.telemetry.spec import SensorKind, SensorSpec

MEMINFO = "MemTotal:  1000 kB\nMemFree:  100 kB\nMemAvailable:  250 kB\n"
WIRELESS = (
    "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
    " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
    " wlan0: 0000   54.  -56.  -256        0      0      0      0     12        0\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = {
        "sys/class/thermal/thermal_zone0/temp": "48312\n",
        "proc/loadavg": "0.52 0.40 0.33 1/234 5678\n",
        "proc/meminfo": MEMINFO,
        "proc/net/wireless": WIRELESS,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def read(kind: SensorKind, root: Path, **fields: object) -> tuple[object, str]:
    sensor = build_sensor(SensorSpec(name="x", kind=kind, **fields), root=root)  # type: ignore[arg-type]
    return sensor.read(), sensor.unit


def test_builtins_parse_linux_files(root: Path) -> None:
    assert read(SensorKind.SOC_TEMPERATURE, root) == (48.312, "°C")
    assert read(SensorKind.CPU_LOAD, root) == (0.52, "")
    assert read(SensorKind.MEMORY, root) == (75.0, "%")
    assert read(SensorKind.WIFI_SIGNAL, root) == (-56.0, "dBm")
    value, unit = read(SensorKind.DISK, root, path=str(root))
    assert unit == "%"
    assert isinstance(value, float)
    assert 0.0 <= value <= 100.0


def test_missing_sources_are_unavailable_not_errors(tmp_path: Path, root: Path) -> None:
    with pytest.raises(SensorUnavailable, match="thermal_zone0/temp does not exist"):
        read(SensorKind.SOC_TEMPERATURE, tmp_path / "empty")
    with pytest.raises(SensorUnavailable, match="no wireless interface 'wlan9'"):
        read(SensorKind.WIFI_SIGNAL, root, interface="wlan9")
    with pytest.raises(SensorUnavailable, match="not found"):
        Throttled("t", command=("no-such-program-here", "get_throttled")).read()
    with pytest.raises(SensorUnavailable, match="cannot load"):
        read(SensorKind.PYTHON, root, target="no_such_module_xyz:read")


def test_the_python_plug_in_calls_the_named_function(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("my_sensors")
    monkeypatch.setattr(module, "read_co2", lambda: 415, raising=False)
    monkeypatch.setitem(sys.modules, "my_sensors", module)
    assert read(SensorKind.PYTHON, root, target="my_sensors:read_co2", unit="ppm") == (415, "ppm")
