"""Merge, scale and diff of profiles; a diff is a merge with the negated base.

Locations, functions and mappings are unified across inputs by content (not
by id, since ids are per-profile), stacks re-interned, and samples with the
same stack and labels summed, as pprof's Merge does (which also drops samples
whose values are all zero). Everything per sample is vectorised; label tuples
are handled once per distinct tuple object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from leakhunter.model.grouping import first_occurrence, groups
from leakhunter.model.profile import (
    Function,
    Ids,
    Label,
    Line,
    Location,
    Mapping,
    Profile,
    Stacks,
    adopt_i64,
    as_index,
    distinct_labels,
    intern_stacks,
)

__all__ = ["BASE_LABEL", "diff", "merge", "scale"]

#: Label pprof puts on base samples of a -diff_base comparison; totals use it.
BASE_LABEL = Label(key="pprof::base", str="true")

I64 = npt.NDArray[np.int64]


def scale(profile: Profile, factor: float) -> Profile:
    """Multiply every sample value by factor (rounded to the nearest integer)."""
    if factor == 1:
        return profile
    if float(factor).is_integer():
        values = profile.values * np.int64(int(factor))
    else:
        values = np.rint(profile.values.astype(np.float64) * factor).astype(np.int64)
    return replace(profile, values=adopt_i64(values))


def diff(base: Profile, new: Profile) -> Profile:
    """Return new minus base with go tool pprof -diff_base semantics.

    Base samples are negated and labelled ``pprof::base=true`` (replacing any
    such label); the report's total is then the base's total, as pprof prints it.
    """
    n = base.num_samples
    if not base.sample_labels:
        tagged: tuple[tuple[Label, ...], ...] = ((BASE_LABEL,),) * n
    else:
        reps, which = distinct_labels(base.sample_labels)
        retagged = [
            (*(lb for lb in labels if lb.key != BASE_LABEL.key), BASE_LABEL) for labels in reps
        ]
        tagged = tuple(map(retagged.__getitem__, which.tolist()))
    return merge([new, replace(scale(base, -1), sample_labels=tagged)])


def _check_compatible(profiles: Sequence[Profile]) -> None:
    first = profiles[0]
    for p in profiles[1:]:
        if p.sample_types != first.sample_types:
            have = ", ".join(v.type for v in p.sample_types)
            want = ", ".join(v.type for v in first.sample_types)
            raise ValueError(f"incompatible profiles: sample types [{have}] vs [{want}]")
        if p.period_type != first.period_type:
            raise ValueError(
                f"incompatible profiles: period types {p.period_type} vs {first.period_type}"
            )


class _Unifier:
    """Assigns new ids to functions, mappings and locations by content."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str, str, int], Function] = {}
        self.mappings: dict[tuple[int, int, str, str], Mapping] = {}
        self.locations: dict[tuple[object, ...], Location] = {}

    def add(self, p: Profile) -> dict[int, int]:
        """Unify one profile's tables; return its old-to-new location ids."""
        fmap: dict[int, int] = {}
        for f in p.functions:
            key = (f.name, f.system_name, f.filename, f.start_line)
            got = self.functions.get(key)
            if got is None:
                got = replace(f, id=len(self.functions) + 1)
                self.functions[key] = got
            fmap[f.id] = got.id
        mmap: dict[int, int] = {0: 0}
        starts: dict[int, int] = {0: 0}
        for mp in p.mappings:
            mkey = (mp.memory_limit - mp.memory_start, mp.file_offset, mp.build_id, mp.filename)
            gotm = self.mappings.get(mkey)
            if gotm is None:
                gotm = replace(mp, id=len(self.mappings) + 1)
                self.mappings[mkey] = gotm
            mmap[mp.id] = gotm.id
            starts[mp.id] = mp.memory_start
        lmap: dict[int, int] = {}
        for loc in p.locations:
            lines = tuple(Line(fmap.get(ln.function_id, 0), ln.line, ln.column) for ln in loc.lines)
            mapping = mmap.get(loc.mapping_id, 0)
            # like pprof: addresses relative to their mapping survive ASLR
            offset = loc.address - starts.get(loc.mapping_id, 0) if loc.address else 0
            lkey = (mapping, offset, lines, loc.is_folded)
            gotl = self.locations.get(lkey)
            if gotl is None:
                gotl = Location(
                    id=len(self.locations) + 1,
                    mapping_id=mapping,
                    address=loc.address,
                    lines=lines,
                    is_folded=loc.is_folded,
                )
                self.locations[lkey] = gotl
            lmap[loc.id] = gotl.id
        return lmap


