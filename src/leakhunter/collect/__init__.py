"""Collecting snapshots from targets: sources, HTTP fetching, the watch loop, session I/O."""

from __future__ import annotations

from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions, Response, fetch
from leakhunter.collect.profiledir import ProfileDirSource
from leakhunter.collect.session import (
    Manifest,
    Session,
    SessionWriteError,
    SessionWriter,
    Snapshot,
    SnapshotRecord,
    load_session,
)
from leakhunter.collect.sources import AgentSource, HttpSource, Source, SourceResult
from leakhunter.collect.watch import WatchOptions, WatchResult, collect

__all__ = [
    "AgentSource",
    "FetchError",
    "FetchOptions",
    "Fetcher",
    "HttpSource",
    "Manifest",
    "ProfileDirSource",
    "Response",
    "Session",
    "SessionWriteError",
    "SessionWriter",
    "Snapshot",
    "SnapshotRecord",
    "Source",
    "SourceResult",
    "WatchOptions",
    "WatchResult",
    "collect",
    "fetch",
    "load_session",
]
