"""Session facts: what one judged run saw beyond its findings, for rules to match on.

Analysis produces these; rules consume them (``rules.facts`` flattens one
finding with them). Each fact has one definition here or in ``frames``: the
wait state a stack implies, the module of a frame, the shape of a growth.
Plain frozen data, so tests build them by hand or load them from JSON.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.evidence import infer_state
from leakhunter.analyze.frames import AppMatcher, Origin, module_of, package_of
from leakhunter.analyze.reduce import Reduced
from leakhunter.analyze.trend import theil_sen
from leakhunter.analyze.verdict import Series
from leakhunter.model.goroutine import Frame, classify_state

__all__ = [
    "DumpView",
    "GroupFacts",
    "SessionFacts",
    "Shape",
    "SiteFacts",
    "growth_shape",
    "infer_state",
    "leaf_frame",
    "session_facts",
    "wait_key",
]

_PLUMBING = ("runtime.", "internal/", "runtime/internal")
F64 = npt.NDArray[np.float64]


class Shape(StrEnum):
    """Growth shape of a finding's series over the window."""

    LINEAR = "linear"
    ACCELERATING = "accelerating"
    DECELERATING = "decelerating"
    STEPS = "steps"
    FLAT = "flat"


@dataclass(frozen=True, slots=True)
class GroupFacts:
    """One goroutine group of the session: its stack, wait state and peak size."""

    frames: tuple[Frame, ...]
    state: str
    wait: str
    max_count: int


@dataclass(frozen=True, slots=True)
class SiteFacts:
    """Sampled heap figures of one allocation site over the window."""

    inuse_start: float
    inuse_end: float
    alloc_delta: float | None = None
    objects_start: float | None = None
    objects_end: float | None = None


@dataclass(frozen=True, slots=True)
class DumpView:
    """What a full goroutine dump said about a group (found by its runtime-free stack)."""

    state: str
    created_by: Frame | None


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """Everything the session saw that rules may ask about beyond one finding."""

    packages: frozenset[str] = frozenset()
    libraries: tuple[str, ...] = ()
    groups: tuple[GroupFacts, ...] = ()
    stacks: tuple[tuple[Frame, ...], ...] = ()
    leak_profile: bool = False
    sites: Mapping[str, SiteFacts] = field(default_factory=dict)
    dumps: Mapping[str, DumpView] = field(default_factory=dict)
    matcher: AppMatcher = field(default_factory=AppMatcher)


def leaf_frame(stack: Sequence[Frame]) -> Frame | None:
    """Return the innermost frame outside the runtime and ``internal/`` packages."""
    return next((f for f in stack if not f.function.startswith(_PLUMBING)), None)


def wait_key(frames: Sequence[Frame]) -> str:
    """Key a goroutine stack without runtime frames (full dumps elide them)."""
    return "|".join(
        f"{f.function}:{f.line}"
        for f in frames
        if not f.function.startswith("runtime.") and f.function
    )


def _key_without_runtime(key: str) -> str:
    return "|".join(p for p in key.split("|") if p and not p.startswith("runtime."))


def growth_shape(series: Series | None) -> str:
    """Classify a series as linear, accelerating, decelerating, steps or flat."""
    if series is None or len(series.values) < 4:
        return Shape.FLAT.value
    y = np.asarray(series.values, dtype=np.float64)
    t = np.asarray(series.t if len(series.t) == len(y) else range(len(y)), dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(t)
    y, t = y[ok], t[ok]
    span = float(y.max() - y.min()) if len(y) else 0.0
    if len(y) < 4 or span <= 0 or y[-1] <= y[0]:
        return Shape.FLAT.value
    deltas = np.diff(y)
    still = float(np.mean(np.abs(deltas) <= 0.01 * span))
    if still >= 0.5:
        return Shape.STEPS.value
    half = len(y) // 2
    s1, _ = theil_sen(t[: half + 1], y[: half + 1])
    s2, _ = theil_sen(t[half:], y[half:])
    if s1 <= 0 < s2 or (s1 > 0 and s2 >= 1.6 * s1):
        return Shape.ACCELERATING.value
    if s1 > 0 and s2 <= 0.5 * s1:
        return Shape.DECELERATING.value
    return Shape.LINEAR.value


def _first_last(row: F64 | None) -> tuple[float, float] | None:
    """Robust start and end of a sampled series: medians of its first and last quarters.

    Per-site heap figures move in ~512 KiB sampling steps; one snapshot's value
    at either end would decide "flat" or "growing" by luck.
    """
    if row is None or not len(row):
        return None
    vals = [float(v) for v in row if v == v]
    if not vals:
        return None
    k = max(1, len(vals) // 4)
    return statistics.median(vals[:k]), statistics.median(vals[-k:])


def _sites(red: Reduced) -> dict[str, SiteFacts]:
    out: dict[str, SiteFacts] = {}
    for site, row in red.heap_inuse.rows.items():
        inuse = _first_last(row)
        if inuse is None:
            continue
        alloc = _first_last(red.heap_alloc.rows.get(site))
        objs = _first_last(red.heap_objects.rows.get(site))
        out[site] = SiteFacts(
            inuse_start=inuse[0],
            inuse_end=inuse[1],
            alloc_delta=None if alloc is None else alloc[1] - alloc[0],
            objects_start=None if objs is None else objs[0],
            objects_end=None if objs is None else objs[1],
        )
    return out


def session_facts(red: Reduced) -> SessionFacts:
    """Collect the session-wide facts of one reduced epoch."""
    m = red.matcher
    stacks = tuple(dict.fromkeys([*red.site_frames.values(), *red.group_frames.values()]))
    packages: set[str] = set()
    modules: set[str] = set()
    seen: set[Frame] = set()
    for stack in stacks:
        for fr in stack:
            if fr in seen:
                continue
            seen.add(fr)
            origin = m.origin(fr)
            if origin in (Origin.APP, Origin.RUNTIME):
                continue
            packages.add(package_of(fr.function))
            if origin is Origin.THIRD_PARTY:
                modules.add(module_of(fr.function, fr.file))
    packages.update(package_of(fn) for fn in red.callers)
    dumps = {_key_without_runtime(k): DumpView(d.state, d.created_by) for k, d in red.dumps.items()}
    groups = []
    for key, row in red.groups.rows.items():
        frames = red.group_frames.get(key, ())
        dump = dumps.get(wait_key(frames))
        state = dump.state if dump is not None and dump.state else infer_state(frames)
        peak = max((v for v in row if v == v), default=0.0)
        groups.append(GroupFacts(frames, state, classify_state(state).value, int(peak)))
    return SessionFacts(
        packages=frozenset(packages),
        libraries=tuple(sorted(modules)),
        groups=tuple(groups),
        stacks=stacks,
        leak_profile=red.leak_collected,
        sites=_sites(red),
        dumps=dumps,
        matcher=m,
    )
