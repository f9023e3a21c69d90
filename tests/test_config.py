"""Config: TOML into frozen dataclasses, every problem reported as one dotted-path line."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import (
    REDACTED,
    Config,
    DaemonConfig,
    LiveKitConfig,
    SimulationConfig,
    load_config,
    parse_config,
)
from edge.errors import ConfigError

SECRET = "edge-participant-test-secret-0123456789"
URL = "expected a ws://, wss://, http:// or https:// URL, got"
TTL = "expected an integer from 60 to 2592000, got"
TIMEOUT = "expected a number greater than 0 and at most 120, got"
RESUME = "expected a number from 0 to 300, got"
LEVEL = "expected one of debug, info, warning, error, got"
PERIOD = "expected a number from 0.5 to 3600, got"

FULL_TOML = f"""\
[livekit]
url = "wss://lk.example.org"
room = "workshop"
identity = "edge-pi-01"
name = "Workshop Pi"
metadata = '{{"site": 3}}'
attributes = {{ location = "workshop", "edge.role" = "camera" }}
api_key = "devkey"
api_secret = "{SECRET}"
token_ttl_s = 3600
connect_timeout_s = 2.5
resume_timeout_s = 0

[daemon]
log_level = "debug"

[simulation]
sensor_period_s = 0.5
"""


def _base() -> dict[str, Any]:
    return {
        "livekit": {
            "url": "ws://127.0.0.1:7880",
            "room": "workshop",
            "identity": "edge-pi-01",
            "api_key": "devkey",
            "api_secret": SECRET,
        }
    }


def _issues(data: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        parse_config(data, env=env or {})
    return excinfo.value.issues


def _write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_full_config_loads_into_the_dataclasses(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL_TOML), env={})
    assert config == Config(
        livekit=LiveKitConfig(
            url=("wss://lk.example.org",),
            room="workshop",
            identity="edge-pi-01",
            name="Workshop Pi",
            metadata='{"site": 3}',
            attributes={"location": "workshop", "edge.role": "camera"},
            api_key="devkey",
            api_secret=SECRET,
            token_ttl_s=3600,
            connect_timeout_s=2.5,
            resume_timeout_s=0.0,
        ),
        daemon=DaemonConfig(log_level="debug", state_dir=str(tmp_path)),
        simulation=SimulationConfig(sensor_period_s=0.5),
    )
    assert config.livekit.credentials == "api_key"


def test_redacted_config_parses_back_once_the_secret_is_restored(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL_TOML), env={})
    data = config.redacted()
    assert data["livekit"]["api_secret"] == REDACTED
    assert data["livekit"]["token"] == ""
    data["livekit"]["api_secret"] = SECRET
    del data["livekit"]["token"]
    assert parse_config(data, env={}) == config


def test_defaults_fill_everything_optional() -> None:
    config = parse_config(_base(), env={})
    lk = config.livekit
    assert (lk.name, lk.metadata, dict(lk.attributes)) == ("edge-pi-01", "", {})
    assert (lk.token_ttl_s, lk.connect_timeout_s, lk.resume_timeout_s) == (21600, 10.0, 15.0)
    assert config.daemon.log_level == "info"
    assert config.simulation.sensor_period_s == 5.0


def test_config_is_frozen_and_attributes_read_only() -> None:
    data = _base()
    data["livekit"]["attributes"] = {"location": "workshop"}
    config = parse_config(data, env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.livekit.room = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.livekit.attributes["location"] = "x"  # type: ignore[index]


def test_url_takes_one_server_or_several_in_order() -> None:
    one = parse_config(_base(), env={}).livekit
    assert len(one.url) == 1
    assert one.first_url == one.url[0]
    urls = ["wss://a.example.org", "ws://10.0.0.2:7880"]
    data = {**_base(), "livekit": {**_base()["livekit"], "url": urls}}
    assert parse_config(data, env={}).livekit.url == tuple(urls)


def test_log_level_is_case_insensitive() -> None:
    data = {**_base(), "daemon": {"log_level": "WARNING"}}
    assert parse_config(data, env={}).daemon.log_level == "warning"


ONE_OR_MORE = "expected a non-empty string or an array of 1 to 8 non-empty strings"


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("livekit", "url", "ftp://x", f"livekit.url: {URL} 'ftp://x'"),
        ("livekit", "url", "wss://", f"livekit.url: {URL} 'wss://'"),
        ("livekit", "url", "http://h:99999", f"livekit.url: {URL} 'http://h:99999'"),
        ("livekit", "url", None, "livekit.url: required"),
        ("livekit", "url", ["ws://a", "ftp://b"], f"livekit.url: {URL} 'ftp://b'"),
        ("livekit", "url", [], f"livekit.url: {ONE_OR_MORE}"),
        ("livekit", "url", ["ws://a", ""], f"livekit.url: {ONE_OR_MORE}"),
        ("livekit", "url", ["ws://a"] * 9, f"livekit.url: {ONE_OR_MORE}"),
        ("livekit", "url", "", f"livekit.url: {ONE_OR_MORE}"),
        ("livekit", "url", 5, f"livekit.url: {ONE_OR_MORE}, got int"),
        ("livekit", "url", ["ws://a", "ws://a"], "livekit.url: 'ws://a' is listed more than once"),
        ("livekit", "room", None, "livekit.room: required"),
        ("livekit", "room", "", "livekit.room: must not be empty"),
        ("livekit", "room", "é" * 129, "livekit.room: expected at most 256 UTF-8 bytes, got 258"),
        ("livekit", "identity", None, "livekit.identity: required"),
        ("livekit", "identity", 5, "livekit.identity: expected a string, got int"),
        ("livekit", "name", "n" * 257, "livekit.name: expected at most 256 UTF-8 bytes, got 257"),
        (
            "livekit",
            "metadata",
            "m" * 65537,
            "livekit.metadata: expected at most 65536 UTF-8 bytes, got 65537",
        ),
        (
            "livekit",
            "attributes",
            {"location": 3},
            "livekit.attributes.location: expected a string, got int",
        ),
        (
            "livekit",
            "attributes",
            {"edge.role": True},
            'livekit.attributes."edge.role": expected a string, got bool',
        ),
        (
            "livekit",
            "attributes",
            {"": "x"},
            'livekit.attributes."": attribute names must not be empty',
        ),
        (
            "livekit",
            "attributes",
            "x",
            "livekit.attributes: expected a table of strings, got string",
        ),
        (
            "livekit",
            "attributes",
            {"k": "v" * 65536},
            "livekit.attributes: expected at most 65536 bytes of names and values, got 65537",
        ),
        ("livekit", "token_ttl_s", 59, f"livekit.token_ttl_s: {TTL} 59"),
        ("livekit", "token_ttl_s", 2592001, f"livekit.token_ttl_s: {TTL} 2592001"),
        ("livekit", "token_ttl_s", 600.0, f"livekit.token_ttl_s: {TTL} float"),
        ("livekit", "token_ttl_s", True, f"livekit.token_ttl_s: {TTL} bool"),
        pytest.param(
            "livekit",
            "token_ttl_s",
            10**5000,
            f"livekit.token_ttl_s: {TTL} a huge integer",
            id="ttl-with-5001-digits",
        ),
        ("livekit", "connect_timeout_s", 0, f"livekit.connect_timeout_s: {TIMEOUT} 0"),
        ("livekit", "connect_timeout_s", 120.5, f"livekit.connect_timeout_s: {TIMEOUT} 120.5"),
        ("livekit", "connect_timeout_s", float("nan"), f"livekit.connect_timeout_s: {TIMEOUT} nan"),
        ("livekit", "connect_timeout_s", "10", f"livekit.connect_timeout_s: {TIMEOUT} string"),
        ("livekit", "resume_timeout_s", -1, f"livekit.resume_timeout_s: {RESUME} -1"),
        ("livekit", "resume_timeout_s", 301, f"livekit.resume_timeout_s: {RESUME} 301"),
        ("daemon", "log_level", "loud", f"daemon.log_level: {LEVEL} 'loud'"),
        ("daemon", "log_level", 3, f"daemon.log_level: {LEVEL} int"),
        ("simulation", "sensor_period_s", 0.4, f"simulation.sensor_period_s: {PERIOD} 0.4"),
        ("simulation", "sensor_period_s", 3601, f"simulation.sensor_period_s: {PERIOD} 3601"),
        ("livekit", "urll", "ws://h", "livekit.urll: unknown key (did you mean 'url'?)"),
        ("daemon", "colour", "red", "daemon.colour: unknown key"),
    ],
)
def test_each_bad_field_gives_exactly_its_dotted_path_issue(
    section: str, key: str, value: object, expected: str
) -> None:
    data = _base()
    table = data.setdefault(section, {})
    if value is None:
        del table[key]
    else:
        table[key] = value
    assert _issues(data) == [expected]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**_base(), "livekt": {}}, "livekt: unknown key (did you mean 'livekit'?)"),
        ({**_base(), "daemon": 3}, "daemon: expected a table, got int"),
        ({**_base(), "simulation": [1]}, "simulation: expected a table, got array"),
    ],
)
def test_top_level_problems_are_reported_by_table_name(data: dict[str, Any], expected: str) -> None:
    assert _issues(data) == [expected]


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({}, "livekit: give token, api_key + api_secret, or token_url"),
        (
            {"token": "a.b.c", "api_key": "k"},
            "livekit: give either token or api_key + api_secret, not both",
        ),
        ({"api_key": "k"}, "livekit.api_secret: required when api_key is set"),
        ({"api_secret": SECRET}, "livekit.api_key: required when api_secret is set"),
        ({"api_key": "k", "api_secret": ""}, "livekit.api_secret: required when api_key is set"),
    ],
)
def test_credentials_need_exactly_one_kind(credentials: dict[str, str], expected: str) -> None:
    data = _base()
    del data["livekit"]["api_key"], data["livekit"]["api_secret"]
    data["livekit"].update(credentials)
    assert _issues(data) == [expected]


def test_several_bad_fields_are_reported_together() -> None:
    data = _base()
    data["livekit"].update(url="ftp://x", identity=7, urll=1)
    del data["livekit"]["room"]
    data["daemon"] = {"log_level": "loud"}
    assert _issues(data) == [
        "livekit.url: expected a ws://, wss://, http:// or https:// URL, got 'ftp://x'",
        "livekit.room: required",
        "livekit.identity: expected a string, got int",
        "daemon.log_level: expected one of debug, info, warning, error, got 'loud'",
        "livekit.urll: unknown key (did you mean 'url'?)",
    ]


def test_an_empty_file_lists_every_required_field() -> None:
    assert _issues({}) == [
        "livekit.url: required",
        "livekit.room: required",
        "livekit.identity: required",
        "livekit: give token, api_key + api_secret, or token_url",
    ]


def test_toml_syntax_error_names_the_file_and_position(tmp_path: Path) -> None:
    path = _write(tmp_path, '[livekit]\nurl = "ws://h\n')
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={})
    [issue] = excinfo.value.issues
    assert issue.startswith(f"{path}: invalid TOML: ")
    assert "line 2" in issue


def test_missing_file_is_one_issue(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={})
    assert excinfo.value.issues == [f"{path}: no such file"]


def test_environment_supplies_credentials_the_file_leaves_out() -> None:
    data = _base()
    del data["livekit"]["api_key"], data["livekit"]["api_secret"]
    env = {"LIVEKIT_API_KEY": "envkey", "LIVEKIT_API_SECRET": "envsecret"}
    lk = parse_config(data, env=env).livekit
    assert (lk.api_key, lk.api_secret, lk.token) == ("envkey", "envsecret", "")
    lk = parse_config(data, env={"LIVEKIT_TOKEN": "a.b.c"}).livekit
    assert (lk.token, lk.credentials) == ("a.b.c", "token")


def test_environment_fills_gaps_but_never_overrides_the_file() -> None:
    env = {"LIVEKIT_API_KEY": "envkey", "LIVEKIT_API_SECRET": "envsecret", "LIVEKIT_TOKEN": "x.y.z"}
    lk = parse_config(_base(), env=env).livekit
    assert (lk.api_key, lk.api_secret, lk.token) == ("devkey", SECRET, "")
    data = _base()
    del data["livekit"]["api_secret"]
    assert parse_config(data, env=env).livekit.api_secret == "envsecret"
    data = _base()
    del data["livekit"]["api_key"], data["livekit"]["api_secret"]
    data["livekit"]["token"] = "a.b.c"
    lk = parse_config(data, env=env).livekit
    assert (lk.token, lk.api_key, lk.api_secret) == ("a.b.c", "", "")


def test_secrets_stay_out_of_repr() -> None:
    data = _base()
    config = parse_config(data, env={})
    assert SECRET not in repr(config)
    assert "devkey" in repr(config)
    del data["livekit"]["api_key"], data["livekit"]["api_secret"]
    data["livekit"]["token"] = "header.very-secret-payload.signature"
    config = parse_config(data, env={})
    assert "very-secret-payload" not in repr(config)
    assert "very-secret-payload" not in str(config.redacted())


def test_world_readable_file_with_a_secret_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.config")
    load_config(_write(tmp_path, FULL_TOML, mode=0o600), env={})
    assert caplog.records == []
    path = _write(tmp_path, FULL_TOML, mode=0o644)
    load_config(path, env={})
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert str(path) in record.getMessage()


def test_every_secret_in_a_world_readable_file_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.config")
    toml = """\
