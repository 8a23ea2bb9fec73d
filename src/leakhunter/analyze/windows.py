"""Judge one run over several windows and keep, per finding, the window that shows it.

The whole history is always judged. When it is longer than a window of
``AnalyzeOptions.windows`` (15 min, 1 h, 6 h, 24 h), that window is judged
too: a slow leak in a large heap shows only over hours, a leak that started
after a deploy first shows in the last minutes. Each window is held to the
same test (significant, above noise, persisting to its end), so a warm-up or
a one-off step, which flattens, is a leak in none of them.
"""

from __future__ import annotations

from dataclasses import replace

from leakhunter.analyze.judge import judge, project, rank_key, summarize
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.reduce import Reduced, RunFold
from leakhunter.analyze.verdict import (
    Finding,
    FindingVerdict,
    Verdict,
    VerdictValue,
    WindowVerdict,
)

__all__ = ["judge_run"]

_ORDER = {FindingVerdict.LEAK: 0, FindingVerdict.SUSPECT: 1, FindingVerdict.CHURN: 2}
#: a window this close to the whole history's span would judge the same points again
_SAME = 0.9


def _summary_of(label: str, red: Reduced, v: Verdict) -> WindowVerdict:
    span = float(red.t[-1]) if len(red.t) else 0.0
    return WindowVerdict(
        label=label,
        seconds=span,
        points=len(red.t),
        verdict=v.verdict,
        downsampled=not red.raw,
        heap_per_hour=v.heap.fit_slope * 3600 if v.heap is not None else None,
        findings=sum(1 for f in v.findings if f.verdict is FindingVerdict.LEAK),
    )


def _better(new: Finding, old: Finding) -> bool:
    """A stronger verdict wins; on a tie, higher confidence; else the earlier window stays."""
    a, b = _ORDER[new.verdict], _ORDER[old.verdict]
    return a < b or (a == b and new.confidence > old.confidence)


def judge_run(
    fold: RunFold,
    target: str,
    options: AnalyzeOptions,
    *,
    restarts: int = 0,
    notes: tuple[str, ...] = (),
) -> tuple[Verdict, Reduced]:
    """Return the verdict of one run over all its windows, and the whole-history view."""
    whole = fold.reduced(None, options.trend.min_points)
    if not whole.raw:
        notes = (
            *notes,
            f"older history is kept as per-minute and per-hour means ({fold.count} snapshots "
            f"in this run, {len(whole.t)} points judged)",
        )
    base = judge(whole, target, options, restarts=restarts, notes=notes)
    span = float(whole.t[-1]) if len(whole.t) else 0.0
    base = replace(
        base,
        snapshots=fold.count,
        findings=tuple(replace(f, window="all", window_seconds=span) for f in base.findings),
    )
    windows = [_summary_of("all", whole, base)]
    if base.verdict is VerdictValue.INCONCLUSIVE:
        return replace(base, windows=tuple(windows)), whole
    chosen: dict[str, tuple[Finding, Reduced]] = {f.id: (f, whole) for f in base.findings}
    for label, seconds in options.windows:
        if seconds >= _SAME * span:
            continue
        red = fold.reduced(seconds, options.trend.min_points)
        if len(red.t) < options.trend.min_points:
            continue
        v = judge(red, target, options)
        windows.append(_summary_of(label, red, v))
        w_span = float(red.t[-1]) if len(red.t) else 0.0
        for f in v.findings:
            f = replace(f, window=label, window_seconds=w_span)
            held = chosen.get(f.id)
            if held is None or _better(f, held[0]):
                chosen[f.id] = (f, red)
    if len(windows) == 1:
        return replace(base, windows=tuple(windows)), whole
    ranked = sorted(chosen.values(), key=lambda p: rank_key(p[0], whole.matcher))
    ranked = ranked[: options.max_findings]
    findings = [f for f, _ in ranked]
    lead = next(((f, r) for f, r in ranked if f.verdict is FindingVerdict.LEAK), None)
    value = VerdictValue.LEAK if lead is not None else VerdictValue.NO_LEAK
    proj = project(lead[1], options, True) if lead is not None else base.projection
    return (
        replace(
            base,
            verdict=value,
            findings=tuple(findings),
            projection=proj,
            summary=summarize(value, findings, proj),
            windows=tuple(windows),
        ),
        whole,
    )
