"""The collection loop: periodic snapshots of one target into a session directory.

Per snapshot, in this order: ``heap?gc=1&debug=1`` (exact MemStats after a forced
GC; only the MemStats block is kept, in the record), the heap protobuf (which
then reflects that GC), ``goroutine?debug=0``, ``goroutineleak?debug=0`` while the
target serves it (on snapshots that force a GC only), ``allocs`` if asked,
``/debug/vars`` for ``gomemlimit`` (and a Python agent's ``leakhunter.guard``
figures) while served, and a ``goroutine?debug=2`` dump
only when it pays: on the first and the last planned snapshot and whenever a
goroutine group grew by more than ``dump_growth`` since the previous dump. Each
file is written as it arrives and the record last, so the loop never holds more
than one snapshot's profiles.

A forced GC is a full mark of the target's heap: on a heap of gigabytes it costs
the service CPU seconds and raises its tail latency. With ``gc_every`` k > 1 only
the first snapshot and every k-th after it fetch ``heap?gc=1&debug=1``; the
others fetch ``heap?debug=1``, whose MemStats are as exact but whose HeapAlloc
then includes garbage not yet collected (the heap profile shows the last
completed GC); they skip ``goroutineleak`` too, as its leak detection runs a
full GC of its own (a forced snapshot of such a target costs two). The record
says which snapshots forced one (``gc_forced``), so the analysis can judge the
live heap on forced points alone.

An endpoint error is recorded in the record's ``errors`` and the loop goes on; a
target that is down yields a record with errors only. A target restart (NumGC or
TotalAlloc going down, or NumForcedGC not rising across a forced GC, see
:func:`is_restart`) bumps ``epoch``; a restart seen on a snapshot that did not
force a GC fetches the MemStats again with one, so every run starts on an exact
point and its restart can be told from the next. Setting ``stop_event`` (the CLI
does it on SIGINT/SIGTERM) abandons the snapshot in flight and returns normally,
so analysis still runs.
"""

from __future__ import annotations

import gzip
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from leakhunter.collect.fetch import Fetcher, FetchError, FetchOptions
from leakhunter.collect.metrics_text import process_figures
from leakhunter.collect.procfs import ProcessStats, listener_pid, process_stats
from leakhunter.collect.session import (
    Guards,
    Manifest,
    SessionWriteError,
    SessionWriter,
    SnapshotRecord,
    frozen_guards,
)
from leakhunter.collect.snapshot import MemorySnapshot
from leakhunter.collect.targets import (
    GroupCounts,
    group_counts,
    grown,
    is_restart,
    local_port,
    parse_vars,
    target_base,
    trim_dump,
)
from leakhunter.errors import FormatError, UsageError
from leakhunter.formats.memstats import MemStats, looks_like_heap_text, parse_memstats
from leakhunter.urls import split_credentials

__all__ = [
    "WINDOW_GRACE",
    "Abandoned",
    "Snapshotter",
    "WatchOptions",
    "WatchResult",
    "collect",
    "is_restart",
    "target_base",
]

#: Seconds a request may run past the end of the window (the last snapshot's time).
WINDOW_GRACE = 2.0
# How late past the window's end the last snapshot may still start (timer jitter).
_LATE = 0.5
# The MemStats endpoint, with a forced GC (True) or without.
_MEMSTATS = {True: "/debug/pprof/heap?gc=1&debug=1", False: "/debug/pprof/heap?debug=1"}


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """What to collect and how often; ``duration`` and ``snapshots`` both stop the loop.

    With neither set the loop runs until ``stop_event``. The first snapshot is
    taken immediately; snapshot i is due ``i * interval`` after it (a slow
    snapshot skips due times instead of bunching up).
    """

    interval: float = 15.0
    duration: float | None = None
    snapshots: int | None = None
    allocs: bool = False
    goroutine_dumps: bool = True
    dump_growth: int = 50
    dump_max_bytes: int = 64 << 20
    fetch: FetchOptions = field(default_factory=FetchOptions)
    #: force a GC (``heap?gc=1``) on the first snapshot and every k-th after it
    gc_every: int = 1

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise UsageError(f"interval must be positive, not {self.interval}")
        if self.gc_every < 1:
            raise UsageError(f"gc_every must be at least 1, not {self.gc_every}")
        if self.snapshots is not None and self.snapshots < 1:
            raise UsageError(f"snapshots must be at least 1, not {self.snapshots}")
        if self.duration is not None and self.duration < 0:
            raise UsageError(f"duration must not be negative, not {self.duration}")

    def planned(self) -> int | None:
        """Return how many snapshots the options ask for (None: until stopped)."""
        counts = [n for n in (self.snapshots,) if n is not None]
        if self.duration is not None:
            counts.append(math.floor(self.duration / self.interval + 1e-9) + 1)
        return min(counts) if counts else None

    def to_json(self) -> dict[str, object]:
        """Return the options as recorded in a session manifest."""
        return {
            "interval": self.interval,
            "duration": self.duration,
            "snapshots": self.snapshots,
            "allocs": self.allocs,
            "goroutine_dumps": self.goroutine_dumps,
            "dump_growth": self.dump_growth,
            "dump_max_bytes": self.dump_max_bytes,
            "gc_every": self.gc_every,
            "fetch": self.fetch.to_json(),
        }


