"""Focus/ignore filters: keep or drop samples whose stack has a matching frame.

A location matches when any of its (inlined) functions' name or file name
matches, or its mapping's file does, which is pprof's rule.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from leakhunter.model.profile import Profile, frozen_i64

__all__ = ["filter_samples", "stack_matches"]


def stack_matches(profile: Profile, pattern: re.Pattern[str]) -> np.ndarray:
    """Return, per interned stack, whether any of its frames matches pattern."""
    names = {f.id: (f.name, f.filename) for f in profile.functions}
    files = {m.id: m.filename for m in profile.mappings}
    loc_ids = np.fromiter((loc.id for loc in profile.locations), np.uint64)
    hits = np.zeros(len(loc_ids), dtype=np.int64)
    for i, loc in enumerate(profile.locations):
        for ln in loc.lines:
            name, file = names.get(ln.function_id, ("", ""))
            if pattern.search(name) or (file and pattern.search(file)):
                hits[i] = 1
                break
        else:
            mfile = files.get(loc.mapping_id, "")
            if mfile and pattern.search(mfile):
                hits[i] = 1
    order = np.argsort(loc_ids)
    flat = profile.stacks.location_ids
    if flat.size == 0:
        return np.zeros(len(profile.stacks), dtype=bool)
    frame_hits = hits[order][np.searchsorted(loc_ids[order], flat)]
    csum = np.concatenate([[0], np.cumsum(frame_hits)])
    offs = profile.stacks.offsets
    return np.asarray((csum[offs[1:]] - csum[offs[:-1]]) > 0)


def filter_samples(
    profile: Profile, focus: str | None = None, ignore: str | None = None
) -> Profile:
    """Keep samples with a frame matching focus and none matching ignore.

    As in pprof, a location matching both counts as ignored, and samples with
    empty stacks are dropped by any filter.

    Raises:
        re.error: a pattern is not a valid regular expression.
    """
    if not focus and not ignore:
        return profile
    # like pprof, a sample without locations matches no focus and survives no filter
    keep_stack = profile.stacks.lengths() > 0
    if focus:
        keep_stack &= stack_matches(profile, re.compile(focus))
    if ignore:
        keep_stack &= ~stack_matches(profile, re.compile(ignore))
    keep = keep_stack[profile.sample_stack]
    labels = profile.sample_labels
    if labels:
        labels = tuple(lb for lb, k in zip(labels, keep.tolist(), strict=True) if k)
    return replace(
        profile,
        sample_stack=frozen_i64(profile.sample_stack[keep]),
        values=frozen_i64(profile.values[keep]),
        sample_labels=labels,
    )
