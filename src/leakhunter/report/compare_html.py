"""Render a Comparison as one self-contained HTML page with before/after charts.

Each chart draws BEFORE and AFTER on one common scale (same axes, both
windows starting at 0 s), since "it is flat now" is only visible against the
slope it had. Charts are inline SVG computed here: the page needs no script,
no network and reads the same printed. Text is escaped; nothing from a
profile reaches the page unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from leakhunter.analyze.verdict import Series
from leakhunter.compare.judge import Comparison, FindingChange, Result, Status
from leakhunter.report.compare_text import FIGURE_ROWS, format_figure
from leakhunter.report.names import finding_rate, location, short_function
from leakhunter.units import format_value

__all__ = ["CompareHtmlRenderer", "render_compare_html", "svg_chart"]

_W, _H, _PAD = 560, 200, 64
_BEFORE, _AFTER = "#c0392b", "#2471a3"
_RESULT_CLASS = {
    Result.FIXED: "ok",
    Result.NOT_FIXED: "bad",
    Result.REGRESSED: "bad",
    Result.INCONCLUSIVE: "warn",
}
_STATUS_CLASS = {
    Status.FIXED: "ok",
    Status.REDUCED: "warn",
    Status.STILL_LEAKING: "bad",
    Status.NEW: "bad",
}
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1 .ok,.ok{color:#1e8449} h1 .bad,.bad{color:#c0392b} h1 .warn,.warn{color:#b9770e}
table{border-collapse:collapse;margin:1em 0} td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top} code{font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0} figcaption{font-weight:600}
.legend span{margin-right:1em} td figcaption{max-width:380px;overflow-wrap:anywhere}
.b{color:#c0392b} .a{color:#2471a3} .note{color:#666}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _label(value: float, unit: str) -> str:
    return format_value(value, "bytes") if unit == "bytes" else f"{value:,.0f}"


def svg_chart(title: str, series: Sequence[tuple[str, str, Series | None]], width: int = _W) -> str:
    """Return an SVG line chart of several series on one common scale (a None series is skipped)."""
    drawn = [(n, c, s) for n, c, s in series if s is not None and s.t]
    if not drawn:
        return f"<figure><figcaption>{_e(title)}</figcaption><p class=note>no data</p></figure>"
    unit = drawn[0][2].unit
    t_max = max(s.t[-1] - s.t[0] for _, _, s in drawn) or 1.0
    lo = min(min(s.values) for _, _, s in drawn)
    hi = max(max(s.values) for _, _, s in drawn)
    lo = min(lo, 0.0) if unit != "bytes" else lo * 0.95
    span = (hi - lo) or 1.0

    def xy(t: float, v: float) -> str:
        x = _PAD + (t / t_max) * (width - _PAD - 8)
        y = _H - 20 - (v - lo) / span * (_H - 32)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg viewBox="0 0 {width} {_H}" width="{width}" height="{_H}" role="img" '
        f'aria-label="{_e(title)}">',
        f'<line x1="{_PAD}" y1="{_H - 20}" x2="{width - 8}" y2="{_H - 20}" stroke="#999"/>',
        f'<line x1="{_PAD}" y1="12" x2="{_PAD}" y2="{_H - 20}" stroke="#999"/>',
        f'<text x="2" y="18" font-size="11">{_e(_label(hi, unit))}</text>',
        f'<text x="2" y="{_H - 22}" font-size="11">{_e(_label(lo, unit))}</text>',
        f'<text x="{width - 60}" y="{_H - 4}" font-size="11">{t_max:.0f} s</text>',
    ]
    for name, color, s in drawn:
        t0 = s.t[0]
        pts = " ".join(xy(t - t0, v) for t, v in zip(s.t, s.values, strict=False))
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}">'
            f"<title>{_e(name)}</title></polyline>"
        )
    parts.append("</svg>")
    legend = " ".join(f'<span style="color:{c}">&#9632; {_e(n)}</span>' for n, c, _ in drawn)
    return (
        f"<figure><figcaption>{_e(title)}</figcaption>{''.join(parts)}"
        f'<div class="legend">{legend}</div></figure>'
    )


def _first_series(f: object) -> Series | None:
    series = getattr(f, "series", ())
    return series[0] if series else None


def _change_html(c: FindingChange) -> str:
    cul = c.culprit
    name = short_function(cul.function) if cul else "no application frame"
    where = location(cul, full=True) if cul else ""
    before = finding_rate(c.before) if c.before else "-"
    after = finding_rate(c.after) if c.after else "no longer grows"
    if c.after is not None and c.after.verdict.value != "leak":
        after = f"{c.after.verdict.value}: {after}"
    ratio = f" ({c.ratio:.0%} of the old rate)" if c.ratio is not None else ""
    rule = (
        f"<br><b>{_e(c.rule.id)}</b>: {_e(c.rule.title)}<br>fix: {_e(c.rule.fix)}" if c.rule else ""
    )
    sb, sa = _first_series(c.before), _first_series(c.after)
    chart = ""
    first = sb or sa
    if first is not None:
        # one scale needs one unit: a heap-first BEFORE is not drawn against goroutines
        unit_ok = sb is None or sa is None or sb.unit == sa.unit
        chart = svg_chart(
            f"{name}: {first.label}",
            [("BEFORE", _BEFORE, sb), ("AFTER", _AFTER, sa if unit_ok else None)],
            width=380,
        )
    return (
        f'<tr><td class="{_STATUS_CLASS[c.status]}"><b>{_e(c.status.value)}</b></td>'
        f"<td>{_e(c.finding.kind.value)}</td><td><code>{_e(name)}</code><br>"
        f'<span class="note">{_e(where)}</span>{rule}</td>'
        f"<td>before {_e(before)}<br>after {_e(after)}{_e(ratio)}"
        f"<br>matched by {_e(c.matched_by or '-')}</td><td>{chart}</td></tr>"
    )


def render_compare_html(c: Comparison) -> str:
    """Return the HTML page of a comparison."""
    b, a = c.before, c.after
    rows = "".join(
        f"<tr><td>{_e(label)}</td><td>{_e(format_figure(getattr(b.figures, attr), ph))}</td>"
        f"<td>{_e(format_figure(getattr(a.figures, attr), ph))}</td></tr>"
        for attr, label, ph in FIGURE_ROWS
    )
    charts = svg_chart(
        "live heap (exact HeapAlloc after GC)",
        [("BEFORE", _BEFORE, b.heap), ("AFTER", _AFTER, a.heap)],
    ) + svg_chart(
        "goroutines", [("BEFORE", _BEFORE, b.goroutines), ("AFTER", _AFTER, a.goroutines)]
    )
    findings = "".join(_change_html(ch) for ch in c.changes) or (
        "<tr><td colspan=5>no leak finding on either side</td></tr>"
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in c.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>leakhunter compare: {_e(c.result.value)}</title><style>{_CSS}</style></head>
<body>
<h1>leakhunter compare: <span class="{_RESULT_CLASS[c.result]}">{_e(c.result.value)}</span></h1>
<p>{_e(c.summary)}</p>
<p><span class="b">BEFORE</span> {_e(b.source)}: {_e(b.verdict.verdict.value)},
{b.verdict.snapshots} snapshots over {b.verdict.window_seconds:.0f} s<br>
<span class="a">AFTER</span> {_e(a.source)}: {_e(a.verdict.verdict.value)},
{a.verdict.snapshots} snapshots over {a.verdict.window_seconds:.0f} s</p>
<div class="charts">{charts}</div>
<h2>Whole process (90% bands)</h2>
<table><tr><th></th><th class="b">BEFORE</th><th class="a">AFTER</th></tr>{rows}</table>
<h2>Findings</h2>
<table><tr><th>status</th><th>kind</th><th>culprit</th><th>growth</th><th>chart</th></tr>
{findings}</table>
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""


class CompareHtmlRenderer:
    """The compare HTML page as a report file (``--html PATH``)."""

    def render(self, comparison: Comparison) -> bytes:
        """Return the page, UTF-8 encoded."""
        return render_compare_html(comparison).encode()
