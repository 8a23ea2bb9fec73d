"""What analysis reads of a profile, without building every object of it.

The analyser folds thousands of profiles of one process. It needs each one's
samples (stacks, values), its location ids and addresses (the stable keys of
stacks across snapshots) and the frames of the few stacks it has never seen.
A full ``decode`` also builds a Function, a Location and its Lines for every
entry of the tables and decodes every string: three quarters of its time on a
typical Go heap profile, for objects the fold then throws away.

``decode_view`` shares ``decode``'s parsing and checks (the same input is
refused with the same message: sizes, gzip, wire format, samples, dangling
location and function references, zero or repeated ids) and keeps the tables
as upb parsed them; frames and strings are built on demand and cached, so a
bad string reference shows when its frame is first read (``FormatError``,
which the fold records like a bad profile). Sample labels and mappings are
neither decoded nor checked: analysis never reads them. ``FullView`` puts
an already decoded :class:`Profile` (a profile folder's converted text dump)
behind the same protocol.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from leakhunter.errors import FormatError
from leakhunter.formats.pprof import Scan, missing_id, parse_message
from leakhunter.formats.varint import VarintError
from leakhunter.model.goroutine import Frame
from leakhunter.model.profile import Profile, Stacks, ValueType, adopt_i64, adopt_ids

__all__ = ["FullView", "LazyProfile", "ProfileView", "decode_view", "frames_of"]

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


class ProfileView(Protocol):
    """A profile as the analyser reads it."""

    sample_types: tuple[ValueType, ...]
    period_type: ValueType | None
    period: int
    stacks: Stacks
    sample_stack: I64

    def column(self, index: int) -> I64:
        """Return one sample type's values for every sample."""
        ...

    def location_ids(self) -> U64:
        """Return the location ids, in table order."""
        ...

    def location_addresses(self) -> U64:
        """Return the location addresses, in table order (0 where unknown)."""
        ...

    def location_frames(self, index: int) -> tuple[Frame, ...]:
        """Return the frames of the location at this table index, innermost first."""
        ...


def frames_of(view: ProfileView) -> list[tuple[Frame, ...]]:
    """Return every location's frames, in table order."""
    return [view.location_frames(i) for i in range(len(view.location_ids()))]


def _placeholder(address: int) -> tuple[Frame, ...]:
    return (Frame(f"0x{address:x}" if address else "<unknown>"),)


class FullView:
    """A decoded :class:`Profile` behind the :class:`ProfileView` protocol."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.sample_types = profile.sample_types
        self.period_type = profile.period_type
        self.period = profile.period
        self.stacks = profile.stacks
        self.sample_stack = profile.sample_stack
        locs = profile.locations
        self._ids = np.fromiter((loc.id for loc in locs), np.uint64, len(locs))
        self._addrs = np.fromiter((loc.address for loc in locs), np.uint64, len(locs))
        self._funcs = {f.id: f for f in profile.functions}

    def column(self, index: int) -> I64:
        """Return one sample type's values for every sample."""
        return self.profile.column(index)

    def location_ids(self) -> U64:
        """Return the location ids, in table order."""
        return self._ids

    def location_addresses(self) -> U64:
        """Return the location addresses, in table order."""
        return self._addrs

    def location_frames(self, index: int) -> tuple[Frame, ...]:
        """Return one location's frames, innermost first (its address when it has no lines)."""
        loc = self.profile.locations[index]
        frames = tuple(
            Frame(f.name, f.filename, ln.line)
            for ln in loc.lines
            if (f := self._funcs.get(ln.function_id)) is not None
        )
        return frames or _placeholder(loc.address)


