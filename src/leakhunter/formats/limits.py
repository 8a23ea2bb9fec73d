"""Size limits and bounded gzip decompression shared by every reader.

A gzip bomb (a few KB that inflate to GBs) must fail fast with a clear message
instead of exhausting memory, so decompression is streamed against a cap.
Inflating is done by ISA-L (the isal package: zlib's API, about twice zlib's
speed, a tenth of `leakhunter top`'s decode time) where its wheel exists, by
zlib elsewhere.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

from leakhunter.errors import FormatError, UsageError
from leakhunter.safe_numbers import MAX_INT64, NumberError, parse_int

_inflate: Any
try:
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - platforms without an isal wheel
    _inflate = zlib
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflate.error)

__all__ = ["DEFAULT_MAX_BYTES", "is_gzip", "max_bytes_from_env", "maybe_gunzip"]

#: Default cap on decompressed input (1 GiB); override with LEAKHUNTER_MAX_INPUT_BYTES.
DEFAULT_MAX_BYTES = 1 << 30


def max_bytes_from_env() -> int:
    """Return the configured input cap (bytes, at least 1).

    A value that is not a positive integer is an error, not a silent default:
    ``-1`` must never mean "no cap", and a typo must not hide the cap in force.

    Raises:
        UsageError: LEAKHUNTER_MAX_INPUT_BYTES is set to something else.
    """
    raw = os.environ.get("LEAKHUNTER_MAX_INPUT_BYTES", "")
    if not raw.strip():
        return DEFAULT_MAX_BYTES
    try:
        return parse_int(raw, "LEAKHUNTER_MAX_INPUT_BYTES", 1, MAX_INT64)
    except NumberError as exc:
        raise UsageError(f"{exc} (a positive number of bytes)") from None


def is_gzip(data: bytes) -> bool:
    """Return True when data starts with the gzip magic."""
    return data[:2] == b"\x1f\x8b"


def maybe_gunzip(data: bytes, source: str, max_bytes: int | None = None) -> bytes:
    """Return data, decompressed if gzipped, refusing to inflate past max_bytes.

    Concatenated gzip members are supported, as gzip(1) produces them.

    Memory and time stay bounded whatever the input. One inflate call that
    produces N bytes peaks near 1.5 N (its buffer grows geometrically), so no
    call may produce more than ``_OUT_CHUNK`` beyond what its input promises: a
    bomb is refused once it passes the cap, with the cap plus one chunk in
    memory (one cap-sized call peaked at 1.6 GB of RSS for a 9 MB bomb at the
    1 GiB default). The first member is inflated in one call sized by the
    gzip trailer's length (ISIZE) when that is at most ``_HINT_MAX``: one
    buffer, no join, as fast as inflating can be; a lying trailer only ends
    that call early. Later members are fed in pieces that start small and
    double, so the copy zlib makes of the input left at a member's end
    (``unused_data``) is at most twice that member's size (feeding the whole
    rest made many tiny members quadratic: 25 s for 6 MB).
    """
    cap = max_bytes_from_env() if max_bytes is None else max_bytes
    if not is_gzip(data):
        if len(data) > cap:
            raise FormatError(source, f"input is {len(data)} bytes, over the {cap}-byte limit")
        return data
    parts: list[bytes] = []
    size = off = 0
    view = memoryview(data)
    hint = int.from_bytes(data[-4:], "little") if len(data) >= 18 else 0
    while off < len(data):
        if off and not is_gzip(data[off : off + 2]):
            break  # trailing garbage after the last member, as gzip(1) tolerates
        first = hint if off == 0 and 0 < hint <= _HINT_MAX else 0
        off, size = _member(view, off, parts, (size, cap, first), source)
    return parts[0] if len(parts) == 1 else b"".join(parts)


_OUT_CHUNK = 64 << 20  # most output bytes of one inflate call past a hint
_HINT_MAX = 256 << 20  # largest trailer-sized first call
_IN_FIRST = 512  # first input piece of a member
_IN_MAX = 1 << 20  # largest input piece


def _member(
    view: memoryview, off: int, parts: list[bytes], limits: tuple[int, int, int], source: str
) -> tuple[int, int]:
    """Inflate the gzip member at off into parts; return (offset after it, output size).

    ``limits`` is (output so far, cap, expected size of this member or 0).
    """
    size, cap, expect = limits
    d: Any = _inflate.decompressobj(wbits=31)
    piece = len(view) - off if expect else _IN_FIRST
    end = len(view)
    while not d.eof:
        feed: Any = d.unconsumed_tail
        if not feed:
            if off >= end:
                feed = b""  # flush what zlib still holds; no progress then means cut
            else:
                feed = view[off : off + piece]
                off += len(feed)
                piece = min(piece * 2, _IN_MAX)
        want = expect + 1 if expect else _OUT_CHUNK
        expect = 0
        try:
            chunk = d.decompress(feed, min(want, cap + 1 - size))
        except _INFLATE_ERRORS as exc:
            raise FormatError(source, f"corrupt gzip data ({exc})") from None
        if chunk:
            size += len(chunk)
            parts.append(chunk)
        if size > cap:
            raise FormatError(
                source,
                f"decompresses to more than {cap} bytes (limit; set "
                "LEAKHUNTER_MAX_INPUT_BYTES to raise it)",
            )
        if not feed and not chunk and not d.eof:
            raise FormatError(source, "truncated gzip data")
    return off - len(d.unused_data), size
