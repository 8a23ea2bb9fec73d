"""Render a Verdict for people in a terminal (rich): width-aware, colour optional, plain when piped.

Layout: a banner with the verdict and time-to-OOM, an overview of the whole
process with sparklines, one block per finding (culprit, growth with its
sparkline, goroutine state, the rule's explanation and fix, evidence, and the
stack with the application's frames marked ▶ and highlighted), then the
biggest goroutine groups with their wait states and durations. Long Go names
are shortened (generic shapes collapsed) and cut from the left so the method
name stays visible; prose wraps under its label. ``boxes=False`` (the default
without colour) drops the panel borders so piped output greps cleanly.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from leakhunter.analyze.frames import AppMatcher
from leakhunter.analyze.verdict import Finding, FindingVerdict, Verdict, VerdictValue
from leakhunter.model.goroutine import Frame
from leakhunter.report.data import GoroutineGroups, GroupRow
from leakhunter.report.names import duration, ellipsize, guard_line, location, short_function
from leakhunter.report.safe_text import scrub
from leakhunter.units import format_value

__all__ = ["render_verdict_text", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
_STYLE = {
    VerdictValue.LEAK: "bold white on red",
    VerdictValue.NO_LEAK: "bold white on green",
    VerdictValue.INCONCLUSIVE: "bold black on yellow",
}
_COLOUR = {"leak": "red", "suspect": "yellow", "churn": "magenta"}
_LABEL = 12  # width of the label column of a finding block
_WAITING_CLASSES = ("channel", "select", "sync")


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
            f"{format_value(round(g.start), 'bytes')} → {format_value(round(g.end), 'bytes')}"
            f"  ({format_value(g.per_hour, 'bytes')}/h)"
        )
    return f"{g.start:,.0f} → {g.end:,.0f} {g.unit}  ({g.per_hour:+,.0f}/h)"


def _kv() -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(style="dim", width=_LABEL - 1, no_wrap=True)
    t.add_column(overflow="fold")
    return t


def _frame_line(fr: Frame, app: bool, width: int) -> Text:
    loc = location(fr)
    room = max(12, width - 6 - (len(loc) + 2 if loc else 0))
    name = ellipsize(short_function(fr.function), room)
    return Text.assemble(
        ("  ▶ " if app else "    ", "bold cyan"),
        (name, "bold cyan" if app else ""),
        ("  " + loc if loc else "", "dim"),
        no_wrap=True,
        overflow="ellipsis",
    )


def _culprit_rows(t: Table, f: Finding, width: int) -> None:
    if f.culprit is None:
        t.add_row("culprit", Text("no application frame on this stack", style="dim"))
        return
    name = ellipsize(short_function(f.culprit.function), width - _LABEL)
    t.add_row("culprit", Text(name, style="bold cyan", no_wrap=True, overflow="ellipsis"))
    if f.culprit.file:
        where = ellipsize(f"{f.culprit.file}:{f.culprit.line}", width - _LABEL)
        t.add_row("", Text(where, style="cyan", no_wrap=True))


def _finding_block(
    i: int, f: Finding, matcher: AppMatcher, max_frames: int, width: int
) -> RenderableType:
    colour = _COLOUR[f.verdict.value]
    head = Text.assemble(
        (f"#{i} ", "bold"),
        (f"{f.verdict.value.upper()} ", f"bold {colour}"),
        (f"{f.kind.value} ", "bold"),
        (f"confidence {f.confidence:.2f}", "dim"),
        ("  " + f.id, "dim"),
    )
    t = _kv()
    _culprit_rows(t, f, width)
    spark = sparkline(f.series[0].values) if f.series else ""
    t.add_row("growth", Text.assemble(_fmt_growth(f), ("  " + spark, colour)))
    if f.window and f.window != "all":
        t.add_row("window", Text(f"growth seen over the last {f.window}"))
    if f.goroutines is not None:
        g = f.goroutines
        state = g.state or "unknown state"
        extra = " (inferred from the stack)" if g.state_inferred else ""
        wait = f", waiting up to {g.wait_minutes_max} min" if g.wait_minutes_max else ""
        leaked = f", {g.leaked} marked leaked by the runtime" if g.leaked else ""
        counts = f"{g.count_start:,} → {g.count_end:,}"
        t.add_row("goroutines", Text(f"{counts} in {state} [{g.state_class}]{extra}{wait}{leaked}"))
    if f.rule is not None:
        t.add_row("pattern", Text.assemble((f.rule.title, "bold"), (f"  ({f.rule.id})", "dim")))
        if f.rule.explanation:
            t.add_row("why", Text(f.rule.explanation))
        t.add_row("fix", Text(f.rule.fix, style="green"))
        if f.rule.sketch:
            t.add_row("sketch", Text(f.rule.sketch.strip("\n"), style="green", overflow="ellipsis"))
        if f.rule.matched:
            t.add_row("matched", Text("; ".join(f.rule.matched), style="dim"))
    for e in f.evidence:
        t.add_row("•", Text(e, style="dim"))
    parts: list[RenderableType] = [head, t]
    if f.stack:
        parts.append(Text("stack (innermost first, ▶ = application code):", style="dim"))
        parts.extend(_frame_line(fr, matcher.is_app(fr), width) for fr in f.stack[:max_frames])
        if len(f.stack) > max_frames:
            parts.append(Text(f"    … {len(f.stack) - max_frames} more frames", style="dim"))
    return Group(*parts)


def _overview(v: Verdict, width: int) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")
    t.add_row("target", Text(v.target or "(unknown)"))
    t.add_row("window", Text(f"{v.snapshots} snapshots over {duration(v.window_seconds)}"))
    for s in (v.heap, v.goroutines):
        if s is not None and s.values:
            first, last = s.values[0], s.values[-1]
            label = s.label.split(" (", 1)[0] if width < 90 else s.label
            t.add_row(
                Text(label),
                Text(
                    f"{format_value(round(first), s.unit)} → "
                    f"{format_value(round(last), s.unit)}  {sparkline(s.values)}"
                ),
            )
    p = v.projection
    if p.time_to_oom_seconds is not None and p.limit_bytes:
        src = f" ({p.limit_source})" if p.limit_source else ""
        t.add_row(
            "time to OOM",
            Text(
                f"~{duration(p.time_to_oom_seconds)} until "
                f"{format_value(p.limit_bytes, 'bytes')}{src}"
                + (
                    f", from {format_value(p.footprint_bytes, 'bytes')} held now "
                    f"({p.footprint_source})"
                    if p.footprint_bytes and p.footprint_source
                    else ""
                ),
                style="bold red",
            ),
        )
    elif v.verdict is VerdictValue.LEAK:
        t.add_row("time to OOM", Text("unknown: give --limit (or set GOMEMLIMIT on the target)"))
    g = v.gc
    if g is not None and g.alloc_rate.known:
        parts = [f"allocating {format_value(g.alloc_rate.value, 'bytes')}/s"]
        if g.cycles_per_second.known:
            parts.append(f"{g.cycles_per_second.value:.2g} collections/s")
        if g.cpu_fraction.known:
            parts.append(f"{g.cpu_fraction.value:.1%} of CPU in GC")
        t.add_row("GC", Text(", ".join(parts)))
    for guard in v.guards[:8]:
        t.add_row(Text(f"{guard.kind} {guard.name}"), Text(guard_line(guard)))
    if len(v.guards) > 8:
        t.add_row("", Text(f"… {len(v.guards) - 8} more buffers and pools (see --json)"))
    if v.restarts:
        t.add_row("restarts", Text(f"{v.restarts} (judged the last run)"))
    if len(v.windows) > 1:
        t.add_row(
            "windows",
            Text(", ".join(f"{w.label} {w.verdict.value}" for w in v.windows)),
        )
    return t


def _wait_text(
    g: GoroutineGroups, minutes_min: int | None, minutes_max: int | None, cls: str
) -> str:
    if minutes_max is not None:
        low = minutes_max if minutes_min is None else minutes_min
        return f"{minutes_max} min" if low == minutes_max else f"{low}-{minutes_max} min"
    if g.format in ("debug=2", "crash") and cls != "running":
        return "<1 min"
    return "-"


def _where(gg_row: GroupRow, matcher: AppMatcher, room: int) -> Text:
    g = gg_row.group
    fr = next((f for f in g.frames if matcher.is_app(f)), g.frames[0] if g.frames else None)
    if fr is None:
        return Text("-")
    loc = location(fr)
    name = ellipsize(short_function(fr.function), max(12, room - len(loc) - 2))
    style = "bold cyan" if matcher.is_app(fr) else ""
    return Text.assemble((name, style), ("  " + loc if loc else "", "dim"))


def _groups_table(
    gg: GoroutineGroups, matcher: AppMatcher, width: int, limit: int
) -> RenderableType:
    """The biggest groups as aligned columns; the last one (where) gets the room left."""
    rows = gg.groups[:limit]
    has_before = gg.first_seq is not None
    cells: list[list[str]] = []
    for row in rows:
        g = row.group
        cls = g.state_class.value
        line = [f"{g.count:,}"]
        if has_before:
            line.append("" if row.count_first is None else f"{row.count_first:,}")
        line.append((g.state or "?") + ("" if cls == g.state else f" [{cls}]"))
        line.append(_wait_text(gg, g.wait_minutes_min, g.wait_minutes_max, cls))
        cells.append(line)
    header = ["count", *(["before"] if has_before else []), "state", "waiting"]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    right = {0, 1} if has_before else {0}
    room = max(20, width - sum(widths) - 2 * len(widths))

    def pad(i: int, text: str) -> str:
        return text.rjust(widths[i]) if i in right else text.ljust(widths[i])

    before = f", before = snapshot {gg.first_seq}" if has_before else ""
    out: list[RenderableType] = [
        Text.assemble(
            ("goroutines ", "bold"),
            f"{gg.total:,} in {len(gg.groups) + gg.more_groups} groups "
            f"(snapshot {gg.seq}, {gg.format}{before})",
        ),
        Text("  ".join(pad(i, h) for i, h in enumerate(header)) + "  where", style="dim"),
    ]
    state_col = 2 if has_before else 1
    for row, line in zip(rows, cells, strict=True):
        g = row.group
        grew = row.count_first is not None and g.count > row.count_first
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, cell in enumerate(line):
            style = ""
            if i == 0 and grew:
                style = "bold red"
            elif i == state_col and g.state_class.value in _WAITING_CLASSES:
                style = "red"
            text.append(pad(i, cell), style=style)
            text.append("  ")
        text.append_text(_where(row, matcher, room))
        out.append(text)
    hidden = len(gg.groups) - len(rows) + gg.more_groups
    if hidden:
        out.append(Text(f"… {hidden} smaller groups", style="dim"))
    return Group(*out)


def render_verdict_text(
    v: Verdict,
    *,
    width: int | None = None,
    color: bool = True,
    matcher: AppMatcher | None = None,
    max_findings: int = 5,
    max_frames: int = 12,
    goroutines: GoroutineGroups | None = None,
    boxes: bool | None = None,
    max_groups: int = 8,
) -> str:
    """Return the report as text (ANSI colours when color=True).

    ``boxes`` (default: same as color) draws findings in panels; without, the
    output is plain text that greps and diffs cleanly.
    """
    # Every string of the verdict came from the target: escape controls before layout.
    v = scrub(v)
    goroutines = scrub(goroutines)
    width = max(40, width or 100)
    boxed = color if boxes is None else boxes
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    m = matcher or AppMatcher(prefix=v.app_prefix)
    banner = Text(f" {v.verdict.value.upper()} ", style=_STYLE[v.verdict])
    banner.append("  " + v.summary, style="bold")
    console.print(banner)
    console.print(_overview(v, width))
    inner = width - 4 if boxed else width
    for i, f in enumerate(v.findings[:max_findings], 1):
        console.print()
        block = _finding_block(i, f, m, max_frames, inner)
        if boxed:
            border = "red" if f.verdict is FindingVerdict.LEAK else "dim"
            console.print(Panel(block, expand=True, border_style=border))
        else:
            console.print(Rule(style="dim", characters="-"))
            console.print(block)
    if len(v.findings) > max_findings:
        more = len(v.findings) - max_findings
        console.print(Text(f"… {more} more findings (see --json or --html)"))
    if goroutines is not None and goroutines.groups:
        console.print()
        console.print(_groups_table(goroutines, m, width, max_groups))
    for note in v.notes:
        console.print(Text("note: " + note, style="yellow"))
    # rich pads cells to the full width; trailing blanks only get in the way of diffs
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())
