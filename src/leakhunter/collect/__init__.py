"""Collecting snapshots from targets: HTTP fetching, the watch loop, session I/O."""

from __future__ import annotations

from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions, Response, fetch
from leakhunter.collect.session import (
    Manifest,
    Session,
    SessionWriteError,
    SessionWriter,
    Snapshot,
    SnapshotRecord,
    load_session,
)
from leakhunter.collect.watch import WatchOptions, WatchResult, collect

__all__ = [
    "FetchError",
    "FetchOptions",
    "Fetcher",
    "Manifest",
    "Response",
    "Session",
    "SessionWriteError",
    "SessionWriter",
    "Snapshot",
    "SnapshotRecord",
    "WatchOptions",
    "WatchResult",
    "collect",
    "fetch",
    "load_session",
]
