"""Fleet plan: N simulated boards from one config template, each its own identity and state. Pure.

    identities = board_identities("sim", 3)          # ("sim-0001", "sim-0002", "sim-0003")
    data = board_data(template, identity="sim-0002", index=2, state_dir="/srv/fleet/sim-0002")
    config = parse_config(data, simulate=True)       # as `edge run --simulate` would read it

Every board gets the template's settings with its own `livekit.identity` and its own
`daemon.state_dir` (so its own telemetry spool). String values anywhere in the template may
name the board: `{identity}` and `{index}` (1, 2, ...) are replaced, e.g.
`room = "site-{index}"` for one room per board. Other braces are left alone.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from edge.config import Config
from edge.errors import ConfigError
from edge.livekit_config import MAX_NAME_BYTES

MAX_BOARDS = 5000
"""Most boards one fleet process runs (a few MiB and a few file descriptors each)."""
MIN_NUMBER_DIGITS = 4
"""Board numbers are zero-padded to this many digits at least: `sim-0001`."""
PLACEHOLDERS = ("{identity}", "{index}")


def board_identities(prefix: str, count: int) -> tuple[str, ...]:
    """`prefix-0001` ... `prefix-<count>`, numbers padded to one width; ConfigError if bad."""
    issues = []
    if not MAX_BOARDS >= count >= 1:
        issues.append(f"--count: expected 1 to {MAX_BOARDS} boards, got {count}")
    if not prefix.strip():
        issues.append("--identity-prefix: must not be empty")
    elif any(p in prefix for p in PLACEHOLDERS):
        issues.append(f"--identity-prefix: {prefix!r} holds a placeholder; give the bare prefix")
    if issues:
        raise ConfigError(issues)
    width = max(MIN_NUMBER_DIGITS, len(str(count)))
    identities = tuple(f"{prefix}-{n:0{width}d}" for n in range(1, count + 1))
    if len(identities[-1].encode()) > MAX_NAME_BYTES:
        raise ConfigError(
            f"--identity-prefix: {identities[-1]!r} is longer than {MAX_NAME_BYTES} bytes"
        )
    return identities


def identity_prefix(template: Mapping[str, object], given: str | None) -> str:
    """The prefix given on the command line, else the template's `livekit.identity`."""
    if given is not None:
        return given
    livekit = template.get("livekit")
    identity = livekit.get("identity") if isinstance(livekit, Mapping) else None
    if not isinstance(identity, str) or not identity:
        raise ConfigError(
            "--identity-prefix: required when the template has no livekit.identity to number"
        )
    return identity


def board_data(
    template: Mapping[str, object], *, identity: str, index: int, state_dir: str
) -> dict[str, Any]:
    """The template as one board's config table (the template itself is left as it was)."""
    data: dict[str, Any] = _substitute(template, {"{identity}": identity, "{index}": str(index)})
    for section, key, value in (
        ("livekit", "identity", identity),
        ("daemon", "state_dir", state_dir),
    ):
        table = data.setdefault(section, {})
        if isinstance(table, dict):  # not a table: parse_config names the problem
            table[key] = value
    return data


def shared_spools(configs: Sequence[Config]) -> list[str]:
    """Problems with boards that would write one spool file (an absolute `spool_path`)."""
    owners: dict[str, list[str]] = {}
    for config in configs:
        if config.telemetry.sensors:
            owners.setdefault(str(config.spool_path), []).append(config.livekit.identity)
    return [
        f"telemetry.spool_path: {path} would be shared by {len(ids)} boards ({ids[0]}, ...);"
        " give a relative path (each board's lives under its state directory) or use {identity}"
        for path, ids in owners.items()
        if len(ids) > 1
    ]


def start_delays(count: int, window_s: float, rng: random.Random) -> list[float]:
    """When each board starts: at a random moment within the first `window_s` (0: at once)."""
    if window_s < 0:
        raise ConfigError(f"--stagger: expected 0 or more seconds, got {window_s:g}")
    return [rng.uniform(0.0, window_s) if window_s else 0.0 for _ in range(count)]


def _substitute(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for placeholder, replacement in names.items():
            value = value.replace(placeholder, replacement)
        return value
    if isinstance(value, Mapping):
        return {key: _substitute(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, names) for item in value]
    return value
