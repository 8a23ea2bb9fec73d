"""Render a Comparison for the terminal: the result, the figures side by side, each finding.

Plain text that reads the same piped or in a terminal (colour only marks the
result and the statuses). Figures carry their 90% band, because "heap growth
went from 3 MB/h to 0.2 MB/h" means nothing if the second could be 2 MB/h.
"""

from __future__ import annotations

from leakhunter.compare.figures import Figure
from leakhunter.compare.judge import Comparison, FindingChange, Result, Status
from leakhunter.report.names import ellipsize, finding_rate, location, short_function
from leakhunter.units import format_value

__all__ = ["format_figure", "render_compare_text"]

_GREEN, _RED, _YELLOW, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[0m"
_RESULT_COLOR = {
    Result.FIXED: _GREEN,
    Result.NOT_FIXED: _RED,
    Result.REGRESSED: _RED,
    Result.INCONCLUSIVE: _YELLOW,
}
_STATUS_COLOR = {
    Status.FIXED: _GREEN,
    Status.REDUCED: _YELLOW,
    Status.STILL_LEAKING: _RED,
    Status.NEW: _RED,
}

#: (attribute, label, per-hour display) of the figures table, in order
FIGURE_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("heap_slope", "live heap slope", True),
    ("goroutine_slope", "goroutine slope", True),
    ("gc_per_second", "GC cycles/s", False),
    ("gc_cpu_fraction", "GC CPU fraction", False),
    ("alloc_rate", "allocation rate", False),
)


def format_figure(f: Figure, per_hour: bool = False) -> str:
    """Format a figure with its band: ``+2.81GiB/h [2.79GiB..2.83GiB]``, ``n/a`` when unknown."""
    if not f.known:
        return "n/a"
    k = 3600.0 if per_hour else 1.0
    if f.unit == "fraction":
        return f"{f.value:.2%} [{f.low:.2%}..{f.high:.2%}]"
    if f.unit == "bytes/s":
        suffix = "/h" if per_hour else "/s"

        def b(x: float) -> str:
            return format_value(round(x * k), "bytes")

        sign = "+" if f.value * k > 0 and per_hour else ""
        return f"{sign}{b(f.value)}{suffix} [{b(f.low)}..{b(f.high)}]"
    if f.unit == "goroutines/s":
        return f"{f.value * k:+,.0f}/h [{f.low * k:+,.0f}..{f.high * k:+,.0f}]"
    return f"{f.value:.3g}/s [{f.low:.3g}..{f.high:.3g}]"


def _paint(text: str, color: str, on: bool) -> str:
    return f"{color}{text}{_RESET}" if on else text


def _change_lines(c: FindingChange, width: int, color: bool) -> list[str]:
    f = c.finding
    cul = c.culprit
    name = short_function(cul.function) if cul else "no application frame"
    where = location(cul) if cul else ""
    head = f"{_paint(f'{c.status.value:>13}', _STATUS_COLOR[c.status], color)}  {f.kind.value:9} "
    lines = [head + ellipsize(name, max(20, width - 26)) + (f"  ({where})" if where else "")]
    before = finding_rate(c.before) if c.before else "-"
    after = finding_rate(c.after) if c.after else "-"
    if c.after is not None and c.after.verdict.value != "leak":
        after = f"{c.after.verdict.value} ({after})"
    if c.status is Status.FIXED and c.after is None:
        after = "no longer grows"
    ratio = f"; {c.ratio:.0%} of the old rate" if c.ratio is not None else ""
    lines.append(f"{'':15}before {before}  ->  after {after}{ratio}")
    if c.rule is not None:
        lines.append(f"{'':15}{c.rule.id}: {ellipsize(c.rule.title, max(20, width - 30))}")
    return lines


def render_compare_text(c: Comparison, *, width: int = 100, color: bool = False) -> str:
    """Return the terminal report of a comparison."""
    word = _paint(c.result.value.upper(), _RESULT_COLOR[c.result], color)
    out = [f"{word}: {c.summary}", ""]
    b, a = c.before, c.after
    out.append(f"  BEFORE {b.source}: {b.verdict.verdict.value}, {b.verdict.snapshots} snapshots")
    out.append(f"  AFTER  {a.source}: {a.verdict.verdict.value}, {a.verdict.snapshots} snapshots")
    out.append("")
    col = max(30, (width - 20) // 2)
    out.append(f"  {'':18}{'BEFORE':{col}}{'AFTER'}")
    for attr, label, per_hour in FIGURE_ROWS:
        fb = format_figure(getattr(b.figures, attr), per_hour)
        fa = format_figure(getattr(a.figures, attr), per_hour)
        out.append(f"  {label:18}{fb:{col}}{fa}")
    out.append("")
    if c.changes:
        out.append("  findings (90% bands above; rates are each side's fitted growth):")
        for ch in c.changes:
            out.extend("  " + line for line in _change_lines(ch, width - 2, color))
    else:
        out.append("  no leak finding on either side")
    out.extend(f"  note: {n}" for n in c.notes)
    return "\n".join(out) + "\n"
