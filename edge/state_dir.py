"""Can the daemon keep its state where the config says? Asked before `edge run` starts.

The telemetry spool lives under `daemon.state_dir` (or at an absolute `telemetry.spool_path`).
A directory that cannot exist there (a file in the way, a read-only or virtual file system) is
a config error: restarting the daemon cannot fix it. Being denied permission depends on the
user asking, so `edge check-config` only mentions it and `edge run` treats it as an error.
"""

from __future__ import annotations

import errno
import getpass
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge.config import Config

_DENIED = (errno.EACCES, errno.EPERM)


@dataclass(frozen=True, slots=True)
class StateDirCheck:
    """What stands in the way of the state directory, by kind."""

    errors: tuple[str, ...] = ()
    """Problems no user can get past: `key: path: why`."""
    denied: tuple[str, ...] = ()
    """This user may not create or write it (the service's user may)."""


def check_state_dir(config: Config) -> StateDirCheck:
    """Probe the spool's directory: create what is missing (then remove it) or write a file."""
    if not config.telemetry.sensors:
        return StateDirCheck()  # nothing is written without sensors
    spool = config.spool_path
    key = (
        "telemetry.spool_path"
        if Path(config.telemetry.spool_path).is_absolute()
        else ("daemon.state_dir")
    )
    directory = spool.parent
    try:
        _probe(directory)
    except _Unusable as exc:
        line = f"{key}: {directory}: {exc}"
        if exc.errno in _DENIED:
            return StateDirCheck(denied=(f"{line} (as user {_user()})",))
        return StateDirCheck(errors=(line,))
    return StateDirCheck()


class _Unusable(Exception):
    def __init__(self, message: str, errno_: int | None) -> None:
        super().__init__(message)
        self.errno = errno_


def _probe(directory: Path) -> None:
    """Raise `_Unusable` unless `directory` exists or can be created, and takes a file."""
    missing: list[Path] = []
    existing = directory
    while not existing.exists() and existing != existing.parent:
        missing.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        raise _Unusable(f"{existing} is not a directory", errno.ENOTDIR)
    if not missing:
        try:
            with tempfile.TemporaryFile(dir=directory):
                return
        except OSError as exc:
            raise _Unusable(f"cannot write in it: {_reason(exc)}", exc.errno) from None
    created: list[Path] = []
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
            except OSError as exc:
                raise _Unusable(f"cannot create {path}: {_reason(exc)}", exc.errno) from None
            created.append(path)
    finally:
        for path in reversed(created):  # leave the file system as it was
            path.rmdir()


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"
