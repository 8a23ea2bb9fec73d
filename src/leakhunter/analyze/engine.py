"""analyze(): session folder in, verdict out (the offline half of `watch`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from leakhunter.analyze.judge import AnalyzeOptions, judge
from leakhunter.analyze.reduce import reduce_snapshots
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.session import Session, load_session
from leakhunter.errors import FormatError
from leakhunter.rules import apply_rules, load_rules, session_facts

__all__ = ["analyze_dir", "analyze_session"]


def analyze_session(
    session: Session,
    options: AnalyzeOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Verdict:
    """Judge the latest run of the target in a session (series never cross a restart)."""
    o = options or AnalyzeOptions()
    usable = [
        tuple(s for s in run if s.record.memstats or s.record.files) for run in session.epochs()
    ]
    usable = [run for run in usable if run]
    notes = list(session.warnings)
    if not usable:
        raise FormatError(str(session.directory), "no usable snapshots in this session")
    restarts = len(usable) - 1
    run = usable[-1]
    if restarts:
        notes.append(
            f"the target restarted {restarts} time(s); judging the last run "
            f"({len(run)} of {sum(len(r) for r in usable)} snapshots)"
        )
        longest = max(usable, key=len)
        if len(run) < o.trend.min_points <= len(longest):
            run = longest
            notes.append("the last run is too short; judging the longest run instead")
    skipped = sum(1 for s in session.snapshots if s.record.errors)
    if skipped:
        notes.append(f"{skipped} snapshot(s) had endpoint errors (kept what answered)")
    red = reduce_snapshots(run, o.app_prefix, on_progress)
    verdict = judge(red, session.target, o, restarts=restarts, notes=tuple(notes))
    return apply_rules(verdict, load_rules(o.rule_dirs), session_facts(red))


def analyze_dir(
    directory: str | Path,
    options: AnalyzeOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Verdict:
    """Load a session folder and judge it."""
    return analyze_session(load_session(directory), options, on_progress)
