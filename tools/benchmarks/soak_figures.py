"""The soak run's figures from what it recorded — pure functions, no I/O.

- **deaf periods**: runs of consecutive failed probe RPCs, at least `min_s` long, while the
  edge told systemd it was `connected` and the link was not cut (a cut counts until the edge
  says `connected` again after the restore, or `heal_s` after it if it never noticed);
- **RSS growth**: the least-squares slope of the edge's RSS over time, after a warm-up;
- **lost readings**: telemetry sequence numbers the observer never received.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe call: when it was sent (s, monotonic) and whether it came back in time."""

    at_s: float
    ok: bool


@dataclass(frozen=True, slots=True)
class Cut:
    """A link cut: from `at_s` to `restored_s` (monotonic seconds)."""

    at_s: float
    restored_s: float


@dataclass(frozen=True, slots=True)
class DeafPeriod:
    start_s: float
    end_s: float
    failed_probes: int

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def state_at(timeline: Sequence[tuple[float, str]], at_s: float) -> str:
    """The edge's connection state at `at_s` from (time, state) changes in time order."""
    state = "starting"
    for changed_s, name in timeline:
        if changed_s > at_s:
            break
        state = name
    return state


def excused_windows(
    cuts: Iterable[Cut], timeline: Sequence[tuple[float, str]], *, heal_s: float
) -> list[tuple[float, float]]:
    """Per cut: from the cut until the edge is `connected` again after the restore."""
    windows = []
    for cut in cuts:
        back = next(
            (
                t
                for (t, name), (_, before) in zip(timeline[1:], timeline, strict=False)
                if t >= cut.restored_s and name == "connected" and before != "connected"
            ),
            None,
        )
        end = cut.restored_s + heal_s if back is None else max(back, cut.restored_s)
        windows.append((cut.at_s, end))
    return windows


def deaf_periods(
    probes: Sequence[Probe],
    timeline: Sequence[tuple[float, str]],
    cuts: Iterable[Cut],
    *,
    timeout_s: float,
    min_s: float,
    heal_s: float,
) -> list[DeafPeriod]:
    """Runs of failed probes, while claimed connected and not excused by a cut, >= `min_s`."""
    windows = excused_windows(cuts, timeline, heal_s=heal_s)

    def counts(probe: Probe) -> bool:
        if state_at(timeline, probe.at_s) != "connected":
            return False
        return not any(
            start <= probe.at_s + timeout_s and probe.at_s <= end for start, end in windows
        )

    periods: list[DeafPeriod] = []
    run: list[Probe] = []

    def close_run() -> None:
        if run:
            period = DeafPeriod(run[0].at_s, run[-1].at_s + timeout_s, len(run))
            if period.length_s >= min_s:
                periods.append(period)
            run.clear()

    for probe in sorted(probes, key=lambda p: p.at_s):
        if probe.ok or not counts(probe):
            close_run()
        else:
            run.append(probe)
    close_run()
    return periods


def growth_per_hour(samples: Sequence[tuple[float, int]], *, warmup_s: float) -> float | None:
    """Least-squares slope of (seconds, bytes) samples after `warmup_s`, in bytes per hour."""
    if not samples:
        return None
    start = samples[0][0] + warmup_s
    points = [(t, float(v)) for t, v in samples if t >= start]
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / var
    return slope * 3600.0


def missing(seqs: Iterable[int], through: int) -> list[int]:
    """Sequence numbers 1..`through` not in `seqs`."""
    seen = set(seqs)
    return [s for s in range(1, through + 1) if s not in seen]
