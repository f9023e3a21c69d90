"""The on-disk spool: numbering, bounds with counted drops, corrupt rows, restarts, kill -9."""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge.telemetry.codec import CodecError, Sample
from edge.telemetry.outbox import Outbox


def samples(n: int, start: int = 0) -> list[Sample]:
    return [
        Sample(sensor="t", value=float(start + i), unit="°C", time_us=1000 * (start + i))
        for i in range(n)
    ]


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "state" / "spool.sqlite3"


def test_readings_are_numbered_and_read_back_oldest_first(spool: Path) -> None:
    outbox = Outbox.open(spool, max_rows=100)
    assert (outbox.last_seq, outbox.sent_seq) == (0, 0)
    readings = outbox.append(samples(5))
    assert [r.seq for r in readings] == [1, 2, 3, 4, 5]
    batch = outbox.read_after(0, limit=3)
    assert [(r.seq, r.value) for r in batch.readings] == [(1, 0.0), (2, 1.0), (3, 2.0)]
    assert batch.last_scanned == 3
    outbox.mark_sent(3)
    outbox.mark_sent(2)  # never backwards
    assert outbox.sent_seq == 3
    assert outbox.unsent() == 2
    assert [r.seq for r in outbox.read_since_time(3000, limit=10).readings] == [4, 5]
    outbox.close()


def test_numbering_and_sent_mark_survive_a_restart(spool: Path) -> None:
    outbox = Outbox.open(spool, max_rows=100)
    outbox.append(samples(3))
    outbox.mark_sent(2)
    spool_id = outbox.spool_id
    outbox.close()
    again = Outbox.open(spool, max_rows=100)
    assert (again.spool_id, again.sent_seq, again.last_seq) == (spool_id, 2, 3)
    assert [r.seq for r in again.append(samples(2))] == [4, 5]
    assert [r.seq for r in again.read_after(again.sent_seq, limit=10).readings] == [3, 4, 5]
    again.close()


def test_over_the_bound_sent_rows_go_first_then_unsent_ones_are_counted(
    spool: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox.open(spool, max_rows=100)
    outbox.append(samples(100))
    outbox.mark_sent(30)
    outbox.append(samples(30, start=100))  # pushes out exactly the 30 sent rows
    assert outbox.dropped == 0
    assert outbox.read_after(0, limit=1).readings[0].seq == 31
    with caplog.at_level(logging.WARNING):
        outbox.append(samples(10, start=130))
    assert outbox.dropped == 10  # unsent 31..40 dropped, and counted
    assert "dropping the oldest unsent readings" in caplog.text
    kept = outbox.read_after(0, limit=1000).readings
    assert [r.seq for r in kept] == list(range(41, 141))
    outbox.append(samples(1, start=140), dropped_before=4)  # lost before the spool
    assert outbox.dropped == 15
    outbox.close()
    assert Outbox.open(spool, max_rows=100).dropped == 15  # persisted


def test_corrupt_rows_are_skipped_counted_and_do_not_block_the_rest(
    spool: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox.open(spool, max_rows=100)
    outbox.append(samples(6))
    with sqlite3.connect(spool) as db:
        db.execute("UPDATE readings SET data = x'c1' WHERE seq = 2")
        db.execute("UPDATE readings SET data = 'text' WHERE seq = 3")
        db.execute("UPDATE readings SET time_us = 'soon' WHERE seq = 4")
    db.close()
    with caplog.at_level(logging.ERROR):
        batch = outbox.read_after(0, limit=4)
    assert [r.seq for r in batch.readings] == [1]
    assert batch.last_scanned == 4
    assert outbox.corrupt == 3
    assert caplog.text.count("is corrupt") == 3
    assert [r.seq for r in outbox.read_after(0, limit=10).readings] == [1, 5, 6]  # isolated
    assert outbox.corrupt == 3  # counted once: they are gone
    outbox.close()


def test_invalid_samples_store_nothing(spool: Path) -> None:
    outbox = Outbox.open(spool, max_rows=100)
    bad = Sample(sensor="t", value=float("nan"), unit="", time_us=0)
    with pytest.raises(CodecError):
        outbox.append([*samples(2), bad])
    assert outbox.last_seq == 0
    assert outbox.read_after(0, limit=10).readings == ()
    outbox.close()


def test_an_unreadable_spool_file_is_moved_aside_and_a_new_one_started(
    spool: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool.parent.mkdir(parents=True)
    spool.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR):
        outbox = Outbox.open(spool, max_rows=100)
    assert "unreadable" in caplog.text
    assert [p.name for p in spool.parent.glob("*.corrupt-*")]
    assert [r.seq for r in outbox.append(samples(1))] == [1]
    outbox.close()


WRITER = """
import sys
from edge.telemetry.codec import Sample
from edge.telemetry.outbox import Outbox

outbox = Outbox.open(sys.argv[1], max_rows=1_000_000)
i = 0
while True:
    readings = outbox.append([Sample(sensor="t", value=i, unit="", time_us=i)])
    print(readings[0].seq, flush=True)  # committed before it is printed
    i += 1
"""


def test_every_committed_reading_survives_kill_9(spool: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(spool)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    committed: list[int] = []
    try:
        while len(committed) < 300:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            committed.append(int(line))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    outbox = Outbox.open(spool, max_rows=1_000_000)
    stored = [r.seq for r in outbox.read_after(0, limit=1_000_000).readings]
    assert stored[: len(committed)] == committed  # every committed row, in order
    assert stored == list(range(1, len(stored) + 1))  # and nothing half-written
    assert outbox.last_seq == stored[-1]
    assert [r.seq for r in outbox.append(samples(1))] == [stored[-1] + 1]
    outbox.close()
