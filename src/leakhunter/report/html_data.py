"""The data the HTML report embeds (schema leakhunter.report-data/1): display-ready and compact.

Everything the page shows is here, already formatted where text is concerned
(rates, durations, short names), so the page's script only lays it out and
draws charts. Flame graphs travel as parallel arrays over one string table
(preorder, parent indices), which is a fraction of the size of nested objects
and parses fast. This dict is what the HTML golden files pin.
"""

from __future__ import annotations

from typing import Any

from leakhunter.analyze.frames import AppMatcher, Origin
from leakhunter.analyze.verdict import Finding, Series, Verdict
from leakhunter.model.goroutine import Frame
from leakhunter.ops.flame import FlameGraph
from leakhunter.report.data import GoroutineGroups, GroupRow, ReportData
from leakhunter.report.names import (
    duration,
    finding_rate,
    guard_line,
    location,
    short_file,
    short_function,
)
from leakhunter.units import format_value

__all__ = ["REPORT_DATA_SCHEMA", "html_data"]

REPORT_DATA_SCHEMA = "leakhunter.report-data/1"
_MAX_GROUP_FRAMES = 16


def _r(x: float) -> float:
    return round(float(x), 3) if x == x and abs(x) != float("inf") else 0.0


def _series(s: Series) -> dict[str, Any]:
    return {
        "label": s.label,
        "unit": s.unit,
        "t": [_r(t) for t in s.t],
        "v": [_r(v) for v in s.values],
        "slope": _r(s.fit_slope),
        "start": _r(s.fit_start),
    }


def _frame(fr: Frame, m: AppMatcher) -> dict[str, Any]:
    return {
        "fn": fr.function,
        "short": short_function(fr.function),
        "loc": location(fr),
        "file": fr.file,
        "line": fr.line,
        "origin": m.origin(fr).value,
    }


def _oom(v: Verdict) -> dict[str, Any]:
    p = v.projection
    text = None
    if p.time_to_oom_seconds is not None and p.limit_bytes:
        src = f" ({p.limit_source})" if p.limit_source else ""
        text = (
            f"~{duration(p.time_to_oom_seconds)} until {format_value(p.limit_bytes, 'bytes')}{src}"
        )
    elif v.verdict.value == "leak":
        text = "unknown: give --limit (or set GOMEMLIMIT on the target)"
    return {"text": text, "seconds": p.time_to_oom_seconds, "limit_bytes": p.limit_bytes}


def _finding(f: Finding, m: AppMatcher) -> dict[str, Any]:
    g = f.goroutines
    return {
        "id": f.id,
        "kind": f.kind.value,
        "verdict": f.verdict.value,
        "confidence": round(f.confidence, 2),
        "rate": finding_rate(f),
        "growth": {
            "unit": f.growth.unit,
            "start": _r(f.growth.start),
            "end": _r(f.growth.end),
            "start_text": format_value(round(f.growth.start), f.growth.unit),
            "end_text": format_value(round(f.growth.end), f.growth.unit),
        },
        "culprit": _frame(f.culprit, m) if f.culprit else None,
        "rule": None
        if f.rule is None
        else {
            "id": f.rule.id,
            "title": f.rule.title,
            "fix": f.rule.fix,
            "explanation": f.rule.explanation,
            "sketch": f.rule.sketch.strip("\n"),
            "matched": list(f.rule.matched),
            "references": list(f.rule.references),
        },
        "evidence": list(f.evidence),
        "goroutines": None
        if g is None
        else {
            "state": g.state,
            "class": g.state_class,
            "inferred": g.state_inferred,
            "count_start": g.count_start,
            "count_end": g.count_end,
            "wait_minutes_max": g.wait_minutes_max,
            "leaked": g.leaked,
            "created_by": _frame(g.created_by, m) if g.created_by else None,
        },
        "series": [_series(s) for s in f.series],
        "stack": [_frame(fr, m) for fr in f.stack],
        "linked": list(f.linked),
    }


