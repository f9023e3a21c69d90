"""Edge config: the `edge.toml` a provisioned board runs with, checked as the daemon would."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field

from edge.config import ENV_API_KEY, ENV_API_SECRET, ENV_TOKEN, parse_config
from edge.errors import ConfigError
from edge.provision.quoting import toml_string

MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeConfigFile:
    """A valid `edge.toml`, ready to be copied onto the boot partition."""

    content: bytes = field(repr=False)
    """The file's bytes; it holds the LiveKit credentials, so it is never printed."""
    url: str
    """The LiveKit server URL, for the summary."""
    room: str
    """The room the board joins."""
    identity: str
    """The board's participant identity."""


def existing_config(content: bytes, *, source: str, issues: list[str]) -> EdgeConfigFile | None:
    """A config file given by the user, validated with the board's (empty) environment.

    The credentials must be in the file: the board has no LIVEKIT_* variables, so what the
    workstation's environment would fill in does not count.
    """
    if len(content) > MAX_CONFIG_BYTES:
        issues.append(f"{source}: expected at most {MAX_CONFIG_BYTES} bytes, got {len(content)}")
        return None
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        issues.append(f"{source}: not UTF-8 text")
        return None
    except tomllib.TOMLDecodeError as exc:
        issues.append(f"{source}: invalid TOML: {exc}")
        return None
    try:
        config = parse_config(data, source=source, env={})
    except ConfigError as exc:
        issues.extend(f"{source}: {issue}" for issue in exc.issues)
        return None
    lk = config.livekit
    return EdgeConfigFile(content=content, url=lk.first_url, room=lk.room, identity=lk.identity)


def generated_config(
    *,
    url: str,
    room: str,
    identity: str,
    name: str,
    env: Mapping[str, str],
    issues: list[str],
) -> EdgeConfigFile | None:
    """A minimal config from command-line values; credentials come from `env` only.

    LIVEKIT_API_KEY + LIVEKIT_API_SECRET (the board mints its own tokens) win over
    LIVEKIT_TOKEN, as in `edge run`; secrets stay out of command lines and shell history.
    """
    api_key, api_secret, token = (env.get(k, "") for k in (ENV_API_KEY, ENV_API_SECRET, ENV_TOKEN))
    lines = [
        "# Written by `edge provision`; see docs/configuration.md for more keys.",
        "[livekit]",
        f"url = {toml_string(url)}",
        f"room = {toml_string(room)}",
        f"identity = {toml_string(identity)}",
    ]
    if name:
        lines.append(f"name = {toml_string(name)}")
    if api_key or api_secret:
        lines += [f"api_key = {toml_string(api_key)}", f"api_secret = {toml_string(api_secret)}"]
    elif token:
        lines.append(f"token = {toml_string(token)}")
    else:
        issues.append(
            f"livekit credentials: set {ENV_API_KEY} and {ENV_API_SECRET} (or {ENV_TOKEN})"
            " in the environment, or give --config with a file that holds them"
        )
        return None
    content = ("\n".join(lines) + "\n").encode("utf-8")
    return existing_config(content, source="edge config", issues=issues)
