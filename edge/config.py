"""Config: the TOML file read into frozen dataclasses, every problem reported by dotted path."""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.board import GENERIC, MODEL_PATH, BoardProfile, load_profile, parse_board
from edge.board import SCHEMA as BOARD_SCHEMA
from edge.daemon_config import (
    LOG_LEVELS,
    DaemonConfig,
    SimulationConfig,
    debug_census_path,
)
from edge.errors import ConfigError
from edge.gpio.spec import SCHEMA as GPIO_SCHEMA
from edge.gpio.spec import GpioConfig, parse_gpio
from edge.gpio.wiring import check_wiring
from edge.livekit_config import (
    DEFAULT_TOKEN_TTL_S,
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_TOKEN,
    TOKEN_TTL_MAX_S,
    TOKEN_TTL_MIN_S,
    LiveKitConfig,
    env_api_credentials,
    livekit_values,
    read_livekit,
)
from edge.media.spec import SCHEMA as MEDIA_SCHEMA
from edge.media.spec import CameraConfig, MicrophoneConfig, parse_camera, parse_microphone
from edge.mqtt.spec import SCHEMA as MQTT_SCHEMA
from edge.mqtt.spec import MqttConfig, parse_mqtt
from edge.settings import known_keys, read_section
from edge.telemetry.spec import SCHEMA as TELEMETRY_SCHEMA
from edge.telemetry.spec import SensorKind, TelemetryConfig, parse_telemetry
from edge.toml_table import Table, type_name

__all__ = [  # the section names re-exported for `from edge.config import ...`
    "DEFAULT_TOKEN_TTL_S",
    "ENV_API_KEY",
    "ENV_API_SECRET",
    "ENV_TOKEN",
    "LOG_LEVELS",
    "REDACTED",
    "SECRET_KEYS",
    "TOKEN_TTL_MAX_S",
    "TOKEN_TTL_MIN_S",
    "Config",
    "DaemonConfig",
    "LiveKitConfig",
    "SimulationConfig",
    "debug_census_path",
    "env_api_credentials",
    "held_secrets",
    "load_config",
    "parse_config",
    "read_toml",
]

_LOGGER = logging.getLogger(__name__)

# Config keys whose value is a secret: a file holding one must not be readable by every user.
SECRET_KEYS = (
    ("livekit", "token"),
    ("livekit", "api_secret"),
    ("livekit", "token_url_auth"),
    ("mqtt", "password"),
)
REDACTED = "<redacted>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole configuration."""

    livekit: LiveKitConfig
    """The room and the credentials."""
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    """Daemon settings."""
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    """Simulated-board settings."""
    board: BoardProfile = field(default_factory=lambda: load_profile(GENERIC))
    """The board's profile (`[board] profile`, detected by default); GPIO is checked against it."""
    gpio: GpioConfig = field(default_factory=GpioConfig)
    """Declared GPIO devices and their safety timings."""
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    """Sensors and the store-and-forward spool."""
    mqtt: MqttConfig | None = None
    """The local MQTT broker to bridge to; None without an `[mqtt]` section."""
    camera: CameraConfig | None = None
    """The camera track; None without a `[camera]` section."""
    microphone: MicrophoneConfig | None = None
    """The microphone track; None without a `[microphone]` section."""

    @property
    def spool_path(self) -> Path:
        """The telemetry spool file, resolved against the state directory."""
        return Path(self.daemon.state_dir or ".") / self.telemetry.spool_path

    def redacted(self) -> dict[str, dict[str, object]]:
        """The config as plain data, secrets replaced by a marker; safe to print or log."""
        out: dict[str, dict[str, object]] = {}
        for section in dataclasses.fields(self):
            value = getattr(self, section.name)
            if value is None:
                continue
            if isinstance(value, GpioConfig):
                out[section.name] = value.as_data()
                continue
            if isinstance(value, BoardProfile):
                out[section.name] = {"profile": value.name}
                continue
            out[section.name] = {
                f.name: _redact(getattr(value, f.name), secret=not f.repr)
                for f in dataclasses.fields(value)
            }
        out["telemetry"]["sensors"] = [_plain(s) for s in self.telemetry.sensors]
        return out


def load_config(
    path: Path,
    *,
    env: Mapping[str, str] | None = None,
    simulate: bool = False,
    model_path: Path = MODEL_PATH,
) -> Config:
    """Read and validate a TOML file; `env` (default: the process's) fills credentials it lacks.

    `[board] profile = "auto"` is the board `model_path` names, or the generic board under
    `simulate` (`edge run --simulate`).
    """
    data = read_toml(path)
    env = os.environ if env is None else env
    config = parse_config(data, source=str(path), env=env, simulate=simulate, model_path=model_path)
    if not config.daemon.state_dir:
        state_dir = env.get("STATE_DIRECTORY", "").split(":")[0] or str(path.parent)
        config = dataclasses.replace(
            config, daemon=dataclasses.replace(config.daemon, state_dir=state_dir)
        )
    secrets = held_secrets(data)
    if secrets and path.stat().st_mode & 0o004:
        _LOGGER.warning(
            "%s holds %s but every user can read it; restrict its mode",
            path,
            ", ".join(secrets),
        )
    return config


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML table in `path`; ConfigError naming the file if it cannot be read or parsed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def held_secrets(data: Mapping[str, object]) -> list[str]:
    """The dotted names of the secrets (`SECRET_KEYS`) that a raw config table sets."""
    held = []
    for table, key in SECRET_KEYS:
        section = data.get(table)
        if isinstance(section, Mapping) and section.get(key):
            held.append(f"{table}.{key}")
    return held