def _remap(ids: Ids, lmap: dict[int, int]) -> npt.NDArray[np.uint64]:
    """Translate location ids through lmap (a lookup table when ids are dense)."""
    if ids.size == 0:
        return np.zeros(0, dtype=np.uint64)
    old = np.fromiter(lmap.keys(), np.uint64, len(lmap))
    new = np.fromiter(lmap.values(), np.uint64, len(lmap))
    top = int(old.max()) if old.size else 0
    if int(ids.max()) > top:
        raise ValueError(f"a stack refers to missing location {int(ids.max())}")
    if top <= 4 * old.size + (1 << 16):
        lut = np.zeros(top + 1, dtype=np.uint64)
        lut[old] = new
        out: npt.NDArray[np.uint64] = lut[as_index(ids)]  # ids <= top
    else:
        order = np.argsort(old)
        at = np.minimum(np.searchsorted(old[order], ids), old.size - 1)
        out = np.where(old[order][at] == ids, new[order][at], 0)
    if not out.all():
        raise ValueError(f"a stack refers to missing location {int(ids[np.argmin(out)])}")
    return out


def _label_sets(
    profiles: Sequence[Profile],
) -> tuple[list[tuple[Label, ...]], list[I64]]:
    """Number the distinct label tuples of all profiles; return them and per-sample ids."""
    index: dict[tuple[Label, ...], int] = {(): 0}
    table: list[tuple[Label, ...]] = [()]
    per_profile: list[I64] = []
    for p in profiles:
        if not p.sample_labels:
            per_profile.append(np.zeros(p.num_samples, dtype=np.int64))
            continue
        # hash each distinct tuple object once, then map samples by identity
        reps, which = distinct_labels(p.sample_labels)
        at = np.zeros(len(reps), dtype=np.int64)
        for i, labels in enumerate(reps):
            got = index.get(labels)
            if got is None:
                got = index[labels] = len(table)
                table.append(labels)
            at[i] = got
        per_profile.append(at[which])
    return table, per_profile


def merge(profiles: Sequence[Profile]) -> Profile:
    """Merge profiles of the same kind into one, summing identical samples.

    Headers combine as in pprof: earliest time, summed durations, largest
    period, comments deduplicated, first non-empty default sample type and doc
    URL; drop/keep frames and period type come from the first profile.
    """
    if not profiles:
        raise ValueError("merge needs at least one profile")
    _check_compatible(profiles)
    uni = _Unifier()
    ids: list[npt.NDArray[np.uint64]] = []
    sample_stack: list[I64] = []
    base = 0
    for p in profiles:
        ids.append(_remap(p.stacks.location_ids, uni.add(p)))
        sample_stack.append(p.sample_stack + base)
        base += len(p.stacks)
    all_offsets = _concat_offsets([p.stacks.offsets for p in profiles])
    stacks, which = intern_stacks(all_offsets, np.concatenate(ids))
    label_table, label_ids = _label_sets(profiles)
    k = len(profiles[0].sample_types)
    key = which[np.concatenate(sample_stack)] * len(label_table) + np.concatenate(label_ids)
    first, group = groups(first_occurrence(key.astype(np.uint64)))  # first-seen order
    values = np.zeros((first.size, k), dtype=np.int64)
    np.add.at(values, group, np.concatenate([p.values for p in profiles]))
    keep = (values != 0).any(axis=1) if k else np.ones(first.size, dtype=bool)
    chosen = first[keep]
    merged_stack = which[np.concatenate(sample_stack)][chosen]
    merged_labels = np.concatenate(label_ids)[chosen]
    return _combine_headers(
        profiles,
        uni,
        stacks,
        merged_stack,
        values[keep],
        tuple(map(label_table.__getitem__, merged_labels.tolist())) if len(label_table) > 1 else (),
    )


def _concat_offsets(parts: Sequence[I64]) -> I64:
    """Join CSR offset arrays end to end."""
    out = [np.zeros(1, dtype=np.int64)]
    shift = 0
    for offs in parts:
        out.append(offs[1:] + shift)
        shift += int(offs[-1])
    return np.concatenate(out)


def _combine_headers(
    profiles: Sequence[Profile],
    uni: _Unifier,
    stacks: Stacks,
    sample_stack: I64,
    values: I64,
    labels: tuple[tuple[Label, ...], ...],
) -> Profile:
    first = profiles[0]
    time_nanos = 0
    period = 0
    for p in profiles:
        if time_nanos == 0 or p.time_nanos < time_nanos:
            time_nanos = p.time_nanos
        period = max(period, p.period) if period else p.period
    comments = tuple(dict.fromkeys(c for p in profiles for c in p.comments))
    return replace(
        first,
        stacks=stacks,
        sample_stack=adopt_i64(sample_stack),
        values=adopt_i64(values),
        sample_labels=labels if any(labels) else (),
        functions=tuple(uni.functions.values()),
        mappings=tuple(uni.mappings.values()),
        locations=tuple(uni.locations.values()),
        time_nanos=time_nanos,
        duration_nanos=sum(p.duration_nanos for p in profiles),
        period=period,
        comments=comments,
        default_sample_type=next(
            (p.default_sample_type for p in profiles if p.default_sample_type), ""
        ),
        doc_url=next((p.doc_url for p in profiles if p.doc_url), ""),
    )
