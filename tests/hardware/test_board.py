"""The self-test as a pytest run on a real board: `EDGE_HW_BOARD=1 pytest -m hardware`.

EDGE_HW_CONFIG names the config (default /etc/edge/edge.toml), EDGE_HW_TOGGLE the outputs
that are safe to pulse (comma-separated; none by default). Anywhere else this skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.config import load_config
from edge.doctor.selftest import Outcome, failed, render, selftest

pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(
        not os.environ.get("EDGE_HW_BOARD"),
        reason="not on a real board (set EDGE_HW_BOARD=1 there, see docs/support.md)",
    ),
]


async def test_the_board_passes_its_selftest() -> None:
    config = load_config(Path(os.environ.get("EDGE_HW_CONFIG", "/etc/edge/edge.toml")))
    toggle = [name for name in os.environ.get("EDGE_HW_TOGGLE", "").split(",") if name]
    parts = await selftest(config, toggle=toggle)
    report = render(config, parts)
    print(report)  # noqa: T201 - the report is the point of this run (pytest -s)
    assert not failed(parts), report
    by_name = {p.name: p for p in parts}
    for name in toggle:
        assert by_name[name].outcome is Outcome.PASS, report
