"""The facts rules match on: per finding (stack, wait, shape, churn...) and per session.

``SessionFacts`` is what the whole window saw beyond the findings: the packages
and modules present, every goroutine group with its wait state, every distinct
stack, whether the goroutineleak profile was collected, and per-site allocation
figures. ``finding_facts`` folds one finding and the session into the flat
``FindingFacts`` the rule engine reads. Both are plain frozen data so tests can
build them by hand or load them from JSON fixtures.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.frames import AppMatcher, Origin, package_of
from leakhunter.analyze.reduce import Reduced
from leakhunter.analyze.series import site_key
from leakhunter.analyze.verdict import Finding, Series
from leakhunter.model.goroutine import Frame, classify_state
from leakhunter.rules.model import Shape

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
    "module_of",
    "session_facts",
    "wait_key",
]

_PLUMBING = ("runtime.", "internal/", "runtime/internal")
_HOSTS_3 = ("github.com", "gitlab.com", "bitbucket.org", "golang.org", "gitee.com")
_CHURN_RATIO = 8.0  # allocated in the window / retained growth, at or above: churn
_RETAINED_RATIO = 3.0  # at or below: what is allocated stays
_BANG = re.compile(r"!([a-z])")
F64 = npt.NDArray[np.float64]


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


def infer_state(frames: Sequence[Frame]) -> str:
    """Return the wait reason the runtime frames of a goroutine stack imply ("" if none)."""
    names = [f.function for f in frames[:12]]
    joined = " ".join(names)
    for fn in names:
        if fn == "runtime.block":
            return "select (no cases)"
        if fn == "runtime.selectgo":
            return "select"
        if fn.startswith("runtime.chanrecv"):
            return "chan receive"
        if fn.startswith("runtime.chansend"):
            return "chan send"
        if fn in ("runtime.netpollblock", "internal/poll.runtime_pollWait"):
            return "IO wait"
        if fn == "time.Sleep":
            return "sleep"
    if "sync.(*WaitGroup).Wait" in joined:
        return "sync.WaitGroup.Wait"
    if "sync.(*RWMutex).RLock" in joined:
        return "sync.RWMutex.RLock"
    if "sync.(*RWMutex).Lock" in joined:
        return "sync.RWMutex.Lock"
    if "sync.(*Mutex).Lock" in joined:
        return "sync.Mutex.Lock"
    if "sync.(*Cond).Wait" in joined:
        return "sync.Cond.Wait"
    if "semacquire" in joined.lower():
        return "semacquire"
    if "syscall.Syscall" in joined or "syscall.RawSyscall" in joined:
        return "syscall"
    return ""


def module_of(frame: Frame) -> str:
    """Return the Go module (or package) path a non-application frame belongs to."""
    if "/pkg/mod/" in frame.file:
        rest = frame.file.split("/pkg/mod/", 1)[1]
        if "@" in rest:
            return _BANG.sub(lambda m: m.group(1).upper(), rest.split("@", 1)[0])
    pkg = _package(frame.function)
    parts = pkg.split("/")
    keep = 3 if parts[0] in _HOSTS_3 else 2 if "." in parts[0] else len(parts)
    return "/".join(parts[:keep])


def _package(function: str) -> str:
    """Return package_of() of a function name with any generic type arguments cut off."""
    return package_of(function.split("[", 1)[0])


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
    s1 = _slope(t[: half + 1], y[: half + 1])
    s2 = _slope(t[half:], y[half:])
    if s1 <= 0 < s2 or (s1 > 0 and s2 >= 1.6 * s1):
        return Shape.ACCELERATING.value
    if s1 > 0 and s2 <= 0.5 * s1:
        return Shape.DECELERATING.value
    return Shape.LINEAR.value


def _slope(t: F64, y: F64) -> float:
    if len(t) < 2 or float(t[-1] - t[0]) <= 0:
        return 0.0
    return float(np.polyfit(t, y, 1)[0])


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
        culprit_origin=None if f.culprit is None else m.origin(f.culprit).value,
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


def _first_last(row: Sequence[float] | None) -> tuple[float, float] | None:
    """Robust start and end of a sampled series: medians of its first and last quarters.

    Per-site heap figures move in ~512 KiB sampling steps; one snapshot's value
    at either end would decide "flat" or "growing" by luck.
    """
    if not row:
        return None
    vals = [v for v in row if v == v]
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
            packages.add(_package(fr.function))
            if origin is Origin.THIRD_PARTY:
                modules.add(module_of(fr))
    packages.update(_package(fn) for fn in red.callers)
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
        leak_profile=any(red.leak_valid),
        sites=_sites(red),
        dumps=dumps,
        matcher=m,
    )
