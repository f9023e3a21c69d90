"""Probes: every question `edge check` asks the system, each replaceable by a test.

The defaults read the real machine: the device tree, /dev, /sys, the user database, the
kernel clock, the file system and the network. Nothing here changes anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import grp
import importlib
import os
import pwd
import shutil
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from edge.board import MODEL_PATH

GPIO_GET_CHIPINFO_IOCTL = 0x8044B401
"""_IOR(0xB4, 0x01, struct gpiochip_info): name[32], label[32], lines (u32)."""
TIME_ERROR = 5
"""adjtimex() result while the kernel clock is not synchronised."""
HTTP_BODY_LIMIT = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class GpioChip:
    """One /dev/gpiochip* as this user sees it."""

    path: Path
    """Device node."""
    label: str
    """Driver label (`pinctrl-bcm2711`); empty when the chip could not be opened."""
    lines: int = 0
    """Number of GPIO lines."""
    error: str = ""
    """Why the chip could not be opened or asked (`Permission denied`), empty when it could."""
    denied: bool = False
    """The error is a permission problem (group membership fixes it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A user and the groups it is in."""

    name: str
    uid: int
    groups: frozenset[str]
    """Names of the primary and supplementary groups."""
    gids: frozenset[int] = frozenset()
    """Their numbers."""


def read_gpio_chips(dev: Path) -> list[GpioChip]:
    """Every /dev/gpiochip*, with the label the kernel driver gives it."""
    chips = []
    for path in sorted(dev.glob("gpiochip*")):
        info = bytearray(68)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                fcntl.ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, info)
            finally:
                os.close(fd)
        except OSError as exc:
            denied = exc.errno in (errno.EACCES, errno.EPERM)
            error = exc.strerror or str(exc)
            chips.append(GpioChip(path=path, label="", error=error, denied=denied))
            continue
        label = info[32:64].split(b"\0", 1)[0].decode("ascii", "replace")
        lines = int.from_bytes(info[64:68], sys.byteorder)
        chips.append(GpioChip(path=path, label=label, lines=lines))
    return chips


def read_current_user() -> User:
    """The effective user and the groups this process has."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    gids = frozenset([*os.getgroups(), os.getegid()])
    return User(name=name, uid=uid, groups=frozenset(_group_names(gids)), gids=gids)


def read_user(name: str) -> User | None:
    """A user from the user database with the groups it would get at login; None if absent."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    gids = {g.gr_gid for g in grp.getgrall() if name in g.gr_mem} | {entry.pw_gid}
    groups = frozenset(_group_names(gids))
    return User(name=name, uid=entry.pw_uid, groups=groups, gids=frozenset(gids))


def read_group_exists(name: str) -> bool:
    """Whether the group is in the group database."""
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def read_import_error(module: str) -> str:
    """Empty if `module` imports, else the error (a missing libcamera shows up here too)."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return f"{type(exc).__name__}: {exc}"
    return ""


def count_cameras() -> int:
    """The number of cameras libcamera lists."""
    from picamera2 import Picamera2  # heavy: libcamera, numpy

    return len(Picamera2.global_camera_info())


def has_libav_encoder(name: str) -> bool:
    """Whether PyAV can open an encoder called `name`."""
    try:
        import av  # heavy: FFmpeg

        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - missing PyAV or codec both mean "no"
        return False
    return True


def read_clock_synced() -> bool | None:
    """Ask the kernel (adjtimex, read-only) whether its clock is synchronised."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timex = ctypes.create_string_buffer(512)  # modes = 0: only read the state
        state = int(libc.adjtimex(timex))
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != TIME_ERROR


def read_free_bytes(path: Path) -> int:
    """Free bytes for unprivileged users on the file system that holds (or will hold) `path`."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def tcp_connect(host: str, port: int, tls: bool, timeout: float) -> None:
    """Open a TCP connection (and a verified TLS session) and close it again."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        if tls:
            context = ssl.create_default_context()
            with context.wrap_socket(sock, server_hostname=host):
                pass


def http_get_text(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """GET `url`; the status and the start of the body, also for HTTP error statuses."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _text(response.read(HTTP_BODY_LIMIT))
    except urllib.error.HTTPError as exc:
        with contextlib.closing(exc):
            return exc.code, _text(exc.read(HTTP_BODY_LIMIT))
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None


def may_read_write(path: Path) -> bool:
    """Whether this process may open `path` for reading and writing."""
    return os.access(path, os.R_OK | os.W_OK)


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace").strip()


def _group_names(gids: Iterable[int]) -> set[str]:
    names = set()
    for gid in gids:
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.add(str(gid))
    return names


@dataclass(frozen=True, slots=True, kw_only=True)
class Probes:
    """The system as `edge check` sees it; tests replace any field."""

    model_path: Path = MODEL_PATH
    """The device tree's model string."""
    dev: Path = Path("/dev")
    """Device nodes (gpiochip*, video*, snd/)."""
    sys_video: Path = Path("/sys/class/video4linux")
    """V4L2 devices and their names (the H.264 encoder is one)."""
    service_state_dir: Path = Path("/var/lib/edge")
    """systemd's StateDirectory for the service: where its spool lives."""
    gpio_chips: Callable[[Path], list[GpioChip]] = read_gpio_chips
    """The GPIO chips under a /dev directory."""
    user: Callable[[], User] = read_current_user
    """The user running the check."""
    lookup_user: Callable[[str], User | None] = read_user
    """A user by name, None if there is none."""
    group_exists: Callable[[str], bool] = read_group_exists
    """Whether a group exists."""
    access: Callable[[Path], bool] = may_read_write
    """Whether this user may open a device for reading and writing."""
    import_error: Callable[[str], str] = read_import_error
    """Why a module cannot be imported; empty when it can."""
    cameras: Callable[[], int] = count_cameras
    """How many cameras libcamera sees (needs picamera2)."""
    libav_encoder: Callable[[str], bool] = has_libav_encoder
    """Whether PyAV's FFmpeg has an encoder of that name (`libx264`)."""
    clock_synced: Callable[[], bool | None] = read_clock_synced
    """Kernel clock synchronised (NTP); None when that cannot be asked."""
    now: Callable[[], float] = time.time
    """Seconds since the epoch."""
    free_bytes: Callable[[Path], int] = read_free_bytes
    """Free space on the file system of a path."""
    connect: Callable[[str, int, bool, float], None] = tcp_connect
    """Open and close a TCP connection (host, port, tls, timeout); OSError if it fails."""
    http_get: Callable[[str, Mapping[str, str], float], tuple[int, str]] = http_get_text
    """GET (url, headers, timeout): status and start of the body; OSError without an answer."""
    timeout_s: float = 5.0
    """Longest wait for each network check."""
