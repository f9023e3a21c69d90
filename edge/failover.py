"""Failover: which of the deployment's server URLs to join next, and how long to wait. Pure.

    failover = Failover(config.livekit.url)
    url = failover.current()            # join there
    failover.joined()                   # it works: stay on it
    delay = failover.failed()           # it did not (or the session was lost): move on

The URLs are the nodes of one LiveKit deployment (e.g. two nodes sharing a Redis): any of
them reaches the room. The daemon stays on the URL that worked and moves to the next one
after a failure. Hopping to a URL not yet tried since the last success waits only a short
jittered moment (so a site's boards do not hop in lockstep); once every URL has failed in a
row, the waits grow as `Backoff` says. With one URL this is exactly the daemon's backoff.

A token endpoint may name the URL to use (`serverUrl`, LiveKit's token-server convention):
`offer(url)` puts it first, before the configured ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from edge.backoff import Backoff

HOP_JITTER_S = 0.5
"""Longest wait before trying the next URL, while some URL is untried since the last success."""


@dataclass(slots=True)
class Failover:
    """The rotation over the server URLs (`configured` must not be empty)."""

    configured: Sequence[str]
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random = field(default_factory=random.Random, repr=False)
    _urls: tuple[str, ...] = ()
    _index: int = 0
    _failures: int = 0
    """Failures since the last success."""
    _offered: str = ""

    def __post_init__(self) -> None:
        if not self.configured:
            raise ValueError("Failover needs at least one URL")
        self._urls = tuple(dict.fromkeys(self.configured))

    @property
    def urls(self) -> tuple[str, ...]:
        """The rotation, the offered URL (if any) first."""
        return self._urls

    def current(self) -> str:
        """The URL to join next."""
        return self._urls[self._index]

    def offer(self, url: str) -> None:
        """A token endpoint named `url`: it leads the rotation (a new offer starts there)."""
        if not url or url == self._offered:
            return
        self._offered = url
        self._urls = tuple(dict.fromkeys([url, *self.configured]))
        self._index = 0

    def joined(self) -> None:
        """The current URL works: stay on it; the next failure starts a new round."""
        self._failures = 0

    def failed(self) -> float:
        """The current URL failed (a join, or a session that could not be resumed).

        Move to the next URL; return how long to wait before trying it.
        """
        self._failures += 1
        self._index = (self._index + 1) % len(self._urls)
        rounds, within = divmod(self._failures, len(self._urls))
        if within:  # some URL is still untried since the last success
            return self.rng.uniform(0.0, HOP_JITTER_S)
        return self.backoff.delay(rounds - 1)

    @property
    def others(self) -> bool:
        """Whether there is another URL to move to (so resuming a refusing node is futile)."""
        return len(self._urls) > 1
