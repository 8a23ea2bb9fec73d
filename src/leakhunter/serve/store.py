"""serve's state in one SQLite file: targets, series points, findings, events, files.

Why SQLite: one file under ``--data``, transactions that survive ``kill -9``
(WAL mode), and queries for the API and the disk budget without walking the
tree. What lives here is small (a row per scrape, the current findings, the
analyser's saved state every few minutes); the profiles stay on disk, indexed
by the ``files`` table with their sizes, so enforcing the budget is a query.

Secrets never reach the database: targets are stored by their clean URL and
exported labels only (headers, tokens and passwords stay in the configuration).

One connection, used from many scraper threads, serialised by a lock: every
write is a short transaction, far below what one SQLite file sustains.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakhunter.errors import LeakhunterError

__all__ = ["FileRow", "Point", "Store", "StoreError", "TargetRow"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS targets (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, labels TEXT NOT NULL, source TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL DEFAULT 'pending',
    verdict TEXT, last_scrape REAL, snapshots INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0, epoch INTEGER NOT NULL DEFAULT 0,
    last_memstats TEXT, run_started REAL, state BLOB, state_seq TEXT, origin REAL
);
CREATE TABLE IF NOT EXISTS points (
    target TEXT NOT NULL, time REAL NOT NULL, epoch INTEGER NOT NULL,
    heap REAL, goroutines REAL, fds REAL, rss REAL, up INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS points_by_target ON points (target, time);
CREATE INDEX IF NOT EXISTS points_by_time ON points (time);
CREATE TABLE IF NOT EXISTS findings (
    target TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (target, id)
);
CREATE TABLE IF NOT EXISTS events (
    time REAL NOT NULL, target TEXT NOT NULL, previous TEXT, status TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, target TEXT NOT NULL, kind TEXT NOT NULL,
    time REAL NOT NULL, bytes INTEGER NOT NULL, closed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_by_time ON files (kind, time);
CREATE INDEX IF NOT EXISTS files_by_target ON files (target, kind, time);
"""


class StoreError(LeakhunterError):
    """The database cannot be opened or written (one line)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class TargetRow:
    """A target's row as stored (no secrets)."""

    id: str
    url: str
    labels: Mapping[str, str]
    source: str
    active: bool
    status: str
    verdict: str | None
    last_scrape: float | None
    snapshots: int
    errors: int
    epoch: int
    last_memstats: Mapping[str, int] | None
    run_started: float | None


@dataclass(frozen=True, slots=True)
class Point:
    """One scrape's whole-process figures (None where unknown; up=False when down)."""

    time: float
    epoch: int
    heap: float | None
    goroutines: float | None
    fds: float | None
    rss: float | None
    up: bool


@dataclass(frozen=True, slots=True)
class FileRow:
    """A folder of snapshots or evidence on disk, with its size."""

    path: str
    target: str
    kind: str  # "segment", "thinned" (a segment after thinning) or "evidence"
    time: float
    bytes: int
    closed: bool


