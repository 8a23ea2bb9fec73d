"""Fold one target run's snapshots, one at a time, into bounded state; view it as series.

``RunFold.add`` decodes one snapshot's profiles, adds its figures to the
bounded :class:`History` (exact MemStats, per-site heap, per-group goroutine
counts, goroutineleak counts) and updates what is kept per site and group
(frames, app functions, dump facts, which app code calls into which library
and which library code runs which app code). Nothing grows with the number of
snapshots: the history is tiered, the other tables are keyed by live sites and
groups (the call tables are capped). ``RunFold.reduced`` gives the judgement a
:class:`Reduced` view of any window of that history.

A snapshot that forced no GC (a watch with ``gc_every`` > 1) has exact MemStats,
but its HeapAlloc, HeapObjects and HeapInuse also count garbage not yet
collected. They are kept in rows of their own: a window judges the live heap
on forced points alone once it holds enough of them for a trend (``min_exact``),
and on every point until then. Both halves were measured: on the zoo (15
snapshots at 1 s, a GC forced every 4th) forced points alone missed 4 of 16
leaks and every point none (bench/zoo_gc_every.py); over hours, garbage swings
as large as the live heap hide in the full series a slow leak that the forced
points alone show (tests/test_analyze_gc_every.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.frames import AppMatcher, Origin, chain_keys, module_of
from leakhunter.analyze.history import History, HistoryOptions, Row
from leakhunter.analyze.series import (
    SeriesTable,
    StackResolver,
    group_key,
    site_key,
)
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.errors import FormatError
from leakhunter.formats.pprof_view import ProfileView, frames_of
from leakhunter.model.goroutine import Frame, Goroutine, GoroutineDump

__all__ = ["EXACT", "GARBAGE_FIGURES", "DumpFacts", "Reduced", "RunFold"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]

#: The exact MemStats figures kept per snapshot.
EXACT = (
    "HeapAlloc",
    "HeapObjects",
    "TotalAlloc",
    "StackInuse",
    "HeapInuse",
    "Sys",
    "HeapReleased",
    "NumGC",
    "NumForcedGC",
    "PauseTotalNs",
    "GCCPUFractionPpb",
)
#: The EXACT figures that count garbage not yet collected unless the snapshot forced a GC.
GARBAGE_FIGURES = ("HeapAlloc", "HeapObjects", "HeapInuse")
_MAX_APP_FRAMES = 24
_MAX_ERRORS = 20
_MAX_CALLERS = 50_000


@dataclass(frozen=True, slots=True)
class DumpFacts:
    """What full dumps told about one goroutine group."""

    state: str = ""
    wait_first: int | None = None  # max wait minutes in the first dump that had the group
    wait_last: int | None = None  # ... and in the latest one
    leaked: int = 0  # (leaked) marks in the latest dump
    created_by: Frame | None = None
    creator_app: tuple[str, ...] = ()  # app functions on the creators' stacks
    count_first: int = 0
    count_last: int = 0


@dataclass(frozen=True, slots=True)
class _Seen:
    """One group as one dump showed it."""

    seq: int
    state: str
    wait: int | None
    leaked: int
    count: int
    created_by: Frame | None
    creator_app: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reduced:
    """Everything the judgement reads, for one window of one target run.

    Every series is aligned with ``t``; a point where a profile was not
    collected is NaN in that profile's tables (``valid()`` drops it), never a
    separate mask a reader must line up.
    """

    t: F64
    exact: dict[str, F64]
    goroutines_total: F64
    heap_inuse: SeriesTable = field(default_factory=SeriesTable)
    heap_objects: SeriesTable = field(default_factory=SeriesTable)
    heap_alloc: SeriesTable = field(default_factory=SeriesTable)
    site_frames: dict[str, tuple[Frame, ...]] = field(default_factory=dict)
    site_app: dict[str, set[str]] = field(default_factory=dict)
    groups: SeriesTable = field(default_factory=SeriesTable)
    group_frames: dict[str, tuple[Frame, ...]] = field(default_factory=dict)
    leaked: SeriesTable = field(default_factory=SeriesTable)
    leak_collected: bool = False  # the goroutineleak profile was served in the window
    heap_period: int = 0  # bytes per heap-profile sample (0: not sampled, e.g. a census)
    open_fds: F64 | None = None  # the process's open descriptors (procfs or /metrics)
    rss: F64 | None = None  # its resident set, bytes
    max_fds: int | None = None  # its descriptor limit, latest known
    memory_limit: int | None = None  # its cgroup memory limit, latest known
    process_source: str = ""  # "procfs" | "metrics" | ""
    dumps: dict[str, DumpFacts] = field(default_factory=dict)
    matcher: AppMatcher = field(default_factory=AppMatcher)
    # library function -> {innermost app function that calls it: times seen}
    callers: dict[str, dict[Frame, int]] = field(default_factory=dict)
    # module -> {app frame that calls into it (innermost on the stack): stacks seen}
    module_callers: dict[str, dict[Frame, int]] = field(default_factory=dict)
    # chain of library frames from a goroutine's root (chain_keys) -> {outermost app
    # frame it runs: stacks seen}
    callees: dict[str, dict[Frame, int]] = field(default_factory=dict)
    gomemlimit: int | None = None
    errors: tuple[str, ...] = ()
    raw: bool = True  # every point is one snapshot (no downsampled means)
    heap_unforced: int = 0  # points of the live heap read without a forced GC (garbage in)


def _app_functions(frames: Sequence[Frame], matcher: AppMatcher) -> list[str]:
    return [f.function for f in frames if matcher.origin(f) is Origin.APP]


class RunFold:
    """The incremental state of one run of one target (a restart starts a new one)."""

    def __init__(self, app_prefix: str | None = None, history: HistoryOptions | None = None):
        self.app_prefix = app_prefix
        self.history = History(history)
        for table in ("inuse", "objects", "alloc"):
            self.history.declare(table, "heap")
        self.history.declare("group", "goroutine")
        self.history.declare("leaked", "goroutineleak")
        self.history.declare("exact")
        self.history.declare("unforced")  # GARBAGE_FIGURES of snapshots that forced no GC
        self.history.declare("total")
        self.history.declare("proc")
        self.matcher: AppMatcher | None = None
        self.heap_resolver: StackResolver | None = None
        self.group_resolver = StackResolver(group_key, self.note_callers)
        self.callers: dict[str, dict[Frame, int]] = {}
        self.module_callers: dict[str, dict[Frame, int]] = {}
        self.callees: dict[str, dict[Frame, int]] = {}
        self.best_site_value: dict[str, float] = {}
        self.site_frames: dict[str, tuple[Frame, ...]] = {}
        self.site_app: dict[str, set[str]] = {}
        self.group_frames: dict[str, tuple[Frame, ...]] = {}
        self.dump_first: dict[str, _Seen] = {}
        self.dump_recent: dict[str, _Seen] = {}
        self.last_dump_seq: int | None = None
        self.gomemlimit: int | None = None
        self.heap_period = 0
        self.max_fds: int | None = None
        self.memory_limit: int | None = None
        self.process_source = ""
        self.errors: list[str] = []
        self.t0: float | None = None
        self.count = 0
        self._prunes_seen = 0

    # -- folding ------------------------------------------------------------
    def add(self, snap: SnapshotView) -> None:
        """Fold one snapshot (in time order) into the state."""
        rec = snap.record
        if self.t0 is None:
            self.t0 = rec.elapsed
        loose = not rec.gc_forced
        values: list[tuple[Row, float]] = [
            (("unforced" if loose and k in GARBAGE_FIGURES else "exact", k), float(rec.memstats[k]))
            for k in EXACT
            if k in rec.memstats
        ]
        if rec.goroutines is not None:
            values.append((("total", "goroutines"), float(rec.goroutines)))
        if rec.gomemlimit:
            self.gomemlimit = rec.gomemlimit
        self._process(rec.process, rec.process_source, values)
        collected: list[str] = []
        if self._heap(snap, values):
            collected.append("heap")
        if self._counts(snap, "goroutine", "group", values):
            collected.append("goroutine")
        if self._counts(snap, "goroutineleak", "leaked", values):
            collected.append("goroutineleak")
        if snap.has("goroutine2"):
            self._dump(snap)
        self.history.add(rec.elapsed - self.t0, values, collected)
        self.count += 1
        if self.history.prunes != self._prunes_seen:
            self._prunes_seen = self.history.prunes
            self._forget_pruned()

    def _process(
        self, figures: Mapping[str, int], source: str, values: list[tuple[Row, float]]
    ) -> None:
        """Fold what the kernel (or /metrics) said of the process: fds, RSS, limits."""
        values.extend((("proc", k), float(figures[k])) for k in ("open_fds", "rss") if k in figures)
        if "max_fds" in figures:
            self.max_fds = figures["max_fds"]
        if "memory_limit" in figures:
            self.memory_limit = figures["memory_limit"]
        if figures:
            self.process_source = source

    def note_callers(self, frames: tuple[Frame, ...]) -> None:
        """Remember who calls whom between the application and its libraries on a stack.

        App -> library (``callers``, ``module_callers``): which app function each
        library function was called from. Goroutines started inside a library (a
        gRPC stream watcher, an HTTP connection's read loop) carry no app frame;
        their creator function does appear on other stacks, under the app call
        that triggered it.

        Library -> app (``callees``): which app function a chain of library frames
        from the goroutine's root runs (the outermost app frame under it). A
        server, router or consumer loop allocates a request (or takes a pooled
        context) and hands it to the app's middleware and handlers on the same
        goroutine: the allocation stack shows the library chain alone, other
        stacks show the same chain running the app. Keyed by the whole chain, not
        one function: a hub such as ``sync.(*Pool).Get`` runs unrelated app code
        on other paths.
        """
        if self.matcher is None:
            return
        origin = self.matcher.origin
        outer = -1  # index of the outermost app frame (frames are leaf first)
        for k, f in enumerate(frames):
            if origin(f) is Origin.APP:
                if outer < 0:
                    self._note_app_calls(frames, k)
                outer = k
        if outer < 0 or len(self.callees) >= _MAX_CALLERS:
            return
        app = frames[outer]
        for key in chain_keys(frames[outer + 1 :], self.matcher):
            row = self.callees.setdefault(key, {})
            row[app] = row.get(app, 0) + 1

    def _note_app_calls(self, frames: tuple[Frame, ...], k: int) -> None:
        """Tally app frame ``frames[k]`` (the innermost) as the caller of the frames under it."""
        f = frames[k]
        modules = set()
        for lib in frames[:k]:
            if len(self.callers) < _MAX_CALLERS:
                row = self.callers.setdefault(lib.function, {})
                row[f] = row.get(f, 0) + 1
            modules.add(module_of(lib.function))
        for mod in modules:
            mrow = self.module_callers.setdefault(mod, {})
            mrow[f] = mrow.get(f, 0) + 1

    def _profile(self, snap: SnapshotView, kind: str) -> ProfileView | None:
        if not snap.has(kind):
            return None
        try:
            return snap.profile_view(kind)
        except FormatError as exc:
            self._error(exc)
            return None

    def _error(self, exc: FormatError) -> None:
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(str(exc))

    def _matcher_for(self, profile: ProfileView) -> AppMatcher:
        if self.matcher is None:
            frames = [fr for loc in frames_of(profile) for fr in loc]
            self.matcher = AppMatcher.detect(frames, self.app_prefix)
        return self.matcher

    def _heap(self, snap: SnapshotView, values: list[tuple[Row, float]]) -> bool:
        prof = self._profile(snap, "heap")
        if prof is None:
            return False
        try:  # frames are read on demand: a bad string reference shows only now
            matcher = self._matcher_for(prof)
            if self.heap_resolver is None:
                self.heap_resolver = StackResolver(site_key(matcher), self.note_callers)
            infos = self.heap_resolver.resolve(prof)
        except FormatError as exc:
            self._error(exc)
            return False
        if prof.period_type is not None and prof.period_type.type == "space":
            self.heap_period = prof.period
        idx = {vt.type: i for i, vt in enumerate(prof.sample_types)}
        per_stack = {
            name: np.bincount(
                prof.sample_stack,
                weights=prof.column(idx[name]).astype(np.float64),
                minlength=len(infos),
            )
            for name in ("inuse_space", "inuse_objects", "alloc_space")
            if name in idx
        }
        # plain lists: indexing a numpy array per stack costs more than the work itself
        inuse = _as_list(per_stack.get("inuse_space"))
        objects = _as_list(per_stack.get("inuse_objects"))
        alloc = _as_list(per_stack.get("alloc_space"))
        best, site_frames, site_app = self.best_site_value, self.site_frames, self.site_app
        for s, info in enumerate(infos):
            site = info.site
            if inuse is not None and inuse[s]:
                v = inuse[s]
                values.append((("inuse", site), v))
                if v >= best.get(site, -1.0):
                    best[site] = v
                    site_frames[site] = info.frames
                app = site_app.get(site)
                if app is None:
                    app = site_app[site] = set()
                if len(app) < _MAX_APP_FRAMES:
                    if info.app is None:
                        info.app = tuple(_app_functions(info.frames, matcher))
                    app.update(info.app)
            if objects is not None:
                values.append((("objects", site), objects[s]))
            if alloc is not None and alloc[s]:
                values.append((("alloc", site), alloc[s]))
                site_frames.setdefault(site, info.frames)
        return True

    def _counts(
        self, snap: SnapshotView, kind: str, table: str, values: list[tuple[Row, float]]
    ) -> bool:
        prof = self._profile(snap, kind)
        if prof is None:
            return False
        try:
            if kind == "goroutine":
                self._matcher_for(prof)
            infos = self.group_resolver.resolve(prof)
        except FormatError as exc:
            self._error(exc)
            return False
        counts = np.bincount(
            prof.sample_stack, weights=prof.column(0).astype(np.float64), minlength=len(infos)
        )
        for s, c in enumerate(counts.tolist()):
            if c:
                info = infos[s]
                values.append(((table, info.site), c))
                if table == "group":
                    self.group_frames.setdefault(info.site, info.frames)
        return True

    def _dump(self, snap: SnapshotView) -> None:
        from leakhunter.formats.goroutine_text import load_dump

        try:
            text = snap.goroutine_text()
            if text is None:
                return
            dump: GoroutineDump = load_dump(text.encode(), snap.name("goroutine2"))
        except FormatError as exc:
            if len(self.errors) < _MAX_ERRORS:
                self.errors.append(str(exc))
            return
        matcher = self.matcher or AppMatcher(prefix=self.app_prefix)
        by_id = {g.id: g for g in dump.goroutines}
        seq = snap.record.seq
        self.last_dump_seq = seq
        for grp in dump.groups:
            key = group_key(grp.frames)
            seen = _Seen(
                seq,
                grp.state,
                grp.wait_minutes_max,
                grp.leaked,
                grp.count,
                grp.created_by,
                _creator_app(grp.ids, by_id, matcher),
            )
            self.dump_first.setdefault(key, seen)
            self.dump_recent[key] = seen

    def _forget_pruned(self) -> None:
        """Drop per-site and per-group tables of keys the history no longer holds."""
        rows = self.history.index
        sites = {k for (tb, k) in rows if tb in ("inuse", "objects", "alloc")}
        groups = {k for (tb, k) in rows if tb in ("group", "leaked")}
        for gone in [k for k in self.site_frames if k not in sites]:
            del self.site_frames[gone]
        for gone in [k for k in self.site_app if k not in sites]:
            del self.site_app[gone]
        for gone in [k for k in self.best_site_value if k not in sites]:
            del self.best_site_value[gone]
        for gone in [k for k in self.group_frames if k not in groups]:
            del self.group_frames[gone]
        for gone in [k for k in self.dump_first if k not in groups]:
            del self.dump_first[gone]
            self.dump_recent.pop(gone, None)

    # -- viewing ------------------------------------------------------------
    def dump_facts(self) -> dict[str, DumpFacts]:
        """Return per group: its first dump's facts, and the latest dump's if it was there."""
        out: dict[str, DumpFacts] = {}
        for key, first in self.dump_first.items():
            recent = self.dump_recent[key]
            last = recent if recent.seq == self.last_dump_seq else first
            out[key] = DumpFacts(
                state=last.state or first.state,
                wait_first=first.wait,
                wait_last=last.wait,
                leaked=last.leaked,
                created_by=last.created_by,
                creator_app=last.creator_app,
                count_first=first.count,
                count_last=last.count,
            )
        return out

    def reduced(self, seconds: float | None = None, min_exact: int = 6) -> Reduced:
        """Return the window of the last ``seconds`` (None: the whole run) for judging.

        The live heap rests on the points read after a forced GC when the window
        holds at least ``min_exact`` of them (the trend test's minimum), else on
        every point (see the module doc).
        """
        v = self.history.view(seconds)
        t = v.t - v.t[0] if len(v.t) else v.t
        exact = {k: v.row("exact", k) for k in EXACT}
        unforced = 0
        if int(np.isfinite(exact["HeapAlloc"]).sum()) < min_exact:
            for k in GARBAGE_FIGURES:
                loose = v.row("unforced", k)
                fill = np.isfinite(loose) & ~np.isfinite(exact[k])
                exact[k] = np.where(fill, loose, exact[k])
                if k == "HeapAlloc":
                    unforced = int(fill.sum())
        return Reduced(
            t=t,
            exact=exact,
            goroutines_total=v.row("total", "goroutines"),
            heap_inuse=SeriesTable(v.table("inuse")),
            heap_objects=SeriesTable(v.table("objects")),
            heap_alloc=SeriesTable(v.table("alloc")),
            site_frames=self.site_frames,
            site_app=self.site_app,
            groups=SeriesTable(v.table("group")),
            group_frames=self.group_frames,
            leaked=SeriesTable(v.table("leaked")),
            leak_collected=any(v.valid("goroutineleak")),
            heap_period=self.heap_period,
            open_fds=_present(v.row("proc", "open_fds")),
            rss=_present(v.row("proc", "rss")),
            max_fds=self.max_fds,
            memory_limit=self.memory_limit,
            process_source=self.process_source,
            dumps=self.dump_facts(),
            matcher=self.matcher or AppMatcher(prefix=self.app_prefix),
            callers=self.callers,
            module_callers=self.module_callers,
            callees=self.callees,
            gomemlimit=self.gomemlimit,
            errors=tuple(self.errors),
            raw=v.raw,
            heap_unforced=unforced,
        )


def _present(row: F64) -> F64 | None:
    """Return a row, or None when it holds no figure at all."""
    return row if len(row) and not np.isnan(row).all() else None


def _as_list(a: npt.NDArray[np.generic] | None) -> list[float] | None:
    if a is None:
        return None
    out: list[float] = a.tolist()  # float64 sums (bincount with weights)
    return out


def _creator_app(
    ids: Sequence[int], by_id: dict[int, Goroutine], matcher: AppMatcher, depth: int = 4
) -> tuple[str, ...]:
    """App functions on the stacks of a group's creators (walking up a few generations)."""
    found: list[str] = []
    for gid in ids[:8]:
        g = by_id.get(gid)
        for _ in range(depth):
            if g is None:
                break
            if g.created_by is not None and matcher.origin(g.created_by) is Origin.APP:
                found.append(g.created_by.function)
            if g.creator_id is None:
                break
            g = by_id.get(g.creator_id)
            if g is not None:
                found.extend(_app_functions(g.frames, matcher))
    return tuple(dict.fromkeys(found))