@dataclass(frozen=True, slots=True)
class WatchResult:
    """How a watch ended: ``stopped`` is "done", "interrupted" or "write-error"."""

    directory: Path
    snapshots: int
    epochs: int
    stopped: str
    error: str | None = None


class Abandoned(Exception):
    """The stop event fired mid-snapshot."""


@dataclass(slots=True)
class _State:
    """What the loop remembers between snapshots (small: counts, never profiles)."""

    epoch: int = 0
    last_stats: MemStats | None = None
    unforced: int | None = None  # snapshots read since the last forced GC (None: none yet)
    leak_served: bool = True
    vars_served: bool = True
    dump_groups: GroupCounts | None = None
    dump_total: int | None = None
    pid: int | None = None  # the target's process, when it runs on this host
    pid_looked: bool = False
    metrics_served: bool = True


class Snapshotter:
    """Takes one snapshot at a time into a session writer."""

    def __init__(
        self,
        base: str,
        options: WatchOptions,
        fetcher: Fetcher,
        writer: SessionWriter,
        stop: threading.Event,
    ) -> None:
        self.base = base
        self.options = options
        self.fetcher = fetcher
        self.writer = writer
        self.stop = stop
        self.state = _State()
        self.blobs: dict[str, bytes] = {}  # the snapshot in flight, as fetched

    def _get(self, path: str, max_bytes: int | None = None) -> bytes:
        if self.stop.is_set():
            raise Abandoned
        try:
            return self.fetcher.get(self.base + path, max_bytes=max_bytes).content
        except FetchError:
            if self.stop.is_set():  # cut short by the stop: abandon, don't record
                raise Abandoned from None
            raise

    def take(self, seq: int, t: float, elapsed: float, last: bool) -> SnapshotRecord:
        """Take snapshot ``seq`` (its profiles as fetched stay in ``blobs``); Abandoned on stop."""
        files: dict[str, str] = {}
        errors: dict[str, str] = {}
        self.blobs = {}
        try:
            return self._take(seq, t, elapsed, last, files, errors)
        except Abandoned:
            self.writer.discard(files)
            raise

    def _take(
        self,
        seq: int,
        t: float,
        elapsed: float,
        last: bool,
        files: dict[str, str],
        errors: dict[str, str],
    ) -> SnapshotRecord:
        st = self.state
        memstats: dict[str, int] = {}
        forced = self._gc_due()
        body = b""
        try:
            body = self._get(_MEMSTATS[forced])
            stats = parse_memstats(body, source="heap")
        except FetchError as exc:
            errors["memstats"] = str(exc)
            if exc.status is None:  # down: don't try every endpoint with retries
                return SnapshotRecord(
                    seq, t, elapsed, st.epoch, errors=MappingProxyType(errors), gc_forced=forced
                )
            stats = None
        except FormatError as exc:
            errors["memstats"] = str(exc)
            if not looks_like_heap_text(body):  # 200 with garbage: no pprof here, as if down
                return SnapshotRecord(
                    seq, t, elapsed, st.epoch, errors=MappingProxyType(errors), gc_forced=forced
                )
            stats = None
        if stats is not None:
            if st.last_stats is not None and is_restart(st.last_stats, stats, forced=forced):
                st.epoch += 1
                st.dump_groups = st.dump_total = None
                if not forced:
                    stats, forced = self._anchor(stats)
            st.last_stats = stats
            st.unforced = 0 if forced else (st.unforced or 0) + 1
            memstats = dict(stats.fields)
            # The runtime's GC CPU share since start, kept as an integer (parts per
            # billion) with the exact fields: compare puts it side by side.
            memstats["GCCPUFractionPpb"] = round(stats.gc_cpu_fraction * 1e9)
        self._profile(seq, "heap", "/debug/pprof/heap", files, errors)
        groups: GroupCounts | None = None
        total: int | None = None
        data = self._profile(seq, "goroutine", "/debug/pprof/goroutine?debug=0", files, errors)
        if data is not None:
            try:
                groups = group_counts(data)
                total = sum(groups.values())
            except FormatError as exc:
                errors["goroutine"] = str(exc)
            except Exception as exc:
                # The profile is already on disk; counting only steers debug=2 dumps,
                # so a decoder bug must not end the watch. Keep it visible instead.
                errors["goroutine"] = f"cannot count goroutines: {type(exc).__name__}: {exc}"
        if st.leak_served and forced:  # it runs a full GC of its own: see the module doc
            self._profile(seq, "goroutineleak", "/debug/pprof/goroutineleak?debug=0", files, errors)
        if self.options.allocs:
            self._profile(seq, "allocs", "/debug/pprof/allocs", files, errors)
        limit, guards = self._vars(errors)
        proc, proc_source = self._process(errors)
        if self._dump_due(seq == 0 or last, groups, total):
            self._dump(seq, files, errors, groups, total)
        return SnapshotRecord(
            seq=seq,
            time=t,
            elapsed=elapsed,
            epoch=st.epoch,
            memstats=MappingProxyType(memstats),
            goroutines=total,
            files=MappingProxyType(files),
            errors=MappingProxyType(errors),
            gomemlimit=limit,
            process=MappingProxyType(proc),
            process_source=proc_source,
            gc_forced=forced,
            guards=guards,
        )

    def _gc_due(self) -> bool:
        """Return True when this snapshot forces a GC: the first, then every gc_every-th."""
        unforced = self.state.unforced
        return unforced is None or unforced + 1 >= self.options.gc_every

    def _anchor(self, stats: MemStats) -> tuple[MemStats, bool]:
        """Re-read a restarted target's MemStats after a forced GC: its run's first point.

        Without it a run could start on a snapshot whose NumForcedGC is 0, and a
        second restart before its next forced GC would not show. Returns the
        figures and whether they follow a forced GC (not when the re-read failed:
        then the unforced ones stay); Abandoned on stop.
        """
        try:
            return parse_memstats(self._get(_MEMSTATS[True]), source="heap"), True
        except (FetchError, FormatError):
            return stats, False

    def _profile(
        self, seq: int, kind: str, path: str, files: dict[str, str], errors: dict[str, str]
    ) -> bytes | None:
        try:
            data = self._get(path)
        except FetchError as exc:
            if kind == "goroutineleak" and exc.status == 404:
                self.state.leak_served = False  # not built with the experiment: stop asking
            else:
                errors[kind] = str(exc)
            return None
        files[kind] = self.writer.write_file(seq, kind, data)
        self.blobs[kind] = data
        return data

    def _vars(self, errors: dict[str, str]) -> tuple[int | None, Guards]:
        """Return the memory limit and the leakhunter.guard figures /debug/vars serves."""
        if not self.state.vars_served:
            return None, MappingProxyType({})
        try:
            limit, guards = parse_vars(self._get("/debug/vars", max_bytes=4 << 20))
        except FetchError as exc:
            if exc.status == 404:
                self.state.vars_served = False
            else:
                errors["vars"] = str(exc)
            return None, MappingProxyType({})
        return limit, frozen_guards(guards)

    def _process(self, errors: dict[str, str]) -> tuple[dict[str, int], str]:
        """Read the target's process: from /proc when it is local, else its /metrics."""
        st = self.state
        if not st.pid_looked or st.pid is not None:
            got = self._local()
            if got is not None:
                return got.to_json(), "procfs"
        if not st.metrics_served:
            return {}, ""
        try:
            text = self._get("/metrics", max_bytes=8 << 20)
        except FetchError as exc:
            if exc.status is not None and exc.status < 500:
                st.metrics_served = False  # not served (404) or not ours to read
            else:
                errors["metrics"] = str(exc)
            return {}, ""
        figures = process_figures(text.decode("utf-8", "replace"))
        if not figures:
            st.metrics_served = False  # a page without process metrics: stop asking
        return figures, "metrics" if figures else ""

    def _local(self) -> ProcessStats | None:
        """Return the target process's figures when it listens on this host."""
        st = self.state
        if st.pid is not None:
            got = process_stats(st.pid)
            if got is not None:
                return got
            st.pid = None  # gone (restarted): look for the new listener
        st.pid_looked = True
        port = local_port(self.base)
        if port is None:
            return None
        st.pid = listener_pid(port)
        return process_stats(st.pid) if st.pid is not None else None

    def _dump_due(self, edge: bool, groups: GroupCounts | None, total: int | None) -> bool:
        st = self.state
        if not self.options.goroutine_dumps:
            return False
        if edge or st.dump_total is None:
            return True
        threshold = self.options.dump_growth
        if groups is not None and st.dump_groups is not None:
            return grown(groups, st.dump_groups, threshold)
        return total is not None and total - st.dump_total > threshold

    def _dump(
        self,
        seq: int,
        files: dict[str, str],
        errors: dict[str, str],
        groups: GroupCounts | None,
        total: int | None,
    ) -> None:
        url = self.base + "/debug/pprof/goroutine?debug=2"
        if self.stop.is_set():
            raise Abandoned
        try:
            resp = self.fetcher.get(url, max_bytes=self.options.dump_max_bytes, truncate=True)
        except FetchError as exc:
            if self.stop.is_set():
                raise Abandoned from None
            errors["goroutine2"] = str(exc)
            return
        text = resp.content
        if resp.truncated:
            text = trim_dump(text)
            errors["goroutine2"] = (
                f"debug=2 dump cut at the {self.options.dump_max_bytes}-byte limit"
            )
        packed = gzip.compress(text, compresslevel=6, mtime=0)
        files["goroutine2"] = self.writer.write_file(seq, "goroutine2", packed)
        self.blobs["goroutine2"] = packed
        self.state.dump_groups = groups
        self.state.dump_total = total if total is not None else 0


