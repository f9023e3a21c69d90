"""Audience: who receives the live telemetry batches. Pure.

    audience = Audience("edge-7", announced=True)
    audience.seen("console-anna", {"edge.wants.telemetry": "edge-*"})
    audience.destinations()            # ("console-anna",)

With `[telemetry] audience = "room"` (the default) batches go to everyone in the room:
`destinations()` is None, which the stream layer reads as "no destination list". With
`"announced"`, they go only to participants that asked for this edge's telemetry by setting
the attribute `edge.wants.telemetry` to shell patterns of edge identities (comma-separated;
`*` for every edge). In a room shared by many edges, nobody then receives what they did not
ask for: the other edges ignore each other, at no cost. While nobody asked, nothing is sent
and the readings wait in the spool (nothing is lost; the spool's bound still applies).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from edge import wire

MAX_PATTERNS = 32
"""Patterns read from one participant's announcement (the rest are ignored)."""


def wanted_by(value: str, identity: str) -> bool:
    """Whether an `edge.wants.telemetry` value asks for the edge named `identity`."""
    patterns = [p.strip() for p in value.split(",")[:MAX_PATTERNS]]
    return any(p and fnmatch.fnmatchcase(identity, p) for p in patterns)


class Audience:
    """The participants that receive this edge's live batches."""

    def __init__(self, identity: str, *, announced: bool) -> None:
        self.identity = identity
        self.announced = announced
        self._wanting: set[str] = set()
        self.version = 0
        """Incremented whenever the set of receivers changes (a sender waits on it)."""

    def seen(self, participant: str, attributes: Mapping[str, str]) -> None:
        """`participant` joined or changed its attributes."""
        value = attributes.get(wire.Attribute.WANTS_TELEMETRY, "")
        if wanted_by(value, self.identity):
            self._add(participant)
        else:
            self.left(participant)

    def left(self, participant: str) -> None:
        """`participant` left the room."""
        if participant in self._wanting:
            self._wanting.discard(participant)
            self.version += 1

    def clear(self) -> None:
        """A new session: nobody is known to be there yet."""
        if self._wanting:
            self._wanting.clear()
            self.version += 1

    def destinations(self) -> tuple[str, ...] | None:
        """Who gets the next batch: None for everyone, () for nobody (hold it)."""
        if not self.announced:
            return None
        return tuple(sorted(self._wanting))

    def _add(self, participant: str) -> None:
        if participant not in self._wanting:
            self._wanting.add(participant)
            self.version += 1
