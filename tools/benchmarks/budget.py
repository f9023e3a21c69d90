"""`--cpu-budget BOARD`: one core of a Raspberry Pi, as a CPU quota calibrated on this machine.

The quota is derived, not guessed: a CPU-bound CPython benchmark whose time on the boards is
published runs here (scaled down, in a fresh interpreter), and the quota is the share of one
core here that does the same work in the same time as one core of the board:

    fraction = T_here / T_board        (seconds per "attempt", both)
    quota_us = fraction x PERIOD_US

The benchmark is the "attempt" of Alex Dedyura's cpu-benchmark (github.com/alexdedyura/
cpu-benchmark): 10,000 iterations of three float loops, run at module level (globals), as in
the script version that produced the Raspberry Pi figures. It is written out again below.

Published per-attempt times (docs/benchmarks.md has the full story):

- Raspberry Pi 4 (Cortex-A72): 79.216 s, the project README's row of 2024-01-12 (Ubuntu
  22.04.3 LTS, so presumably Python 3.10). No clock stated; the Pi 400 row it replaced
  (81.589 s) ran at 1.8 GHz, so 1.8 GHz it is.
- Raspberry Pi Zero 2 W (Cortex-A53 at 1.0 GHz): not published; the Pi 3B+ (the same A53 at
  1.4 GHz) took 245 s with Python 3.11.2 (the project's issue #20, 2024-04-20). CPython's
  speed on these cores is proportional to the clock (Roy Longbottom's Raspberry Pi
  benchmarks: a Pi 400 Python loop took 17 us at 1800 MHz and 50 us at 600 MHz), so
  245 s x 1.4 / 1.0 = 343 s.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from . import cgroup

ATTEMPT_ITERATIONS = 10_000
"""Iterations of the three loops in one published attempt."""
SCALED_ITERATIONS = 1_000
"""Iterations run here per measurement (about 2 s on a 2020s x86 core)."""
REPEATS = 3
"""Measurements here; the fastest counts (noise only ever adds time)."""
PERIOD_US = 100_000
"""The quota's period (the kernel's default CFS period)."""
MIN_QUOTA_US = 1_000
"""The smallest quota the kernel accepts."""
RUN_TIMEOUT_S = 600.0

# Module-level code, run as `python -c`: the loops use globals, as the published script did.
# argv: iterations, repeats. Prints the CPU seconds of each repeat, one per line.
_LOOPS = """\
import sys, time
iterations, repeats = int(sys.argv[1]), int(sys.argv[2])
for repeat in range(repeats):
    begin = time.process_time()
    for i in range(iterations):
        for x in range(1, 1000):
            3.141592 * 2**x
        for x in range(1, 10000):
            float(x) / 3.141592
        for x in range(1, 10000):
            float(3.141592) / x
    print(time.process_time() - begin)
"""


@dataclass(frozen=True, slots=True)
class Board:
    """One core of a board, as the published benchmark time it takes per attempt."""

    name: str
    title: str
    reference_s: float
    """Published seconds per attempt on the reference board."""
    reference_mhz: int
    """The reference board's clock."""
    mhz: int
    """This board's clock (the same core as the reference)."""
    python: str
    """The Python the reference figure was taken with."""
    source: str

    @property
    def seconds_per_attempt(self) -> float:
        """The reference time scaled to this board's clock (CPython scales with the clock)."""
        return self.reference_s * self.reference_mhz / self.mhz


