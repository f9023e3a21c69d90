"""Daemon config: the `[daemon]` and `[simulation]` sections, and the debug switches."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from edge.settings import setting

ENV_DEBUG_CENSUS = "EDGE_DEBUG_GC_DUMP"
"""A file to append a heap census to on SIGUSR2 (`edge.heap_census`); unset: off."""
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LOG_LEVEL = "info"
DEFAULT_SENSOR_PERIOD_S = 5.0
SENSOR_PERIOD_MIN_S = 0.5
SENSOR_PERIOD_MAX_S = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonConfig:
    """How the daemon itself behaves."""

    log_level: str = setting(
        DEFAULT_LOG_LEVEL,
        kind="choice",
        choices=LOG_LEVELS,
        doc="How much is logged (`edge run --log-level` overrides it).",
    )
    state_dir: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        shown_default="systemd's `STATE_DIRECTORY`, else the config file's directory",
        doc="Where the telemetry spool lives.",
    )
    logs_allow: tuple[str, ...] = setting(
        (),
        kind="strings",
        doc="Participant identities (shell patterns) that may fetch a log bundle (`edge.logs`).",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    """The simulated board used by `edge run --simulate`."""

    sensor_period_s: float = setting(
        DEFAULT_SENSOR_PERIOD_S,
        kind="float",
        low=SENSOR_PERIOD_MIN_S,
        high=SENSOR_PERIOD_MAX_S,
        doc="No longer used: accepted so older configs still load; the simulated board's"
        " temperature is a `soc_temperature` sensor under `[telemetry]`.",
    )


def debug_census_path(env: Mapping[str, str] | None = None) -> str:
    """Where `edge run` appends a heap census on SIGUSR2 ("" when off)."""
    env = os.environ if env is None else env
    return env.get(ENV_DEBUG_CENSUS, "")
