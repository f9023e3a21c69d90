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
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from edge.board import GENERIC, MODEL_PATH, BoardProfile, load_profile, parse_board
from edge.board import SCHEMA as BOARD_SCHEMA
from edge.errors import ConfigError
from edge.gpio.spec import SCHEMA as GPIO_SCHEMA
from edge.gpio.spec import GpioConfig, parse_gpio
from edge.gpio.wiring import check_wiring
from edge.media.spec import SCHEMA as MEDIA_SCHEMA
from edge.media.spec import CameraConfig, MicrophoneConfig, parse_camera, parse_microphone
from edge.mqtt.spec import SCHEMA as MQTT_SCHEMA
from edge.mqtt.spec import MqttConfig, parse_mqtt
from edge.settings import known_keys, read_section, setting
from edge.telemetry.spec import SCHEMA as TELEMETRY_SCHEMA
from edge.telemetry.spec import SensorKind, TelemetryConfig, parse_telemetry
from edge.toml_table import Table, type_name

_LOGGER = logging.getLogger(__name__)

ENV_API_KEY = "LIVEKIT_API_KEY"
ENV_API_SECRET = "LIVEKIT_API_SECRET"
ENV_TOKEN = "LIVEKIT_TOKEN"
ENV_DEBUG_CENSUS = "EDGE_DEBUG_GC_DUMP"
"""A file to append a heap census to on SIGUSR2 (`edge.heap_census`); unset: off."""
LOG_LEVELS = ("debug", "info", "warning", "error")
# Config keys whose value is a secret: a file holding one must not be readable by every user.
SECRET_KEYS = (
    ("livekit", "token"),
    ("livekit", "api_secret"),
    ("livekit", "token_url_auth"),
    ("mqtt", "password"),
)
URL_SCHEMES = ("ws", "wss", "http", "https")
MAX_NAME_BYTES = 256
MAX_METADATA_BYTES = 65536
MAX_ATTRIBUTES_BYTES = 65536
DEFAULT_TOKEN_TTL_S = 21600
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_RESUME_TIMEOUT_S = 15.0
DEFAULT_LOG_LEVEL = "info"
DEFAULT_SENSOR_PERIOD_S = 5.0
TOKEN_TTL_MIN_S = 60
TOKEN_TTL_MAX_S = 86400 * 30
MAX_CONNECT_TIMEOUT_S = 120.0
MAX_RESUME_S = 300.0
SENSOR_PERIOD_MIN_S = 0.5
SENSOR_PERIOD_MAX_S = 3600.0
REDACTED = "<redacted>"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveKitConfig:
    """Where to join, as whom, and with which credentials."""

    url: str = setting(
        kind="string",
        check=lambda url: (
            None
            if _valid_url(url)
            else f"expected a ws://, wss://, http:// or https:// URL, got {url!r}"
        ),
        doc="Server URL: `ws://`, `wss://`, `http://` or `https://`.",
    )
    room: str = setting(kind="string", max_bytes=MAX_NAME_BYTES, doc="Room to join.")
    identity: str = setting(
        kind="string",
        max_bytes=MAX_NAME_BYTES,
        doc="Participant identity, unique per device: a second daemon with the same identity"
        " evicts the first.",
    )
    name: str = setting(
        "",
        kind="string",
        max_bytes=MAX_NAME_BYTES,
        shown_default="the identity",
        doc="Display name.",
    )
    metadata: str = setting(
        "", kind="string", max_bytes=MAX_METADATA_BYTES, doc="Initial participant metadata."
    )
    attributes: Mapping[str, str] = setting(
        MappingProxyType({}),
        kind="attributes",
        max_bytes=MAX_ATTRIBUTES_BYTES,
        doc="Initial participant attributes (the bound counts names and values together).",
    )
    token: str = setting("", kind="string", secret=True, doc="A static access token.")
    api_key: str = setting("", kind="string", doc="API key the daemon signs its own tokens with.")
    api_secret: str = setting("", kind="string", secret=True, doc="API secret matching `api_key`.")
    token_url: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        check=lambda url: (
            None
            if url.startswith(("http://", "https://"))
            else f"expected an http:// or https:// URL, got {url!r}"
        ),
        doc="An `http(s)://` token endpoint, `GET ?identity=...&room=...`, asked before every"
        " join.",
    )
    token_url_auth: str = setting(
        "",
        kind="string",
        max_bytes=4096,
        secret=True,
        doc="Sent as the `Authorization` header to `token_url` (e.g. `Bearer <device secret>`);"
        " only with `token_url`.",
    )
    token_ttl_s: int = setting(
        DEFAULT_TOKEN_TTL_S,
        kind="int",
        low=TOKEN_TTL_MIN_S,
        high=TOKEN_TTL_MAX_S,
        doc="Lifetime of minted tokens, in seconds.",
    )
    connect_timeout_s: float = setting(
        DEFAULT_CONNECT_TIMEOUT_S,
        kind="float",
        low=0,
        high=MAX_CONNECT_TIMEOUT_S,
        open_low=True,
        doc="Longest wait for the server to answer a join.",
    )
    resume_timeout_s: float = setting(
        DEFAULT_RESUME_TIMEOUT_S,
        kind="float",
        low=0,
        high=MAX_RESUME_S,
        doc="How long a lost session is tried to be resumed before joining anew (0: never).",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @property
    def credentials(self) -> Literal["token", "api_key", "token_url"]:
        """`token` (static), `token_url` (fetched per join) or `api_key` (minted here)."""
        if self.token:
            return "token"
        return "token_url" if self.token_url else "api_key"


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
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
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
    lk_values = read_section(lk, LiveKitConfig)
    token, api_key, api_secret = (lk_values[k] for k in ("token", "api_key", "api_secret"))
    token_url, token_url_auth = lk_values["token_url"], lk_values["token_url_auth"]
    bad_paths = {issue.split(":")[0] for issue in issues}
    credentials_are_strings = not bad_paths & {f"livekit.{key}" for key in _CREDENTIALS}
    if token_url_auth and not token_url:
        lk.issue("token_url_auth", "only used with token_url")
    daemon_values = read_section(daemon, DaemonConfig)
    sim_values = read_section(sim, SimulationConfig)
    for table in (lk, daemon, sim, top):
        table.check_unknown()
    identity = lk_values["identity"]
    if mqtt is not None and identity:
        _check_mqtt_names(mqtt, identity, telemetry, gpio, issues)

    if credentials_are_strings and token_url:
        if token or api_key or api_secret:
            issues.append("livekit: give one of token, api_key + api_secret or token_url")
    elif credentials_are_strings:
        token, api_key, api_secret = _credentials(token, api_key, api_secret, env, issues)
    if issues:
        raise ConfigError(issues)
    _LOGGER.debug("config from %s is valid", source)
    return Config(
        livekit=LiveKitConfig(
            **{
                **lk_values,
                "name": lk_values["name"] or identity,
                "token": token,
                "api_key": api_key,
                "api_secret": api_secret,
            }
        ),
        daemon=DaemonConfig(**daemon_values),
        simulation=SimulationConfig(**sim_values),
        board=board,
        gpio=gpio,
        telemetry=telemetry,
        mqtt=mqtt,
        camera=camera,
        microphone=microphone,
    )


def debug_census_path(env: Mapping[str, str] | None = None) -> str:
    """Where `edge run` appends a heap census on SIGUSR2 ("" when off)."""
    env = os.environ if env is None else env
    return env.get(ENV_DEBUG_CENSUS, "")


def env_api_credentials(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(api_key, api_secret) from LIVEKIT_API_KEY / LIVEKIT_API_SECRET, empty when unset."""
    env = os.environ if env is None else env
    return env.get(ENV_API_KEY, ""), env.get(ENV_API_SECRET, "")


def _credentials(
    token: str, api_key: str, api_secret: str, env: Mapping[str, str] | None, issues: list[str]
) -> tuple[str, str, str]:
    """Fill credentials the file left out from `env`, then check exactly one kind is given."""
    env = os.environ if env is None else env
    if not (token or api_key or api_secret):
        api_key, api_secret = env_api_credentials(env)
        if not (api_key or api_secret):
            token = env.get(ENV_TOKEN, "")
    elif not token:
        api_key = api_key or env.get(ENV_API_KEY, "")
        api_secret = api_secret or env.get(ENV_API_SECRET, "")
    if token and (api_key or api_secret):
        issues.append("livekit: give either token or api_key + api_secret, not both")
    elif not (token or api_key or api_secret):
        issues.append("livekit: give token, api_key + api_secret, or token_url")
    elif api_key and not api_secret:
        issues.append("livekit.api_secret: required when api_key is set")
    elif api_secret and not api_key:
        issues.append("livekit.api_key: required when api_secret is set")
    return token, api_key, api_secret


_CREDENTIALS = ("token", "api_key", "api_secret", "token_url", "token_url_auth")
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


def _valid_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError:
        return False
    return parts.scheme in URL_SCHEMES and bool(parts.hostname)


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
