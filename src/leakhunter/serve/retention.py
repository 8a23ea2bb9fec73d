"""What serve keeps on disk: segments whole, then thinned, then gone; a budget over all.

Every folder serve writes is indexed in the database with its size, so the
budget is a sum, not a walk of a tree of millions of files. The analyser's
history already carries the long view (per-minute and per-hour means), so raw
snapshots are kept whole only for ``raw_retention`` (to replay after a crash,
and for ``leakhunter analyze`` on the recent past), then thinned to one per
``thin_every``, then deleted after ``retention``. Evidence captures are what
an engineer opens after a page: they are kept for ``evidence_retention`` and
are the last thing the disk budget takes. The segment being written is never
touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from leakhunter.collect.session import load_session
from leakhunter.errors import FormatError
from leakhunter.serve.options import ServeOptions
from leakhunter.serve.store import FileRow, Store

__all__ = ["RetentionReport", "enforce"]


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one pass did."""

    thinned: int = 0
    deleted: int = 0
    freed_bytes: int = 0
    points_pruned: int = 0
    disk_bytes: int = 0


def _size(folder: Path) -> int:
    total = 0
    for p in folder.glob("*"):
        try:
            total += p.stat().st_size
        except OSError:
            continue
    return total


def _thin(folder: Path, every: float) -> None:
    """Keep one snapshot per ``every`` seconds in a closed segment; delete the rest."""
    try:
        session = load_session(folder)
    except FormatError:
        return
    kept_at: float | None = None
    for snap in session.snapshots:
        rec = snap.record
        if kept_at is None or rec.time - kept_at >= every:
            kept_at = rec.time
            continue
        for name in (*rec.files.values(), f"{rec.seq:06d}.json"):
            (folder / name).unlink(missing_ok=True)


def _delete(store: Store, row: FileRow) -> int:
    shutil.rmtree(row.path, ignore_errors=True)
    store.drop_file(row.path)
    return row.bytes


def enforce(store: Store, options: ServeOptions, now: float) -> RetentionReport:
    """Thin, expire and budget the folders under serve's data directory."""
    thinned = deleted = freed = 0
    for row in store.files():
        age = now - row.time
        limit = options.evidence_retention if row.kind == "evidence" else options.retention
        if age > limit and (row.closed or row.kind == "evidence"):
            freed += _delete(store, row)
            deleted += 1
        elif row.kind == "segment" and row.closed and age > options.raw_retention:
            _thin(Path(row.path), options.thin_every)
            store.retag(row.path, "thinned", _size(Path(row.path)))
            thinned += 1
    total = store.disk_bytes()
    if total > options.disk_budget:
        victims = [r for r in store.files() if r.closed and r.kind != "evidence"]
        victims += [r for r in store.files("evidence")]
        for row in victims:  # oldest first within each group
            if total <= options.disk_budget:
                break
            got = _delete(store, row)
            total -= got
            freed += got
            deleted += 1
    pruned = store.prune_points(now - options.points_retention)
    return RetentionReport(thinned, deleted, freed, pruned, store.disk_bytes())
