"""Eviction: whether being pushed out for our identity means another device holds it. Pure.

The server sends `leave(DUPLICATE_IDENTITY)` when a second session takes our identity. Two
things do that:

- **another device** configured with our identity (a copied config). It joined whenever it
  started, usually long after we did; rejoining would evict it, and it us, for ever;
- **the server itself**: under a start-up burst, a node relaying our join to the room's node
  may retry, and the retry opens a second session for the same join. That happens while we
  join or just after, and a second join does not meet it again.

So an eviction more than `GHOST_WINDOW_S` after our join is final (another device). One within
the window is forgiven once: we rejoin. Evicted within the window again before
`FORGIVE_PERIOD_S` has passed, we are in a contest with a device that started with us, and
the one evicted twice gives way (final).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge.errors import EdgeError, JoinRefused, ServerLeft

GHOST_WINDOW_S = 10.0
"""How soon after our join an eviction may come from the server's own retry."""
FORGIVE_PERIOD_S = 300.0
"""After forgiving one eviction, how long the next one in the window is final."""
REASON = "DUPLICATE_IDENTITY"


@dataclass(slots=True)
class EvictionJudge:
    """Decides, per eviction, whether rejoining can help."""

    _forgiven_at: float = -math.inf

    def final(self, *, joined_for_s: float, now: float) -> bool:
        """An eviction `joined_for_s` after our join (0: during it), at time `now`."""
        if joined_for_s > GHOST_WINDOW_S or now - self._forgiven_at < FORGIVE_PERIOD_S:
            return True
        self._forgiven_at = now
        return False


def is_eviction(error: EdgeError) -> bool:
    """Whether `error` is the server pushing us out for a duplicate identity."""
    return isinstance(error, ServerLeft | JoinRefused) and error.reason == REASON
