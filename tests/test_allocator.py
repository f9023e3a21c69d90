"""The arena cap: a daemon's threads share two glibc malloc arenas instead of one each."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from edge.allocator import limit_arenas

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

# Six threads each allocate (and keep) a megabyte from malloc, then glibc prints its arenas.
PROGRAM = """
import ctypes, sys, threading
from edge.allocator import limit_arenas
print(limit_arenas() if sys.argv[1] == "cap" else "uncapped", flush=True)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
kept, started = [], threading.Barrier(6)
def work():
    started.wait()
    kept.append(libc.malloc(1 << 20))
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
libc.malloc_stats()
"""


def arenas(mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    count = sum(line.startswith("Arena ") for line in done.stderr.splitlines())
    return done.stdout.strip(), count


def test_capped_threads_share_two_arenas_where_uncapped_ones_take_one_each() -> None:
    assert arenas("cap") == ("True", 2)
    _, uncapped = arenas("uncapped")
    assert uncapped > 2, f"glibc made {uncapped} arena(s) for six threads without the cap"


def test_a_users_malloc_arena_max_is_left_in_charge() -> None:
    assert arenas("cap", {"MALLOC_ARENA_MAX": "4"}) == ("False", 4)


def test_it_does_nothing_when_the_environment_already_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "1")
    assert limit_arenas() is False


TRIM = """
import ctypes, pathlib
from edge.allocator import heap_trimmer
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def anon():
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
blocks = [libc.malloc(1024) for _ in range(40_000)]
for b in blocks:
    ctypes.memset(b, 1, 1024)  # touched: resident
for b in blocks[:-1]:
    libc.free(b)  # all but the top one: free() alone cannot shrink the heap
before = anon()
trim = heap_trimmer()
print(trim is not None and trim(), before - anon())
"""


def test_a_trim_returns_the_free_pages_a_burst_left_inside_the_heap() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TRIM], capture_output=True, text=True, check=True, timeout=60
    )
    returned, freed = done.stdout.split()
    assert returned == "True"
    assert int(freed) > 20 * 2**20  # of the ~40 MiB the burst left behind
