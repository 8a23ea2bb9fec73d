"""Culprits of memory that no application frame allocated, inferred from the whole session.

A heap site's culprit is the innermost application frame on its allocation
stacks. Some leaking memory has none: a server reads the request and takes a
pooled context before it calls the application's middleware (net/http, gin), a
client library fills buffers in goroutines of its own. The line to fix is still
in the application: the code that keeps what the library handed it. Two kinds
of evidence, from every stack the session showed (``RunFold.note_callers``),
name it, strongest first:

1. The library runs the application. Other stacks show the same chain of
   library frames from the goroutine's root as the allocation stack, going on
   into application code (middleware, handlers, a consumer's callback). What
   the chain allocated is handed to that code on the same goroutine; the
   outermost application function under the innermost such chain receives it
   first and on every path (a middleware before the handlers it wraps). Among
   functions about as often seen there, one that itself grows a slice or a map
   (``runtime.growslice``, ``mapassign`` samples under it) is preferred: it is
   seen keeping things.
2. The application calls the library. The allocation ran in a goroutine the
   library started: whoever created it (debug=2 dumps) and the application call
   that enters the library that created it (``entry_point``, which goroutine
   findings use too).

No evidence, no guess: the culprit stays the library frame. An inferred culprit
says so in the finding's evidence, lowers its confidence and ranks after
culprits seen on an allocation stack. Findings left with one cause become one
(``infer_culprits``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from leakhunter.analyze.frames import (
    AppMatcher,
    Origin,
    chain_keys,
    first_interesting,
    module_of,
    package_of,
    runs_anything,
)
from leakhunter.analyze.heap_findings import LIBRARY_CULPRIT
from leakhunter.analyze.reduce import Reduced
from leakhunter.analyze.verdict import Finding, FindingKind, Growth
from leakhunter.model.goroutine import Frame

__all__ = ["Inference", "entry_point", "infer_culprit", "infer_culprits"]

#: leaf frames of an allocation that grows a collection in place
_GROWS = ("runtime.growslice", "runtime.mapassign", "internal/runtime/maps.")
#: candidates seen at least this share as often as the most seen one are weighed again
_CLOSE = 0.5


@dataclass(frozen=True, slots=True)
class Inference:
    """An application frame blamed for memory a library allocated, and why."""

    frame: Frame
    via: str  # "runs" (the library runs it) | "enters" (it calls the library)
    evidence: str
    strength: float  # 0..1: the share of the evidence that points at it


def entry_point(red: Reduced, creator: str) -> tuple[Frame, str] | None:
    """Find the app call that leads into the library code that ``creator`` belongs to.

    Narrowest first: callers of the function itself, then of its receiver type
    (``net/http.(*Transport).``), then (third-party code only) its package and
    its module. Any stack of the session counts (heap stacks, alloc-only stacks,
    goroutines). Returns the app frame and the scope it was found for; no
    evidence: None.
    """
    callers = red.callers
    exact = callers.get(creator)
    if exact:
        return max(exact.items(), key=lambda kv: kv[1])[0], creator
    pkg = package_of(creator)
    scopes = []
    if creator[len(pkg) :].startswith(".(") and ")." in creator[len(pkg) :]:
        scopes.append(creator[: creator.index(").", len(pkg)) + 2])
    stdlib = "." not in pkg.split("/", 1)[0]
    if not stdlib:
        # a third-party package or module is one library with one purpose; a
        # standard-library package (net/http: client and server) is too broad
        scopes.append(pkg + ".")
    for scope in scopes:
        tally: dict[Frame, int] = {}
        for fn, row in callers.items():
            if fn.startswith(scope):
                for frame, n in row.items():
                    tally[frame] = tally.get(frame, 0) + n
        if tally:
            return max(tally.items(), key=lambda kv: kv[1])[0], scope.rstrip(".")
    mod = module_of(creator)
    mrow = None if stdlib else red.module_callers.get(mod)
    if mrow:
        return max(mrow.items(), key=lambda kv: kv[1])[0], mod
    return None


def infer_culprit(red: Reduced, frames: Sequence[Frame]) -> Inference | None:
    """Return the app frame to blame for memory allocated on ``frames`` (no app frame on them)."""
    m = red.matcher
    if not frames or any(m.is_app(f) for f in frames):
        return None
    return _runs(red, frames) or _enters(red, frames)


def _runs(red: Reduced, frames: Sequence[Frame]) -> Inference | None:
    """The app code run below the innermost library chain of ``frames`` that runs any."""
    m = red.matcher
    own = [f for f in frames if m.origin(f) is not Origin.RUNTIME]
    for f, key in zip(own, chain_keys(frames, m), strict=True):
        if runs_anything(f):
            return None  # what a generic runner runs elsewhere is other work
        row = red.callees.get(key)
        if row:
            return _choose(red, f, row)
    return None


def _choose(red: Reduced, lib: Frame, row: dict[Frame, int]) -> Inference:
    """Pick the app function a library chain runs: the most seen, or a close one that keeps."""
    seen: dict[str, int] = {}
    best: dict[str, tuple[int, Frame]] = {}
    for fr, n in row.items():
        seen[fr.function] = seen.get(fr.function, 0) + n
        if n > best.get(fr.function, (0, fr))[0]:
            best[fr.function] = (n, fr)
    ranked = sorted(seen, key=lambda fn: (-seen[fn], fn))
    close = [fn for fn in ranked if seen[fn] >= _CLOSE * seen[ranked[0]]]
    keeps = [fn for fn in close if _grows_collection(red, fn)]
    chosen = (keeps or ranked)[0]
    total = sum(seen.values())
    others = [fn for fn in ranked if fn != chosen][:2]
    text = (
        "no application frame is on this allocation stack; the culprit is inferred: the "
        f"library path that allocated it ({lib.function}) runs {chosen} on other stacks "
        f"of the session, the first application code under it on {seen[chosen]} of the "
        f"{total} that run any: it is handed what that path allocates"
    )
    if keeps:
        text += f"; {chosen} grows a slice or map of its own (growslice/mapassign samples)"
    if others:
        text += f"; also run there: {', '.join(others)}"
    return Inference(best[chosen][1], "runs", text, seen[chosen] / total)


def _grows_collection(red: Reduced, function: str) -> bool:
    """Return True when an allocation site of ``function`` grows a slice or map."""
    frames = red.site_frames.get(function, ())
    return any(f.function.startswith(_GROWS) for f in frames[:3])


def _enters(red: Reduced, frames: Sequence[Frame]) -> Inference | None:
    """The app call that started the library goroutine ``frames`` ran in.

    Its creator, as debug=2 dumps name it for a group with the same root (a
    long-lived goroutine), else the goroutine's own function (a short-lived one,
    which no dump caught: a connection's dialer): the app call that enters the
    library code it belongs to. A generic runner's goroutine is no evidence.
    """
    m = red.matcher
    root = _root(frames, m)
    if root is None or runs_anything(root):
        return None
    for key in sorted(red.dumps):
        creator = red.dumps[key].created_by
        other = _root(red.group_frames.get(key, ()), m)
        if creator is None or other is None or other.function != root.function:
            continue
        if m.is_app(creator):
            return _entered(root, creator, (creator, ""))
        found = entry_point(red, creator.function)
        if found is not None:
            return _entered(root, creator, found)
    found = entry_point(red, root.function)
    return None if found is None else _entered(root, None, found)


def _entered(root: Frame, creator: Frame | None, found: tuple[Frame, str]) -> Inference:
    """Say how the app call behind a library goroutine was found."""
    cul, scope = found
    if not scope:
        how = f"{cul.function} started it"
    elif creator is None:
        how = f"the application enters {scope} from {cul.function}"
    else:
        how = f"{creator.function} started it; the application enters {scope} from {cul.function}"
    text = (
        "no application frame is on this allocation stack; the culprit is inferred: "
        f"it ran in a goroutine of {root.function} (library code); {how}"
    )
    return Inference(cul, "enters", text, 1.0 if not scope else 0.5)


def _root(frames: Sequence[Frame], m: AppMatcher) -> Frame | None:
    """The outermost frame of a stack outside the runtime (a goroutine's own function)."""
    return next((f for f in reversed(frames) if m.origin(f) is not Origin.RUNTIME), None)


def infer_culprits(red: Reduced, heap: list[Finding]) -> list[Finding]:
    """Blame app code for heap findings whose culprit is library code; one finding per cause.

    A finding whose culprit gets inferred keeps its allocation stack and says
    how the culprit was found. Findings that then blame the same function (the
    request headers and the contexts one middleware keeps; or memory a function
    allocates itself and memory it keeps from a library) are one cause: they
    become one finding, led by one whose stack shows the culprit, if any. So is
    memory that library code allocated inside the call of an inferred culprit
    (the response headers a handler's ``c.JSON`` writes, under the middleware
    that keeps the context they hang from), when the inferred culprit's own
    findings grew at least as much: what keeps the requests keeps all that
    hangs from them.
    """
    m = red.matcher
    found: list[Finding] = []
    for f in heap:
        inf = None
        if f.kind is FindingKind.HEAP and (f.culprit is None or not m.is_app(f.culprit)):
            inf = infer_culprit(red, f.stack)
        if inf is None:
            found.append(f)
            continue
        found.append(
            replace(
                f,
                culprit=inf.frame,
                culprit_via=inf.via,
                confidence=round(f.confidence * (0.6 + 0.25 * inf.strength), 2),
                evidence=(*(e for e in f.evidence if e != LIBRARY_CULPRIT), inf.evidence),
            )
        )
    keys = _causes(found, m)
    members: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        members.setdefault(k, []).append(i)
    out = []
    for i, f in enumerate(found):
        group = members[keys[i]]
        if len(group) == 1 or not any(found[k].culprit_via for k in group):
            out.append(f)
        elif i == group[0]:
            out.append(_joined(keys[i], [found[k] for k in group]))
    return out


def _causes(found: list[Finding], m: AppMatcher) -> list[str]:
    """Key each finding by the function its cause is (its own index when not a heap culprit)."""
    keys = [
        f.culprit.function if f.kind is FindingKind.HEAP and f.culprit is not None else f"#{i}"
        for i, f in enumerate(found)
    ]
    held: dict[str, float] = {}  # inferred culprit ("runs") -> bytes its findings grew
    for f in found:
        if f.culprit_via == "runs" and f.culprit is not None:
            held[f.culprit.function] = held.get(f.culprit.function, 0.0) + _grown(f)
    if not held:
        return keys
    for i, f in enumerate(found):
        if f.culprit_via or f.kind is not FindingKind.HEAP or f.culprit is None:
            continue
        own = first_interesting(f.stack, m)
        if own is None or m.is_app(own):
            continue  # the app allocated it itself: its own cause
        wrapper = _wrapper(f.stack, f.culprit, held, m)
        if wrapper is not None and held[wrapper] >= _grown(f):
            keys[i] = wrapper
    return keys


def _wrapper(
    stack: Sequence[Frame], own: Frame, held: dict[str, float], m: AppMatcher
) -> str | None:
    """The innermost inferred culprit that ``own``'s call runs under on ``stack``."""
    names = [f.function for f in stack]
    if own.function not in names:
        return None
    for f in stack[names.index(own.function) + 1 :]:
        if f.function in held and m.is_app(f):
            return f.function
    return None


def _grown(f: Finding) -> float:
    return max(0.0, f.growth.end - f.growth.start)


def _joined(cause: str, group: list[Finding]) -> Finding:
    """Join findings of one cause, led by one that blames it, seen on its stack if any."""
    blame = [f for f in group if f.culprit is not None and f.culprit.function == cause]
    first = next((f for f in blame if not f.culprit_via), blame[0] if blame else group[0])
    lead = first
    for f in group:
        if f is not first:
            lead = _join(lead, f)
    return lead


def _join(a: Finding, b: Finding) -> Finding:
    """Add heap finding ``b`` to ``a`` (one cause): growth adds up, evidence follows."""
    extra: tuple[str, ...] = ()
    same = (
        a.culprit is not None and b.culprit is not None and a.culprit.function == b.culprit.function
    )
    if not same and a.culprit is not None and b.culprit is not None:
        extra = (
            f"{b.culprit.function} allocated this in library code it called, inside "
            f"{a.culprit.function}, whose findings grew more: counted with them, as what "
            "keeps the requests keeps what hangs from them",
        )
    return replace(
        a,
        confidence=max(a.confidence, b.confidence) if same else a.confidence,
        growth=Growth(
            a.growth.unit,
            a.growth.start + b.growth.start,
            a.growth.end + b.growth.end,
            a.growth.per_hour + b.growth.per_hour,
        ),
        evidence=(*a.evidence, *b.evidence, *extra),
        series=(*a.series, *b.series),
        app_frames=tuple(sorted(set(a.app_frames) | set(b.app_frames))),
        linked=tuple(dict.fromkeys((*a.linked, *b.linked))),
    )
