"""PeerLog: per-participant log lines with a budget, so one peer cannot flood the log.

Each identity may log `burst` lines per `window_s`; further lines in that window are only
counted, and one summary line says how many were left out:

    ... and 2995 more from 'op-anna' in the last 10 s

The summary is written when that identity logs again after its window, when any line is
logged after the window ended (checked at most once per window), or on `flush()`. At most
`max_peers` identities are tracked (the least recently started window goes first, with its
summary), so memory stays bounded however many identities come and go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_BURST = 5
DEFAULT_WINDOW_S = 10.0
DEFAULT_MAX_PEERS = 256


@dataclass(slots=True)
class _Window:
    start: float
    logged: int = 0
    suppressed: int = 0
    level: int = logging.NOTSET


class PeerLog:
    """Rate-limited logging keyed by participant identity."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = DEFAULT_BURST,
        window_s: float = DEFAULT_WINDOW_S,
        max_peers: int = DEFAULT_MAX_PEERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._burst = burst
        self._window_s = window_s
        self._max_peers = max_peers
        self._clock = clock
        self._peers: dict[str, _Window] = {}
        self._last_sweep = clock()

    def log(self, level: int, identity: str, msg: str, *args: object) -> None:
        """`logger.log(level, msg, *args)` unless `identity` spent its budget for this window."""
        now = self._clock()
        if now - self._last_sweep >= self._window_s:
            self._sweep(now)
        window = self._peers.get(identity)
        if window is None or now - window.start >= self._window_s:
            if window is not None:
                self._summarise(identity, window, now)
                del self._peers[identity]
            window = self._peers[identity] = _Window(start=now)
            while len(self._peers) > self._max_peers:
                oldest = next(iter(self._peers))
                self._summarise(oldest, self._peers.pop(oldest), now)
        if window.logged < self._burst:
            window.logged += 1
            self._logger.log(level, msg, *args)
        else:
            window.suppressed += 1
            window.level = max(window.level, level)

    def flush(self) -> None:
        """Write every pending summary now and forget all windows."""
        now = self._clock()
        for identity, window in self._peers.items():
            self._summarise(identity, window, now)
        self._peers.clear()

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        ended = [i for i, w in self._peers.items() if now - w.start >= self._window_s]
        for identity in ended:
            self._summarise(identity, self._peers.pop(identity), now)

    def _summarise(self, identity: str, window: _Window, now: float) -> None:
        if window.suppressed:
            self._logger.log(
                window.level,
                "... and %d more from %r in the last %.0f s",
                window.suppressed,
                identity,
                min(now - window.start, self._window_s) or self._window_s,
            )
