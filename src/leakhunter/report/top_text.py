"""Render a TopReport as pprof-style text or as leakhunter.top/1 JSON."""

from __future__ import annotations

import json

from leakhunter.ops.aggregate import TopReport
from leakhunter.report.units import format_value

__all__ = ["TOP_SCHEMA", "render_top_json", "render_top_text"]

TOP_SCHEMA = "leakhunter.top/1"


def render_top_json(report: TopReport) -> str:
    """Return the leakhunter.top/1 JSON document (rows in pprof -top order)."""
    doc = {
        "schema": TOP_SCHEMA,
        "sample_type": report.sample_type,
        "unit": report.unit,
        "total": report.total,
        "dropped_nodes": report.dropped_nodes,
        "rows": [
            {
                "name": r.name,
                "flat": r.flat,
                "cum": r.cum,
                "function": r.function,
                "file": r.file,
                "line": r.line,
            }
            for r in report.rows
        ],
    }
    return json.dumps(doc, indent=None, separators=(",", ":"))


def _pct(part: int, total: int) -> str:
    return f"{100.0 * part / total:.2f}%" if total else "0%"


def render_top_text(report: TopReport, title: str = "") -> str:
    """Return a pprof-like table: flat, flat%, sum%, cum, cum%, name."""
    unit, total = report.unit, report.total
    out = []
    if title:
        out.append(title)
    out.append(f"Type: {report.sample_type}")
    out.append(
        f"Showing nodes accounting for {format_value(report.shown_flat, unit)}, "
        f"{_pct(report.shown_flat, total)} of {format_value(total, unit)} total"
    )
    if report.dropped_nodes:
        out.append(
            f"Dropped {report.dropped_nodes} nodes (cum <= "
            f"{format_value(report.node_cutoff, unit)})"
        )
    cells = []
    running = 0
    for r in report.rows:
        running += r.flat
        cells.append(
            (
                format_value(r.flat, unit),
                _pct(r.flat, total),
                _pct(running, total),
                format_value(r.cum, unit),
                _pct(r.cum, total),
                r.name,
            )
        )
    head = ("flat", "flat%", "sum%", "cum", "cum%")
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(head)]
    out.append(" ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    out.extend(
        " ".join(v.rjust(w) for v, w in zip(c[:5], widths, strict=True)) + "  " + c[5]
        for c in cells
    )
    return "\n".join(out)
