"""Human formatting of values by unit (bytes, counts, nanoseconds) and of durations.

Shared by the analysis (evidence sentences) and every renderer, so it sits
outside both.
"""

from __future__ import annotations

__all__ = ["format_duration", "format_value"]

_BYTES = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
_NANOS = [("s", 10**9), ("ms", 10**6), ("us", 10**3)]


def format_value(value: int | float, unit: str) -> str:
    """Format a value with a scaled unit, e.g. 1536 bytes -> "1.50KiB"."""
    if value == 0:
        return "0"
    scales = _BYTES if unit == "bytes" else _NANOS if unit == "nanoseconds" else []
    mag = abs(value)
    for name, factor in scales:
        if mag >= factor:
            return f"{value / factor:.2f}{name}"
    if unit == "bytes":
        return f"{int(value)}B"
    if unit == "nanoseconds":
        return f"{int(value)}ns"
    return (
        f"{value:,.0f}" if isinstance(value, int) or float(value).is_integer() else f"{value:.2f}"
    )


def format_duration(seconds: float) -> str:
    """Format a duration the way people say it: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
