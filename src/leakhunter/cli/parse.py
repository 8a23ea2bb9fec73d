"""Parsers for human-friendly option values: durations ("15s", "10m"), sizes ("2GiB"), counts.

Every value is checked for range here (finite, positive, at most a year or
int64 bytes), so `--interval 99999999999999999999d` or `--limit 1e999GiB` is a
usage error, not an overflow deep in a timer or numpy.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from leakhunter.safe_numbers import MAX_INT64, MAX_SECONDS, NumberError, parse_int

__all__ = ["count", "duration", "fraction", "size"]

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
_DUR_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def duration(text: str) -> float:
    """Parse "15s", "10m", "1.5h", "500ms" or plain seconds into seconds (at most a year)."""
    m = _DUR.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 15s, 10m, 1h)")
    value = float(m.group(1)) * _DUR_UNITS[(m.group(2) or "s").lower()]
    if value <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive: {text!r}")
    if not value <= MAX_SECONDS:  # also inf, from a number of 300+ digits
        raise argparse.ArgumentTypeError(f"duration too long: {text[:40]!r} (at most 365d)")
    return value


def size(text: str) -> int:
    """Parse "2GiB", "512MiB", "2G", "1e9" (bytes); K/M/G/T and KiB... are powers of 1024."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 2GiB, 512MiB)")
    number = float(m.group(1))
    unit = (m.group(2) or "b").lower()
    power = "bkmgt".index(unit[0])
    if unit.endswith("b") and len(unit) == 2 and not unit.endswith("ib"):
        factor = 1000**power  # kb, mb: decimal, as the SI names say
    else:
        factor = 1024**power
    value = number * factor
    if not math.isfinite(value) or value > MAX_INT64:
        raise argparse.ArgumentTypeError(f"size too large: {text[:40]!r} (at most 8EiB)")
    return int(value)


def fraction(text: str) -> float:
    """Parse a fraction in [0, 1] ("0.005"); NaN and infinities are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not 0.0 <= value <= 1.0:  # False for NaN too
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, not {text[:40]!r}")
    return value


def count(lo: int, hi: int) -> Callable[[str], int]:
    """Return a parser of whole numbers in [lo, hi] (e.g. --retries 0..100)."""

    def parse(text: str) -> int:
        try:
            return parse_int(text, "value", lo, hi)
        except NumberError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value ")) from None

    parse.__name__ = "count"  # argparse names the type in its messages
    return parse