[livekit]
url = "wss://lk.example.org"
room = "workshop"
identity = "edge-pi-01"
token_url = "https://tokens.example.org/edge"
token_url_auth = "Bearer device-secret"

[mqtt]
host = "127.0.0.1"
username = "edge"
password = "broker-secret"
"""
    load_config(_write(tmp_path, toml, mode=0o644), env={})
    [record] = caplog.records
    assert "livekit.token_url_auth, mqtt.password" in record.getMessage()


def test_world_readable_file_without_secrets_is_fine(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.config")
    text = '[livekit]\nurl = "ws://h"\nroom = "r"\nidentity = "i"\n'
    env = {"LIVEKIT_API_KEY": "envkey", "LIVEKIT_API_SECRET": "envsecret"}
    load_config(_write(tmp_path, text, mode=0o644), env=env)
    assert caplog.records == []


_LIVEKIT_KEYS = [f.name for f in dataclasses.fields(LiveKitConfig)]
_KNOWN_KEYS = [*_LIVEKIT_KEYS, "log_level", "sensor_period_s"]
_PLAUSIBLE = st.sampled_from(
    ["ws://127.0.0.1:7880", "workshop", "info", "a.b.c", "", 60, 5.0, 0.5, {"k": "v"}]
)
_SCALARS = (
    st.text(max_size=12)
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.datetimes()
    | st.dates()
    | st.times()
)
_VALUES = st.recursive(
    _SCALARS | _PLAUSIBLE,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_SECTION = st.dictionaries(st.sampled_from(_KNOWN_KEYS) | st.text(max_size=6), _VALUES, max_size=10)
_DATA = st.dictionaries(
    st.sampled_from(["livekit", "daemon", "simulation"]) | st.text(max_size=6),
    _SECTION | _VALUES,
    max_size=4,
)


def _perturb(overrides: dict[str, object], drop: str | None) -> dict[str, Any]:
    livekit = {k: v for k, v in _base()["livekit"].items() if k != drop}
    return {"livekit": {**livekit, **overrides}}


_PERTURBED = st.builds(
    _perturb,
    st.dictionaries(st.sampled_from(_LIVEKIT_KEYS), _PLAUSIBLE | _SCALARS, max_size=3),
    st.sampled_from([*_LIVEKIT_KEYS, None]),
)
_ENV = st.dictionaries(
    st.sampled_from(["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_TOKEN"]), st.text(max_size=6)
)


@settings(database=None, max_examples=300)
@given(data=_DATA | _PERTURBED, env=_ENV)
def test_parse_config_returns_a_config_or_raises_config_error(
    data: dict[str, Any], env: dict[str, str]
) -> None:
    try:
        config = parse_config(data, env=env)
    except ConfigError as exc:
        issues = exc.issues
    else:
        assert isinstance(config, Config)
        return
    assert issues
    assert all(issue and "\n" not in issue for issue in issues)


def test_state_directory_comes_from_config_then_systemd_then_the_config_file(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, FULL_TOML)
    assert load_config(path, env={}).spool_path == tmp_path / "edge-telemetry.sqlite3"
    from_systemd = load_config(path, env={"STATE_DIRECTORY": "/var/lib/edge:/other"})
    assert from_systemd.daemon.state_dir == "/var/lib/edge"
    explicit = _write(tmp_path, FULL_TOML.replace("[daemon]", '[daemon]\nstate_dir = "/srv/e"'))
    assert load_config(explicit, env={"STATE_DIRECTORY": "/x"}).spool_path == Path(
        "/srv/e/edge-telemetry.sqlite3"
    )


def test_the_board_profile_sits_under_the_camera_and_microphone_sections() -> None:
    from edge.media.spec import EncoderKind

    data = _base() | {"board": {"profile": "pi-zero-w"}, "camera": {}, "microphone": {}}
    zero = parse_config(data, env={})
    assert zero.camera is not None
    assert zero.microphone is not None
    board = zero.board
    assert (zero.camera.width, zero.camera.height) == (board.camera.width, board.camera.height)
    assert zero.camera.framerate == board.camera.framerate
    assert zero.camera.bitrate == board.camera.bitrate
    assert zero.camera.encoder is EncoderKind.HARDWARE
    assert zero.microphone.sample_rate == board.audio.sample_rate

    # No H.264 block on a Pi 5: its profile makes the software encoder the default...
    pi5 = parse_config(_base() | {"board": {"profile": "pi-5"}, "camera": {}}, env={})
    assert pi5.camera is not None
    assert pi5.camera.encoder is EncoderKind.SOFTWARE
    # ...and what the user writes wins over the profile.
    mine = {"width": 320, "height": 240, "bitrate": 250_000}
    own = parse_config(_base() | {"board": {"profile": "pi-zero-w"}, "camera": mine}, env={})
    assert own.camera is not None
    assert (own.camera.width, own.camera.height, own.camera.bitrate) == (320, 240, 250_000)
    assert own.camera.framerate == board.camera.framerate


def test_a_token_url_is_a_third_kind_of_credentials() -> None:
    livekit = {k: v for k, v in _base()["livekit"].items() if k not in ("api_key", "api_secret")}
    data = _base() | {"livekit": livekit | {"token_url": "https://tokens.example/edge"}}
    config = parse_config(data, env={})
    assert config.livekit.credentials == "token_url"
    assert "token_url_auth" not in repr(config.livekit)

    both = _base() | {"livekit": _base()["livekit"] | {"token_url": "https://t.example/"}}
    assert _issues(both) == ["livekit: give one of token, api_key + api_secret or token_url"]
    bad = {"livekit": livekit | {"token_url": "ftp://t.example/", "token_url_auth": "x"}}
    assert _issues(_base() | bad) == [
        "livekit.token_url: expected an http:// or https:// URL, got 'ftp://t.example/'"
    ]
    assert _issues(_base() | {"livekit": livekit | {"token_url_auth": "Bearer x"}}) == [
        "livekit.token_url_auth: only used with token_url",
        "livekit: give token, api_key + api_secret, or token_url",
    ]