class LazyProfile:
    """A parsed profile whose tables are read only where asked (see the module docstring)."""

    def __init__(self, msg: Any, scan: Scan, source: str) -> None:
        self._msg = msg
        self.source = source
        self._table = msg.string_table
        if len(self._table) and self._table[0] != b"":
            raise self._fail("string table does not start with the empty string")
        self._strings: dict[int, str] = {}
        self.sample_types = tuple(self._vt(v) for v in msg.sample_type)
        self.period_type = self._vt(msg.period_type) if msg.HasField("period_type") else None
        self.period: int = msg.period
        locs = msg.location
        self._ids = np.fromiter((loc.id for loc in locs), np.uint64, len(locs))
        self._addrs = np.fromiter((loc.address for loc in locs), np.uint64, len(locs))
        funcs = msg.function
        self._fids = np.fromiter((f.id for f in funcs), np.uint64, len(funcs))
        self._check_tables(locs)
        try:
            offsets, ids, stack_of = scan.stacks()
            values = scan.values(len(self.sample_types))
        except VarintError as exc:
            raise self._fail(f"corrupt sample ({exc})") from None
        missing = missing_id(ids, self._ids)
        if missing is not None:
            raise self._fail(f"a sample refers to missing location {missing}")
        self.stacks = Stacks(offsets=adopt_i64(offsets), location_ids=adopt_ids(ids))
        self.sample_stack = adopt_i64(stack_of)
        self._values = adopt_i64(values)
        self._func_index: dict[int, int] | None = None
        self._frames: dict[int, tuple[Frame, ...]] = {}

    def _fail(self, problem: str) -> FormatError:
        return FormatError(self.source, problem)

    def _s(self, index: int, what: str) -> str:
        got = self._strings.get(index)
        if got is None:
            if not 0 <= index < max(1, len(self._table)):
                raise self._fail(
                    f"{what} refers to string {index}, the table has {len(self._table)}"
                )
            raw = self._table[index] if self._table else b""
            got = self._strings[index] = raw.decode("utf-8", "surrogateescape")
        return got

    def _vt(self, m: Any) -> ValueType:
        return ValueType(self._s(m.type, "value type"), self._s(m.unit, "value type"))

    def _check_tables(self, locs: Any) -> None:
        """Reject zero or repeated ids and lines naming a function the table lacks."""
        for what, ids in (("function", self._fids), ("location", self._ids)):
            if ids.size and not ids.all():
                raise self._fail(f"a {what} has the reserved id 0")
            uniq, counts = np.unique(ids, return_counts=True)
            if uniq.size != ids.size:
                raise self._fail(f"several {what}s have id {int(uniq[counts > 1][0])}")
        line_fids = np.fromiter((ln.function_id for loc in locs for ln in loc.line), np.uint64)
        if line_fids.size and not np.isin(line_fids, self._fids).all():
            bad = int(line_fids[~np.isin(line_fids, self._fids)][0])
            raise self._fail(f"a location refers to missing function {bad}")

    def column(self, index: int) -> I64:
        """Return one sample type's values for every sample."""
        if self._values.size == 0:
            return np.zeros(len(self.sample_stack), dtype=np.int64)
        col: I64 = self._values[:, index]
        return col

    def location_ids(self) -> U64:
        """Return the location ids, in table order."""
        return self._ids

    def location_addresses(self) -> U64:
        """Return the location addresses, in table order."""
        return self._addrs

    def location_frames(self, index: int) -> tuple[Frame, ...]:
        """Return one location's frames, innermost first (built once, then cached)."""
        got = self._frames.get(index)
        if got is not None:
            return got
        if self._func_index is None:
            self._func_index = {int(fid): i for i, fid in enumerate(self._fids.tolist())}
        loc = self._msg.location[index]
        frames = []
        for ln in loc.line:
            f = self._msg.function[self._func_index[ln.function_id]]
            name = self._s(f.name, "function")
            frames.append(Frame(name, self._s(f.filename, "function"), ln.line))
        got = self._frames[index] = tuple(frames) or _placeholder(loc.address)
        return got


def decode_view(
    data: bytes, *, source: str = "<bytes>", max_bytes: int | None = None
) -> LazyProfile:
    """Parse a pprof profile (gzip or raw) for analysis; FormatError on bad input."""
    msg, scan = parse_message(data, source, max_bytes)
    return LazyProfile(msg, scan, source)
