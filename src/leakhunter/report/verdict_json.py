"""Render a Verdict as JSON, schema "leakhunter.verdict/1" (DESIGN.md contract).

The fields of the contract come first and keep their meaning; everything else
(series for charts, goroutine facts, notes) is added alongside, which the
contract allows. Changing a contract field means a new schema version.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from leakhunter.analyze.figures import Figure, GcFigures
from leakhunter.analyze.guard_figures import GuardFigures
from leakhunter.analyze.verdict import Finding, Series, Verdict, WindowVerdict
from leakhunter.model.goroutine import Frame

if TYPE_CHECKING:
    from leakhunter.report.data import ReportData

__all__ = [
    "VERDICT_SCHEMA",
    "JsonRenderer",
    "finding_to_dict",
    "guard_to_dict",
    "render_verdict_json",
    "verdict_to_dict",
]

VERDICT_SCHEMA = "leakhunter.verdict/1"


def _num(x: float) -> float:
    return 0.0 if not math.isfinite(x) else round(float(x), 3)


def _frame(f: Frame | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"function": f.function, "file": f.file, "line": f.line}


def _series(s: Series) -> dict[str, Any]:
    return {
        "label": s.label,
        "unit": s.unit,
        "t": list(s.t),
        "values": [_num(v) for v in s.values],
        "fit": {"slope_per_second": _num(s.fit_slope), "start": _num(s.fit_start)},
    }


def finding_to_dict(f: Finding) -> dict[str, Any]:
    """Return one finding as in leakhunter.verdict/1 (serve stores and serves these)."""
    out: dict[str, Any] = {
        "id": f.id,
        "kind": f.kind.value,
        "verdict": f.verdict.value,
        "confidence": round(f.confidence, 2),
        "culprit": _frame(f.culprit),
        "stack": [_frame(fr) for fr in f.stack],
        "growth": {
            "unit": f.growth.unit,
            "start": _num(f.growth.start),
            "end": _num(f.growth.end),
            "per_hour": _num(f.growth.per_hour),
        },
        "evidence": list(f.evidence),
        "rule": None,
    }
    if f.rule is not None:
        out["rule"] = {
            "id": f.rule.id,
            "title": f.rule.title,
            "fix": f.rule.fix,
            "explanation": f.rule.explanation,
            "matched": list(f.rule.matched),
            "references": list(f.rule.references),
            "sketch": f.rule.sketch,
        }
    if f.goroutines is not None:
        g = f.goroutines
        out["goroutines"] = {
            "state": g.state,
            "state_class": g.state_class,
            "state_inferred": g.state_inferred,
            "count_start": g.count_start,
            "count_end": g.count_end,
            "wait_minutes_max": g.wait_minutes_max,
            "leaked": g.leaked,
            "created_by": _frame(g.created_by),
        }
    out["linked"] = list(f.linked)
    out["series"] = [_series(s) for s in f.series]
    if f.exhaustion_seconds is not None:
        out["time_to_exhaustion_seconds"] = _num(f.exhaustion_seconds)
    out["window"] = (
        None if not f.window else {"label": f.window, "seconds": _num(f.window_seconds or 0.0)}
    )
    return out


def _window(w: WindowVerdict) -> dict[str, Any]:
    return {
        "label": w.label,
        "seconds": _num(w.seconds),
        "points": w.points,
        "downsampled": w.downsampled,
        "verdict": w.verdict.value,
        "heap_per_hour": None if w.heap_per_hour is None else _num(w.heap_per_hour),
        "leak_findings": w.findings,
    }


def verdict_to_dict(v: Verdict) -> dict[str, Any]:
    """Return the verdict as a JSON-ready dict."""
    p = v.projection
    return {
        "schema": VERDICT_SCHEMA,
        "target": v.target,
        "snapshots": v.snapshots,
        "window_seconds": _num(v.window_seconds),
        "verdict": v.verdict.value,
        "findings": [finding_to_dict(f) for f in v.findings],
        "projection": {
            "limit_bytes": p.limit_bytes,
            "time_to_oom_seconds": None
            if p.time_to_oom_seconds is None
            else _num(p.time_to_oom_seconds),
            "limit_source": p.limit_source or None,
            "footprint_bytes": p.footprint_bytes,
            "footprint_source": p.footprint_source or None,
            "rate_source": p.rate_source or None,
            "growth_bytes_per_second": None
            if p.growth_bytes_per_second is None
            else _num(p.growth_bytes_per_second),
        },
        "summary": v.summary,
        "notes": list(v.notes),
        "restarts": v.restarts,
        "series": {
            "heap": _series(v.heap) if v.heap else None,
            "goroutines": _series(v.goroutines) if v.goroutines else None,
        },
        "windows": [_window(w) for w in v.windows],
        "gc": _gc(v.gc),
    } | ({"guards": [guard_to_dict(g) for g in v.guards]} if v.guards else {})


def _figure(f: Figure) -> dict[str, Any] | None:
    if not f.known:
        return None
    return {"value": _num(f.value), "low": _num(f.low), "high": _num(f.high)}


def _gc(g: GcFigures | None) -> dict[str, Any] | None:
    """GC pressure: exact figures with their 90% bands (null where unknown)."""
    if g is None:
        return None
    return {
        "cycles_per_second": _figure(g.cycles_per_second),
        "cpu_fraction": _figure(g.cpu_fraction),
        "alloc_bytes_per_second": _figure(g.alloc_rate),
    }


def guard_to_dict(g: GuardFigures) -> dict[str, Any]:
    """One leakhunter.guard buffer or pool: figures now and rates over the run (null: unknown)."""

    def opt(x: float | None) -> float | None:
        return None if x is None else _num(x)

    doc: dict[str, Any] = {"kind": g.kind, "name": g.name, "seconds": _num(g.seconds)}
    if g.kind == "buffer":
        doc |= {
            "policy": g.policy or None,
            "level": opt(g.level),
            "items": g.items,
            "capacity": g.capacity,
            "dropped_per_second": opt(g.dropped_per_second),
            "rejected_per_second": opt(g.rejected_per_second),
            "full_ratio": opt(g.full_ratio),
        }
    else:
        doc |= {
            "hit_ratio": opt(g.hit_ratio),
            "in_use": g.in_use,
            "oversized_per_second": opt(g.oversized_per_second),
        }
    return doc | {"totals": dict(g.totals)}


def render_verdict_json(v: Verdict) -> str:
    """Return the verdict as a JSON document."""
    return json.dumps(verdict_to_dict(v), indent=2)


class JsonRenderer:
    """The verdict JSON as a report file format (``--json PATH``)."""

    def render(self, report: ReportData) -> bytes:
        """Return the verdict document, newline-terminated."""
        return (render_verdict_json(report.verdict) + "\n").encode()
