"""A target's history as the UI shows it: sparklines, runs across restarts, segments, evidence.

Everything here is built from what the store already holds (the points of
each scrape, the index of folders on disk), never by reading snapshots back:
the fleet page asks for every target's sparklines every few seconds, and a
fleet of thousands must stay one indexed query and a little arithmetic.
Series are thinned to a fixed number of points (a sparkline 100 pixels wide
shows no more), keeping the newest point so the line ends at the figure the
table shows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leakhunter.serve.store import FileRow, Point, Store

__all__ = [
    "EVIDENCE_FILES",
    "HISTORY_POINTS",
    "SPARK_POINTS",
    "SPARK_SPAN",
    "evidence",
    "find_capture",
    "SeriesDoc",
    "Sparklines",
    "rfc3339",
    "runs",
    "segments",
    "series",
    "target_history",
]

#: points per sparkline on the fleet page (about one per two pixels)
SPARK_POINTS = 60
#: what a sparkline covers by default (seconds back from now)
SPARK_SPAN = 3600.0
#: points per chart of the target page's history (the whole points retention)
HISTORY_POINTS = 400
#: the files an evidence capture may hold: nothing else is ever served from it
EVIDENCE_FILES = (
    "verdict.json",
    "heap.pb.gz",
    "goroutine.pb.gz",
    "goroutineleak.pb.gz",
    "goroutine2.txt.gz",
    "goroutine2.error.txt",
)
_FIGURES = ("heap", "goroutines")
#: per figure, its times (Unix seconds) and values: {"heap": {"t": [...], "v": [...]}, ...}
SeriesDoc = dict[str, dict[str, list[int]]]


def rfc3339(t: float | None) -> str | None:
    """Return a Unix time as RFC 3339 UTC with seconds ("2026-12-05T03:12:41Z")."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _thin(pairs: Sequence[tuple[float, float]], n: int) -> Sequence[tuple[float, float]]:
    """Keep at most n pairs, evenly spread over the sequence; the newest is always kept."""
    if len(pairs) <= n:
        return pairs
    step = len(pairs) / n
    return [pairs[min(len(pairs) - 1, round((i + 1) * step) - 1)] for i in range(n)]


def series(points: Iterable[Point], n: int) -> SeriesDoc:
    """Return the heap and goroutine series of some points, each thinned to n at most.

    Each figure keeps only the points that know it (a target down, or a
    scrape without a forced GC, has no exact heap), so a line never drops to
    zero where a value is merely unknown.
    """
    pts = list(points)
    out: SeriesDoc = {}
    for name in _FIGURES:
        pairs = [(p.time, v) for p in pts if (v := getattr(p, name)) is not None]
        kept = _thin(pairs, n)
        # whole seconds and units: a sparkline 100 pixels wide shows no finer
        out[name] = {"t": [round(t) for t, _ in kept], "v": [round(v) for _, v in kept]}
    return out


class Sparklines:
    """Every target's sparklines, read again only for the targets scraped since the last call.

    A fleet of 1,000 targets scraped every minute changes every 60 ms, so the
    fleet page's ETag rarely holds between its polls; this keeps a poll's cost
    to the points of the few dozen targets scraped meanwhile, not the 60,000
    points of the last hour. A target's series is keyed by its last scrape,
    which is stored before it is shown (see ``TargetWorker.scrape``).
    """

    def __init__(self, store: Store, span: float = SPARK_SPAN, n: int = SPARK_POINTS) -> None:
        self.store = store
        self.span = span
        self.n = n
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float | None, SeriesDoc]] = {}

    def get(self, latest: Mapping[str, float | None], now: float) -> dict[str, SeriesDoc]:
        """Return the sparklines of the targets ``latest`` maps to their last scrape."""
        with self._lock:
            cache = self._cache
            stale = [t for t, last in latest.items() if t not in cache or cache[t][0] != last]
            if stale:
                fresh = self.store.recent_points(now - self.span, stale)
                for tid in stale:
                    cache[tid] = (latest[tid], series(fresh.get(tid, ()), self.n))
            for gone in cache.keys() - latest.keys():
                del cache[gone]
            return {tid: cache[tid][1] for tid in latest}


def runs(points: Sequence[Point]) -> list[dict[str, Any]]:
    """Split a target's points into runs of its process (a new epoch is a restart)."""
    out: list[dict[str, Any]] = []
    start = 0
    for i in range(1, len(points) + 1):
        if i < len(points) and points[i].epoch == points[start].epoch:
            continue
        run = points[start:i]
        up = [p for p in run if p.up]
        heaps = [p.heap for p in up if p.heap is not None]
        counts = [p.goroutines for p in up if p.goroutines is not None]
        out.append(
            {
                "epoch": run[0].epoch,
                "start": rfc3339(run[0].time),
                "end": rfc3339(run[-1].time),
                "seconds": round(run[-1].time - run[0].time, 1),
                "scrapes": len(run),
                "down": len(run) - len(up),
                "heap_first": heaps[0] if heaps else None,
                "heap_last": heaps[-1] if heaps else None,
                "goroutines_first": counts[0] if counts else None,
                "goroutines_last": counts[-1] if counts else None,
            }
        )
        start = i
    return out


def segments(files: Iterable[FileRow], tid: str) -> list[dict[str, Any]]:
    """Return a target's snapshot segments (folders ``leakhunter analyze`` reads), oldest first."""
    return [
        {
            "path": f.path,
            "started": rfc3339(f.time),
            "bytes": f.bytes,
            "state": "thinned" if f.kind == "thinned" else "closed" if f.closed else "open",
        }
        for f in files
        if f.target == tid and f.kind in ("segment", "thinned")
    ]


def evidence(files: Iterable[FileRow], tid: str) -> list[dict[str, Any]]:
    """Return a target's evidence captures, oldest first, with the files each one holds."""
    out = []
    for f in files:
        if f.target != tid or f.kind != "evidence":
            continue
        folder = Path(f.path)
        # the folder is named <UTC stamp>-<why>: "20261205T031241-leak"
        reason = folder.name.rpartition("-")[2]
        out.append(
            {
                "path": f.path,
                "name": folder.name,
                "time": rfc3339(f.time),
                "bytes": f.bytes,
                "reason": reason if reason in ("leak", "suspect") else None,
                "files": [name for name in EVIDENCE_FILES if (folder / name).is_file()],
            }
        )
    return out


def target_history(store: Store, tid: str) -> dict[str, Any]:
    """Return what the target page shows beyond the report: runs, segments and long series."""
    points = store.points(tid)
    return {
        "runs": runs(points),
        "segments": segments(store.files(), tid),
        "series": series(points, HISTORY_POINTS),
        "points": len(points),
        "since": rfc3339(points[0].time) if points else None,
    }


def find_capture(captures: Sequence[Mapping[str, Any]], name: str, file: str) -> Path | None:
    """Return the path of one file of one capture, or None when it is not one to serve.

    Only a file of :data:`EVIDENCE_FILES` inside a capture the store indexes
    for this target: a name from a URL never becomes a path by itself.
    """
    if file not in EVIDENCE_FILES:
        return None
    for c in captures:
        if c["name"] == name and file in c["files"]:
            return Path(c["path"]) / file
    return None