BOARDS: dict[str, Board] = {
    board.name: board
    for board in (
        Board(
            name="zero2w",
            title="Raspberry Pi Zero 2 W (Cortex-A53, 1.0 GHz)",
            reference_s=245.0,
            reference_mhz=1400,
            mhz=1000,
            python="3.11.2",
            source="alexdedyura/cpu-benchmark issue #20 (2024-04-20): Raspberry Pi 3B+ "
            "(Cortex-A53, 1.4 GHz), Python 3.11.2, 245 s; x 1.4 / 1.0 GHz (speed proportional "
            "to the clock: Roy Longbottom's Raspberry Pi benchmarks)",
        ),
        Board(
            name="pi4",
            title="Raspberry Pi 4 (Cortex-A72, 1.8 GHz)",
            reference_s=79.216,
            reference_mhz=1800,
            mhz=1800,
            python="3.10 (presumably: Ubuntu 22.04.3 LTS)",
            source="alexdedyura/cpu-benchmark README row of 2024-01-12: Raspberry Pi 4, Ubuntu "
            "22.04.3 LTS, 79.216 s (clock not stated; the Pi 400 row it replaced, 81.589 s, "
            "ran at 1.8 GHz)",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Calibration:
    board: Board
    iterations: int
    """Iterations per measurement here."""
    samples_s: tuple[float, ...]
    """CPU seconds of each measurement here."""
    python: str
    """This interpreter's version."""
    period_us: int = PERIOD_US

    @property
    def best_s(self) -> float:
        return min(self.samples_s)

    @property
    def here_per_attempt_s(self) -> float:
        return per_attempt(self.best_s, self.iterations)

    @property
    def fraction(self) -> float:
        """The share of one core here that is one core of the board."""
        return core_fraction(self.here_per_attempt_s, self.board.seconds_per_attempt)

    @property
    def quota_us(self) -> int:
        return quota_us(self.fraction, self.period_us)

    @property
    def capped(self) -> bool:
        """This machine is no faster than the board: the quota is one whole core."""
        return self.fraction >= 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "board": self.board.name,
            "board_title": self.board.title,
            "benchmark": "cpu-benchmark attempt (10,000 x three float loops, module level)",
            "iterations_here": self.iterations,
            "samples_here_s": list(self.samples_s),
            "here_per_attempt_s": self.here_per_attempt_s,
            "python_here": self.python,
            "board_per_attempt_s": self.board.seconds_per_attempt,
            "board_python": self.board.python,
            "board_source": self.board.source,
            "fraction": self.fraction,
            "quota_us": self.quota_us,
            "period_us": self.period_us,
            "capped": self.capped,
        }


def per_attempt(seconds: float, iterations: int) -> float:
    """Seconds for `iterations` scaled to one published attempt."""
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    if seconds <= 0:
        raise ValueError(f"a measured time must be positive, not {seconds}")
    return seconds * ATTEMPT_ITERATIONS / iterations


def core_fraction(here_s: float, board_s: float) -> float:
    """One board core as a share of one core here: the board takes longer by 1 / fraction."""
    if here_s <= 0 or board_s <= 0:
        raise ValueError(f"times must be positive, not here {here_s} s, board {board_s} s")
    return here_s / board_s


def quota_us(fraction: float, period_us: int = PERIOD_US) -> int:
    """The quota per `period_us` for `fraction` of a core: at least the kernel's minimum, at
    most one whole core (a board faster than this machine cannot be emulated by a quota)."""
    if fraction <= 0:
        raise ValueError(f"a core fraction must be positive, not {fraction}")
    if period_us < MIN_QUOTA_US:
        raise ValueError(f"the period must be at least {MIN_QUOTA_US} us, not {period_us}")
    return max(MIN_QUOTA_US, min(period_us, round(fraction * period_us)))


def parse_samples(stdout: str, repeats: int) -> tuple[float, ...]:
    """The measurement subprocess's output: one positive number of seconds per line."""
    lines = stdout.split()
    if len(lines) != repeats:
        raise ValueError(f"expected {repeats} timings, got {stdout!r}")
    samples = tuple(float(line) for line in lines)
    if min(samples) <= 0:
        raise ValueError(f"timings must be positive, got {stdout!r}")
    return samples


def calibrate(
    board: Board, *, iterations: int = SCALED_ITERATIONS, repeats: int = REPEATS
) -> Calibration:
    """Run the benchmark here, in a fresh process of this interpreter, and derive the quota."""
    argv = [sys.executable, "-c", _LOOPS, str(iterations), str(repeats)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=RUN_TIMEOUT_S)
    return Calibration(
        board=board,
        iterations=iterations,
        samples_s=parse_samples(done.stdout, repeats),
        python=sys.version.split()[0],
    )


def describe(calibration: Calibration, mechanism: str) -> list[str]:
    """The calibration as the report prints it, next to the results."""
    c, board = calibration, calibration.board
    samples = ", ".join(f"{s:.3f}" for s in c.samples_s)
    lines = [
        f"CPU budget {board.name}: one core of a {board.title}",
        f"  benchmark: cpu-benchmark's attempt ({ATTEMPT_ITERATIONS:,} x three float loops at "
        f"module level), here {c.iterations:,} iterations, CPU s of {len(c.samples_s)} runs: "
        f"{samples}; best -> {c.here_per_attempt_s:.2f} s per attempt (Python {c.python})",
        f"  board: {board.seconds_per_attempt:.1f} s per attempt (Python {board.python}); "
        f"{board.source}",
        f"  quota: {100 * min(c.fraction, 1.0):.2f} % of one core here = {c.quota_us} us per "
        f"{c.period_us} us period"
        + (" (capped: the board is no slower than this machine)" if c.capped else ""),
        f"  mechanism: {mechanism}",
        "  only our device runs under it; the official SDK's device runs unconstrained (it has "
        "no 32-bit wheels for these boards): its column is its unconstrained figure",
    ]
    return lines


def apply(
    stack: contextlib.ExitStack[Any], board: Board, iterations: int
) -> tuple[dict[str, Any] | None, cgroup.Group | None, str | None]:
    """Calibrate, then make the quota group (removed when `stack` closes); never raises for
    a machine where that cannot be done.

    Returns the calibration as the report shows it, the group, and why there is none.
    """
    try:
        calibration = calibrate(board, iterations=iterations)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return None, None, f"the calibration benchmark failed: {exc}"
    group: cgroup.Group | None = None
    why_not: str | None = None
    try:
        group = stack.enter_context(cgroup.cpu_group(calibration.quota_us, calibration.period_us))
        mechanism = group.mechanism
    except cgroup.QuotaUnavailable as exc:
        why_not = str(exc)
        mechanism = f"none ({why_not})"
    described = {
        **calibration.as_json(),
        "mechanism": mechanism,
        "group": None if group is None else str(group.path),
        "official": "unconstrained",
        "text": describe(calibration, mechanism),
    }
    return described, group, why_not
