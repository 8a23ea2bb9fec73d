"""Render a Verdict for people in a terminal (rich), width-aware; plain when piped."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from leakhunter.analyze.frames import AppMatcher
from leakhunter.analyze.verdict import Finding, FindingVerdict, Verdict, VerdictValue
from leakhunter.report.units import format_value

__all__ = ["render_verdict_text", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
_STYLE = {
    VerdictValue.LEAK: "bold white on red",
    VerdictValue.NO_LEAK: "bold white on green",
    VerdictValue.INCONCLUSIVE: "bold black on yellow",
}


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """Return a unicode sparkline of at most width points (min..max scaled)."""
    vals = [v for v in values if v == v]  # drop NaN
    if not vals:
        return ""
    if len(vals) > width:
        step = len(vals) / width
        vals = [vals[int(i * step)] for i in range(width)]
    lo, hi = min(vals), max(vals)
    if hi <= lo:
        return _BARS[0] * len(vals)
    return "".join(_BARS[min(7, int((v - lo) / (hi - lo) * 7.999))] for v in vals)


def _fmt_growth(f: Finding) -> str:
    g = f.growth
    if g.unit == "bytes":
        return (
            f"{format_value(g.start, 'bytes')} → {format_value(g.end, 'bytes')}"
            f"  ({format_value(g.per_hour, 'bytes')}/h)"
        )
    return f"{g.start:,.0f} → {g.end:,.0f} goroutines  ({g.per_hour:+,.0f}/h)"


def _finding_block(i: int, f: Finding, matcher: AppMatcher, max_frames: int) -> Group:
    colour = {"leak": "red", "suspect": "yellow", "churn": "magenta"}[f.verdict.value]
    head = Text.assemble(
        (f"#{i} ", "bold"),
        (f"{f.verdict.value.upper()} ", f"bold {colour}"),
        (f"{f.kind.value} ", "bold"),
        (f"confidence {f.confidence:.2f}", "dim"),
    )
    lines: list[Text | Table] = [head]
    if f.culprit is not None:
        where = f"{f.culprit.file}:{f.culprit.line}" if f.culprit.file else ""
        lines.append(Text.assemble(("  culprit  ", "dim"), (f.culprit.function, "bold cyan")))
        if where:
            lines.append(Text.assemble(("           ", ""), (where, "cyan")))
    spark = sparkline(f.series[0].values) if f.series else ""
    lines.append(Text.assemble(("  growth   ", "dim"), _fmt_growth(f), ("  " + spark, colour)))
    if f.goroutines is not None:
        g = f.goroutines
        wait = f", waiting up to {g.wait_minutes_max} min" if g.wait_minutes_max else ""
        leaked = f", {g.leaked} marked leaked by the runtime" if g.leaked else ""
        state = g.state or "unknown state"
        lines.append(
            Text.assemble(("  state    ", "dim"), f"{state} [{g.state_class}]{wait}{leaked}")
        )
    if f.rule is not None:
        lines.append(
            Text.assemble(
                ("  pattern  ", "dim"), (f"{f.rule.title}", "bold"), (f"  ({f.rule.id})", "dim")
            )
        )
        if f.rule.explanation:
            lines.append(Text("           " + f.rule.explanation))
        lines.append(Text.assemble(("  fix      ", "dim"), (f.rule.fix, "green")))
    lines.extend(Text("  • " + e, style="dim") for e in f.evidence)
    if f.stack:
        lines.append(Text("  stack (leaf first):", style="dim"))
        for fr in f.stack[:max_frames]:
            app = matcher.is_app(fr)
            loc = f"{fr.file.rsplit('/', 1)[-1]}:{fr.line}" if fr.file else ""
            lines.append(
                Text.assemble(
                    ("    ▶ " if app else "      ", "bold cyan"),
                    (fr.function, "bold cyan" if app else ""),
                    ("  " + loc, "dim"),
                )
            )
        if len(f.stack) > max_frames:
            lines.append(Text(f"      … {len(f.stack) - max_frames} more frames", style="dim"))
    return Group(*lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _overview(v: Verdict) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim")
    t.add_column()
    t.add_row("target", v.target or "(unknown)")
    t.add_row("window", f"{v.snapshots} snapshots over {v.window_seconds:.0f} s")
    for s in (v.heap, v.goroutines):
        if s is not None and s.values:
            unit = s.unit
            first, last = s.values[0], s.values[-1]
            t.add_row(
                s.label,
                f"{format_value(first, unit)} → {format_value(last, unit)}  {sparkline(s.values)}",
            )
    p = v.projection
    if p.time_to_oom_seconds is not None and p.limit_bytes:
        t.add_row(
            "time to OOM",
            Text(
                f"~{_duration(p.time_to_oom_seconds)} until {format_value(p.limit_bytes, 'bytes')}"
                f" ({p.limit_source})",
                style="bold red",
            ),
        )
    elif v.verdict is VerdictValue.LEAK:
        t.add_row("time to OOM", "unknown: give --limit (or set GOMEMLIMIT on the target)")
    return t


def render_verdict_text(
    v: Verdict,
    *,
    width: int | None = None,
    color: bool = True,
    matcher: AppMatcher | None = None,
    max_findings: int = 5,
    max_frames: int = 12,
) -> str:
    """Return the report as text (ANSI colours when color=True)."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or 100,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    m = matcher or AppMatcher(prefix=v.app_prefix)
    banner = Text(f" {v.verdict.value.upper()} ", style=_STYLE[v.verdict])
    banner.append("  " + v.summary, style="bold")
    console.print(banner)
    console.print(_overview(v))
    shown = [f for f in v.findings][:max_findings]
    for i, f in enumerate(shown, 1):
        console.print()
        console.print(
            Panel(
                _finding_block(i, f, m, max_frames),
                expand=True,
                border_style="red" if f.verdict is FindingVerdict.LEAK else "dim",
            )
        )
    if len(v.findings) > max_findings:
        console.print(f"… {len(v.findings) - max_findings} more findings (see --json)")
    for note in v.notes:
        console.print(Text("note: " + note, style="yellow"))
    return buf.getvalue()
