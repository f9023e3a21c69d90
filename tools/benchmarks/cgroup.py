"""A cgroup with a CPU quota for the device process: cgroup v1 `cpu` or cgroup v2 `cpu.max`.

    with cgroup.cpu_group(quota_us=6_300) as group:      # QuotaUnavailable says why not
        argv = group.wrap(["ip", "netns", "exec", ...])  # a prefix; the process joins at exec

The group is made under the root of the hierarchy that has the `cpu` controller (a v1 `cpu`
mount, else a cgroup2 mount with `cpu` in its controllers), named `edge-bench-<pid>-<hex>`,
and always removed afterwards; one left by a runner that died is removed by the next.
`wrap` puts a tiny shell in front of the command: it writes its own pid to the group's
`cgroup.procs` and execs the rest, so the process is in the group from its first instruction
on and keeps its pid (the runner reads its CPU time from /proc/<pid>). It goes in front of
`ip netns exec`, which mounts a sysfs of its own where the cgroup files are not.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MOUNTS = Path("/proc/self/mounts")
NAME_PREFIX = "edge-bench-"
_NAME = re.compile(rf"^{NAME_PREFIX}(\d+)-[0-9a-f]{{8}}$")
_ESCAPE = re.compile(r"\\([0-7]{3})")
JOIN_SCRIPT = 'echo $$ > "$1" || exit 126; shift; exec "$@"'
"""`sh -c` script: join the group (argument 1), then exec the command that follows."""


class QuotaUnavailable(RuntimeError):
    """No CPU quota can be set here (not root, no cpu controller, read-only, refused)."""


@dataclass(frozen=True, slots=True)
class Hierarchy:
    version: int
    """1: a v1 hierarchy with the `cpu` controller; 2: the unified hierarchy."""
    root: Path


@dataclass(frozen=True, slots=True)
class Throttling:
    """The group's `cpu.stat`: CFS periods so far, how many ran out of quota, time held back."""

    periods: int
    throttled: int
    throttled_us: int


def hierarchies(mounts: str) -> list[Hierarchy]:
    """Where a cpu controller may be, from /proc/self/mounts: v1 `cpu` mounts, then cgroup2."""
    v1, v2 = [], []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mountpoint = Path(_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[1]))
        if fields[2] == "cgroup" and "cpu" in fields[3].split(","):
            v1.append(Hierarchy(1, mountpoint))
        elif fields[2] == "cgroup2":
            v2.append(Hierarchy(2, mountpoint))
    return v1 + v2


def quota_settings(version: int, quota_us: int, period_us: int) -> list[tuple[str, str]]:
    """(file, value) to write, in order, for `quota_us` of CPU time per `period_us`."""
    if quota_us < 1 or period_us < 1:
        raise ValueError(f"quota and period must be positive, not {quota_us}/{period_us}")
    if version == 1:
        return [("cpu.cfs_period_us", str(period_us)), ("cpu.cfs_quota_us", str(quota_us))]
    if version == 2:
        return [("cpu.max", f"{quota_us} {period_us}")]
    raise ValueError(f"no cgroup version {version}")


def wrap(procs_file: Path, argv: Sequence[str]) -> list[str]:
    """`argv` started as a member of the group whose `cgroup.procs` is `procs_file`."""
    return ["sh", "-c", JOIN_SCRIPT, "sh", str(procs_file), *argv]


def parse_stat(text: str) -> Throttling:
    """A `cpu.stat` of either version (v1 counts throttled time in ns, v2 in us)."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    try:
        if "throttled_usec" in values:
            held_us = values["throttled_usec"]
        else:
            held_us = values["throttled_time"] // 1000
        return Throttling(values["nr_periods"], values["nr_throttled"], held_us)
    except KeyError as exc:
        raise ValueError(f"cpu.stat without {exc.args[0]}: {text!r}") from None


@dataclass(frozen=True, slots=True)
class Group:
    path: Path
    version: int
    quota_us: int
    period_us: int

    @property
    def mechanism(self) -> str:
        settings = ", ".join(
            f"{name} = {value}"
            for name, value in quota_settings(self.version, self.quota_us, self.period_us)
        )
        return f"cgroup v{self.version} cpu controller, {settings} (group {self.path})"

    def wrap(self, argv: Sequence[str]) -> list[str]:
        return wrap(self.path / "cgroup.procs", argv)

    def holds(self, pid: int) -> bool:
        """Whether process `pid` is a member (its /proc/<pid>/cgroup names the group)."""
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return False
        return any(line.endswith(f"/{self.path.name}") for line in lines)

    def throttling(self) -> Throttling | None:
        try:
            return parse_stat((self.path / "cpu.stat").read_text())
        except (OSError, ValueError):
            return None


def find_hierarchy() -> Hierarchy:
    """The hierarchy to make the group in; QuotaUnavailable says why there is none."""
    if os.geteuid() != 0:
        raise QuotaUnavailable("a cgroup CPU quota needs root")
    try:
        found = hierarchies(MOUNTS.read_text())
    except OSError as exc:
        raise QuotaUnavailable(f"cannot read the mount table: {exc}") from None
    for hierarchy in found:
        if hierarchy.version == 1 or "cpu" in _words(hierarchy.root / "cgroup.controllers"):
            return hierarchy
    raise QuotaUnavailable("no cgroup hierarchy with the cpu controller is mounted")


@contextmanager
def cpu_group(quota_us: int, period_us: int) -> Iterator[Group]:
    """A fresh group limited to `quota_us` per `period_us`; removed when the block ends."""
    hierarchy = find_hierarchy()
    remove_stale(hierarchy.root)
    path = hierarchy.root / f"{NAME_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        if hierarchy.version == 2:
            _enable_cpu(hierarchy.root)
        path.mkdir()
    except OSError as exc:
        raise QuotaUnavailable(f"cannot make a cgroup in {hierarchy.root}: {exc}") from None
    try:
        try:
            for name, value in quota_settings(hierarchy.version, quota_us, period_us):
                (path / name).write_text(value)
        except OSError as exc:
            raise QuotaUnavailable(f"cannot set the quota of {path}: {exc}") from None
        yield Group(path, hierarchy.version, quota_us, period_us)
    finally:
        _remove(path, hierarchy.root)


def remove_stale(root: Path) -> list[str]:
    """Remove groups of ours whose creating process is gone; return their names."""
    removed = []
    for path in root.glob(f"{NAME_PREFIX}*"):
        match = _NAME.match(path.name)
        if match is None or _alive(int(match.group(1))):
            continue
        _remove(path, root)
        removed.append(path.name)
    return removed


def _enable_cpu(root: Path) -> None:
    if "cpu" not in _words(root / "cgroup.subtree_control"):
        (root / "cgroup.subtree_control").write_text("+cpu")


def _remove(path: Path, root: Path) -> None:
    """Move what is left in the group (a process that outlived the run) out, then remove it."""
    try:
        left = _words(path / "cgroup.procs")
    except OSError:
        return
    for pid in left:
        with contextlib.suppress(OSError):  # it exited meanwhile
            (root / "cgroup.procs").write_text(pid)
    with contextlib.suppress(OSError):  # still busy: the next run's remove_stale tries again
        path.rmdir()


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
