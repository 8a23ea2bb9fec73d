"""Human units both ways: formatting values and durations, parsing "15s" and "2GiB".

Formatting is shared by the analysis (evidence sentences) and every renderer;
parsing by the CLI's option types and serve's target files (``__interval__``),
so both sit outside any stage. Every parsed value is checked for range here
(finite, positive, at most a year or int64 bytes): ``99999999999999999999d`` or
``1e999GiB`` is refused, not an overflow deep in a timer or numpy.
"""

from __future__ import annotations

import math
import re

from leakhunter.safe_numbers import MAX_INT64, MAX_SECONDS

__all__ = ["format_duration", "format_value", "parse_duration", "parse_size"]

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
_DUR_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)

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


def parse_duration(text: str) -> float:
    """Parse "15s", "10m", "1.5h", "500ms" or plain seconds into seconds (at most a year).

    Raises:
        ValueError: not a duration, not positive, or longer than a year; the
            message is one line quoting (at most 40 characters of) the text.
    """
    m = _DUR.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 15s, 10m, 1h)")
    value = float(m.group(1)) * _DUR_UNITS[(m.group(2) or "s").lower()]
    if value <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    if not value <= MAX_SECONDS:  # also inf, from a number of 300+ digits
        raise ValueError(f"duration too long: {text[:40]!r} (at most 365d)")
    return value


def parse_size(text: str) -> int:
    """Parse "2GiB", "512MiB", "2G", "1e9" (bytes); K/M/G/T and KiB... are powers of 1024.

    Raises:
        ValueError: not a size, or more than int64 bytes; one line.
    """
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 2GiB, 512MiB)")
    number = float(m.group(1))
    unit = (m.group(2) or "b").lower()
    power = "bkmgt".index(unit[0])
    if unit.endswith("b") and len(unit) == 2 and not unit.endswith("ib"):
        factor = 1000**power  # kb, mb: decimal, as the SI names say
    else:
        factor = 1024**power
    value = number * factor
    if not math.isfinite(value) or value > MAX_INT64:
        raise ValueError(f"size too large: {text[:40]!r} (at most 8EiB)")
    return int(value)
