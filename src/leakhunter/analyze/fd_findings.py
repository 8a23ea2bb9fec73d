"""File-descriptor findings: open files and sockets that keep growing, toward the limit.

"too many open files" ends a service as surely as the OOM killer. The count of
open descriptors comes from ``/proc`` (a target on this host) or the target's
``process_open_fds`` metric; it is exact, so it is judged like the exact heap:
growth that is significant, above noise and persists to the end of the window.
The usual cause also shows elsewhere: one goroutine per connection (an HTTP
body never closed keeps its read loop), or the ``*os.File``/``*netFD`` objects
on the heap. A goroutine or heap finding growing at a like rate is the same
cause, so the fd evidence joins it; otherwise the fd finding stands alone and
borrows the culprit of the heap site that allocates descriptors, if one grows.
"""

from __future__ import annotations

from dataclasses import replace

from leakhunter.analyze.evidence import confidence, finding_id, make_series, valid
from leakhunter.analyze.frames import culprit
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.reduce import Reduced
from leakhunter.analyze.sampling import grows_in_step
from leakhunter.analyze.trend import Trend, assess
from leakhunter.analyze.verdict import Finding, FindingKind, FindingVerdict, Growth, Series
from leakhunter.model.goroutine import Frame
from leakhunter.units import format_duration

__all__ = ["fd_findings"]

#: functions on the allocation stack of a descriptor's wrapper object
_OPENERS = (
    "os.newFile",
    "os.openFileNolog",
    "os.OpenFile",
    "net.newFD",
    "net.(*netFD)",
    "net.socket",
    "syscall.Socket",
    "socket.socket",
    "io.open",
    "builtins.open",
)
#: a goroutine (or heap object count) growing within this factor of the fd rate is one cause
_LIKE_RATE = 2.0


def _exhaustion(red: Reduced, tr: Trend, current: float) -> float | None:
    if red.max_fds is None or tr.slope <= 0:
        return None
    return max(0.0, (red.max_fds - current) / tr.slope)


def _evidence(red: Reduced, y: list[float], tr: Trend, ttl: float | None) -> tuple[str, ...]:
    src = "from /proc" if red.process_source == "procfs" else "from process_open_fds"
    ev = [
        f"open file descriptors {src} grew {y[0]:,.0f} -> {y[-1]:,.0f} "
        f"({tr.slope * 60:+,.1f}/min), trend p={tr.p_value:.1g}"
    ]
    if ttl is not None and red.max_fds is not None:
        ev.append(
            f"at this rate the descriptor limit ({red.max_fds:,}) is reached in "
            f"~{format_duration(ttl)}: then every accept(), open() and dial fails"
        )
    return tuple(ev)


def _opener_site(red: Reduced) -> tuple[Frame | None, tuple[Frame, ...]]:
    """The culprit of a heap site whose stack opens descriptors (None when there is none)."""
    for frames in red.site_frames.values():
        if any(f.function.startswith(_OPENERS) for f in frames):
            found = culprit(frames, red.matcher)
            if found is not None:
                return found, frames
    return None, ()


def _same_cause(red: Reduced, f: Finding, fd_rate: float) -> bool:
    """Return True when a leak finding grows alike with the descriptors: one per each.

    Goroutine counts are exact and held to a 2x band; a heap site's live objects
    are sampled, so the band is widened by what its few raw samples allow
    (``analyze/sampling.py``: one 15 s CI window measured 0.41x the true rate).
    """
    for s in f.series:
        if s.unit == "goroutines" and 1 / _LIKE_RATE <= s.fit_slope / fd_rate <= _LIKE_RATE:
            return True
    return f.kind is FindingKind.HEAP and grows_in_step(red, f, fd_rate, 1 / _LIKE_RATE, _LIKE_RATE)


def _alike(f: Finding) -> str:
    if f.kind is FindingKind.GOROUTINE or "goroutine" in f.linked:
        return "the goroutines and the descriptors grow alike: each goroutine holds one open"
    return (
        "the live objects allocated here and the descriptors grow alike: each object "
        "keeps a file or socket open"
    )


def fd_findings(
    red: Reduced, options: AnalyzeOptions, others: list[Finding]
) -> tuple[list[Finding], list[Finding]]:
    """Judge the descriptor count; return (findings it updated, new fd findings)."""
    if red.open_fds is None:
        return others, []
    t, y = valid(red.t, red.open_fds)
    if len(y) < options.trend.min_points:
        return others, []
    tr = assess(t, y, options.trend)
    if not tr.growing or tr.growth < options.min_fd_growth:
        return others, []
    ttl = _exhaustion(red, tr, float(y[-1]))
    ev = _evidence(red, [float(v) for v in y], tr, ttl)
    series = make_series("open file descriptors", "fds", t, y, tr)
    for i, f in enumerate(others):
        if f.verdict is not FindingVerdict.LEAK:
            continue
        if _same_cause(red, f, tr.slope):
            joined = replace(
                f,
                evidence=(*f.evidence, *ev, _alike(f)),
                series=(*f.series, series),
                linked=tuple(dict.fromkeys((*f.linked, "fd"))),
                exhaustion_seconds=ttl,
            )  # fmt: skip
            return [*others[:i], joined, *others[i + 1 :]], []
    cul, frames = _opener_site(red)
    finding = Finding(
        id=finding_id("fd", "open_fds"),
        kind=FindingKind.FD,
        verdict=FindingVerdict.LEAK,
        confidence=confidence(tr, 0.05),
        culprit=cul,
        stack=frames,
        growth=Growth("fds", max(0.0, tr.start), max(0.0, tr.end), tr.slope * 3600),
        evidence=ev
        + (() if cul else ("no heap site that opens descriptors grew: the culprit is unknown",)),
        series=(series,),
        linked=("fd",),
        exhaustion_seconds=ttl,
    )
    return others, [finding]


def fd_series(red: Reduced) -> Series | None:
    """Return the descriptor count as a chart series (None when unknown)."""
    if red.open_fds is None:
        return None
    t, y = valid(red.t, red.open_fds)
    return make_series("open file descriptors", "fds", t, y, None) if len(y) else None
