"""Render a TopReport as pprof-style text or as leakhunter.top/1 JSON."""

from __future__ import annotations

from leakhunter.ops.aggregate import TopReport
from leakhunter.report.safe_text import for_terminal
from leakhunter.units import format_value

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
    import json  # only --json pays for it (~5 ms of a `top` that prints text)

    return json.dumps(doc, indent=None, separators=(",", ":"))


def _pct(part: int, total: int) -> str:
    """Format a percentage the way pprof does (absolute value, "100%", 2 digits)."""
    ratio = abs(part / total) * 100 if total else 0.0
    if 99.95 <= ratio <= 100.05:
        return "100%"
    if ratio >= 1.0:
        return f"{ratio:.2f}%"
    return f"{ratio:.2g}%"


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
    if report.dropped_nodes and total:
        # pprof cuts at the summed flat values but labels the cut with the total
        shown_cut = abs(int(total * report.node_fraction))
        plural = "s" if report.dropped_nodes > 1 else ""
        out.append(
            f"Dropped {report.dropped_nodes} node{plural} (cum <= {format_value(shown_cut, unit)})"
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
    return "\n".join(for_terminal(line) for line in out)  # names come from the target
