"""Reduce a window of snapshots to the series the judgement needs, streaming.

Only one snapshot's profiles are decoded at a time; what is kept is small:
exact MemStats figures, per-site and per-group series, the frames of each site
and group, and goroutine facts from the first and the latest full dumps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.frames import AppMatcher, Origin, module_of
from leakhunter.analyze.series import (
    SeriesTable,
    StackResolver,
    group_key,
    profile_frames,
    site_key,
)
from leakhunter.collect.session import Snapshot
from leakhunter.errors import FormatError
from leakhunter.model.goroutine import Frame, Goroutine, GoroutineDump
from leakhunter.model.profile import Profile

__all__ = ["DumpFacts", "Reduced", "reduce_snapshots"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]

_EXACT = ("HeapAlloc", "HeapObjects", "TotalAlloc", "StackInuse", "HeapInuse", "Sys", "NumGC")
_MAX_APP_FRAMES = 24


@dataclass(slots=True)
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


@dataclass(slots=True)
class Reduced:
    """Everything the judgement reads, for one epoch of one target."""

    t: F64
    exact: dict[str, F64]
    goroutines_total: F64
    heap_inuse: SeriesTable = field(default_factory=SeriesTable)
    heap_objects: SeriesTable = field(default_factory=SeriesTable)
    heap_alloc: SeriesTable = field(default_factory=SeriesTable)
    heap_valid: list[bool] = field(default_factory=list)
    site_frames: dict[str, tuple[Frame, ...]] = field(default_factory=dict)
    site_app: dict[str, set[str]] = field(default_factory=dict)
    groups: SeriesTable = field(default_factory=SeriesTable)
    group_valid: list[bool] = field(default_factory=list)
    group_frames: dict[str, tuple[Frame, ...]] = field(default_factory=dict)
    leaked: SeriesTable = field(default_factory=SeriesTable)
    leak_valid: list[bool] = field(default_factory=list)
    dumps: dict[str, DumpFacts] = field(default_factory=dict)
    matcher: AppMatcher = field(default_factory=AppMatcher)
    # library function -> {innermost app function that calls it: times seen}
    callers: dict[str, dict[Frame, int]] = field(default_factory=dict)
    # module -> {app frame that calls into it (innermost on the stack): stacks seen}
    module_callers: dict[str, dict[Frame, int]] = field(default_factory=dict)
    gomemlimit: int | None = None
    errors: list[str] = field(default_factory=list)


def _matcher_from(profile: Profile, prefix: str | None) -> AppMatcher:
    frames = [fr for loc in profile_frames(profile) for fr in loc]
    return AppMatcher.detect(frames, prefix)


def _app_functions(frames: Sequence[Frame], matcher: AppMatcher) -> list[str]:
    return [f.function for f in frames if matcher.origin(f) is Origin.APP]


class _Reducer:
    def __init__(self, app_prefix: str | None, on_progress: Callable[[int, int], None] | None):
        self.app_prefix = app_prefix
        self.on_progress = on_progress
        self.heap_resolver: StackResolver | None = None
        self.group_resolver = StackResolver(group_key, self.note_callers)
        self.callers: dict[str, dict[Frame, int]] = {}
        self.module_callers: dict[str, dict[Frame, int]] = {}
        self.best_site_value: dict[str, float] = {}
        self.matcher: AppMatcher | None = None

    def run(self, snaps: Sequence[Snapshot]) -> Reduced:
        recs = [s.record for s in snaps]
        t = np.array([r.elapsed for r in recs], dtype=np.float64)
        t = t - t[0] if len(t) else t
        exact = {
            k: np.array([float(r.memstats.get(k, np.nan)) for r in recs], dtype=np.float64)
            for k in _EXACT
        }
        total = np.array([np.nan if r.goroutines is None else float(r.goroutines) for r in recs])
        limits = [r.gomemlimit for r in recs if r.gomemlimit]
        red = Reduced(t=t, exact=exact, goroutines_total=total)
        red.gomemlimit = limits[-1] if limits else None
        last_dump = max((i for i, s in enumerate(snaps) if s.has("goroutine2")), default=-1)
        for i, snap in enumerate(snaps):
            self.heap(red, snap)
            self.goroutines(red, snap)
            self.leaks(red, snap)
            if snap.has("goroutine2"):
                self.dump(red, snap, latest=i == last_dump)
            if self.on_progress:
                self.on_progress(i + 1, len(snaps))
        red.matcher = self.matcher or AppMatcher(prefix=self.app_prefix)
        red.callers = self.callers
        red.module_callers = self.module_callers
        return red

    def note_callers(self, frames: tuple[Frame, ...]) -> None:
        """Remember which app function each library function on a stack was called from.

        Goroutines started inside a library (a gRPC stream watcher, an HTTP
        connection's read loop) carry no app frame; their creator function does
        appear on other stacks, under the app call that triggered it.
        """
        if self.matcher is None:
            return
        for k, f in enumerate(frames):
            if self.matcher.origin(f) is Origin.APP:
                modules = set()
                for lib in frames[:k]:
                    if len(self.callers) < 50_000:
                        row = self.callers.setdefault(lib.function, {})
                        row[f] = row.get(f, 0) + 1
                    modules.add(module_of(lib.function))
                for mod in modules:
                    mrow = self.module_callers.setdefault(mod, {})
                    mrow[f] = mrow.get(f, 0) + 1
                return

    def _profile(self, red: Reduced, snap: Snapshot, kind: str) -> Profile | None:
        if not snap.has(kind):
            return None
        try:
            return snap.profile(kind)
        except FormatError as exc:
            red.errors.append(str(exc))
            return None

    def heap(self, red: Reduced, snap: Snapshot) -> None:
        for table in (red.heap_inuse, red.heap_objects, red.heap_alloc):
            table.start_snapshot()
        prof = self._profile(red, snap, "heap")
        red.heap_valid.append(prof is not None)
        if prof is None:
            return
        if self.matcher is None:
            self.matcher = _matcher_from(prof, self.app_prefix)
        if self.heap_resolver is None:
            self.heap_resolver = StackResolver(site_key(self.matcher), self.note_callers)
        infos = self.heap_resolver.resolve(prof)
        idx = {vt.type: i for i, vt in enumerate(prof.sample_types)}
        cols = {
            name: prof.column(idx[name])
            for name in ("inuse_space", "inuse_objects", "alloc_space")
            if name in idx
        }
        if not cols:
            return
        per_stack = {
            name: np.bincount(
                prof.sample_stack, weights=col.astype(np.float64), minlength=len(infos)
            )
            for name, col in cols.items()
        }
        inuse = per_stack.get("inuse_space")
        for s, info in enumerate(infos):
            if inuse is not None:
                v = float(inuse[s])
                if v:
                    red.heap_inuse.add(info.site, v)
                    if v >= self.best_site_value.get(info.site, -1.0):
                        self.best_site_value[info.site] = v
                        red.site_frames[info.site] = info.frames
                    app = red.site_app.setdefault(info.site, set())
                    if len(app) < _MAX_APP_FRAMES:
                        app.update(_app_functions(info.frames, self.matcher))
            if "inuse_objects" in per_stack:
                red.heap_objects.add(info.site, float(per_stack["inuse_objects"][s]))
            if "alloc_space" in per_stack:
                a = float(per_stack["alloc_space"][s])
                if a:
                    red.heap_alloc.add(info.site, a)
                    red.site_frames.setdefault(info.site, info.frames)

    def goroutines(self, red: Reduced, snap: Snapshot) -> None:
        red.groups.start_snapshot()
        prof = self._profile(red, snap, "goroutine")
        red.group_valid.append(prof is not None)
        if prof is None:
            return
        if self.matcher is None:
            self.matcher = _matcher_from(prof, self.app_prefix)
        infos = self.group_resolver.resolve(prof)
        counts = np.bincount(
            prof.sample_stack, weights=prof.column(0).astype(np.float64), minlength=len(infos)
        )
        for s, info in enumerate(infos):
            if counts[s]:
                red.groups.add(info.site, float(counts[s]))
                red.group_frames.setdefault(info.site, info.frames)

    def leaks(self, red: Reduced, snap: Snapshot) -> None:
        red.leaked.start_snapshot()
        prof = self._profile(red, snap, "goroutineleak")
        red.leak_valid.append(prof is not None)
        if prof is None:
            return
        infos = self.group_resolver.resolve(prof)
        counts = np.bincount(
            prof.sample_stack, weights=prof.column(0).astype(np.float64), minlength=len(infos)
        )
        for s, info in enumerate(infos):
            if counts[s]:
                red.leaked.add(info.site, float(counts[s]))

    def dump(self, red: Reduced, snap: Snapshot, latest: bool) -> None:
        try:
            from leakhunter.formats.goroutine_text import load_dump
        except ImportError:  # pragma: no cover - bring-up only
            return
        try:
            text = snap.goroutine_text()
            if text is None:
                return
            dump: GoroutineDump = load_dump(text.encode(), str(snap.path("goroutine2")))
        except FormatError as exc:
            red.errors.append(str(exc))
            return
        matcher = self.matcher or AppMatcher(prefix=self.app_prefix)
        by_id = {g.id: g for g in dump.goroutines}
        for grp in dump.groups:
            key = group_key(grp.frames)
            facts = red.dumps.get(key)
            first = facts is None
            if facts is None:
                facts = red.dumps[key] = DumpFacts(state=grp.state)
            if first:
                facts.wait_first = grp.wait_minutes_max
                facts.count_first = grp.count
            if latest or first:
                facts.state = grp.state or facts.state
                facts.wait_last = grp.wait_minutes_max
                facts.leaked = grp.leaked
                facts.count_last = grp.count
                facts.created_by = grp.created_by
                facts.creator_app = _creator_app(grp.ids, by_id, matcher)


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


def reduce_snapshots(
    snaps: Sequence[Snapshot],
    app_prefix: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Reduced:
    """Reduce one epoch's snapshots (in order) to series and facts."""
    return _Reducer(app_prefix, on_progress).run(snaps)
