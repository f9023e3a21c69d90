"""CPU time and memory of a process, from the kernel's own accounting (Linux /proc)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuSample:
    cpu_s: float
    """utime + stime of every thread so far, seconds."""
    at_ns: int
    """`time.monotonic_ns()` when read."""


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (all its threads), in seconds; fields 14 and 15 of stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


def pss_bytes(pid: int) -> int | None:
    """Proportional set size of `pid`, or None when the kernel does not expose it."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return None


def cpu_percent(start: CpuSample, end: CpuSample) -> float | None:
    """Share of one core used between two samples, in percent."""
    elapsed_s = (end.at_ns - start.at_ns) / 1e9
    if elapsed_s <= 0:
        return None
    return 100.0 * (end.cpu_s - start.cpu_s) / elapsed_s
