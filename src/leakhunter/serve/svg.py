"""The target page's history charts: inline SVG drawn on the server.

The history spans every stored point (days, across restarts of the target),
which the report's charts (one analysis window, drawn by its script) do not
show. Drawn here it needs no script and no data island: only numbers and
formatted, escaped labels reach the markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

from leakhunter.units import format_value

__all__ = ["history_chart"]

_W, _H, _L, _R, _T, _B = 640, 170, 70, 12, 10, 30


def _stamp(t: float, span: float) -> str:
    fmt = "%H:%M:%S" if span < 3 * 3600 else "%m-%d %H:%M"
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


def _label(v: float, unit: str) -> str:
    return escape(format_value(round(v) if unit != "bytes" else v, unit))


def history_chart(
    t: Sequence[float], v: Sequence[float], unit: str, restarts: Sequence[float] = ()
) -> Markup:
    """Return an SVG line chart of a series over time, restarts marked as dashed lines."""
    if not t:
        return Markup("")
    t0, t1 = t[0], max(t[-1], t[0] + 1.0)
    lo, hi = min(v), max(v)
    if lo >= 0 and lo < hi * 0.25:
        lo = 0.0  # near zero: start the axis there, so growth reads true
    if hi <= lo:
        lo, hi = max(0.0, lo - 1), lo + 1  # flat: centre it

    def x(tx: float) -> float:
        return _L + (tx - t0) / (t1 - t0) * (_W - _L - _R)

    def y(yv: float) -> float:
        return _T + (1 - (yv - lo) / (hi - lo)) * (_H - _T - _B)

    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" role="img" class="history-chart">',
        f"<title>{escape(unit)} from {_stamp(t0, 0)} to {_stamp(t1, 0)} UTC</title>",
    ]
    for yv in (lo, (lo + hi) / 2, hi):
        parts.append(
            f'<line class="axis" x1="{_L}" x2="{_W - _R}" y1="{y(yv):.1f}" y2="{y(yv):.1f}"/>'
        )
        parts.append(
            f'<text x="{_L - 6}" y="{y(yv) + 4:.1f}" text-anchor="end">{_label(yv, unit)}</text>'
        )
    for tx, anchor in ((t0, "start"), ((t0 + t1) / 2, "middle"), (t1, "end")):
        parts.append(
            f'<text x="{x(tx):.1f}" y="{_H - 10}" text-anchor="{anchor}">'
            f"{_stamp(tx, t1 - t0)}</text>"
        )
    parts.extend(
        f'<line class="restart" x1="{x(r):.1f}" x2="{x(r):.1f}" y1="{_T}" '
        f'y2="{_H - _B}"><title>restart</title></line>'
        for r in restarts
        if t0 <= r <= t1
    )
    pts = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(t, v, strict=True))
    parts.append(f'<polyline class="series" points="{pts}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
