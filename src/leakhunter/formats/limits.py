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

from leakhunter.errors import FormatError

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
    """Return the configured decompressed-size cap."""
    raw = os.environ.get("LEAKHUNTER_MAX_INPUT_BYTES", "")
    try:
        return int(raw) if raw else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


def is_gzip(data: bytes) -> bool:
    """Return True when data starts with the gzip magic."""
    return data[:2] == b"\x1f\x8b"


def maybe_gunzip(data: bytes, source: str, max_bytes: int | None = None) -> bytes:
    """Return data, decompressed if gzipped, refusing to inflate past max_bytes.

    Concatenated gzip members are supported, as gzip(1) produces them.
    """
    cap = max_bytes_from_env() if max_bytes is None else max_bytes
    if not is_gzip(data):
        if len(data) > cap:
            raise FormatError(source, f"input is {len(data)} bytes, over the {cap}-byte limit")
        return data
    # One decompress call per member, bounded by what is left of the cap: the
    # output is built once (no growing bytearray, no final copy: ~15 ms of a
    # 10 MB profile), and a bomb stops at cap + 1 bytes.
    parts: list[bytes] = []
    size = 0
    rest = data
    while rest:
        d: Any = _inflate.decompressobj(wbits=31)
        try:
            chunk = d.decompress(rest, cap + 1 - size)
        except _INFLATE_ERRORS as exc:
            raise FormatError(source, f"corrupt gzip data ({exc})") from None
        size += len(chunk)
        parts.append(chunk)
        if size > cap or d.unconsumed_tail:
            raise FormatError(
                source,
                f"decompresses to more than {cap} bytes (limit; set "
                "LEAKHUNTER_MAX_INPUT_BYTES to raise it)",
            )
        if not d.eof:
            raise FormatError(source, "truncated gzip data")
        rest = d.unused_data
        if rest and not is_gzip(rest):
            break  # trailing garbage after the last member, as gzip(1) tolerates
    return parts[0] if len(parts) == 1 else b"".join(parts)