class Store:
    """The database of one serve data directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open serve's database ({exc})") from None

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: database schema {row[0]}, this leakhunter reads {SCHEMA_VERSION}"
            )

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"{self.path}: cannot write ({exc})") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the database (a checkpoint folds the WAL back into the file)."""
        with self._lock:
            self._db.close()

    # -- targets -----------------------------------------------------------
    def upsert_target(self, tid: str, url: str, labels: Mapping[str, str], source: str) -> None:
        """Add a target or refresh its URL/labels, keeping its state; mark it active."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO targets (id, url, labels, source) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET url=excluded.url, labels=excluded.labels, "
                "source=excluded.source, active=1",
                (tid, url, json.dumps(dict(labels), sort_keys=True), source),
            )

    def deactivate_missing(self, keep: set[str]) -> list[str]:
        """Mark targets no longer configured inactive (their history stays); return their ids."""
        with self._tx() as db:
            gone = [
                r[0]
                for r in db.execute("SELECT id FROM targets WHERE active=1")
                if r[0] not in keep
            ]
            db.executemany("UPDATE targets SET active=0 WHERE id=?", [(g,) for g in gone])
        return gone

    _TARGET_COLUMNS = (
        "SELECT id, url, labels, source, active, status, verdict, last_scrape, snapshots, "
        "errors, epoch, last_memstats, run_started FROM targets"
    )

    def targets(self, active_only: bool = True) -> list[TargetRow]:
        """Return the targets (active ones only, by default), in id order."""
        sql = self._TARGET_COLUMNS
        if active_only:
            sql += " WHERE active=1"
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id").fetchall()
        return [_target_row(r) for r in rows]

    def target(self, tid: str) -> TargetRow | None:
        """Return one target's row (None: never seen), without reading the others."""
        with self._lock:
            r = self._db.execute(self._TARGET_COLUMNS + " WHERE id=?", (tid,)).fetchone()
        return None if r is None else _target_row(r)

    def record_scrape(
        self,
        tid: str,
        point: Point,
        *,
        status: str,
        verdict: str | None,
        memstats: Mapping[str, int] | None,
        run_started: float | None,
        findings: Mapping[str, Mapping[str, object]],
    ) -> None:
        """Store one scrape: its point, the target's status and its current findings."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (tid, point.time, point.epoch, point.heap, point.goroutines, point.fds,
                 point.rss, int(point.up)),
            )  # fmt: skip
            db.execute(
                "UPDATE targets SET status=?, verdict=?, last_scrape=?, "
                "snapshots=snapshots+1, errors=errors+?, epoch=?, "
                "last_memstats=COALESCE(?, last_memstats), run_started=? WHERE id=?",
                (status, verdict, point.time, int(not point.up), point.epoch,
                 json.dumps(dict(memstats)) if memstats else None, run_started, tid),
            )  # fmt: skip
            seen = {
                r[0]: r[1]
                for r in db.execute("SELECT id, first_seen FROM findings WHERE target=?", (tid,))
            }
            db.execute("DELETE FROM findings WHERE target=?", (tid,))
            db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?)",
                [
                    (tid, fid, json.dumps(doc), seen.get(fid, point.time), point.time)
                    for fid, doc in findings.items()
                ],
            )

    def findings(self, tid: str) -> list[tuple[dict[str, object], float, float]]:
        """Return a target's current findings: (finding JSON, first seen, last seen)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc, first_seen, last_seen FROM findings WHERE target=? ORDER BY rowid",
                (tid,),
            ).fetchall()
        return [(json.loads(r[0]), r[1], r[2]) for r in rows]

    def points(self, tid: str, since: float = 0.0, limit: int = 100_000) -> list[Point]:
        """Return a target's points since a time, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time, epoch, heap, goroutines, fds, rss, up FROM points "
                "WHERE target=? AND time>=? ORDER BY time DESC LIMIT ?",
                (tid, since, limit),
            ).fetchall()
        return [Point(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in reversed(rows)]

    def recent_points(
        self, since: float, targets: Sequence[str] | None = None
    ) -> dict[str, list[Point]]:
        """Return the points since a time of some targets (all: None), oldest first.

        The fleet page draws a sparkline per target on every update: a few
        indexed range scans (by target, then time) beat a query per target on a
        fleet of thousands, and a scan of every stored point by far.
        """
        out: dict[str, list[Point]] = {}
        if targets is None:
            with self._lock:
                targets = [r[0] for r in self._db.execute("SELECT id FROM targets")]
        for i in range(0, len(targets), 500):  # well below SQLite's bound on variables
            chunk = list(targets[i : i + 500])
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    "SELECT target, time, epoch, heap, goroutines, fds, rss, up FROM points "
                    f"WHERE target IN ({marks}) AND time>=? ORDER BY target, time",
                    (*chunk, since),
                ).fetchall()
            for r in rows:
                point = Point(r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]))
                out.setdefault(r[0], []).append(point)
        return out

    def origin(self, tid: str) -> float | None:
        """Return the time a target's clock counts from (None: never scraped)."""
        with self._lock:
            row = self._db.execute("SELECT origin FROM targets WHERE id=?", (tid,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def set_origin(self, tid: str, when: float) -> None:
        """Fix a target's clock origin, once: every later snapshot's elapsed counts from it."""
        with self._tx() as db:
            db.execute("UPDATE targets SET origin=? WHERE id=? AND origin IS NULL", (when, tid))

    def save_state(self, tid: str, state: bytes, segment_seq: str) -> None:
        """Keep the analyser's state and the last snapshot folded into it ("segment:seq")."""
        with self._tx() as db:
            db.execute(
                "UPDATE targets SET state=?, state_seq=? WHERE id=?", (state, segment_seq, tid)
            )

    def load_state(self, tid: str) -> tuple[bytes, str] | None:
        """Return the saved analyser state and its "segment:seq" mark (None: never saved)."""
        with self._lock:
            row = self._db.execute(
                "SELECT state, state_seq FROM targets WHERE id=?", (tid,)
            ).fetchone()
        return (bytes(row[0]), str(row[1])) if row and row[0] is not None else None

    # -- events ------------------------------------------------------------
    def add_event(self, tid: str, previous: str | None, status: str, text: str) -> None:
        """Record a state change of a target (suspect, leak, recovered, down...)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                (time.time(), tid, previous, status, text),
            )

    def events(self, tid: str | None = None, limit: int = 200) -> list[dict[str, object]]:
        """Return the latest events, newest first (of one target, or of all)."""
        sql = "SELECT time, target, previous, status, text FROM events"
        args: tuple[object, ...] = ()
        if tid is not None:
            sql, args = sql + " WHERE target=?", (tid,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time DESC LIMIT ?", (*args, limit)).fetchall()
        keys = ("time", "target", "previous", "status", "text")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- files on disk -----------------------------------------------------
    def add_file(self, path: str, tid: str, kind: str, when: float, size: int) -> None:
        """Index a folder (a snapshot segment or an evidence capture) with its size."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT(path) DO UPDATE "
                "SET bytes=excluded.bytes",
                (path, tid, kind, when, size),
            )

    def grow_file(self, path: str, size: int) -> None:
        """Add bytes written into an indexed folder."""
        with self._tx() as db:
            db.execute("UPDATE files SET bytes=bytes+? WHERE path=?", (size, path))

    def set_file(self, path: str, size: int, closed: bool) -> None:
        """Set an indexed folder's size (after thinning) and whether it is still written."""
        with self._tx() as db:
            db.execute("UPDATE files SET bytes=?, closed=? WHERE path=?", (size, int(closed), path))

    def retag(self, path: str, kind: str, size: int) -> None:
        """Change an indexed folder's kind (a segment once thinned) and size."""
        with self._tx() as db:
            db.execute("UPDATE files SET kind=?, bytes=? WHERE path=?", (kind, size, path))

    def drop_file(self, path: str) -> None:
        """Forget a folder that was deleted."""
        with self._tx() as db:
            db.execute("DELETE FROM files WHERE path=?", (path,))

    def files(self, kind: str | None = None, target: str | None = None) -> list[FileRow]:
        """Return the indexed folders (of one kind, of one target), oldest first."""
        sql = "SELECT path, target, kind, time, bytes, closed FROM files"
        where = [(c, v) for c, v in (("kind", kind), ("target", target)) if v is not None]
        args: tuple[object, ...] = tuple(v for _, v in where)
        if where:
            sql += " WHERE " + " AND ".join(f"{c}=?" for c, _ in where)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time", args).fetchall()
        return [FileRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def disk_bytes(self) -> int:
        """Return the bytes of every indexed folder."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM files").fetchone()
        return int(row[0])

    def prune_points(self, before: float) -> int:
        """Delete points older than a time; return how many."""
        with self._tx() as db:
            return db.execute("DELETE FROM points WHERE time<?", (before,)).rowcount


def _target_row(r: Any) -> TargetRow:
    """A targets row as selected by ``Store._TARGET_COLUMNS``."""
    return TargetRow(
        r[0], r[1], json.loads(r[2]), r[3], bool(r[4]), r[5], r[6], r[7], r[8], r[9], r[10],
        json.loads(r[11]) if r[11] else None, r[12],
    )  # fmt: skip
