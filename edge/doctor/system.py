"""System checks: the config file, the clock, and disk space for the telemetry spool."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from edge.config import Config, held_secrets, load_config
from edge.doctor.context import SERVICE_USER, Context
from edge.doctor.findings import Finding, fail, ok, warn
from edge.doctor.probes import Probes, User
from edge.errors import ConfigError
from edge.token import EARLIEST_PLAUSIBLE_TIME, iso_utc

SPOOL_ROW_BYTES = 200
"""Disk a spooled reading takes in sqlite, generously (row, index, journal)."""
MIB = 1024 * 1024


def read_config(path: Path, probes: Probes) -> tuple[Config | None, Mapping[str, object], Finding]:
    """The config, its raw TOML (empty if it is not TOML) and whether it is valid."""
    try:
        config = load_config(path, model_path=probes.model_path)
    except ConfigError as exc:
        issues = "; ".join(exc.issues)
        message = issues if issues.startswith(str(path)) else f"{path}: {issues}"
        fix = f"correct what is named (edge check-config --config {path})"
        return None, _raw(path), fail("config", message, fix)
    return config, _raw(path), ok("config", f"{path} is valid")


def check_secrets(ctx: Context) -> Finding:
    """A config file holding a secret is readable by the service and nobody else."""
    path = ctx.config_path
    try:
        info = path.stat()
    except OSError as exc:
        return ok("secrets", f"not checked: {exc.strerror}")
    mode = stat.S_IMODE(info.st_mode)
    fix = f"sudo chown root:{SERVICE_USER} {path} && sudo chmod 0640 {path}"
    secrets = held_secrets(ctx.raw)
    if secrets and mode & stat.S_IROTH:
        held = ", ".join(secrets)
        return fail(
            "secrets", f"{path} holds {held} and every user can read it (mode {mode:04o})", fix
        )
    service = ctx.probes.lookup_user(SERVICE_USER)
    if service is not None and not _readable_by(info, service):
        return fail("secrets", f"the service user {SERVICE_USER} cannot read {path}", fix)
    what = ", ".join(secrets) if secrets else "no secrets"
    return ok("secrets", f"{path}: mode {mode:04o} ({what})")


def check_clock(ctx: Context) -> Finding:
    """The clock is set (tokens and certificates depend on it) and synchronised."""
    now = ctx.probes.now()
    if now < EARLIEST_PLAUSIBLE_TIME:
        return fail(
            "clock",
            f"the clock reads {iso_utc(now)}: it has not been set",
            "give the board a network with NTP; `timedatectl` shows the sync state",
        )
    synced = ctx.probes.clock_synced()
    if synced is None:
        return ok("clock", f"{iso_utc(now)} (whether NTP synchronised it is unknown)")
    if not synced:
        return warn(
            "clock",
            f"{iso_utc(now)}, not synchronised by NTP",
            "check `timedatectl`: tokens and TLS certificates need the right time",
        )
    return ok("clock", f"{iso_utc(now)}, synchronised")


def check_disk(ctx: Context) -> Finding:
    """Room on disk for the telemetry spool at its bound."""
    config = ctx.config
    if config is None:
        return ok("disk", "not checked: no valid config")
    spool = config.spool_path
    service_dir = ctx.probes.service_state_dir
    if config.daemon.state_dir == str(ctx.config_path.parent) and service_dir.is_dir():
        spool = service_dir / config.telemetry.spool_path  # where the service keeps it
    need = config.telemetry.spool_max_rows * SPOOL_ROW_BYTES
    free = ctx.probes.free_bytes(spool.parent)
    found = (
        f"{free / MIB:.0f} MiB free for the spool {spool}, which may grow to {need / MIB:.0f} MiB"
    )
    fix = "free some space, or lower [telemetry] spool_max_rows"
    if free < need:
        return fail("disk", found, fix)
    if free < 2 * need:
        return warn("disk", found, fix)
    return ok("disk", found)


def _raw(path: Path) -> Mapping[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def _readable_by(info: os.stat_result, user: User) -> bool:
    if info.st_uid == user.uid:
        return bool(info.st_mode & stat.S_IRUSR)
    if info.st_gid in user.gids:
        return bool(info.st_mode & stat.S_IRGRP)
    return bool(info.st_mode & stat.S_IROTH)
