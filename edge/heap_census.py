"""Heap census: on SIGUSR2, append the live Python objects counted by type to a file.

    EDGE_DEBUG_GC_DUMP=/tmp/edge-heap.jsonl edge run ...
    kill -USR2 <pid>          # one JSON line per signal; diff two lines to see what grows

A debugging aid for memory growth: each line holds the time, VmRSS, the asyncio task count
and, after a full collection, the count of every type (`module.QualName`) still reachable.
Off unless the variable is set (`edge.config.debug_census_path`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import json
import logging
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)


def census() -> dict[str, Any]:
    """Counts of reachable objects by type (after `gc.collect()`), tasks and VmRSS."""
    before = len(gc.get_objects())
    collected = gc.collect()
    types = Counter(_type_name(type(o)) for o in gc.get_objects())
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:  # no running loop
        tasks = -1
    return {
        "at": time.monotonic(),
        **_status_kb(),
        "tasks": tasks,
        "objects_before_collect": before,
        "collected": collected,
        "objects": sum(types.values()),
        "blocks": sys.getallocatedblocks(),
        **_c_heap(),
        "types": dict(types.most_common()),
    }


def install(loop: asyncio.AbstractEventLoop, path: str) -> None:
    """Append a `census()` to `path` on every SIGUSR2 (from the event loop)."""

    def write() -> None:
        line = json.dumps(census(), separators=(",", ":"))
        with Path(path).open("a", encoding="utf-8") as file:
            file.write(line + "\n")
        _LOGGER.info("heap census appended to %s", path)

    loop.add_signal_handler(signal.SIGUSR2, write)
    _LOGGER.info("heap census on SIGUSR2 into %s", path)


def _type_name(kind: type) -> str:
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", kind.__name__)
    return name if module == "builtins" else f"{module}.{name}"


class _MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2`: ten size_t counters."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks")
    ] + [(name, ctypes.c_size_t) for name in ("uordblks", "fordblks", "keepcost")]


def _c_heap() -> dict[str, int]:
    """glibc's heap in use and free-but-kept (kB), and SQLite's own allocations, if known."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError, AttributeError, TypeError):
        mallinfo2 = ctypes.CDLL(ctypes.util.find_library("c") or "").mallinfo2
        mallinfo2.restype = _MallInfo2
        info = mallinfo2()
        found["malloc_used_kb"] = (info.uordblks + info.hblkhd) // 1024
        found["malloc_free_kb"] = info.fordblks // 1024
    with contextlib.suppress(OSError, AttributeError, TypeError):
        used = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "").sqlite3_memory_used
        used.restype = ctypes.c_int64
        found["sqlite_kb"] = used() // 1024
    return found


def _status_kb() -> dict[str, int]:
    """VmRSS and its parts (anonymous, file-backed, shared) from /proc, in kB."""
    fields = {"VmRSS:": "rss_kb", "RssAnon:": "rss_anon_kb", "RssFile:": "rss_file_kb"}
    found = {"rss_kb": -1}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in fields:
                found[fields[parts[0]]] = int(parts[1])
    return found
