"""The pprof profile model: every field of profile.proto, samples stored columnar.

Samples are kept as numpy columns (stack index, values matrix) over an intern
table of unique stacks, because every hot operation (top, diff, per-site series)
is an aggregation over samples and vectorises well in that shape. The arrays are
made read-only so a Profile is as immutable as its frozen fields promise.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from leakhunter.model.grouping import (
    first_occurrence,
    first_of_run,
    groups,
    hash_rows,
    window_words,
)

__all__ = [
    "Function",
    "Label",
    "Line",
    "Location",
    "Mapping",
    "Profile",
    "Sample",
    "Stacks",
    "ValueType",
    "gather_segments",
    "intern_segments",
    "Ids",
    "adopt_ids",
    "all_known",
    "as_index",
    "distinct_labels",
    "intern_stacks",
    "make_profile",
]

I64 = npt.NDArray[np.int64]
#: Location ids: unsigned, in the narrowest dtype the decoder found them to fit
#: (uint8 for a profile of under 128 locations): a 6M-frame profile's ids take
#: 6 MB instead of 48, and a one-shot `top` no longer pays to fault in the rest.
Ids = npt.NDArray[np.unsignedinteger[Any]]
_T = TypeVar("_T", bound=np.generic)
#: Elements per block when ids are looked up in pieces (see lookup).
_BLOCK = 1 << 20


def frozen_i64(a: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Return a read-only private int64 copy of ``a`` (for building profiles)."""
    arr = np.array(a, dtype=np.int64)
    arr.flags.writeable = False
    return arr


