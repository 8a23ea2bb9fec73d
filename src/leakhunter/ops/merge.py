"""Merge, scale and diff of profiles; a diff is a merge with the negated base.

Locations, functions and mappings are unified across inputs by content (not
by id, since ids are per-profile), stacks re-interned, and samples with the same
stack and labels summed, as pprof's Merge does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from leakhunter.model.profile import (
    Function,
    Label,
    Line,
    Location,
    Mapping,
    Profile,
    Stacks,
    frozen_i64,
    frozen_u64,
)

__all__ = ["BASE_LABEL", "diff", "merge", "scale"]

#: Label pprof puts on base samples of a -diff_base comparison; totals use it.
BASE_LABEL = Label(key="pprof::base", str="true")


def scale(profile: Profile, factor: float) -> Profile:
    """Multiply every sample value by factor (rounded to the nearest integer)."""
    if factor == 1:
        return profile
    if float(factor).is_integer():
        values = profile.values * np.int64(int(factor))
    else:
        values = np.rint(profile.values.astype(np.float64) * factor).astype(np.int64)
    return replace(profile, values=frozen_i64(values))


def diff(base: Profile, new: Profile) -> Profile:
    """Return new minus base with go tool pprof -diff_base semantics.

    Base samples are negated and labelled ``pprof::base=true``; the report's
    total is then the base's total, as pprof prints it.
    """
    labels = base.sample_labels or tuple(() for _ in range(base.num_samples))
    tagged = replace(scale(base, -1), sample_labels=tuple((*lb, BASE_LABEL) for lb in labels))
    return merge([new, tagged])


def _check_compatible(profiles: Sequence[Profile]) -> None:
    first = profiles[0]
    for p in profiles[1:]:
        if p.sample_types != first.sample_types:
            have = ", ".join(v.type for v in p.sample_types)
            want = ", ".join(v.type for v in first.sample_types)
            raise ValueError(f"incompatible profiles: sample types [{have}] vs [{want}]")


class _Unifier:
    """Assigns new ids to functions, mappings and locations by content."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str, str, int], Function] = {}
        self.mappings: dict[tuple[int, int, str, str], Mapping] = {}
        self.locations: dict[tuple[object, ...], Location] = {}

    def add(self, p: Profile) -> dict[int, int]:
        fmap: dict[int, int] = {}
        for f in p.functions:
            key = (f.name, f.system_name, f.filename, f.start_line)
            got = self.functions.get(key)
            if got is None:
                got = replace(f, id=len(self.functions) + 1)
                self.functions[key] = got
            fmap[f.id] = got.id
        mmap: dict[int, int] = {0: 0}
        for mp in p.mappings:
            mkey = (mp.memory_limit - mp.memory_start, mp.file_offset, mp.build_id, mp.filename)
            gotm = self.mappings.get(mkey)
            if gotm is None:
                gotm = replace(mp, id=len(self.mappings) + 1)
                self.mappings[mkey] = gotm
            mmap[mp.id] = gotm.id
        lmap: dict[int, int] = {}
        for loc in p.locations:
            lines = tuple(Line(fmap[ln.function_id], ln.line, ln.column) for ln in loc.lines)
            lkey = (mmap.get(loc.mapping_id, 0), loc.address, lines, loc.is_folded)
            gotl = self.locations.get(lkey)
            if gotl is None:
                gotl = Location(
                    id=len(self.locations) + 1,
                    mapping_id=mmap.get(loc.mapping_id, 0),
                    address=loc.address,
                    lines=lines,
                    is_folded=loc.is_folded,
                )
                self.locations[lkey] = gotl
            lmap[loc.id] = gotl.id
        return lmap


def _remap(ids: np.ndarray, lmap: dict[int, int]) -> np.ndarray:
    if not lmap or ids.size == 0:
        return ids.astype(np.uint64)
    old = np.fromiter(lmap.keys(), np.uint64, len(lmap))
    new = np.fromiter(lmap.values(), np.uint64, len(lmap))
    order = np.argsort(old)
    return new[order][np.searchsorted(old[order], ids)]


def merge(profiles: Sequence[Profile]) -> Profile:
    """Merge profiles of the same kind into one, summing identical samples.

    Scalar metadata (time, period, comments...) comes from the first profile;
    durations add up, as in pprof.
    """
    if not profiles:
        raise ValueError("merge needs at least one profile")
    _check_compatible(profiles)
    uni = _Unifier()
    intern: dict[bytes, int] = {}
    stack_chunks: list[np.ndarray] = []
    sample_keys: dict[tuple[int, tuple[Label, ...]], int] = {}
    sample_stack: list[int] = []
    sample_labels: list[tuple[Label, ...]] = []
    rows: list[np.ndarray] = []
    target: list[int] = []
    for p in profiles:
        lmap = uni.add(p)
        ids = _remap(p.stacks.location_ids, lmap)
        offs = p.stacks.offsets.tolist()
        new_index = []
        for i in range(len(p.stacks)):
            chunk = ids[offs[i] : offs[i + 1]]
            key = chunk.tobytes()
            idx = intern.get(key)
            if idx is None:
                idx = intern[key] = len(intern)
                stack_chunks.append(chunk)
            new_index.append(idx)
        for j, st in enumerate(p.sample_stack.tolist()):
            labels = p.sample_labels[j] if p.sample_labels else ()
            skey = (new_index[st], labels)
            pos = sample_keys.get(skey)
            if pos is None:
                pos = sample_keys[skey] = len(sample_stack)
                sample_stack.append(new_index[st])
                sample_labels.append(labels)
            target.append(pos)
        rows.append(p.values)
    k = len(profiles[0].sample_types)
    values = np.zeros((len(sample_stack), k), dtype=np.int64)
    if target:
        np.add.at(values, np.array(target, dtype=np.int64), np.concatenate(rows, axis=0))
    offsets = np.zeros(len(stack_chunks) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in stack_chunks], out=offsets[1:])
    flat = np.concatenate(stack_chunks) if stack_chunks else np.zeros(0, np.uint64)
    first = profiles[0]
    return replace(
        first,
        stacks=Stacks(
            offsets=frozen_i64(offsets),
            location_ids=frozen_u64(flat),
        ),
        sample_stack=frozen_i64(np.array(sample_stack, dtype=np.int64)),
        values=frozen_i64(values),
        sample_labels=tuple(sample_labels) if any(sample_labels) else (),
        functions=tuple(uni.functions.values()),
        mappings=tuple(uni.mappings.values()),
        locations=tuple(uni.locations.values()),
        duration_nanos=sum(p.duration_nanos for p in profiles),
    )
