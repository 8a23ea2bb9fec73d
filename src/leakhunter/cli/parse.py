"""Parsers for human-friendly option values: durations ("15s", "10m") and sizes ("2GiB")."""

from __future__ import annotations

import argparse
import re

__all__ = ["duration", "size"]

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
_DUR_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def duration(text: str) -> float:
    """Parse "15s", "10m", "1.5h", "500ms" or plain seconds into seconds."""
    m = _DUR.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 15s, 10m, 1h)")
    value = float(m.group(1)) * _DUR_UNITS[(m.group(2) or "s").lower()]
    if value <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive: {text!r}")
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
    return int(number * factor)
