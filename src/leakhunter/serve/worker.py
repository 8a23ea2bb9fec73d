"""One target under serve: scrape, fold into its analyser, judge, keep what matters.

Each scrape is one snapshot, taken by watch's own snapshotter into the
target's current segment (a session folder that ``leakhunter analyze`` reads;
a new one every ``segment_seconds``), folded into the target's incremental
analyser and judged. What the fleet needs from it (up, figures, verdict,
findings) is published as a frozen :class:`TargetStatus`, replaced whole, so
the metrics and the API read it without locks.

When a finding turns suspect, or becomes a leak, the evidence of that moment
is captured into its own folder (a ``debug=2`` dump fetched now, the heap,
goroutine and goroutineleak profiles of the snapshot, the verdict), so the
engineer paged at 3 a.m. reads what serve saw, not what is left hours later.

A restart of serve restores the analyser saved in the database and replays
the snapshots of the segments written since, so only a snapshot in flight is
lost; the snapshotter's epoch and last MemStats come back too, so a target
that restarted meanwhile is still seen as a new run.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from leakhunter.analyze.analyzer import Analyzer
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.fetch import Fetcher, FetchError
from leakhunter.collect.session import (
    Guards,
    Manifest,
    SessionWriter,
    SnapshotRecord,
    load_session,
)
from leakhunter.collect.snapshot import MemorySnapshot
from leakhunter.collect.watch import Abandoned, Snapshotter, WatchOptions, target_base
from leakhunter.errors import FormatError, LeakhunterError
from leakhunter.formats.memstats import MemStats
from leakhunter.pipeline import Judged, judge
from leakhunter.report.verdict_json import finding_to_dict, verdict_to_dict
from leakhunter.serve.options import ServeOptions
from leakhunter.serve.store import Point, Store
from leakhunter.serve.targets import TargetSpec
from leakhunter.units import format_duration, format_value

__all__ = ["Event", "ProfileSink", "TargetStatus", "TargetWorker"]

#: takes each scrape's profiles as fetched (target URL, its labels, kind -> bytes);
#: must not block (the Pyroscope exporter only queues them)
ProfileSink = Callable[[str, Mapping[str, str], Mapping[str, bytes]], None]

#: status order: a finding "rises" when its level goes up (evidence is captured then)
_LEVEL = {"suspect": 1, "leak": 2}
_STATUSES = frozenset({"pending", "ok", "suspect", "leak", "inconclusive", "down"})
#: what an evidence capture keeps of the snapshot it was taken at
_EVIDENCE_FILES = {
    "heap": "heap.pb.gz",
    "goroutine": "goroutine.pb.gz",
    "goroutineleak": "goroutineleak.pb.gz",
    "goroutine2": "goroutine2.txt.gz",
}


@dataclass(frozen=True, slots=True)
class Event:
    """A target's state change, printed as one line and kept in the database."""

    time: float
    target: str
    url: str
    previous: str | None
    status: str
    text: str

    def line(self) -> str:
        """Return the event as the one line serve prints."""
        when = datetime.fromtimestamp(self.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{when} {self.url} {self.status}: {self.text}"


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """What the fleet sees of one target, as of its latest scrape."""

    id: str
    url: str
    labels: Mapping[str, str]
    status: str = "pending"  # pending | ok | suspect | leak | inconclusive | down
    verdict: str = "pending"  # leak | no-leak | inconclusive | pending
    up: bool | None = None
    snapshots: int = 0
    errors: int = 0
    last_scrape: float | None = None
    scrape_seconds: float | None = None
    heap: float | None = None
    goroutines: float | None = None
    fds: float | None = None
    max_fds: float | None = None  # the descriptor limit (RLIMIT_NOFILE), where known
    time_to_oom: float | None = None
    quiet: bool = False
    findings: tuple[Mapping[str, Any], ...] = ()
    guards: Guards = field(default_factory=lambda: MappingProxyType({}))  # a Python agent's
    doc: Mapping[str, Any] | None = field(default=None, repr=False)  # the whole verdict


def _point(rec: SnapshotRecord) -> Point:
    up = bool(rec.memstats or rec.files)
    # exact only after a GC the scrape forced (--gc-every): else it counts garbage
    heap = rec.memstats.get("HeapAlloc") if rec.gc_forced else None
    fds, rss = rec.process.get("open_fds"), rec.process.get("rss")
    return Point(
        rec.time,
        rec.epoch,
        None if heap is None else float(heap),
        None if rec.goroutines is None else float(rec.goroutines),
        None if fds is None else float(fds),
        None if rss is None else float(rss),
        up,
    )


def _max_fds(rec: SnapshotRecord) -> float | None:
    limit = rec.process.get("max_fds")
    return None if limit is None else float(limit)


def _brief(f: Mapping[str, Any]) -> str:
    culprit = f.get("culprit") or {}
    where = culprit.get("function", "an unknown site")
    rule = f.get("rule") or {}
    growth = f.get("growth") or {}
    unit = str(growth.get("unit", ""))
    rate = format_value(float(growth.get("per_hour", 0.0)), unit)
    text = f"{f['kind']} grows {rate}{'' if unit == 'bytes' else ' ' + unit}/h at {where}"
    return text + (f" ({rule['id']})" if rule.get("id") else "")


class TargetWorker:
    """Scrapes one target; ``scrape`` is called by the scheduler, one call at a time."""

    def __init__(
        self,
        spec: TargetSpec,
        store: Store,
        options: ServeOptions,
        stop: threading.Event,
        on_event: Callable[[Event], None] = lambda e: None,
        export: ProfileSink | None = None,
    ) -> None:
        self.spec = spec
        self.store = store
        self.options = options
        self.stop = stop
        self.on_event = on_event
        self.export = export
        self.root = options.data / "targets" / spec.id
        self.lock = threading.Lock()
        self.base = target_base(spec.url)
        fetch = replace(spec.fetch, timeout=options.timeout, retries=options.retries)
        self.watch = WatchOptions(interval=self.interval, fetch=fetch, gc_every=options.gc_every)
        self.fetcher = Fetcher(fetch, sleep=lambda s: None if stop.wait(s) else None)
        self.fetcher.cancel = stop
        self.writer: SessionWriter | None = None
        self.segment: Path | None = None
        self.segment_started = 0.0
        self.seq = 0
        self.last_saved = time.time()
        self.captured: dict[str, int] = {}  # finding id -> level its evidence was kept at
        self.shot = Snapshotter(
            self.base, self.watch, self.fetcher, self._writer(time.time()), stop
        )
        self.analyzer = Analyzer(self.base, options.analyze)
        self.run_started: float | None = None
        self.run_epoch = -1
        self.judged: Judged | None = None  # the latest judgement (the target page renders it)
        self.judged_at: float | None = None
        self.judged_epoch = -1
        self.status = TargetStatus(spec.id, self.base, MappingProxyType(dict(spec.labels)))
        self.origin = store.origin(spec.id)
        self.restored = False  # the analyser's state is read back on the first scrape
        row = store.target(spec.id)
        if row is not None:  # until then the fleet sees what was stored last
            self.status = replace(
                self.status,
                status=row.status if row.status in _STATUSES else "pending",
                verdict=row.verdict or "pending",
                snapshots=row.snapshots,
                errors=row.errors,
                last_scrape=row.last_scrape,
            )
        #: the status the fleet sees: published once the scrape it reflects is stored
        self.public = self.status

    @property
    def interval(self) -> float:
        """Return the target's scrape interval (its own, else serve's)."""
        return self.spec.interval or self.options.interval

    def relabel(self, spec: TargetSpec) -> None:
        """Take a reloaded spec whose URL, interval and fetch options are unchanged."""
        self.spec = spec
        self.status = replace(self.status, labels=MappingProxyType(dict(spec.labels)))
        self.public = replace(self.public, labels=self.status.labels)

    # -- restore -----------------------------------------------------------
    def _restore(self) -> None:
        """Read the analyser's state back and replay the snapshots taken after it was saved.

        Done by the first scrape, on a scraper thread, not when the worker is
        made: a restart of serve with a thousand targets and a day of history
        each would otherwise replay them all before it answers ``/-/healthy``
        (a liveness probe would kill it first).
        """
        self.restored = True
        row = self.store.target(self.spec.id)
        if row is None:
            return
        self.shot.state.epoch = row.epoch
        if row.last_memstats:
            with contextlib.suppress(FormatError):  # unreadable: the next scrape sets it
                self.shot.state.last_stats = MemStats.from_fields(row.last_memstats)
        self.run_started, self.run_epoch = row.run_started, row.epoch
        saved = self.store.load_state(self.spec.id)
        mark_seg, mark_seq = "", -1
        if saved is not None:
            try:
                self.analyzer = Analyzer.restore(saved[0], self.options.analyze)
                mark_seg, _, seq = saved[1].rpartition(":")
                mark_seq = int(seq)
            except (FormatError, ValueError):
                self.analyzer = Analyzer(self.base, self.options.analyze)
        segments = self.store.files("segment", self.spec.id)
        for f in segments:  # left open by a serve that was killed: closed now
            if not f.closed and f.path != str(self.segment):
                self.store.set_file(f.path, _du(Path(f.path)), closed=True)
        start = next((i for i, f in enumerate(segments) if f.path == mark_seg), 0)
        for f in segments[start:]:
            if f.path != str(self.segment):
                self._replay(Path(f.path), mark_seq if f.path == mark_seg else -1)
        # not judged here: the scrape that called this judges next, from the stored
        # status (the last one announced), so a restart of serve announces nothing new

    def _replay(self, folder: Path, after: int) -> None:
        try:
            session = load_session(folder)
        except FormatError:
            return
        for snap in session.snapshots:
            if snap.record.seq > after:
                self.analyzer.add(snap)

    # -- one scrape ----------------------------------------------------------
    def scrape(self) -> None:
        """Take one snapshot, fold it in, judge, publish; never raises for target trouble."""
        with self.lock:
            if not self.restored:
                self._restore()
            started = time.time()
            writer = self._writer(started)
            self.shot.writer = writer
            try:
                if self.origin is None:
                    self.origin = started
                    self.store.set_origin(self.spec.id, started)
                # one clock per target across segments and restarts of serve: the
                # analyser's history needs time that only goes forward
                rec = self.shot.take(self.seq, started, started - self.origin, False)
                writer.commit(rec)
            except Abandoned:
                return
            self.seq += 1
            blobs = dict(self.shot.blobs)
            assert self.segment is not None
            self.store.grow_file(str(self.segment), sum(map(len, blobs.values())) + 2048)
            snap = MemorySnapshot(rec, MappingProxyType(blobs), str(self.segment))
            self.analyzer.add(snap)
            if rec.memstats and (self.run_started is None or rec.epoch != self.run_epoch):
                self.run_started = started
            self.run_epoch = rec.epoch
            took = time.time() - started
            point = _point(rec)
            previous = self.status
            self.status = replace(
                previous,
                up=point.up,
                snapshots=previous.snapshots + 1,
                errors=previous.errors + (not point.up),
                last_scrape=started,
                scrape_seconds=took,
                heap=point.heap if point.up and rec.gc_forced else previous.heap,
                goroutines=point.goroutines if point.up else previous.goroutines,
                fds=point.fds if point.up else previous.fds,
                max_fds=_max_fds(rec) if point.up else previous.max_fds,
                guards=rec.guards if point.up else previous.guards,
            )
            if self._judge_due(started, previous, rec.epoch):
                self._judge(started, announce=True, snap=snap, errors=dict(rec.errors))
            st = self.status
            self.store.record_scrape(
                self.spec.id,
                point,
                status=st.status,
                verdict=st.verdict,
                memstats=rec.memstats or None,
                run_started=self.run_started,
                findings={str(f["id"]): f for f in st.findings},
            )
            self.public = st  # shown only once stored: what was shown survives a kill -9
            if self.export is not None and blobs:
                self.export(self.base, self.spec.labels, blobs)
            if started - self.last_saved >= self.options.save_every:
                self.save()

    def _writer(self, now: float) -> SessionWriter:
        if self.writer is not None and now - self.segment_started < self.options.segment_seconds:
            return self.writer
        self._close_segment()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
        self.segment = self.root / "segments" / stamp
        n = 1
        while self.segment.exists():  # two segments in one second (a fast restart)
            self.segment = self.root / "segments" / f"{stamp}-{n}"
            n += 1
        manifest = Manifest(
            target=self.base,
            started=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            options=MappingProxyType(self.watch.to_json() | {"serve": {"id": self.spec.id}}),
        )
        self.writer = SessionWriter(self.segment, manifest, fsync=False)
        self.segment_started, self.seq = now, 0
        self.store.add_file(str(self.segment), self.spec.id, "segment", now, 1024)
        return self.writer

    def _close_segment(self) -> None:
        if self.segment is not None and self.writer is not None:
            self.save()
            self.store.set_file(str(self.segment), _du(self.segment), closed=True)
        self.writer = None

    # -- judging -------------------------------------------------------------
    def _judge_due(self, now: float, previous: TargetStatus, epoch: int) -> bool:
        """Return True when this scrape must be judged (see ServeOptions.judge_every)."""
        run = self.analyzer.current
        young = run is None or run.fold.count <= self.options.analyze.history.raw_points
        due = (
            young
            or self.judged_at is None
            or now - self.judged_at >= self.options.judge_every
            or previous.up is not self.status.up
            or epoch != self.judged_epoch
        )
        if due:
            self.judged_at, self.judged_epoch = now, epoch
        return due

    def _judge(
        self,
        now: float,
        *,
        announce: bool,
        snap: MemorySnapshot | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        st = self.status
        verdict: Verdict | None = None
        try:
            self.judged = judge(self.analyzer.analysis(), self.options.analyze)
            verdict = self.judged.verdict
        except LeakhunterError:
            verdict = None
        quiet = self.run_started is not None and now - self.run_started < self.options.quiet_period
        findings = self._findings(verdict, quiet)
        enough = verdict is not None and verdict.snapshots >= self.options.analyze.trend.min_points
        if st.up is False:
            status, value = "down", st.verdict
        elif not enough or verdict is None or quiet:
            status, value = "pending", "pending"
        else:
            value = verdict.verdict.value
            levels = {f["verdict"] for f in findings}
            status = {"leak": "leak", "inconclusive": "inconclusive"}.get(value, "ok")
            if status == "ok" and "suspect" in levels:
                status = "suspect"
        ttl = None if verdict is None else verdict.projection.time_to_oom_seconds
        self.status = replace(
            st,
            status=status,
            verdict=value,
            quiet=quiet,
            time_to_oom=ttl if value == "leak" else None,
            findings=tuple(findings),
            doc=None if verdict is None else MappingProxyType(verdict_to_dict(verdict)),
        )
        if announce:
            self._announce(st.status, status, findings, errors or {})
            if snap is not None and not quiet:
                self._capture_if_rising(now, findings, snap)

    def _findings(self, verdict: Verdict | None, quiet: bool) -> list[dict[str, Any]]:
        if verdict is None:
            return []
        out = []
        for f in verdict.findings[: self.options.top_findings * 4]:
            doc = finding_to_dict(f)
            doc.pop("series", None)  # the charts live in the verdict, not in every row
            if quiet and doc["verdict"] == "leak":
                doc["verdict"] = "suspect"  # a warm-up is not an alert
            out.append(doc)
        return out

    def _announce(
        self, previous: str, status: str, findings: list[dict[str, Any]], errors: Mapping[str, str]
    ) -> None:
        if status == previous:
            return
        lead = next((f for f in findings if f["verdict"] == status), None)
        if status == "down":
            text = "not answering: " + (next(iter(errors.values()), "no answer"))
        elif status in ("leak", "suspect") and lead is not None:
            text = _brief(lead)
            if status == "leak" and self.status.time_to_oom is not None:
                text += f"; out of memory in ~{format_duration(self.status.time_to_oom)}"
        elif status == "ok" and previous in ("leak", "suspect", "down"):
            text = "recovered: nothing grows"
        elif status == "pending" and previous != "down":
            text = "watching (warm-up or too few snapshots to judge)"
        else:
            text = {"ok": "no leak", "inconclusive": "inconclusive: the data is too noisy"}.get(
                status, "up again"
            )
        prev = None if previous == "pending" and self.status.snapshots <= 1 else previous
        ev = Event(time.time(), self.spec.id, self.base, prev, status, text)
        self.store.add_event(self.spec.id, prev, status, text)
        self.on_event(ev)

    # -- evidence --------------------------------------------------------------
    def _capture_if_rising(
        self, now: float, findings: list[dict[str, Any]], snap: MemorySnapshot
    ) -> None:
        rising = [
            f for f in findings if _LEVEL.get(f["verdict"], 0) > self.captured.get(str(f["id"]), 0)
        ]
        if not rising:
            return
        level = max(_LEVEL[f["verdict"]] for f in rising)
        reason = "leak" if level == 2 else "suspect"
        try:
            folder = self._capture(now, reason, snap)
        except OSError:
            return  # a full disk: the next rise tries again
        for f in rising:
            self.captured[str(f["id"])] = _LEVEL[f["verdict"]]
        self.store.add_file(str(folder), self.spec.id, "evidence", now, _du(folder))

    def _capture(self, now: float, reason: str, snap: MemorySnapshot) -> Path:
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
        folder = self.root / "evidence" / f"{stamp}-{reason}"
        folder.mkdir(parents=True, exist_ok=True)
        for kind, name in _EVIDENCE_FILES.items():
            data = snap.blobs.get(kind)
            if data is not None:
                (folder / name).write_bytes(data)
        if "goroutine2" not in snap.blobs:
            try:
                dump = self.fetcher.get(
                    self.base + "/debug/pprof/goroutine?debug=2",
                    max_bytes=self.watch.dump_max_bytes,
                    truncate=True,
                ).content
                (folder / "goroutine2.txt.gz").write_bytes(gzip.compress(dump, mtime=0))
            except FetchError as exc:
                (folder / "goroutine2.error.txt").write_text(str(exc) + "\n")
        doc = dict(self.status.doc or {}) | {"id": self.spec.id, "captured": reason}
        (folder / "verdict.json").write_text(json.dumps(doc, indent=1) + "\n")
        return folder

    # -- state -----------------------------------------------------------------
    def save(self) -> None:
        """Keep the analyser's state in the database (with the last snapshot it holds)."""
        self.last_saved = time.time()
        if not self.restored or self.segment is None or self.analyzer.current is None:
            return  # never restored: the state saved before is still the one to keep
        mark = f"{self.segment}:{self.seq - 1}"
        self.store.save_state(self.spec.id, self.analyzer.save(), mark)

    def close(self) -> None:
        """Save the state and close the segment and the connection pool."""
        with self.lock:
            self._close_segment()
            self.fetcher.close()


def _du(folder: Path) -> int:
    """Return the bytes of the files directly in a folder (segments and captures are flat)."""
    total = 0
    try:
        for p in folder.iterdir():
            try:
                total += p.stat().st_size
            except OSError:
                continue
    except OSError:
        return 0
    return total
