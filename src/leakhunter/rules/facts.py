"""The facts one finding is matched on: its stacks, wait, shape, churn, objects...

``finding_facts`` folds one finding and the session facts the analysis
produced (``analyze.facts.SessionFacts``) into the flat ``FindingFacts`` the
rule engine reads. Plain frozen data, so tests build them by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from leakhunter.analyze.facts import (
    DumpView,
    GroupFacts,
    SessionFacts,
    SiteFacts,
    growth_shape,
    infer_state,
    leaf_frame,
    wait_key,
)
from leakhunter.analyze.frames import AppMatcher, first_interesting
from leakhunter.analyze.series import site_key
from leakhunter.analyze.verdict import Finding
from leakhunter.model.goroutine import Frame, classify_state

__all__ = [
    "DumpView",
    "FindingFacts",
    "GroupFacts",
    "SessionFacts",
    "SiteFacts",
    "finding_facts",
    "growth_shape",
    "infer_state",
    "leaf_frame",
    "wait_key",
]

_CHURN_RATIO = 8.0  # allocated in the window / retained growth, at or above: churn
_RETAINED_RATIO = 3.0  # at or below: what is allocated stays


@dataclass(frozen=True, slots=True)
class FindingFacts:
    """One finding, flattened for matching.

    A finding that links heap and goroutine evidence has two stacks (where the
    goroutines block, where the memory is allocated): ``views`` holds each, with
    its leaf frame and that frame's origin at the same index. A block's frame
    conditions (stack, not_stack, leaf, leaf_origin) must all hold on one view.
    """

    kinds: frozenset[str]
    views: tuple[tuple[Frame, ...], ...]
    leaves: tuple[Frame | None, ...]
    leaf_origins: tuple[str | None, ...]
    culprit: Frame | None
    created_by: Frame | None
    culprit_origin: str | None
    wait: str | None
    state: str
    shape: str
    alloc: str | None
    objects: str | None
    object_size: str | None
    object_bytes: float | None
    leaked: bool | None
    runtime: str = "go"


def _site_of(f: Finding, s: SessionFacts) -> SiteFacts | None:
    if not s.sites:
        return None
    candidates = [site_key(s.matcher)(f.stack)] if f.stack else []
    candidates += [x.label.removeprefix("inuse bytes at ") for x in f.series if x.unit == "bytes"]
    return next((s.sites[c] for c in candidates if c in s.sites), None)


def _alloc_class(f: Finding, site: SiteFacts | None) -> str | None:
    if f.kind.value == "churn":
        return "churn"
    if site is None or site.alloc_delta is None:
        return None
    kept = max(site.inuse_end - site.inuse_start, 0.0)
    ratio = site.alloc_delta / max(kept, 1.0)
    if ratio >= _CHURN_RATIO:
        return "churn"
    return "retained" if ratio <= _RETAINED_RATIO else None


def _objects(site: SiteFacts | None) -> tuple[str | None, float | None]:
    if site is None or site.objects_end is None or site.objects_start is None:
        return None, None
    per = site.inuse_end / site.objects_end if site.objects_end > 0 else None
    if per is not None and not math.isfinite(per):
        per = None  # a damaged or hostile profile's figures are not a size
    if site.objects_end > site.objects_start * 1.2 + 1:
        return "growing", per
    if site.objects_end <= site.objects_start * 1.1 + 1:
        return "flat", per
    return None, per


def _runtime(views: Sequence[Sequence[Frame]], s: SessionFacts) -> str:
    """Return "python" when the finding's (else the session's) frames are Python code.

    Frames name their files; an agent's census frames of builtin types carry no
    file, so the session's other stacks decide for them.
    """
    for stacks in (views, s.stacks):
        files = [f.file for stack in stacks for f in stack if f.file]
        if files:
            return "python" if any(f.endswith(".py") for f in files) else "go"
    return "go"


def _culprit_origin(f: Finding, m: AppMatcher) -> str | None:
    """Whose code the culprit is; for an inferred one, whose code allocated the memory.

    A culprit inferred from other stacks (``culprit_via``) is application code
    that keeps what a library allocated: conditions such as "allocated by the
    application" must not hold for it.
    """
    if f.culprit is None:
        return None
    if f.culprit_via:
        own = first_interesting(f.stack, m)
        return None if own is None else m.origin(own).value
    return m.origin(f.culprit).value


def _object_size(site: SiteFacts | None) -> str | None:
    """Whether the average live object at the site grows (buffers that keep doubling).

    A pooled bytes.Buffer reused without Reset keeps one backing array per
    buffer, each reallocated twice as large: bytes per object climb while the
    count does not follow. Pinned sub-slices or cached entries keep their size.
    """
    if site is None or not site.objects_start or not site.objects_end:
        return None
    start = site.inuse_start / site.objects_start
    end = site.inuse_end / site.objects_end
    if start <= 0:
        return None
    if end >= start * 1.5:
        return "growing"
    return "flat" if end <= start * 1.2 else None


def finding_facts(f: Finding, s: SessionFacts) -> FindingFacts:
    """Flatten one finding (with what the session knows about it) for matching."""
    m = s.matcher
    g = f.goroutines
    views = tuple(dict.fromkeys(v for v in ((g.stack if g else ()), f.stack) if v))
    dump = s.dumps.get(wait_key(views[0])) if g is not None and views else None
    state = g.state if g is not None else ""
    if g is not None and (g.state_inferred or not state) and dump is not None and dump.state:
        state = dump.state
    created = g.created_by if g is not None else None
    if created is None and dump is not None:
        created = dump.created_by
    leaked: bool | None = None
    if g is not None:
        leaked = True if g.leaked > 0 else (False if s.leak_profile else None)
    site = _site_of(f, s) if f.kind.value != "goroutine" or "heap" in f.linked else None
    objects, per_object = _objects(site)
    kinds = {f.kind.value, *f.linked}
    if g is not None:
        kinds.add("goroutine")
    leaves = tuple(leaf_frame(v) for v in views)
    return FindingFacts(
        kinds=frozenset(kinds),
        views=views,
        leaves=leaves,
        leaf_origins=tuple(None if x is None else m.origin(x).value for x in leaves),
        culprit=f.culprit,
        created_by=created,
        culprit_origin=_culprit_origin(f, m),
        wait=classify_state(state).value if g is not None else None,
        state=state,
        shape=growth_shape(f.series[0] if f.series else None),
        alloc=_alloc_class(f, site),
        objects=objects,
        object_size=_object_size(site),
        object_bytes=per_object,
        leaked=leaked,
        runtime=_runtime(views, s),
    )
