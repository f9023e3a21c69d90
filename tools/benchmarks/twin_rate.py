"""Steady-state participant-attribute updates per minute for the demo config — pure, fake clock.

    python -m tools.benchmarks.twin_rate [--minutes 30]

Drives the device twin (`edge.twin.Twin`) the way the daemon does with the demo's config
(written by `tools/demo-run`): its telemetry sensors read on their periods, °C readings
mirrored into the twin, the daemon's facts (uptime, round-trip time, ...) refreshed on their
schedule, every output idle. Each `set_attributes` the twin asks for counts as one update and
is accepted at once. The first minute (joining, the first facts) is left out.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.config import parse_config
from edge.telemetry.codec import Sample
from edge.telemetry.sensors import SimulatedSensor, build_sensor
from edge.temperature_mirror import TemperatureMirror
from edge.twin import DeviceFacts, Twin

DEMO_SCRIPT = Path(__file__).resolve().parents[1] / "demo-run"
WARM_UP_S = 60.0
FACTS_PERIOD_S = 30.0
"""As the daemon's `_report_facts`: a first refresh at join, one at 7 s, then every 30 s."""
FIRST_FACTS_REFRESH_S = 7.0

Mirror = Callable[[Sample, float], dict[str, str | None]]
"""A °C reading at `now` -> the twin keys it changes."""


def demo_sensors() -> list[tuple[SimulatedSensor, float]]:
    """The `[[telemetry.sensors]]` of the config `tools/demo` writes, with their periods."""
    script = DEMO_SCRIPT.read_text()
    body = re.search(r'cat >"\$config" <<TOML\n(.*?)\nTOML\n', script, re.DOTALL)
    if body is None:
        raise SystemExit(f"no config heredoc in {DEMO_SCRIPT}")
    text = re.sub(r"\$\{(\w+)\}", lambda m: _PLACEHOLDERS[m.group(1)], body.group(1))
    config = parse_config(tomllib.loads(text), source=str(DEMO_SCRIPT), simulate=True)
    sensors = [(build_sensor(spec), spec.period_s) for spec in config.telemetry.sensors]
    return [(s, period) for s, period in sensors if isinstance(s, SimulatedSensor)]


_PLACEHOLDERS = {
    "url": "ws://127.0.0.1:7880",
    "api_key": "devkey",
    "api_secret": "edge-participant-demo-secret-not-for-production",
}


def every_reading(sample: Sample, _now: float) -> dict[str, str | None]:
    """Each °C reading straight into the twin (the daemon before the deadband)."""
    return {f"edge.temperature.{sample.sensor}": f"{float(sample.value):.1f}"}


@dataclass(frozen=True, slots=True)
class Result:
    minutes: float
    updates: int
    keys: dict[str, int]
    """How many updates carried each key."""

    @property
    def per_minute(self) -> float:
        return self.updates / self.minutes


def measure(mirror: Mirror, *, minutes: float = 30.0, seed: int = 1) -> Result:
    """Run the demo board for `WARM_UP_S` + `minutes` of fake time; count the updates."""
    now = 0.0
    sensors = demo_sensors()
    for sensor, _period in sensors:
        object.__setattr__(sensor, "clock", lambda: now)  # the fake clock
    twin = Twin()
    rng = random.Random(seed)
    end = WARM_UP_S + minutes * 60
    events = _schedule(sensors, end)
    updates, keys = 0, dict[str, int]()
    for now, what in events:
        if isinstance(what, SimulatedSensor):
            value = what.read()
            if what.unit == "°C":
                time_us = int(now * 1e6)
                sample = Sample(sensor=what.name, value=value, unit=what.unit, time_us=time_us)
                twin.update(mirror(sample, now))
        elif what == "facts":
            twin.update(_facts(now, rng).as_attributes())
        update = twin.poll(now)
        if update is None:
            continue
        twin.sent(update)
        if now >= WARM_UP_S:
            updates += 1
            for key in update:
                keys[key] = keys.get(key, 0) + 1
    return Result(minutes, updates, keys)


def _schedule(
    sensors: list[tuple[SimulatedSensor, float]], end: float
) -> list[tuple[float, SimulatedSensor | str]]:
    """Every sensor reading and facts refresh, plus a twin poll every 100 ms, in time order."""
    events: list[tuple[float, SimulatedSensor | str]] = []
    for sensor, period in sensors:
        events += [(t, sensor) for t in _ticks(0.0, period, end)]
    first = FIRST_FACTS_REFRESH_S
    facts = [0.0, first, *_ticks(first + FACTS_PERIOD_S, FACTS_PERIOD_S, end)]
    events += [(t, "facts") for t in facts]
    events += [(t, "poll") for t in _ticks(0.0, 0.1, end)]
    rank = {"facts": 0, "poll": 2}
    return sorted(events, key=lambda e: (e[0], rank.get(e[1], 1) if isinstance(e[1], str) else 1))


def _ticks(start: float, step: float, end: float) -> Iterator[float]:
    n = 0
    while (t := round(start + n * step, 6)) < end:
        yield t
        n += 1


def _facts(now: float, rng: random.Random) -> DeviceFacts:
    """Loopback-like facts: the round-trip time jitters by a few ms between pings."""
    return DeviceFacts(
        online=True,
        board_model="Simulated board (edge-participant)",
        version="0",
        uptime_s=now,
        rtt_ms=float(rng.randint(1, 4)),
        network_quality="excellent",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0, help="measured fake minutes")
    args = parser.parse_args(argv)
    for label, mirror in MIRRORS.items():
        result = measure(mirror(), minutes=args.minutes)
        keys = ", ".join(f"{k} {n}" for k, n in sorted(result.keys.items(), key=lambda kv: -kv[1]))
        sys.stdout.write(f"{label}: {result.per_minute:.1f} updates/min ({keys})\n")
    return 0


MIRRORS: dict[str, Callable[[], Mirror]] = {
    "every reading mirrored (before)": lambda: every_reading,
    "deadbanded (the daemon now)": lambda: TemperatureMirror().changes,
}


if __name__ == "__main__":
    raise SystemExit(main())
