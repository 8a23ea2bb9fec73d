"""Checks on a session folder read back: it is input like any other, and may be hostile.

A session can come from another machine or be edited by hand, so its JSON is
read under a size cap and without NaN or infinities, its figures are range
checked (see leakhunter.safe_numbers), and a snapshot record may only name
files inside its own folder: ``"files": {"heap": "../../etc/passwd"}`` is
refused, not read.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from leakhunter.errors import FormatError
from leakhunter.formats.bounded_read import read_capped
from leakhunter.safe_numbers import MAX_INT64, NumberError, checked_float, checked_int

__all__ = [
    "JSON_MAX_BYTES",
    "SUPPORTED_SCHEMA",
    "check_schema",
    "member_problem",
    "read_json",
    "record_numbers",
]

#: Manifests and records are a few KB; anything past this is not one.
JSON_MAX_BYTES = 16 << 20
SUPPORTED_SCHEMA = "leakhunter.session/1"
_MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path) -> object:
    """Parse a session JSON file; FormatError when unreadable, too big, or not strict JSON."""
    data = read_capped(str(path), JSON_MAX_BYTES)
    try:
        # NaN, Infinity and -Infinity are Python extensions to JSON: refused.
        return json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise FormatError(str(path), f"not valid JSON ({str(exc)[:80]})") from None


def check_schema(schema: str, source: str) -> None:
    """Refuse a session written in a schema version this leakhunter does not read."""
    if schema != SUPPORTED_SCHEMA:
        raise FormatError(
            source,
            f"session schema {schema[:60]!r} is not supported (this leakhunter reads "
            f"{SUPPORTED_SCHEMA}; a newer leakhunter wrote it?)",
        )


def member_problem(root: Path, name: str) -> str | None:
    """Say why a record's file name is not a file of this session folder, or None if it is.

    Only plain names are allowed (no separators, no "..", not absolute), and the
    file must not be a symlink leading out of the folder.
    """
    if not _MEMBER.match(name) or ".." in name:
        return f"{name[:60]!r} is not a file name inside the session"
    path = root / name
    try:
        if path.is_symlink():
            target = Path(os.path.realpath(path))
            if target.parent != Path(os.path.realpath(root)):
                return f"{name} links outside the session"
        if not path.is_file():
            return f"missing {name}"
    except OSError as exc:
        return f"{name}: {exc.strerror or exc}"
    return None


def record_numbers(obj: dict[str, object], source: str) -> None:
    """Range-check the figures of a snapshot record before they reach any arithmetic.

    Raises:
        FormatError: a figure is not finite or beyond int64.
    """
    try:
        checked_int(obj.get("seq"), "seq", 0, 999_999)
        checked_float(obj.get("time"), "time", 0.0, 1e11)
        checked_float(obj.get("elapsed"), "elapsed", -1e11, 1e11)
        checked_int(obj.get("epoch", 0), "epoch")
        for key in ("goroutines",):
            if obj.get(key) is not None:
                checked_int(obj.get(key), key)
        limits = obj.get("limits")
        if isinstance(limits, dict) and limits.get("gomemlimit") is not None:
            checked_int(limits.get("gomemlimit"), "gomemlimit", 0, MAX_INT64)
        stats = obj.get("memstats")
        if isinstance(stats, dict):
            for name, value in stats.items():
                checked_int(value, f"memstats {str(name)[:40]}")
        proc = obj.get("process")
        if isinstance(proc, dict):
            for name, value in proc.items():
                if name != "source":
                    checked_int(value, f"process {str(name)[:40]}", 0, MAX_INT64)
    except NumberError as exc:
        raise FormatError(source, str(exc)) from None
