"""Counted goroutine profiles: debug=1 text and the debug=0 protobuf, as grouped dumps.

Both list stacks with a count and pprof labels but no wait state and no
goroutine ids; the state is inferred from each stack's leaf frames. Records
that differ only by labels (Go splits them) are merged, so groups mean the
same thing in every format: one (state, function+line stack) each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from leakhunter.errors import FormatError
from leakhunter.formats.goroutine_fields import infer_state, parse_labels
from leakhunter.model.goroutine import Frame, GoroutineDump, GoroutineGroup

if TYPE_CHECKING:
    from leakhunter.model.profile import Profile

__all__ = ["parse_counts", "parse_proto", "records_to_dump"]

_TOTAL = re.compile(r"\s*(goroutine|goroutineleak) profile: total ([0-9]{1,18})\s*$")
_RECORD = re.compile(r"([0-9]{1,18}) @(?: 0x[0-9a-fA-F]+)*\s*$")

# One counted record: (count, frames leaf first, labels).
Record = tuple[int, tuple[Frame, ...], tuple[tuple[str, str], ...]]


def parse_counts(data: bytes, source: str = "<bytes>") -> GoroutineDump:
    """Parse ``goroutine profile: total N`` text (also the goroutineleak profile).

    Raises:
        FormatError: the first line is not a count profile header.
    """
    lines = data.decode("utf-8", "replace").splitlines()
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    m = _TOTAL.match(lines[first]) if first < len(lines) else None
    if m is None:
        raise FormatError(source, "expected `goroutine profile: total N` on the first line")
    leak_profile = m.group(1) == "goroutineleak"
    total = int(m.group(2))
    records = list(_records(lines[first + 1 :]))
    counted = sum(r[0] for r in records)
    truncated = counted < total or not data.rstrip(b" \t").endswith(b"\n")
    if total and not records:
        raise FormatError(
            source, f"header says {total} goroutines but no stack follows (truncated?)"
        )
    return records_to_dump(records, "debug=1", leaked=leak_profile, truncated=truncated)


def _records(lines: Sequence[str]) -> Iterable[Record]:
    """Yield the records of a debug=1 body; a record runs until the next blank line."""
    count = -1
    frames: list[Frame] = []
    labels: tuple[tuple[str, str], ...] = ()
    for line in lines:
        if not line.strip():
            if count >= 0:
                yield count, tuple(frames), labels
            count, frames, labels = -1, [], ()
            continue
        if line.startswith("#"):
            if count < 0:
                continue
            if line.startswith("# labels:"):
                labels = parse_labels(line[9:])
            else:
                frame = _count_frame(line)
                if frame is not None:
                    frames.append(frame)
            continue
        m = _RECORD.match(line)
        if m is not None:
            if count >= 0:
                yield count, tuple(frames), labels
            count, frames, labels = int(m.group(1)), [], ()
    if count >= 0:
        yield count, tuple(frames), labels


def _count_frame(line: str) -> Frame | None:
    """Parse ``#<tab>0x4a5b6c<tab>pkg.f+0x1d<tab>/file.go:123``.

    tabwriter pads columns with extra tabs, so empty fields are skipped; a
    frame without a symbol (``#<tab>0x4a5b6c``) keeps its address as the name.
    """
    fields = [f for f in line[1:].split("\t") if f.strip()]
    if not fields:
        return None
    if len(fields) == 1:
        return Frame(fields[0].strip())
    name = fields[1].strip()
    plus = name.rfind("+0x")
    if plus > 0:
        name = name[:plus]
    path, lineno = "", 0
    if len(fields) > 2:
        where = "\t".join(fields[2:]).strip()
        head, colon, number = where.rpartition(":")
        ok = colon and number.isascii() and number.isdigit() and len(number) <= 9
        path, lineno = (head, int(number)) if ok else (where, 0)
    return Frame(name, path, lineno)


class _Slot:
    """A group being merged from records."""

    __slots__ = ("count", "frames", "inferred", "labels", "state")

    def __init__(self, record: Record, state: str | None) -> None:
        self.count, self.frames, self.labels = record
        self.state = state or ""
        self.inferred = state is not None


def records_to_dump(
    records: Iterable[Record], fmt: str, *, leaked: bool = False, truncated: bool = False
) -> GoroutineDump:
    """Merge counted records into groups by (inferred state, function+line stack)."""
    merged: dict[tuple[str, tuple[tuple[str, int], ...]], _Slot] = {}
    for record in records:
        count, frames, labels = record
        if count <= 0:
            continue
        state = infer_state(frames)
        key = (state or "", tuple((f.function, f.line) for f in frames))
        slot = merged.get(key)
        if slot is None:
            merged[key] = _Slot(record, state)
        else:
            slot.count += count
            slot.labels = tuple(p for p in slot.labels if p in labels)
    groups = [
        GoroutineGroup(
            count=slot.count,
            state=slot.state,
            frames=slot.frames,
            leaked=slot.count if leaked else 0,
            labels=slot.labels,
            state_inferred=slot.inferred,
        )
        for slot in merged.values()
    ]
    groups.sort(key=lambda g: -g.count)
    return GoroutineDump(format=fmt, groups=tuple(groups), truncated=truncated)


def parse_proto(data: bytes, source: str = "<bytes>") -> GoroutineDump:
    """Decode a goroutine (or goroutineleak) pprof protobuf into a grouped dump.

    Raises:
        FormatError: not a decodable profile, or a profile of something else.
    """
    from leakhunter.formats.pprof import decode

    return profile_to_dump(decode(data, source=source), source)


def profile_to_dump(profile: Profile, source: str = "<profile>") -> GoroutineDump:
    """Turn a decoded goroutine profile into a grouped dump (inlined frames expanded).

    Raises:
        FormatError: the profile does not count goroutines.
    """
    kinds = [vt.type for vt in profile.sample_types]
    if not kinds or kinds[0] not in ("goroutine", "goroutineleak"):
        what = ", ".join(kinds) or "no sample types"
        raise FormatError(source, f"a pprof profile of {what}, not a goroutine profile")
    names = {f.id: (f.name, f.filename) for f in profile.functions}
    per_location: dict[int, tuple[Frame, ...]] = {}
    for loc in profile.locations:
        inlined = []
        for line in loc.lines:  # innermost (inlined) first, as the stack is leaf first
            name, filename = names.get(line.function_id, (f"0x{loc.address:x}", ""))
            inlined.append(Frame(name, filename, line.line))
        per_location[loc.id] = tuple(inlined) or (Frame(f"0x{loc.address:x}"),)
    stacks: dict[int, tuple[Frame, ...]] = {}
    counts = profile.column(0).tolist()
    records: list[Record] = []
    for i, s in enumerate(profile.sample_stack.tolist()):
        frames = stacks.get(s)
        if frames is None:
            frames = stacks[s] = tuple(
                f for loc in profile.stacks.get(s) for f in per_location.get(loc, ())
            )
        labels = profile.sample_labels[i] if profile.sample_labels else ()
        pairs = tuple(sorted((lb.key, lb.str or f"{lb.num}{lb.num_unit}") for lb in labels))
        records.append((int(counts[i]), frames, pairs))
    return records_to_dump(records, "debug=0", leaked=kinds[0] == "goroutineleak")