def collect(
    target_url: str,
    options: WatchOptions,
    out_dir: str | Path,
    *,
    on_snapshot: Callable[[SnapshotRecord], None] | None = None,
    on_view: Callable[[MemorySnapshot], None] | None = None,
    stop_event: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] | None = None,
    fetcher: Fetcher | None = None,
    manifest_options: Mapping[str, object] | None = None,
) -> WatchResult:
    """Watch a target, writing a session to out_dir; return how the watch ended.

    ``clock`` (unix seconds) and ``sleep`` are injectable for tests; the default
    sleep waits on ``stop_event`` so a stop request wakes the loop at once.
    ``on_view`` gets each committed snapshot with its profiles as fetched (the
    live analyser reads them without reading the session back).
    ``manifest_options`` adds context (e.g. the zoo scenario) to the manifest's
    options. Never raises for target trouble (it is recorded per snapshot); a session
    write failure (e.g. disk full) ends the watch with ``stopped="write-error"``,
    keeping what was written.

    Raises:
        SessionWriteError: out_dir cannot be created or already holds a session.
        UsageError: target_url is not a URL.
    """
    clean, auth = split_credentials(target_url)  # kept out of the manifest and messages
    base = target_base(clean)
    stop = stop_event or threading.Event()

    def wait(seconds: float) -> None:
        if sleep is not None:
            sleep(seconds)
        else:
            stop.wait(seconds)

    start = clock()
    started = datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds")
    recorded = options.to_json() | dict(manifest_options or {})
    manifest = Manifest(target=base, started=started, options=MappingProxyType(recorded))
    writer = SessionWriter(out_dir, manifest)
    own = fetcher is None
    fopts = options.fetch if auth is None else replace(options.fetch, basic_auth=auth)
    client = fetcher or Fetcher(fopts, sleep=wait)  # retry waits end on stop
    # The window bounds wall time: no request outlives it by more than the grace,
    # and a stop abandons the request in flight.
    client.cancel = stop
    if options.duration is not None:
        client.deadline = time.monotonic() + options.duration + WINDOW_GRACE
    shot = Snapshotter(base, options, client, writer, stop)
    planned = options.planned()
    seq = slot = 0
    stopped, error = "done", None
    try:
        while planned is None or seq < planned:
            due = start + slot * options.interval
            if clock() < due:
                wait(due - clock())
            if stop.is_set():
                stopped = "interrupted"
                break
            now = clock()
            if options.duration is not None and seq and now - start > options.duration + _LATE:
                break  # a slow snapshot ran past the window: none starts after it
            slot = max(slot, math.floor((now - start) / options.interval + 1e-9)) + 1
            last_by_time = (
                options.duration is not None and slot * options.interval > options.duration + 1e-9
            )
            last = last_by_time or (planned is not None and seq + 1 >= planned)
            try:
                record = shot.take(seq, now, now - start, last)
                writer.commit(record)
            except Abandoned:
                stopped = "interrupted"
                break
            seq += 1
            if on_view is not None:
                on_view(MemorySnapshot(record, MappingProxyType(shot.blobs), str(writer.directory)))
            if on_snapshot is not None:
                on_snapshot(record)
            if last_by_time:
                break
    except SessionWriteError as exc:
        stopped, error = "write-error", str(exc)
    finally:
        if own:
            client.close()
    return WatchResult(writer.directory, seq, shot.state.epoch + 1, stopped, error)
