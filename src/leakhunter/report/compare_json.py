"""Render a Comparison as JSON, schema "leakhunter.compare/1" (DESIGN.md contract).

The contract's fields come first with their meaning (per-hour rates, GC/s);
the figures with their 90% bands, the series for charts and the matching
details are added alongside, which the contract allows.
"""

from __future__ import annotations

import json
import math
from typing import Any

from leakhunter.analyze.verdict import Finding, RuleMatch
from leakhunter.compare.figures import Figure
from leakhunter.compare.judge import COMPARE_SCHEMA, Comparison, FindingChange, Side
from leakhunter.report.verdict_json import verdict_to_dict

__all__ = ["CompareJsonRenderer", "comparison_to_dict", "render_compare_json"]

_FIGURES = ("heap_slope", "goroutine_slope", "gc_per_second", "gc_cpu_fraction", "alloc_rate")


def _num(x: float, digits: int = 3) -> float:
    return 0.0 if not math.isfinite(x) else round(float(x), digits)


def _figure(f: Figure) -> dict[str, Any]:
    d = 9 if f.unit == "fraction" else 4
    return {
        "value": _num(f.value, d),
        "low": _num(f.low, d),
        "high": _num(f.high, d),
        "unit": f.unit,
        "points": f.n,
        "known": f.known,
    }


def _side(s: Side) -> dict[str, Any]:
    v, fig = s.verdict, s.figures
    doc = verdict_to_dict(v)
    return {
        "target": v.target,
        "snapshots": v.snapshots,
        "verdict": v.verdict.value,
        "heap_per_hour": _num(fig.heap_slope.value * 3600),
        "goroutines_per_hour": _num(fig.goroutine_slope.value * 3600),
        "gc_per_second": _num(fig.gc_per_second.value, 4),
        "source": s.source,
        "window_seconds": _num(v.window_seconds),
        "summary": v.summary,
        "figures": {name: _figure(getattr(fig, name)) for name in _FIGURES},
        "heap_bytes": {"start": _num(fig.heap_start), "end": _num(fig.heap_end)},
        "goroutines": {"start": _num(fig.goroutines_start), "end": _num(fig.goroutines_end)},
        "series": doc["series"],
    }


def _rate(f: Finding | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"per_hour": _num(f.growth.per_hour), "unit": f.growth.unit, "verdict": f.verdict.value}


def _rule(r: RuleMatch | None) -> dict[str, Any] | None:
    return None if r is None else {"id": r.id, "title": r.title, "fix": r.fix}


def _change(c: FindingChange) -> dict[str, Any]:
    cul = c.culprit
    return {
        "status": c.status.value,
        "kind": c.finding.kind.value,
        "culprit": None
        if cul is None
        else {"function": cul.function, "file": cul.file, "line": cul.line},
        "rule": _rule(c.rule),
        "before": _rate(c.before),
        "after": _rate(c.after),
        "ratio": None if c.ratio is None else _num(c.ratio, 4),
        "matched_by": c.matched_by or None,
    }


def comparison_to_dict(c: Comparison) -> dict[str, Any]:
    """Return the comparison as a JSON-ready dict."""
    return {
        "schema": COMPARE_SCHEMA,
        "result": c.result.value,
        "before": _side(c.before),
        "after": _side(c.after),
        "findings": [_change(ch) for ch in c.changes],
        "summary": c.summary,
        "notes": list(c.notes),
    }


def render_compare_json(c: Comparison) -> str:
    """Return the comparison as a JSON document."""
    return json.dumps(comparison_to_dict(c), indent=2)


class CompareJsonRenderer:
    """The compare JSON as a report file (``--json PATH``)."""

    def render(self, comparison: Comparison) -> bytes:
        """Return the document, newline-terminated."""
        return (render_compare_json(comparison) + "\n").encode()
