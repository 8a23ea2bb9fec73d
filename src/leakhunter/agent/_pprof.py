"""A small pprof protobuf writer for the agent: no numpy, no protobuf runtime.

The agent lives inside the application it watches, so what it imports the
application pays for: ``leakhunter.formats.pprof`` brings numpy and protobuf
(~10,000 objects every full collection of the application then walks, ~20 MB
resident, a quarter of a second at start). The agent only ever writes small
profiles of one shape (samples of location ids and values, one line per
location, functions with a name and a file), so it writes the wire format
itself. ``leakhunter.formats.pprof.decode`` reads what this writes; the tests
check that the two agree.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

__all__ = ["ProfileWriter"]


def _varint(n: int, out: bytearray) -> None:
    if n < 0:
        n += 1 << 64  # int64 on the wire: two's complement in ten bytes
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _field(tag: int, payload: bytes | bytearray, out: bytearray) -> None:
    """Append a length-delimited field (wire type 2)."""
    _varint(tag << 3 | 2, out)
    _varint(len(payload), out)
    out += payload


def _ints(tag: int, values: Iterable[int], out: bytearray) -> None:
    """Append a field of varint scalars (wire type 0), omitted when zero (proto3 default)."""
    for v in values:
        if v:
            _varint(tag << 3, out)
            _varint(v, out)


def _packed(tag: int, values: Sequence[int], out: bytearray) -> None:
    if values:
        body = bytearray()
        for v in values:
            _varint(v, body)
        _field(tag, body, out)


class ProfileWriter:
    """Builds one profile: functions and locations interned by (function, file[, line])."""

    def __init__(self) -> None:
        self._strings: dict[str, int] = {"": 0}
        self._functions: dict[tuple[str, str], int] = {}
        self._locations: dict[tuple[str, str, int], int] = {}
        self._function_rows: list[tuple[int, int, int]] = []  # (id, name, file) string ids
        self._location_rows: list[tuple[int, int, int]] = []  # (id, function id, line)
        self._samples = bytearray()

    def string(self, text: str) -> int:
        """Return the string table index of ``text``."""
        index = self._strings.get(text)
        if index is None:
            index = self._strings[text] = len(self._strings)
        return index

    def location(self, function: str, file: str, line: int) -> int:
        """Return the id of the location (function, file, line), adding it on first use."""
        key = (function, file, line)
        loc = self._locations.get(key)
        if loc is None:
            fkey = (function, file)
            fn = self._functions.get(fkey)
            if fn is None:
                fn = self._functions[fkey] = len(self._functions) + 1
                self._function_rows.append((fn, self.string(function), self.string(file)))
            loc = self._locations[key] = len(self._locations) + 1
            self._location_rows.append((loc, fn, line))
        return loc

    def sample(self, locations: Sequence[int], values: Sequence[int]) -> None:
        """Add a sample: its stack (location ids, leaf first) and one value per sample type."""
        body = bytearray()
        _packed(1, locations, body)
        _packed(2, values, body)
        _field(2, body, self._samples)

    def encode(
        self,
        sample_types: Sequence[tuple[str, str]],
        period_type: tuple[str, str],
        period: int,
        time_nanos: int,
        duration_nanos: int = 0,
    ) -> bytes:
        """Return the gzipped profile (sample types and period type as (type, unit) pairs)."""
        out = bytearray()
        for kind, unit in sample_types:
            vt = bytearray()
            _ints(1, (self.string(kind),), vt)
            _ints(2, (self.string(unit),), vt)
            _field(1, vt, out)
        out += self._samples
        for loc, fn, line in self._location_rows:
            body, ln = bytearray(), bytearray()
            _ints(1, (loc,), body)
            _ints(1, (fn,), ln)
            _ints(2, (line,), ln)
            _field(4, ln, body)
            _field(4, body, out)
        for fn, name, file in self._function_rows:
            body = bytearray()
            _ints(1, (fn,), body)
            _ints(2, (name,), body)
            _ints(3, (name,), body)
            _ints(4, (file,), body)
            _field(5, body, out)
        pt = bytearray()
        _ints(1, (self.string(period_type[0]),), pt)
        _ints(2, (self.string(period_type[1]),), pt)
        for text in self._strings:  # dicts keep insertion order: index order
            _field(6, text.encode("utf-8", "surrogateescape"), out)
        _ints(9, (time_nanos,), out)
        _ints(10, (duration_nanos,), out)
        _field(11, pt, out)
        _ints(12, (period,), out)
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip member
        return packer.compress(bytes(out)) + packer.flush()
