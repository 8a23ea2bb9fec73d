"""serve's settings: intervals, quiet period, retention and the disk budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from leakhunter.analyze.history import HistoryOptions
from leakhunter.analyze.options import AnalyzeOptions

__all__ = ["ServeOptions"]

HOUR = 3600.0
DAY = 24 * HOUR


def _serve_analysis() -> AnalyzeOptions:
    # A serve target keeps weeks of history: 256 raw snapshots (4 h at 60 s) are
    # enough at full resolution; 5-minute means (a week) and hourly means (30
    # days) carry the rest. Per-minute means would only copy 60 s raw points.
    # float32 values: a thousand targets' histories in half the memory.
    return AnalyzeOptions(
        history=HistoryOptions(raw_points=256, minute_points=2016, minute_width=300.0, single=True)
    )


@dataclass(frozen=True)
class ServeOptions:
    """How serve watches its targets and what it keeps.

    ``quiet_period``: after a target (re)starts, how long before it may be called
    leaking (a warm-up is not an alert). ``raw_retention``: snapshot segments kept
    whole; older ones are thinned to one snapshot per ``thin_every`` and deleted
    after ``retention``; evidence captures are kept for ``evidence_retention``.
    ``disk_budget`` bounds everything under ``data`` (oldest segments go first,
    evidence last); retention runs every ``housekeeping_every`` seconds.
    ``gc_every``: force a GC on a target's first scrape and every k-th only (see
    WatchOptions.gc_every). ``judge_every``: once a run's history is longer than
    its full-resolution tier, judge it at most this often (seconds): judging
    hours of history costs ~5x a young run's, and the verdict over hours moves
    slowly; a young run, a restart and a change of up/down are judged at once.
    """

    data: Path = Path("leakhunter-data")
    interval: float = 60.0
    quiet_period: float = 300.0
    timeout: float = 10.0
    retries: int = 1
    workers: int = 16
    top_findings: int = 5
    segment_seconds: float = HOUR
    raw_retention: float = 6 * HOUR
    thin_every: float = 600.0
    retention: float = 7 * DAY
    evidence_retention: float = 30 * DAY
    points_retention: float = 2 * DAY
    disk_budget: int = 10 << 30
    save_every: float = 300.0
    housekeeping_every: float = 60.0
    gc_every: int = 1
    judge_every: float = 300.0
    analyze: AnalyzeOptions = field(default_factory=_serve_analysis)
