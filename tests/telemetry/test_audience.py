"""Who receives live telemetry: everyone, or only those who asked for this edge."""

from __future__ import annotations

import pytest

from edge import wire
from edge.telemetry.audience import Audience, wanted_by

WANTS = wire.Attribute.WANTS_TELEMETRY


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        ("*", True),
        ("edge-7", True),
        ("edge-*", True),
        ("pump-*, edge-?", True),
        ("edge-8", False),
        ("EDGE-7", False),
        ("", False),
        (" , ", False),
    ],
)
def test_an_announcement_names_edges_by_shell_patterns(value: str, wanted: bool) -> None:
    assert wanted_by(value, "edge-7") is wanted


def test_in_room_mode_everyone_receives() -> None:
    audience = Audience("edge-7", announced=False)
    audience.seen("viewer", {})
    assert audience.destinations() is None


def test_announced_mode_follows_joins_changes_and_leaves() -> None:
    audience = Audience("edge-7", announced=True)
    assert audience.destinations() == ()  # nobody asked: hold
    audience.seen("console", {WANTS: "edge-*"})
    audience.seen("edge-8", {"edge.status": "online"})  # another edge: not interested
    audience.seen("logger", {WANTS: "*"})
    assert audience.destinations() == ("console", "logger")
    version = audience.version
    audience.seen("console", {WANTS: "pump-*"})  # changed its mind
    audience.left("logger")
    assert audience.destinations() == ()
    assert audience.version == version + 2
    audience.left("nobody-known")
    assert audience.version == version + 2