def _flame(fg: FlameGraph, m: AppMatcher) -> dict[str, Any]:
    strings: dict[str, int] = {}

    def s(text: str) -> int:
        return strings.setdefault(text, len(strings))

    kinds: dict[Origin, int] = {}  # origin -> index into the "origins" table
    origin_of: dict[tuple[str, str], int] = {}
    origins = []
    for name, file in zip(fg.names, fg.files, strict=True):
        key = (name, file)
        if key not in origin_of:
            kind = m.origin(Frame(name, file))
            origin_of[key] = kinds.setdefault(kind, len(kinds))
        origins.append(origin_of[key])
    names = [s(short_function(n)) for n in fg.names]
    files = [s(short_file(f)) for f in fg.files]
    return {
        "type": fg.sample_type,
        "unit": fg.unit,
        "diff": fg.is_diff,
        "total": fg.total,
        "pruned": fg.pruned,
        "pruned_value": fg.pruned_value,
        "strings": list(strings),
        "origins": [k.value for k in kinds],
        "n": names,
        "f": files,
        "o": origins,
        "p": list(fg.parent),
        "v": list(fg.value),
        "d": list(fg.delta),
    }


def _wait(row: GroupRow, timed: bool) -> str | None:
    """Return how long the group's goroutines have waited, as the dump tells it."""
    g = row.group
    if g.wait_minutes_max is None:
        # full dumps print minutes only from the first one on
        return "< 1 min" if timed and g.state_class.value != "running" else None
    low = g.wait_minutes_min if g.wait_minutes_min is not None else g.wait_minutes_max
    return (
        f"{g.wait_minutes_max} min"
        if low == g.wait_minutes_max
        else f"{low}–{g.wait_minutes_max} min"
    )


def _group(row: GroupRow, m: AppMatcher, timed: bool) -> dict[str, Any]:
    g = row.group
    where = next((fr for fr in g.frames if m.is_app(fr)), g.frames[0] if g.frames else None)
    return {
        "count": g.count,
        "first": row.count_first,
        "state": g.state,
        "class": g.state_class.value,
        "inferred": g.state_inferred,
        "wait": _wait(row, timed),
        "leaked": g.leaked,
        "where": _frame(where, m) if where else None,
        "created_by": _frame(g.created_by, m) if g.created_by else None,
        "frames": [_frame(fr, m) for fr in g.frames[:_MAX_GROUP_FRAMES]],
        "more_frames": max(0, len(g.frames) - _MAX_GROUP_FRAMES),
    }


def _goroutines(gg: GoroutineGroups, m: AppMatcher) -> dict[str, Any]:
    return {
        "format": gg.format,
        "seq": gg.seq,
        "first_seq": gg.first_seq,
        "total": gg.total,
        "more_groups": gg.more_groups,
        "truncated": gg.truncated,
        "groups": [_group(r, m, gg.format in ("debug=2", "crash")) for r in gg.groups],
    }


def _matcher(report: ReportData) -> AppMatcher:
    frames: list[Frame] = [fr for f in report.verdict.findings for fr in f.stack]
    for fg in (report.heap_flame, report.diff_flame):
        if fg is not None:
            frames.extend(Frame(n, f) for n, f in zip(fg.names, fg.files, strict=True))
    if report.goroutines is not None:
        frames.extend(fr for r in report.goroutines.groups for fr in r.group.frames)
    return AppMatcher.detect(frames, prefix=report.verdict.app_prefix)


def html_data(report: ReportData) -> dict[str, Any]:
    """Return the report's embedded data as a JSON-ready dict."""
    v = report.verdict
    m = _matcher(report)
    overview = [s for s in (v.heap, v.goroutines, *v.extra_series) if s is not None and s.values]
    return {
        "schema": REPORT_DATA_SCHEMA,
        "generator": report.generator,
        "session": None
        if report.session is None
        else {
            "directory": report.session.directory,
            "started": report.session.started,
            "snapshots": [report.session.first_seq, report.session.last_seq],
        },
        "verdict": {
            "value": v.verdict.value,
            "summary": v.summary,
            "target": v.target,
            "snapshots": v.snapshots,
            "window": duration(v.window_seconds),
            "restarts": v.restarts,
            "oom": _oom(v),
            "notes": list(v.notes),
        }
        | (  # a Python service's leakhunter.guard buffers and pools, when it has any
            {"guards": [{"label": f"{g.kind} {g.name}", "text": guard_line(g)} for g in v.guards]}
            if v.guards
            else {}
        ),
        "overview": [_series(s) for s in overview],
        "findings": [_finding(f, m) for f in v.findings],
        "flames": {
            "heap": _flame(report.heap_flame, m) if report.heap_flame else None,
            "diff": _flame(report.diff_flame, m) if report.diff_flame else None,
        },
        "goroutines": _goroutines(report.goroutines, m) if report.goroutines else None,
        "notes": list(report.notes),
    }
