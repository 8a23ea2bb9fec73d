"""The pipeline end to end: Source -> Snapshot -> Analyzer -> Findings -> rules -> Verdict.

Analysis produces findings and facts; this module is where rules meet them,
so ``analyze`` never imports ``rules``. Batch ``analyze`` is the same fold the
live commands run: every snapshot of a saved session goes through
``Analyzer.add`` in order; ``judge_source`` runs any ``collect.sources.Source``
(a live target, the in-process agent, a folder of profiles) into that fold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leakhunter.analyze.analyzer import Analysis, Analyzer, RunEdges
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.session import Session, SessionInfo, is_session_dir, load_session
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.errors import FormatError
from leakhunter.rules import apply_rules, load_rules

if TYPE_CHECKING:
    from leakhunter.collect.sources import Source

__all__ = [
    "Judged",
    "analyze_dir",
    "analyze_session",
    "fold",
    "judge",
    "judge_dir",
    "judge_path",
    "judge_session",
    "judge_source",
]


@dataclass(frozen=True, slots=True)
class Judged:
    """A verdict with its rules applied, and the analysis it came from (for reports)."""

    verdict: Verdict
    analysis: Analysis
    session: SessionInfo | None = None  # the folder the snapshots are saved in

    @property
    def edges(self) -> RunEdges:
        """Return the judged run's first and latest snapshots (reports draw on them)."""
        return self.analysis.edges


def judge(
    analysis: Analysis, options: AnalyzeOptions | None = None, session: SessionInfo | None = None
) -> Judged:
    """Name the patterns of an analysis's findings (builtin rules plus the user's)."""
    o = options or AnalyzeOptions()
    verdict = apply_rules(analysis.verdict, load_rules(o.rule_dirs), analysis.facts)
    return Judged(verdict, analysis, session)


def fold(
    target: str,
    snapshots: Iterable[SnapshotView],
    options: AnalyzeOptions | None = None,
    *,
    total: int | None = None,
    notes: tuple[str, ...] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> Analyzer:
    """Feed snapshots, in order, to a new analyser and return it."""
    analyzer = Analyzer(target, options, notes=notes)
    for i, snap in enumerate(snapshots):
        analyzer.add(snap)
        if on_progress is not None:
            on_progress(i + 1, total or i + 1)
    return analyzer


def judge_session(
    session: Session,
    options: AnalyzeOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Judged:
    """Fold a saved session's snapshots and judge its latest run.

    Raises:
        FormatError: the session holds no usable snapshot.
    """
    snaps = session.snapshots
    analyzer = fold(
        session.target,
        snaps,
        options,
        total=len(snaps),
        notes=session.warnings,
        on_progress=on_progress,
    )
    if analyzer.usable == 0:
        raise FormatError(str(session.directory), "no usable snapshots in this session")
    return judge(analyzer.analysis(), options, SessionInfo.of(session.directory, session.manifest))


def judge_dir(
    directory: str | Path,
    options: AnalyzeOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Judged:
    """Load a session folder, fold it and judge it."""
    return judge_session(load_session(directory), options, on_progress)


def analyze_session(
    session: Session,
    options: AnalyzeOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Verdict:
    """Return the verdict of a saved session (see judge_session)."""
    return judge_session(session, options, on_progress).verdict


def analyze_dir(
    directory: str | Path,
    options: AnalyzeOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Verdict:
    """Return the verdict of a session folder."""
    return judge_session(load_session(directory), options, on_progress).verdict


def judge_source(
    source: Source,
    options: AnalyzeOptions | None = None,
    *,
    stop: threading.Event | None = None,
) -> Judged:
    """Fold everything a source yields (until it ends or stop is set) and judge it.

    Raises:
        FormatError: the source yielded no usable snapshot.
    """
    analyzer = Analyzer(source.target, options)
    result = source.run(analyzer.add, stop or threading.Event())
    # The source's notes (estimated figures, skipped files) are known once it has run.
    analyzer.notes = (*analyzer.notes, *result.notes)
    if analyzer.usable == 0:
        why = f" ({result.error})" if result.error else ""
        raise FormatError(source.target, f"no usable snapshots{why}")
    return judge(analyzer.analysis(), options, result.session)


def judge_path(directory: str | Path, options: AnalyzeOptions | None = None) -> Judged:
    """Judge a session folder, or else a folder of profiles an application wrote itself.

    Raises:
        FormatError: the folder is neither (one line saying so).
    """
    from leakhunter.collect.profiledir import ProfileDirSource

    root = Path(directory)
    if not root.is_dir():
        raise FormatError(str(root), "no such session directory or profile folder")
    if is_session_dir(root):
        return judge_dir(root, options)
    source = ProfileDirSource(root)
    if not source.snapshots():
        skipped = "; ".join(source.notes())
        raise FormatError(
            str(root),
            "neither a leakhunter session (manifest.json, NNNNNN.json) nor a folder of heap "
            "or goroutine profiles" + (f" ({skipped})" if skipped else ""),
        )
    return judge_source(source, options)
