"""What a report shows beyond the verdict, drawn from the snapshots the analysis judged.

The verdict says what leaks; people also want to see the live heap, what
changed, and which goroutines pile up. Those views come from the first and
latest profiles of the judged run, which the analysis hands over
(``RunEdges``): nothing reloads the session. They are built here (with
``ops``, parsed with ``formats``) into plain frozen data that every renderer
then only formats.
Each view is optional: a renderer shows what it gets, and a damaged profile
costs a view (with a note), never the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from leakhunter import __version__
from leakhunter.analyze.analyzer import RunEdges
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.session import SessionInfo
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.errors import FormatError
from leakhunter.model.goroutine import GoroutineDump, GoroutineGroup
from leakhunter.ops.flame import FlameGraph, FlameOptions, flame_graph
from leakhunter.ops.merge import diff

__all__ = [
    "GatherOptions",
    "GoroutineGroups",
    "GroupRow",
    "ReportData",
    "SessionFacts",
    "gather",
]

T = TypeVar("T")

HEAP_SAMPLE = "inuse_space"
FLAMES = "flames"
GOROUTINES = "goroutines"


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A goroutine group of the latest dump, and its size in the earliest one (None: absent)."""

    group: GoroutineGroup
    count_first: int | None = None


@dataclass(frozen=True, slots=True)
class GoroutineGroups:
    """The biggest goroutine groups of the latest dump of the judged run."""

    format: str  # "debug=2" (wait states and durations) | "debug=0" (counts only) | ...
    seq: int  # the snapshot the dump belongs to
    first_seq: int | None  # the earlier dump counts were compared with
    total: int
    groups: tuple[GroupRow, ...]
    more_groups: int = 0  # groups beyond the ones kept
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """Where the data came from (for report headers; paths are normalised by tests)."""

    directory: str
    started: str
    tool_version: str
    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything a renderer may format: the verdict plus optional session views."""

    verdict: Verdict
    session: SessionFacts | None = None
    heap_flame: FlameGraph | None = None
    diff_flame: FlameGraph | None = None
    goroutines: GoroutineGroups | None = None
    notes: tuple[str, ...] = ()
    generator: str = f"leakhunter {__version__}"
    source_root: str | None = None  # SARIF paths are relative to it (None: cwd)


@dataclass(frozen=True, slots=True)
class GatherOptions:
    """Which views to gather and how big they may get."""

    flames: bool = True
    goroutines: bool = True
    flame: FlameOptions = FlameOptions()
    max_groups: int = 40
    max_dump_bytes: int = 512 << 20


def gather(
    verdict: Verdict,
    edges: RunEdges | None,
    info: SessionInfo | None = None,
    options: GatherOptions | None = None,
) -> ReportData:
    """Build the views a report needs next to its verdict, from the judged run's edges."""
    o = options or GatherOptions()
    if edges is None:
        return ReportData(verdict)
    if edges.first_seq is None or edges.last_seq is None:
        return ReportData(verdict, notes=("the session has no snapshots",))
    notes: list[str] = []
    facts = SessionFacts(
        directory=info.directory if info else "",
        started=info.started if info else "",
        tool_version=info.tool_version if info else "",
        first_seq=edges.first_seq,
        last_seq=edges.last_seq,
    )
    heap = live = None
    if o.flames:
        heap, live = _flames(edges, o.flame, notes)
    groups = _goroutines(edges, o, notes) if o.goroutines else None
    return ReportData(verdict, facts, heap, live, groups, tuple(notes))


def _flames(
    edges: RunEdges, o: FlameOptions, notes: list[str]
) -> tuple[FlameGraph | None, FlameGraph | None]:
    """The live heap at the last snapshot, and its change since the first."""
    last_snap, first_snap = edges.last.get("heap"), edges.first.get("heap")
    if last_snap is None or first_snap is None:
        notes.append("no heap profile in the session: no flame graphs")
        return None, None
    last = _try(lambda: last_snap.profile("heap"), notes)
    if last is None:
        return None, None
    heap = _try(lambda: flame_graph(last, HEAP_SAMPLE, o), notes)
    if first_snap.record.seq == last_snap.record.seq:
        return heap, None
    first = _try(lambda: first_snap.profile("heap"), notes)
    if first is None:
        return heap, None
    return heap, _try(lambda: flame_graph(diff(first, last), HEAP_SAMPLE, o, diff=True), notes)


def _try(build: Callable[[], T], notes: list[str]) -> T | None:
    try:
        return build()
    except (FormatError, KeyError, ValueError) as exc:
        notes.append(f"a view was left out: {exc}")
        return None


def _loader() -> Callable[..., GoroutineDump] | None:
    try:
        from leakhunter.formats.goroutine_text import load_dump
    except ImportError:  # pragma: no cover - the dump parser ships with the package
        return None
    return load_dump


def _goroutines(edges: RunEdges, o: GatherOptions, notes: list[str]) -> GoroutineGroups | None:
    """Groups of the latest full dump (debug=2), else of the latest debug=0 counts."""
    load = _loader()
    if load is None:
        return None
    for kind in ("goroutine2", "goroutine"):
        first, last = edges.first.get(kind), edges.last.get(kind)
        if first is not None and last is not None:
            groups = _groups(load, kind, first, last, o, notes)
            if groups is not None:
                return groups
    return None


def _groups(
    load: Callable[..., GoroutineDump],
    kind: str,
    first_snap: SnapshotView,
    last_snap: SnapshotView,
    o: GatherOptions,
    notes: list[str],
) -> GoroutineGroups | None:
    def parse(x: SnapshotView) -> GoroutineDump:
        data = x.read_bytes(kind)
        return load(data, x.name(kind), max_bytes=o.max_dump_bytes, keep_goroutines=False)

    last = _try(lambda: parse(last_snap), notes)
    if last is None:
        return None
    if last.skipped_lines or last.skipped_blocks:  # nothing is dropped silently
        notes.append(
            f"the goroutine dump of snapshot {last_snap.record.seq}: skipped "
            f"{last.skipped_blocks} unreadable block(s) and {last.skipped_lines} other line(s)"
        )
    same = first_snap.record.seq == last_snap.record.seq
    first = None if same else _try(lambda: parse(first_snap), notes)
    before = {g.key: g.count for g in first.groups} if first is not None else None
    rows = tuple(
        GroupRow(g, None if before is None else before.get(g.key, 0))
        for g in last.groups[: o.max_groups]
    )
    return GoroutineGroups(
        format=last.format,
        seq=last_snap.record.seq,
        first_seq=first_snap.record.seq if first is not None else None,
        total=last.total,
        groups=rows,
        more_groups=max(0, len(last.groups) - o.max_groups),
        truncated=last.truncated,
    )
