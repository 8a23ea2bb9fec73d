"""The incremental analyser: one target, fed one snapshot at a time, judged at any moment.

``Analyzer.add`` folds a snapshot into the current run (a restart of the
target starts a new run, as its counters and goroutine ids start over);
``Analyzer.analysis`` judges the latest run over its windows and hands the
next stages frozen values: the verdict without rule names, the session facts
rules match on, and the run's edge snapshots reports draw views from. Batch
``analyze`` is this same fold over a saved session; ``watch``, ``check`` and
``serve`` feed it live. Cost per snapshot depends on the live sites, never on
how many snapshots came before; memory is bounded by ``HistoryOptions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from leakhunter.analyze.facts import SessionFacts, session_facts
from leakhunter.analyze.guard_figures import guard_figures
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.reduce import RunFold
from leakhunter.analyze.verdict import Verdict
from leakhunter.analyze.windows import judge_run
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.errors import FormatError

__all__ = ["Analysis", "Analyzer", "RunEdges"]

#: the edge "kind" of the records that carry guard figures (leakhunter.guard, Python agent)
GUARDS = "guards"


@dataclass(frozen=True, slots=True)
class RunEdges:
    """The first and the latest snapshot of the judged run holding each kind of profile.

    Besides profile kinds, ``"guards"`` names the first and latest records that
    carry leakhunter.guard figures (a Python agent's buffers and pools). Reports
    draw their views (live-heap and heap-change flame graphs, goroutine
    groups then and now) from these, so they never load the session again.
    """

    first: Mapping[str, SnapshotView] = field(default_factory=lambda: MappingProxyType({}))
    last: Mapping[str, SnapshotView] = field(default_factory=lambda: MappingProxyType({}))
    first_seq: int | None = None
    last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the analysis hands the rules and the reports: facts, not names."""

    verdict: Verdict  # findings without rule names
    facts: SessionFacts
    edges: RunEdges


class _Run:
    """One run of the target: its fold, and its edge snapshots."""

    __slots__ = ("epoch", "first", "first_seq", "fold", "last", "last_seq")

    def __init__(self, epoch: int, options: AnalyzeOptions) -> None:
        self.epoch = epoch
        self.fold = RunFold(options.app_prefix, options.history)
        self.first: dict[str, SnapshotView] = {}
        self.last: dict[str, SnapshotView] = {}
        self.first_seq: int | None = None
        self.last_seq: int | None = None

    def add(self, snap: SnapshotView) -> None:
        self.fold.add(snap)
        seq = snap.record.seq
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq = seq
        for kind in snap.record.files:
            if snap.has(kind):
                self.first.setdefault(kind, snap)
                self.last[kind] = snap
        if snap.record.guards:  # not a profile: the records carrying guard figures
            self.first.setdefault(GUARDS, snap)
            self.last[GUARDS] = snap

    def edges(self) -> RunEdges:
        return RunEdges(
            MappingProxyType(dict(self.first)),
            MappingProxyType(dict(self.last)),
            self.first_seq,
            self.last_seq,
        )


class Analyzer:
    """Incremental analysis of one target; see the module docstring."""

    def __init__(
        self,
        target: str = "",
        options: AnalyzeOptions | None = None,
        *,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.target = target
        self.options = options or AnalyzeOptions()
        self.notes = notes  # about the source (a session's unreadable records...)
        self.current: _Run | None = None
        self.longest: _Run | None = None  # the longest earlier run
        self.runs = 0
        self.snapshots = 0  # every snapshot added, usable or not
        self.usable = 0
        self.with_errors = 0

    def add(self, snap: SnapshotView) -> None:
        """Fold one snapshot in (snapshots come in time order)."""
        rec = snap.record
        self.snapshots += 1
        if rec.errors:
            self.with_errors += 1
        if not (rec.memstats or rec.files):
            return  # the target did not answer: nothing to fold
        self.usable += 1
        if self.current is None or rec.epoch != self.current.epoch:
            if self.current is not None and (
                self.longest is None or self.current.fold.count > self.longest.fold.count
            ):
                self.longest = self.current
            self.current = _Run(rec.epoch, self.options)
            self.runs += 1
        self.current.add(snap)

    def _judged(self) -> tuple[_Run, list[str]]:
        if self.current is None:
            raise FormatError(self.target or "analysis", "no usable snapshots")
        notes = list(self.notes)
        run, restarts = self.current, self.runs - 1
        if restarts:
            notes.append(
                f"the target restarted {restarts} time(s); judging the last run "
                f"({run.fold.count} of {self.usable} snapshots)"
            )
            longest = self.longest
            need = self.options.trend.min_points
            if longest is not None and run.fold.count < need <= longest.fold.count:
                run = longest
                notes.append("the last run is too short; judging the longest run instead")
        if self.with_errors:
            notes.append(f"{self.with_errors} snapshot(s) had endpoint errors (kept what answered)")
        return run, notes

    def save(self) -> bytes:
        """Return the analyser's state as bytes (``Analyzer.restore`` reads them back)."""
        from leakhunter.analyze.state import save

        return save(self)

    @staticmethod
    def restore(data: bytes, options: AnalyzeOptions | None = None) -> Analyzer:
        """Rebuild an analyser from ``save()``'s bytes; FormatError when they are not one."""
        from leakhunter.analyze.state import restore

        return restore(data, options)

    def analysis(self) -> Analysis:
        """Judge the latest run now (the analyser keeps going afterwards).

        Raises:
            FormatError: no usable snapshot was added.
        """
        run, notes = self._judged()
        verdict, whole = judge_run(
            run.fold, self.target, self.options, restarts=self.runs - 1, notes=tuple(notes)
        )
        first, last = run.first.get(GUARDS), run.last.get(GUARDS)
        if last is not None:
            guards = guard_figures(first.record if first else None, last.record)
            verdict = replace(verdict, guards=guards)
        return Analysis(verdict, session_facts(whole), run.edges())