def parse_config(
    data: Mapping[str, object],
    *,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    simulate: bool = False,
    model_path: Path = MODEL_PATH,
) -> Config:
    """Validate already-parsed TOML data; raise one ConfigError listing every problem.

    Credentials from `env` only fill gaps: when the file gives no credentials at all,
    LIVEKIT_API_KEY + LIVEKIT_API_SECRET are used, else LIVEKIT_TOKEN; when the file gives
    only one of api_key / api_secret, the environment may supply the other.
    """
    issues: list[str] = []
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a table, got {type_name(data)}")
    top = Table("", data, issues, _SECTIONS)
    lk = top.section("livekit")
    daemon = top.section("daemon")
    sim = top.section("simulation")
    gpio = parse_gpio(top.section("gpio"))
    board_name = parse_board(top.section("board"), simulate=simulate, model_path=model_path)
    board = load_profile(board_name)
    check_wiring(board, gpio, data.get("gpio"), issues)
    telemetry = parse_telemetry(top.section("telemetry"))
    _check_gpio_sensors(telemetry, gpio, issues)
    mqtt = parse_mqtt(top.section("mqtt")) if "mqtt" in data else None
    camera = parse_camera(top.section("camera"), board=board) if "camera" in data else None
    microphone = (
        parse_microphone(top.section("microphone"), board=board) if "microphone" in data else None
    )
    lk_values, credentials_read = read_livekit(lk, issues)
    daemon_values = read_section(daemon, DaemonConfig)
    sim_values = read_section(sim, SimulationConfig)
    for table in (lk, daemon, sim, top):
        table.check_unknown()
    identity = lk_values["identity"]
    if mqtt is not None and identity:
        _check_mqtt_names(mqtt, identity, telemetry, gpio, issues)
    lk_values = livekit_values(lk_values, credentials_read=credentials_read, env=env, issues=issues)
    if issues:
        raise ConfigError(issues)
    _LOGGER.debug("config from %s is valid", source)
    return Config(
        livekit=LiveKitConfig(**lk_values),
        daemon=DaemonConfig(**daemon_values),
        simulation=SimulationConfig(**sim_values),
        board=board,
        gpio=gpio,
        telemetry=telemetry,
        mqtt=mqtt,
        camera=camera,
        microphone=microphone,
    )


_SECTIONS = {
    "livekit": known_keys(LiveKitConfig),
    "daemon": known_keys(DaemonConfig),
    "simulation": known_keys(SimulationConfig),
    **GPIO_SCHEMA,
    **BOARD_SCHEMA,
    **TELEMETRY_SCHEMA,
    **MQTT_SCHEMA,
    **MEDIA_SCHEMA,
}


def _redact(value: object, *, secret: bool) -> object:
    if secret:
        return REDACTED if value else ""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, enum.Enum):
        return value.value
    return dict(value) if isinstance(value, Mapping) else value


def _plain(value: object) -> object:
    """A spec dataclass as TOML-shaped data: enums by value, fields left at default omitted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.default is dataclasses.MISSING or getattr(value, f.name) != f.default
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _check_mqtt_names(
    mqtt: MqttConfig,
    identity: str,
    telemetry: TelemetryConfig,
    gpio: GpioConfig,
    issues: list[str],
) -> None:
    """Names that share one MQTT or Home Assistant discovery topic once made topic-safe."""
    from edge.mqtt.discovery import collisions, sensor_info

    sensors = [sensor_info(s) for s in telemetry.sensors]
    issues += collisions(
        mqtt, identity=identity, sensors=sensors, outputs=gpio.outputs, inputs=gpio.inputs
    )


def _check_gpio_sensors(telemetry: TelemetryConfig, gpio: GpioConfig, issues: list[str]) -> None:
    """A `gpio` sensor must name a declared input."""
    inputs = [i.name for i in gpio.inputs]
    for index, sensor in enumerate(telemetry.sensors):
        if sensor.kind is SensorKind.GPIO and sensor.input not in inputs:
            known = ", ".join(inputs) or "none declared"
            issues.append(
                f"telemetry.sensors[{index}].input: no [[gpio.inputs]] named {sensor.input!r}"
                f" (inputs: {known})"
            )
