"""Render a ranked goroutine dump as plain text or as leakhunter.goroutines/1 JSON.

The JSON carries the documented fields first (schema, total, groups with count,
state, state_class, wait_minutes, leaked, stack, created_by) and adds format,
truncated, message and per-group labels, state_inferred, creator_goroutine and
suspicious alongside, which the schema allows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from leakhunter.analyze.goroutine_suspects import RankedGroup
from leakhunter.model.goroutine import Frame, GoroutineDump, GoroutineGroup
from leakhunter.report.safe_text import for_terminal

__all__ = ["GOROUTINES_SCHEMA", "dump_to_dict", "render_goroutines_json", "render_goroutines_text"]

GOROUTINES_SCHEMA = "leakhunter.goroutines/1"

_FRAMES_SHOWN = 6


def _frame(f: Frame | None) -> dict[str, object] | None:
    if f is None:
        return None
    return {"function": f.function, "file": f.file, "line": f.line}


def _group(r: RankedGroup) -> dict[str, object]:
    g = r.group
    wait = None
    if g.wait_minutes_max is not None:
        low = g.wait_minutes_min if g.wait_minutes_min is not None else g.wait_minutes_max
        wait = {"min": low, "max": g.wait_minutes_max}
    return {
        "count": g.count,
        "state": g.state,
        "state_class": g.state_class.value,
        "wait_minutes": wait,
        "leaked": g.leaked,
        "stack": [_frame(f) for f in g.frames],
        "created_by": _frame(g.created_by),
        "labels": dict(g.labels),
        "state_inferred": g.state_inferred,
        "creator_goroutine": g.creator_id,
        "suspicious": list(r.reasons),
    }


def dump_to_dict(
    dump: GoroutineDump, ranked: Sequence[RankedGroup], limit: int | None = None
) -> dict[str, object]:
    """Return the JSON document as a dict; ``limit`` keeps the biggest groups only."""
    shown = ranked if limit is None else ranked[:limit]
    return {
        "schema": GOROUTINES_SCHEMA,
        "total": dump.total,
        "groups": [_group(r) for r in shown],
        "format": dump.format,
        "truncated": dump.truncated,
        "group_count": len(ranked),
        "message": dump.message,
    }


def render_goroutines_json(
    dump: GoroutineDump, ranked: Sequence[RankedGroup], limit: int | None = None
) -> str:
    """Return the leakhunter.goroutines/1 JSON document on one line."""
    return json.dumps(dump_to_dict(dump, ranked, limit), separators=(",", ":"))


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _short(path: str) -> str:
    """Keep the last two path elements: enough to find the file, short enough to read."""
    parts = path.replace("\\", "/").rsplit("/", 2)
    return "/".join(parts[-2:]) if len(parts) > 2 else path


def _where(f: Frame) -> str:
    return f"{_short(f.file)}:{f.line}" if f.file else "?"


def _wait(g: GoroutineGroup) -> str:
    if g.wait_minutes_max is None:
        return ""
    low = g.wait_minutes_min if g.wait_minutes_min is not None else g.wait_minutes_max
    span = f"{g.wait_minutes_max}" if low == g.wait_minutes_max else f"{low}-{g.wait_minutes_max}"
    return f"  waiting {span} min"


def _state(g: GoroutineGroup) -> str:
    if not g.state:
        return "(state unknown)"
    notes = [g.state_class.value] if g.state_class.value != g.state else []
    if g.state_inferred:
        notes.append("inferred")
    return f"{g.state} [{', '.join(notes)}]" if notes else g.state


def _block(index: int, r: RankedGroup) -> list[str]:
    g = r.group
    flag = "  SUSPICIOUS" if r.suspicious else ""
    leaked = f"  leaked {g.leaked:,}" if g.leaked else ""
    lines = [f"#{index:<3} {g.count:>9,}  {_state(g)}{_wait(g)}{leaked}{flag}"]
    lines.extend(f"      ! {reason}" for reason in r.reasons)
    if g.labels:
        lines.append("      labels: " + ", ".join(f"{k}={v}" for k, v in g.labels))
    width = max((len(f.function) for f in g.frames[:_FRAMES_SHOWN]), default=0)
    width = min(width, 70)
    lines.extend(f"      {f.function:<{width}}  {_where(f)}" for f in g.frames[:_FRAMES_SHOWN])
    if len(g.frames) > _FRAMES_SHOWN:
        lines.append(f"      ... {len(g.frames) - _FRAMES_SHOWN} more frames")
    if not g.frames:
        lines.append("      (no stack)")
    if g.created_by is not None:
        by = f" in goroutine {g.creator_id}" if g.creator_id is not None else ""
        lines.append(f"      created by {g.created_by.function}{by}  {_where(g.created_by)}")
    return lines


def render_goroutines_text(
    dump: GoroutineDump, ranked: Sequence[RankedGroup], limit: int | None = 10, source: str = ""
) -> str:
    """Return the human report: totals, then groups biggest first with their top frames."""
    suspects = [r for r in ranked if r.suspicious]
    where = f" from {source}" if source else ""
    out = [
        f"{_n(dump.total, 'goroutine')} in {_n(len(ranked), 'group')} ({dump.format} dump{where})",
    ]
    if dump.message:
        out.append("message: " + dump.message.splitlines()[0])
    if dump.truncated:
        out.append("warning: the dump is truncated; counts cover its complete part only")
    if suspects:
        n = sum(r.group.count for r in suspects)
        out.append(f"suspicious: {_n(len(suspects), 'group')} holding {_n(n, 'goroutine')}")
    else:
        out.append("suspicious: none")
    shown = ranked if limit is None else ranked[:limit]
    for i, r in enumerate(shown, 1):
        out.append("")
        out.extend(_block(i, r))
    hidden = len(ranked) - len(shown)
    if hidden > 0:
        more = sum(r.group.count for r in ranked[len(shown) :])
        flagged = sum(1 for r in ranked[len(shown) :] if r.suspicious)
        extra = f", {flagged} of them suspicious" if flagged else ""
        out.append("")
        out.append(
            f"... {_n(hidden, 'more group')} ({_n(more, 'goroutine')}{extra}); -n shows more"
        )
    # Control characters (from label values, say) must not reach a terminal raw.
    return "\n".join(for_terminal(line) for line in out) + "\n"
