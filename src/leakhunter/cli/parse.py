"""Parsers for human-friendly option values: durations ("15s", "10m"), sizes ("2GiB"), counts.

Every value is checked for range (finite, positive, at most a year or int64
bytes), so `--interval 99999999999999999999d` or `--limit 1e999GiB` is a usage
error, not an overflow deep in a timer or numpy. Durations and sizes are parsed
by leakhunter.units (serve's target files read them too); this module only turns
their ValueError into argparse's usage error, message unchanged.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from leakhunter.safe_numbers import NumberError, parse_int
from leakhunter.units import parse_duration, parse_size

__all__ = ["count", "duration", "fraction", "size"]


def duration(text: str) -> float:
    """Parse "15s", "10m", "1.5h", "500ms" or plain seconds into seconds (at most a year)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def size(text: str) -> int:
    """Parse "2GiB", "512MiB", "2G", "1e9" (bytes); K/M/G/T and KiB... are powers of 1024."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