def frozen_u64(a: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """Return a read-only private uint64 copy of ``a``."""
    arr = np.array(a, dtype=np.uint64)
    arr.flags.writeable = False
    return arr


def adopt_i64(arr: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Make a freshly built int64 array read-only in place, without copying.

    Only for arrays nobody else holds (decoders, ops): it saves a copy of
    arrays with millions of entries.
    """
    out = np.asarray(arr, dtype=np.int64)
    out.flags.writeable = False
    return out


def adopt_ids(arr: Ids) -> Ids:
    """Make freshly built location ids (any unsigned dtype) read-only in place."""
    if arr.dtype.kind != "u":
        raise TypeError(f"location ids must be unsigned integers, not {arr.dtype}")
    arr.flags.writeable = False
    return arr


def as_index(ids: Ids) -> npt.NDArray[np.integer[Any]]:
    """Ids as an array numpy indexes with: uint64 seen as int64 (no copy), narrower as is."""
    return ids.view(np.int64) if ids.dtype.itemsize == 8 else ids


def all_known(table: npt.NDArray[np.bool_], ids: Ids) -> int | None:
    """Return an id whose table entry is False (ids must all be < len(table)), or None.

    Looked up a block at a time: indexing with a narrow dtype makes numpy
    convert the whole index to intp first, as large as uint64 ids would be.
    """
    if ids.size == 0 or table.all():
        return None
    if table[1:].all():  # dense ids 1..N, as Go writes them: only 0 can be missing
        low = int(ids.min())
        return low if low == 0 else None
    index = as_index(ids)
    for lo in range(0, index.size, _BLOCK):
        ok = table[index[lo : lo + _BLOCK]]
        if not ok.all():
            return int(index[lo + int(np.argmin(ok))])
    return None


@dataclass(frozen=True, slots=True)
class ValueType:
    """A sample value's meaning, e.g. ("inuse_space", "bytes")."""

    type: str
    unit: str


@dataclass(frozen=True, slots=True)
class Label:
    """A sample label: a string value, or a number with an optional unit."""

    key: builtins.str
    str: builtins.str = ""
    num: int = 0
    num_unit: builtins.str = ""


@dataclass(frozen=True, slots=True)
class Mapping:
    """A binary mapped into the profiled process."""

    id: int
    memory_start: int = 0
    memory_limit: int = 0
    file_offset: int = 0
    filename: str = ""
    build_id: str = ""
    has_functions: bool = False
    has_filenames: bool = False
    has_line_numbers: bool = False
    has_inline_frames: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    """A source function."""

    id: int
    name: str
    system_name: str = ""
    filename: str = ""
    start_line: int = 0


@dataclass(frozen=True, slots=True)
class Line:
    """One source line of a location; several mean inlining (innermost first)."""

    function_id: int
    line: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class Location:
    """A program counter with its source lines."""

    id: int
    mapping_id: int = 0
    address: int = 0
    lines: tuple[Line, ...] = ()
    is_folded: bool = False


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample in row form (the slow, convenient view; see Profile.samples)."""

    location_ids: tuple[int, ...]
    values: tuple[int, ...]
    labels: tuple[Label, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Stacks:
    """Intern table of unique stacks (location ids, leaf first) in CSR form.

    Invariant: ``offsets`` has one more entry than there are stacks, starts at 0
    and is non-decreasing; stack i is ``location_ids[offsets[i]:offsets[i+1]]``.
    """

    offsets: npt.NDArray[np.int64]
    location_ids: Ids

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, i: int) -> tuple[int, ...]:
        """Return stack i as a tuple of location ids, leaf first."""
        return tuple(self.location_ids[self.offsets[i] : self.offsets[i + 1]].tolist())

    def lengths(self) -> I64:
        """Return the depth of every stack."""
        return np.diff(self.offsets)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stacks):
            return NotImplemented
        return bool(
            np.array_equal(self.offsets, other.offsets)
            and np.array_equal(self.location_ids, other.location_ids)
        )

    __hash__ = None  # type: ignore[assignment]

    @staticmethod
    def build(stacks: Sequence[Sequence[int]]) -> Stacks:
        """Build a table from stacks that are already unique."""
        lengths = np.fromiter((len(s) for s in stacks), dtype=np.int64, count=len(stacks))
        offsets = np.zeros(len(stacks) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter(
            (loc for s in stacks for loc in s), dtype=np.uint64, count=int(offsets[-1])
        )
        return Stacks(
            offsets=frozen_i64(offsets),
            location_ids=frozen_u64(flat),
        )


EMPTY_STACKS = Stacks.build([])


def intern_segments(data: bytes, offs: I64) -> tuple[I64, I64]:
    """Find identical byte segments of data (segment i is data[offs[i]:offs[i+1]]).

    Returns:
        The first segment of each distinct value, in first-seen order, and each
        segment's index into that list.
    """
    n = len(offs) - 1
    lens = np.diff(offs)
    width = -(-int(lens.max()) // 8) * 8 if n else 0
    if n == 0 or width == 0:
        return np.zeros(min(n, 1), dtype=np.int64), np.zeros(n, dtype=np.int64)
    if n * width > 4 * len(data) + (1 << 22):  # a few very long segments: padding too costly
        return _intern_dict(data, offs)
    # Every segment as width/8 zero-padded 64-bit words: rows compare exactly.
    words = window_words(np.frombuffer(data, dtype=np.uint8), offs[:-1], lens, width // 8)
    back = first_occurrence(hash_rows(words, lens))
    again = np.flatnonzero(back != np.arange(n))  # rows said to repeat an earlier one
    rb = back[again]
    if not ((lens[rb] == lens[again]).all() and (words[rb] == words[again]).all()):
        return _intern_dict(data, offs)  # a hash collision: settle it exactly
    return groups(back)


def _intern_dict(data: bytes, offs: I64) -> tuple[I64, I64]:
    index: dict[bytes, int] = {}
    bounds = offs.tolist()
    which = np.fromiter(
        (index.setdefault(data[a:b], len(index)) for a, b in zip(bounds, bounds[1:], strict=False)),
        dtype=np.int64,
        count=len(bounds) - 1,
    )
    return first_of_run(which), which


def gather_segments(arr: npt.NDArray[_T], starts: I64, lens: I64) -> npt.NDArray[_T]:
    """Concatenate ``arr[starts[i]:starts[i] + lens[i]]`` for every i.

    Segments must be in increasing position and disjoint (true of every
    caller: stacks or fields in order). Repeating True/False over the runs of
    segments and gaps gives a mask, far cheaper than an index of every element.
    """
    nonempty = lens > 0
    first, size = starts[nonempty], lens[nonempty]
    if first.size == 0:
        return arr[:0]
    total = int(size.sum())
    if total == arr.size:
        return arr
    runs = np.empty(2 * first.size + 1, dtype=np.int64)
    runs[0:-1:2] = first - np.concatenate([[0], (first + size)[:-1]])
    runs[1::2] = size
    runs[-1] = arr.size - int(first[-1] + size[-1])
    flags = np.zeros(runs.size, dtype=np.bool_)
    flags[1::2] = True
    return arr[np.repeat(flags, runs)]


def intern_stacks(offsets: I64, location_ids: Ids) -> tuple[Stacks, I64]:
    """Deduplicate stacks given in CSR form (possibly with repeats).

    Returns:
        The table of distinct stacks in first-seen order, and each input
        stack's index in it.
    """
    n = len(offsets) - 1
    top = int(location_ids.max()) if location_ids.size else 0
    narrow = (
        np.uint8
        if top < 1 << 8
        else np.uint16
        if top < 1 << 16
        else np.uint32
        if top < 1 << 32
        else np.uint64
    )
    width = np.dtype(narrow).itemsize
    packed = location_ids.astype(np.dtype(narrow).newbyteorder("<")).tobytes()
    reps, which = intern_segments(packed, offsets * width)
    if len(reps) == n:
        return Stacks(offsets=adopt_i64(offsets.copy()), location_ids=location_ids), which
    lens = np.diff(offsets)[reps]
    new_offsets = np.zeros(len(reps) + 1, dtype=np.int64)
    np.cumsum(lens, out=new_offsets[1:])
    flat = gather_segments(location_ids, offsets[reps], lens)
    return Stacks(offsets=adopt_i64(new_offsets), location_ids=adopt_ids(flat)), which


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """A pprof profile: what was measured, and the stacks it was measured at.

    ``values[i, j]`` is sample i's value for ``sample_types[j]``; sample i's stack
    is ``stacks.get(sample_stack[i])``. ``sample_labels`` is either empty (no
    sample has labels) or holds one tuple per sample.
    """

    sample_types: tuple[ValueType, ...]
    stacks: Stacks = field(default_factory=lambda: EMPTY_STACKS)
    sample_stack: npt.NDArray[np.int64] = field(
        default_factory=lambda: frozen_i64([]),
    )
    values: npt.NDArray[np.int64] = field(default_factory=lambda: frozen_i64(np.zeros((0, 0))))
    sample_labels: tuple[tuple[Label, ...], ...] = ()
    mappings: tuple[Mapping, ...] = ()
    locations: tuple[Location, ...] = ()
    functions: tuple[Function, ...] = ()
    drop_frames: str = ""
    keep_frames: str = ""
    time_nanos: int = 0
    duration_nanos: int = 0
    period_type: ValueType | None = None
    period: int = 0
    comments: tuple[str, ...] = ()
    default_sample_type: str = ""
    doc_url: str = ""

    def __post_init__(self) -> None:
        n = len(self.sample_stack)
        if self.values.shape != (n, len(self.sample_types)) and not (
            n == 0 and self.values.size == 0
        ):
            raise ValueError(
                f"values shape {self.values.shape} does not match "
                f"{n} samples x {len(self.sample_types)} sample types"
            )
        if self.sample_labels and len(self.sample_labels) != n:
            raise ValueError("sample_labels must be empty or have one entry per sample")

    @property
    def num_samples(self) -> int:
        """Return the number of samples."""
        return len(self.sample_stack)

    def sample_index(self, name: str | None) -> int:
        """Resolve a sample type name (None: the default, else the last) to its column."""
        if name is None or name == "":
            name = self.default_sample_type or None
        if name is None:
            return len(self.sample_types) - 1
        for i, vt in enumerate(self.sample_types):
            if vt.type == name:
                return i
        if name.isdigit() and int(name) < len(self.sample_types):
            return int(name)
        known = ", ".join(vt.type for vt in self.sample_types)
        raise KeyError(f"no sample type {name!r} (have: {known})")

    def column(self, index: int) -> I64:
        """Return the values of one sample type for every sample."""
        if self.values.size == 0:
            return np.zeros(self.num_samples, dtype=np.int64)
        return self.values[:, index]

    def samples(self) -> Iterator[Sample]:
        """Yield samples in row form (slow; for tests and small profiles)."""
        stacks = [self.stacks.get(i) for i in range(len(self.stacks))]
        rows = self.values.tolist()
        for i, s in enumerate(self.sample_stack.tolist()):
            labels = self.sample_labels[i] if self.sample_labels else ()
            yield Sample(stacks[s], tuple(rows[i]) if rows else (), labels)

    def total(self, index: int) -> int:
        """Return the sum of one sample type over all samples."""
        return int(self.column(index).sum())

    def _scalars(self) -> tuple[object, ...]:
        return (
            self.sample_types,
            self.mappings,
            self.locations,
            self.functions,
            self.drop_frames,
            self.keep_frames,
            self.time_nanos,
            self.duration_nanos,
            self.period_type,
            self.period,
            self.comments,
            self.default_sample_type,
            self.doc_url,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        if self._scalars() != other._scalars() or self.num_samples != other.num_samples:
            return False
        if not np.array_equal(self.values, other.values) and self.values.size + other.values.size:
            return False
        if (self.sample_labels or ()) != (other.sample_labels or ()) and (
            any(self.sample_labels) or any(other.sample_labels)
        ):
            return False
        if self.stacks == other.stacks and np.array_equal(self.sample_stack, other.sample_stack):
            return True
        mine = [self.stacks.get(i) for i in self.sample_stack.tolist()]
        theirs = [other.stacks.get(i) for i in other.sample_stack.tolist()]
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]

    def replace(self, **changes: object) -> Profile:
        """Return a copy with some fields changed (dataclasses.replace, typed)."""
        from dataclasses import replace

        return replace(self, **changes)  # type: ignore[arg-type]


def distinct_labels(
    labels: Sequence[tuple[Label, ...]],
) -> tuple[list[tuple[Label, ...]], I64]:
    """Group samples' label tuples by identity: the distinct ones, and each sample's index.

    Decoding and merging share one tuple object among the samples with the
    same labels, so grouping the objects' ids (in numpy: a few distinct keys
    compare in one pass each) leaves Python work per distinct tuple, not per
    sample. Equal tuples that are different objects stay apart; callers that
    care compare the few representatives. First-seen order.
    """
    keys = np.fromiter(map(id, labels), np.uint64, len(labels))
    firsts, which = groups(first_occurrence(keys))
    return [labels[i] for i in firsts.tolist()], which


def make_profile(
    sample_types: Sequence[ValueType],
    samples: Iterable[Sample],
    **fields: object,
) -> Profile:
    """Build a Profile from row-form samples, interning their stacks."""
    intern: dict[tuple[int, ...], int] = {}
    stack_of: list[int] = []
    rows: list[tuple[int, ...]] = []
    labels: list[tuple[Label, ...]] = []
    for s in samples:
        stack_of.append(intern.setdefault(tuple(s.location_ids), len(intern)))
        rows.append(tuple(s.values))
        labels.append(tuple(s.labels))
    k = len(sample_types)
    values = np.array(rows, dtype=np.int64).reshape(len(rows), k)
    return Profile(
        sample_types=tuple(sample_types),
        stacks=Stacks.build(list(intern)),
        sample_stack=frozen_i64(stack_of),
        values=frozen_i64(values),
        sample_labels=tuple(labels) if any(labels) else (),
        **fields,  # type: ignore[arg-type]
    )
