"""Checked numbers from untrusted text: targets, session files, flags, the environment.

Python's int and float never overflow, so a figure far beyond int64 (or a NaN,
or an infinity) parses fine and only fails later, deep in numpy or in a
``time.sleep``, as a traceback. Every number that comes from outside goes
through one of these checks first, so such a figure is refused where it is read,
with a message naming what it was.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_INT64",
    "MAX_SECONDS",
    "NumberError",
    "checked_float",
    "checked_int",
    "parse_int",
]

#: The largest figure any stage may hold: numpy columns and pprof values are int64.
MAX_INT64 = (1 << 63) - 1
#: The longest duration accepted anywhere (a year): timers overflow long before 2**63.
MAX_SECONDS = 365 * 86400.0
# int() of a string this long is refused by CPython anyway (4300 digits); an
# int64 needs 19, so anything longer is out of range whatever it says.
_MAX_DIGITS = 40


class NumberError(ValueError):
    """A number that is malformed, not finite, or out of its allowed range."""


def checked_int(value: object, what: str, lo: int = 0, hi: int = MAX_INT64) -> int:
    """Return value as an int in [lo, hi]; NumberError for bools, floats, strings, others."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NumberError(f"{what} must be an integer, not {_show(value)}")
    if not lo <= value <= hi:
        raise NumberError(f"{what} is out of range ({_show(value)}; allowed {lo}..{hi})")
    return value


def parse_int(text: str, what: str, lo: int = 0, hi: int = MAX_INT64) -> int:
    """Parse decimal text (optional sign) into an int in [lo, hi]."""
    raw = text.strip()
    if len(raw) > _MAX_DIGITS:
        raise NumberError(f"{what} is out of range ({raw[:20]}...; allowed {lo}..{hi})")
    try:
        value = int(raw)
    except ValueError:
        raise NumberError(f"{what} is not an integer: {raw[:40]!r}") from None
    return checked_int(value, what, lo, hi)


def checked_float(value: object, what: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """Return value as a finite float in [lo, hi]; ints are accepted, bools are not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NumberError(f"{what} must be a number, not {_show(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        raise NumberError(f"{what} is out of range ({_show(value)})") from None
    if not math.isfinite(number):
        raise NumberError(f"{what} must be a finite number, not {number}")
    if not lo <= number <= hi:
        raise NumberError(f"{what} is out of range ({number:g}; allowed {lo:g}..{hi:g})")
    return number


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
