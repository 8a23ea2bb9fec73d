"""Display forms of function names, file paths, durations and rates shared by renderers.

Go instantiates generic functions with shape types spelled out in full
(``F[go.shape.struct { ...300 characters... }]``); people need the function,
not the shape, so bracketed type arguments are collapsed to ``[…]``.
"""

from __future__ import annotations

from leakhunter.analyze.guard_figures import GuardFigures
from leakhunter.analyze.verdict import Finding
from leakhunter.model.goroutine import Frame
from leakhunter.units import format_duration as duration
from leakhunter.units import format_value

__all__ = [
    "duration",
    "ellipsize",
    "finding_rate",
    "guard_line",
    "location",
    "short_file",
    "short_function",
]

_GENERIC_KEEP = 24  # type arguments up to this long are kept: F[int], M[string,bool]


def short_function(name: str) -> str:
    """Collapse long generic type arguments: ``pkg.F[go.shape.struct {…}]`` -> ``pkg.F[…]``."""
    if "[" not in name:
        return name
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(name):
        if ch == "[":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
            if depth == 0:
                inner = name[start + 1 : i]
                out.append("[" + (inner if len(inner) <= _GENERIC_KEEP else "…") + "]")
        elif depth == 0:
            out.append(ch)
    if depth:  # unbalanced: leave it as it was
        return name
    return "".join(out)


def short_file(path: str) -> str:
    """Return the last two path elements (``pkg/file.go``), enough to find a file."""
    parts = path.rsplit("/", 2)
    return "/".join(parts[-2:]) if len(parts) > 1 else path


def location(frame: Frame, *, full: bool = False) -> str:
    """Return ``file:line`` of a frame (short file unless full), or "" without a file."""
    if not frame.file:
        return ""
    file = frame.file if full else short_file(frame.file)
    return f"{file}:{frame.line}" if frame.line else file


def ellipsize(text: str, width: int) -> str:
    """Cut text to width characters, keeping the end (where Go puts the method name)."""
    if width <= 1 or len(text) <= width:
        return text if width > 1 else text[:width]
    return "…" + text[-(width - 1) :]


def finding_rate(f: Finding) -> str:
    """Return a finding's growth rate with its unit: ``3.22GiB/h``, ``+1,200 goroutines/h``."""
    g = f.growth
    if g.unit == "bytes":
        return f"{format_value(g.per_hour, 'bytes')}/h"
    return f"{g.per_hour:+,.0f} {g.unit}/h"


def guard_line(g: GuardFigures) -> str:
    """Return one line about a leakhunter.guard buffer or pool (an overview row's text)."""
    parts: list[str] = []
    if g.kind == "buffer":
        if g.policy:
            parts.append(g.policy)
        if g.level is not None and g.capacity is not None:
            parts.append(f"{g.level:.0%} full ({g.items:,}/{g.capacity:,})")
        for rate, what in ((g.dropped_per_second, "dropped"), (g.rejected_per_second, "refused")):
            if rate:
                parts.append(f"{what} {rate:,.3g}/s")
        if g.full_ratio is not None:
            parts.append(f"full on {g.full_ratio:.0%} of puts")
    else:
        if g.hit_ratio is not None:
            parts.append(f"hit ratio {g.hit_ratio:.0%}")
        if g.in_use is not None:
            parts.append(f"{g.in_use:,} in use")
        if g.oversized_per_second:
            parts.append(f"{g.oversized_per_second:,.3g} oversized/s dropped")
    return ", ".join(parts) or "no figures yet"
