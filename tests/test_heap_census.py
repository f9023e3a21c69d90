"""The heap census: live objects by type, on SIGUSR2 when EDGE_DEBUG_GC_DUMP names a file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from edge.config import debug_census_path
from edge.heap_census import census, install


class Marker:
    pass


def test_census_counts_reachable_objects_by_qualified_type() -> None:
    kept = [Marker() for _ in range(7)]
    counted = census()
    assert counted["types"][f"{__name__}.Marker"] == 7
    assert counted["types"]["dict"] > 0  # builtins without a module prefix
    assert counted["rss_kb"] > 0
    del kept


async def test_sigusr2_appends_one_line_per_signal(tmp_path: Path) -> None:
    path = tmp_path / "census.jsonl"
    loop = asyncio.get_running_loop()
    install(loop, str(path))
    try:
        for sent in (1, 2):
            os.kill(os.getpid(), signal.SIGUSR2)
            for _ in range(100):  # the handler runs on the loop
                await asyncio.sleep(0.01)
                if path.exists() and path.read_text().count("\n") == sent:
                    break
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["tasks"] >= 1
    assert lines[0]["types"]


def test_off_unless_the_variable_names_a_file() -> None:
    assert debug_census_path({}) == ""
    assert debug_census_path({"EDGE_DEBUG_GC_DUMP": "/tmp/x"}) == "/tmp/x"
