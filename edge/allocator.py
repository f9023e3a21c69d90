"""The C allocator: cap glibc's malloc arenas before the daemon starts its threads.

glibc gives each thread that finds the main heap busy an arena of its own, up to eight per
core. Freed memory inside an arena mostly stays with the process, so a burst of work spread
over the executor's threads (snapshots, history answers, sqlite pages) left the daemon
~20 MiB bigger for good: 1000 hostile calls on a loaded machine took it from 72 to 84 MiB
of anonymous memory, and to 77 MiB from 76 with two arenas. Two arenas cost nothing we can
measure here; on a Pi Zero 2 W they save a tenth of its RAM after the first busy minute.

`MALLOC_ARENA_MAX` in the environment wins, so a user can still choose; other C libraries
(musl) have no arenas and are left alone.

Freed memory between live blocks stays with the process too: a burst of short-lived objects
leaves holes that glibc hands back only from the top of a heap. `HeapTrimmer` calls
`malloc_trim(0)` once a minute, which also returns whole free pages from inside the heaps
(a few milliseconds of work for a heap of this size, even on a Pi Zero 2 W).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (glibc malloc.h)."""
ARENAS = 2
TRIM_PERIOD_S = 60.0


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas`; True if set, False where it does not apply."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to cap
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_ARENA_MAX, arenas) != 1:
        _LOGGER.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
        return False
    return True


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def heap_trimmer() -> Callable[[], bool] | None:
    """`malloc_trim(0)` as a callable (True: memory was returned), or None without glibc."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: bool(trim(0))


class HeapTrimmer:
    """Hands freed heap pages back to the kernel every `period_s` (a service of the daemon)."""

    def __init__(self, period_s: float = TRIM_PERIOD_S) -> None:
        self.period_s = period_s
        self.trims = 0
        """Calls that returned memory."""

    async def run(self) -> None:
        trim = heap_trimmer()
        if trim is None:
            return  # not glibc: nothing to trim
        while True:
            await asyncio.sleep(self.period_s)
            if trim():
                self.trims += 1
