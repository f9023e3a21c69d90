"""Outbox: the bounded on-disk spool every reading passes through before it is sent.

    outbox = Outbox.open("edge-telemetry.sqlite3", max_rows=100_000)
    outbox.append([Sample(...)])             # -> readings with their sequence numbers
    batch = outbox.read_after(outbox.sent_seq, limit=500)
    outbox.mark_sent(batch.readings[-1].seq)

stdlib sqlite3 in WAL mode. Every method blocks (disk I/O): the async layer calls them through
`asyncio.to_thread`; a lock serialises callers from different threads.

- **Sequence numbers** come from a persisted counter, assigned in the same transaction that
  stores the rows, so they never repeat, even after `kill -9` (a committed row is on disk; with
  `synchronous=NORMAL` a power cut may lose the last commits but never corrupts the spool).
- **Sent** is one high-water mark (`sent_seq`): rows are sent oldest first.
- **Bound**: at most `max_rows` rows. When an append goes over it the oldest rows go: sent rows
  first (history leaving retention), then unsent ones, which are counted in `dropped`
  (persisted, in every batch, logged).
- **History**: sent rows stay for `telemetry.history` until the bound pushes them out. A
  history answer reads them through `history()`: its own read-only connection holding one
  snapshot (WAL: appends go on meanwhile), the range counted first, then rows a chunk at a time.
- **Corrupt rows** (undecodable data) are skipped, counted in `corrupt`, logged and deleted; the
  rest is served. A spool file sqlite cannot open at all is moved aside and a new one started.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edge.telemetry.codec import CodecError, Reading, Sample, decode_row, encode_row

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS readings_time ON readings (time_us);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL);
"""
_COUNTERS = ("next_seq", "sent_seq", "dropped", "corrupt")


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Readings found, and the highest seq looked at (corrupt rows included)."""

    readings: tuple[Reading, ...]
    last_scanned: int


class Outbox:
    """One spool file; open with `Outbox.open`, close with `close()`."""

    def __init__(self, db: sqlite3.Connection, *, path: Path, max_rows: int) -> None:
        self.path = path
        self.max_rows = max_rows
        self._db = db
        self._lock = threading.Lock()
        self._dropping = False
        self.spool_id = str(self._meta("spool_id"))
        self._counters = {key: int(self._meta(key)) for key in _COUNTERS}
        """Cached copies of the persisted counters (properties read them without I/O)."""

    @classmethod
    def open(cls, path: str | Path, *, max_rows: int) -> Outbox:
        """Open (or create) the spool at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = _connect(path)
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            _LOGGER.error("telemetry spool %s unreadable (%s); moved to %s", path, exc, aside)
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            db = _connect(path)
        outbox = cls(db, path=path, max_rows=max_rows)
        _LOGGER.info(
            "telemetry spool %s: %d unsent, next seq %d, %d dropped so far",
            path,
            outbox.unsent(),
            outbox.next_seq,
            outbox.dropped,
        )
        return outbox

    # -- counters --------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """The sequence number the next reading gets."""
        return self._counters["next_seq"]

    @property
    def last_seq(self) -> int:
        """The newest reading's sequence number (0 before the first)."""
        return self._counters["next_seq"] - 1

    @property
    def sent_seq(self) -> int:
        """Every reading up to this one counts as sent."""
        return self._counters["sent_seq"]

    @property
    def dropped(self) -> int:
        """Unsent readings dropped by the bound, ever (including those dropped before spooling)."""
        return self._counters["dropped"]

    @property
    def corrupt(self) -> int:
        """Corrupt rows skipped and deleted, ever."""
        return self._counters["corrupt"]

    def unsent(self) -> int:
        """Rows not yet marked sent."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM readings WHERE seq > (SELECT value FROM meta"
                " WHERE key = 'sent_seq')"
            ).fetchone()
        return int(row[0])

    # -- writing ---------------------------------------------------------------------------

    def append(self, samples: Iterable[Sample], *, dropped_before: int = 0) -> list[Reading]:
        """Store `samples` in one transaction; return them numbered.

        `dropped_before` adds readings lost before reaching the spool to the dropped count.
        Invalid samples raise `CodecError` before anything is stored.
        """
        rows = [(s, encode_row(s)) for s in samples]
        with self._lock, _transaction(self._db):
            first = int(self._meta_locked("next_seq"))
            self._db.executemany(
                "INSERT INTO readings (seq, time_us, data) VALUES (?, ?, ?)",
                [(first + i, s.time_us, data) for i, (s, data) in enumerate(rows)],
            )
            last = first + len(rows) - 1
            self._set("next_seq", last + 1)
            dropped = dropped_before + self._trim(last)
            if dropped:
                self._add("dropped", dropped)
        with self._lock:
            self._reload()
        if dropped and not self._dropping:
            _LOGGER.warning(
                "telemetry spool full (%d rows): dropping the oldest unsent readings", self.max_rows
            )
        self._dropping = dropped > 0
        return [
            Reading(seq=first + i, time_us=s.time_us, sensor=s.sensor, value=s.value, unit=s.unit)
            for i, (s, _) in enumerate(rows)
        ]

    def _trim(self, last: int) -> int:
        cutoff = last - self.max_rows
        if cutoff <= 0:
            return 0
        sent = int(self._meta_locked("sent_seq"))
        dropped = self._db.execute(
            "DELETE FROM readings WHERE seq <= ? AND seq > ?", (cutoff, sent)
        ).rowcount
        self._db.execute("DELETE FROM readings WHERE seq <= ?", (cutoff,))
        return int(dropped)

    def mark_sent(self, seq: int) -> None:
        """Everything up to `seq` has been sent (never moves backwards)."""
        with self._lock, _transaction(self._db):
            self._db.execute(
                "UPDATE meta SET value = max(value, ?) WHERE key = 'sent_seq'", (int(seq),)
            )
        with self._lock:
            self._reload()

    # -- reading ---------------------------------------------------------------------------

    def read_after(self, seq: int, *, limit: int) -> ReadResult:
        """Up to `limit` readings with a larger sequence number, oldest first."""
        return self._read("seq > ? ORDER BY seq", (seq,), limit)

    def read_since_time(self, time_us: int, *, limit: int) -> ReadResult:
        """Up to `limit` readings taken at or after `time_us`, in sequence order."""
        return self._read("time_us >= ? ORDER BY seq", (time_us,), limit)

    def _read(self, where: str, args: tuple[int, ...], limit: int) -> ReadResult:
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq, time_us, data FROM readings WHERE {where} LIMIT ?", (*args, limit)
            ).fetchall()
        readings: list[Reading] = []
        bad: list[int] = []
        for seq, time_us, data in rows:
            try:
                readings.append(decode_row(seq, time_us, data))
            except CodecError as exc:
                _LOGGER.error("telemetry spool: row %s is corrupt (%s); skipped", seq, exc)
                bad.append(seq)
        if bad:
            with self._lock, _transaction(self._db):
                self._db.executemany("DELETE FROM readings WHERE seq = ?", [(s,) for s in bad])
                self._add("corrupt", len(bad))
            with self._lock:
                self._reload()
        return ReadResult(tuple(readings), int(rows[-1][0]) if rows else 0)

    def history(self, *, since_seq: int | None, since_us: int | None, limit: int) -> History:
        """A snapshot of up to `limit` readings after `since_seq` (or from `since_us`)."""
        if since_seq is not None:
            return History(self.path, "seq > ?", since_seq, limit)
        assert since_us is not None
        return History(self.path, "time_us >= ?", since_us, limit)

    def drop_corrupt(self, seq: int) -> None:
        """Delete the corrupt row `seq` (found by a `History`) and count it."""
        self._read("seq = ?", (seq,), 1)

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            self._db.close()

    # -- meta ------------------------------------------------------------------------------

    def _meta(self, key: str) -> int | str:
        with self._lock:
            return self._meta_locked(key)

    def _meta_locked(self, key: str) -> int | str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        value: int | str = row[0]
        return value

    def _set(self, key: str, value: int) -> None:
        self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    def _add(self, key: str, amount: int) -> None:
        self._db.execute("UPDATE meta SET value = value + ? WHERE key = ?", (amount, key))

    def _reload(self) -> None:
        """Refresh the cached counters after a commit (caller holds the lock)."""
        for key in _COUNTERS:
            self._counters[key] = int(self._meta_locked(key))


class CorruptRow(CodecError):
    """A spooled row cannot be decoded; `seq` names it."""

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"row {seq} is corrupt ({problem})")
        self.seq = seq


class History:
    """Readings in one read snapshot of the spool, counted first, then read a chunk at a time.

    Every method blocks (call through `asyncio.to_thread`), one at a time; `close()` always.
    """

    CACHE_KIB = 256
    """sqlite's page cache for this connection (the default is 2 MiB)."""

    def __init__(self, path: Path, where: str, since: int, limit: int) -> None:
        self._db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
            isolation_level=None,
        )  # fmt: skip
        try:
            self._db.execute(f"PRAGMA cache_size = -{self.CACHE_KIB}")
            self._db.execute("BEGIN")  # one snapshot for the count and the rows
            selected = f"SELECT seq FROM readings WHERE {where} ORDER BY seq LIMIT ?"
            count, first, last = self._db.execute(
                f"SELECT count(*), min(seq), max(seq) FROM ({selected})", (since, limit)
            ).fetchone()
            self.count, self.first_seq, self.last_seq = int(count), int(first or 0), int(last or 0)
            self._rows = self._db.execute(
                f"SELECT seq, time_us, data FROM readings WHERE {where} ORDER BY seq LIMIT ?",
                (since, limit),
            )
        except BaseException:
            self._db.close()
            raise

    def chunk(self, size: int) -> list[Reading]:
        """The next up to `size` readings ([] at the end); `CorruptRow` for an undecodable one."""
        readings = []
        for seq, time_us, data in self._rows.fetchmany(size):
            try:
                readings.append(decode_row(seq, time_us, data))
            except CodecError as exc:
                raise CorruptRow(int(seq), str(exc)) from None
        return readings

    def close(self) -> None:
        """End the snapshot and close the connection."""
        self._db.close()


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: all or nothing."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        with _transaction(db):
            for key in _COUNTERS:
                start = 1 if key == "next_seq" else 0
                db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, start))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('spool_id', ?)", (uuid.uuid4().hex,))
        (check,) = db.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {check}")
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db
