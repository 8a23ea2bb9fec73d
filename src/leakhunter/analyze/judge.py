"""Judge reduced series: link heap and goroutine evidence, rank, project, decide.

Principles (DESIGN.md): the whole-heap call uses exact MemStats (no sampling
noise); sampled per-site data only attributes. Growth must be significant,
persist to the end of the window and exceed the series' own noise. Goroutine
groups are judged on exact counts, fused with wait state, wait minutes and the
runtime's goroutineleak marks. Evidence sharing application frames is one cause.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from leakhunter.analyze.evidence import make_series, valid
from leakhunter.analyze.fd_findings import fd_findings, fd_series
from leakhunter.analyze.frames import AppMatcher, Origin, module_of
from leakhunter.analyze.gc_figures import gc_figures
from leakhunter.analyze.goroutine_findings import GoroutineJudge
from leakhunter.analyze.heap_findings import HeapJudge
from leakhunter.analyze.inference import infer_culprits
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.reduce import Reduced
from leakhunter.analyze.sampling import grows_in_step
from leakhunter.analyze.trend import assess
from leakhunter.analyze.verdict import (
    Finding,
    FindingKind,
    FindingVerdict,
    Projection,
    Verdict,
    VerdictValue,
)
from leakhunter.model.goroutine import Frame
from leakhunter.units import format_duration, format_value

__all__ = ["AnalyzeOptions", "judge", "project", "rank_key", "summarize"]

_NO_LIMIT = (1 << 63) - 1
#: live objects per goroutine, at most, for a library goroutine group and an app heap
#: site to grow "in step" (a connection: its request, response, buffers)
_IN_STEP = 4.0


def _modules(frames: tuple[Frame, ...], matcher: AppMatcher) -> set[str]:
    """Third-party modules on a stack."""
    return {
        module_of(f.function, f.file) for f in frames if matcher.origin(f) is Origin.THIRD_PARTY
    }


def _same_cause(red: Reduced, h: Finding, g: Finding, matcher: AppMatcher) -> bool:
    """Whether a goroutine finding and a heap finding are one cause.

    They are when they share application frames; when the heap site is a
    third-party library's own memory and the goroutines are that library's,
    started by the app. A group of library goroutines
    (a connection's read loop) whose app entry point no stack of the window
    showed, so that its culprit would be library code, is taken as one cause with
    a heap site in the app whose live objects grow in step with it (a few objects
    per goroutine at most): a connection left open keeps both. Which sampled
    stacks show the app's call into the library is luck; the rates are exact.
    """
    if h.verdict != g.verdict:
        return False
    if set(h.app_frames) & set(g.app_frames):
        return True
    if g.culprit is not None and matcher.is_app(g.culprit):
        # Memory a third-party library holds with no app frame on its stacks (gRPC's
        # transport buffers) belongs to the goroutines of that library the app leaks.
        return not h.app_frames and bool(_modules(h.stack, matcher) & _modules(g.stack, matcher))
    if h.culprit is None or not matcher.is_app(h.culprit):
        return False
    return grows_in_step(red, h, g.growth.per_hour / 3600.0, 0.5, _IN_STEP)


def _link(
    red: Reduced, heap: list[Finding], gor: list[Finding]
) -> tuple[list[Finding], list[Finding]]:
    """Merge goroutine findings into the heap findings of the same cause."""
    merged_heap = list(heap)
    rest: list[Finding] = []
    for g in gor:
        target = next(
            (i for i, h in enumerate(merged_heap) if _same_cause(red, h, g, red.matcher)),
            None,
        )
        if target is None:
            rest.append(g)
            continue
        h = merged_heap[target]
        # A goroutine blocked in application code that is also on the allocation
        # path holds the memory: the line to fix is where it blocks. Otherwise blame
        # where the memory is allocated, falling back on the goroutine's culprit.
        g_own = (
            g.goroutines is not None
            and g.culprit is not None
            and any(f == g.culprit for f in g.stack)
            and g.culprit.function in set(h.app_frames)
        )
        h_app = h.culprit is not None and h.culprit.function in set(h.app_frames)
        chosen = g.culprit if g_own or not h_app else h.culprit
        merged_heap[target] = replace(
            h,
            culprit=chosen,
            stack=g.stack if chosen is g.culprit else h.stack,
            confidence=round(min(0.99, max(h.confidence, g.confidence) + 0.05), 2),
            evidence=h.evidence + g.evidence,
            series=h.series + g.series,
            goroutines=h.goroutines or g.goroutines,
            app_frames=tuple(sorted(set(h.app_frames) | set(g.app_frames))),
            linked=tuple(dict.fromkeys(h.linked + g.linked)),
        )
    return merged_heap, rest


def rank_key(f: Finding, matcher: AppMatcher) -> tuple[int, int, int, float, float]:
    """Sort key of findings: leaks first, app culprits first, then confidence and rate.

    A descriptor finding that stands alone (no goroutine or heap finding grew
    with it) says what grows but only guesses where: it comes after the others.
    An app culprit inferred from other stacks (``culprit_via``) comes after one
    seen on the finding's own stacks, before library code.
    """
    order = {FindingVerdict.LEAK: 0, FindingVerdict.SUSPECT: 1, FindingVerdict.CHURN: 2}
    app = 2
    if f.culprit is not None and matcher.is_app(f.culprit):
        app = 1 if f.culprit_via else 0
    alone = 1 if f.kind is FindingKind.FD else 0
    return order[f.verdict], alone, app, -f.confidence, -abs(f.growth.per_hour)


def project(red: Reduced, o: AnalyzeOptions, leaking: bool) -> Projection:
    """Project the footprint of a window to the memory limit (time-to-OOM when leaking).

    The rate is the trend of the exact live figures (HeapAlloc + StackInuse after
    a GC: smooth, and what a leak adds to). The level it starts from is what the
    OOM killer counts: the resident set when the kernel or /metrics tells it, else
    ``Sys - HeapReleased`` (memory the runtime holds from the OS and has not given
    back, fragmentation and free spans included). The limit is --limit, else the
    cgroup's (what the OOM killer enforces), else GOMEMLIMIT.
    """
    limit, source = o.limit_bytes, "--limit" if o.limit_bytes else ""
    if limit is None and red.memory_limit:
        limit, source = red.memory_limit, "cgroup memory limit"
    if limit is None and red.gomemlimit and red.gomemlimit < _NO_LIMIT:
        limit, source = red.gomemlimit, "GOMEMLIMIT"
    live = red.exact["HeapAlloc"] + np.nan_to_num(red.exact["StackInuse"])
    t, y = valid(red.t, live)
    if len(y) < 2:
        return Projection(limit, None, source)
    tr = assess(t, y, o.trend)
    held = red.exact["Sys"] - red.exact["HeapReleased"]
    _, h = valid(red.t, held)
    _, rss = valid(red.t, red.rss) if red.rss is not None else (None, np.zeros(0))
    if len(rss) and rss[-1] >= y[-1]:
        what = "resident set, /proc" if red.process_source == "procfs" else "resident set"
        current, basis = int(rss[-1]), f"RSS ({what})"
    elif len(h) and h[-1] >= y[-1]:
        current, basis = int(h[-1]), "Sys - HeapReleased"
    else:
        current, basis = int(y[-1]), "HeapAlloc + StackInuse"
    ttl = None
    if leaking and limit is not None and tr.slope > 0:
        ttl = max(0.0, (limit - current) / tr.slope)
    return Projection(
        limit,
        ttl,
        source,
        current,
        tr.slope if leaking else None,
        footprint_source=basis,
        rate_source="HeapAlloc + StackInuse" if leaking else "",
    )


def judge(
    red: Reduced,
    target: str,
    options: AnalyzeOptions | None = None,
    *,
    restarts: int = 0,
    notes: tuple[str, ...] = (),
) -> Verdict:
    """Turn one epoch's reduced series into a verdict."""
    o = options or AnalyzeOptions()
    hj, gj = HeapJudge(red, o), GoroutineJudge(red, o)
    n = len(red.t)
    window = float(red.t[-1] - red.t[0]) if n else 0.0
    all_notes = list(notes) + [f"could not read: {e}" for e in red.errors[:5]]
    if red.heap_unforced:
        all_notes.append(
            f"{red.heap_unforced} of the {n} heap figures were read without a forced GC "
            "(--gc-every) and count garbage too: too few forced ones for the exact trend"
        )
    whole, heap_series = hj.heap_trend()
    leaking = hj.heap_leaking(whole)
    if hj.saturated is not None:
        all_notes.append(
            "live heap: " + hj.saturated.describe(format_value(hj.saturated.asymptote, "bytes"))
        )
    t_g, y_g = valid(red.t, red.goroutines_total)
    g_series = make_series("goroutines (total)", "goroutines", t_g, y_g, None) if len(y_g) else None
    if n < o.trend.min_points:
        all_notes.append(
            f"only {n} snapshots in the window; at least {o.trend.min_points} are needed"
        )
        return Verdict(
            target=target,
            snapshots=n,
            window_seconds=window,
            verdict=VerdictValue.INCONCLUSIVE,
            findings=(),
            projection=project(red, o, False),
            summary="inconclusive: the window is too short to judge growth",
            notes=tuple(all_notes),
            heap=heap_series,
            goroutines=g_series,
            extra_series=tuple(x for x in (fd_series(red),) if x is not None),
            app_prefix=o.app_prefix,
            restarts=restarts,
            gc=gc_figures(red),
        )
    heap = hj.heap_findings(whole, leaking)
    gor = gj.goroutine_findings()
    all_notes.extend(gj.pools)
    heap, gor = _link(red, heap, gor)
    joined, fds = fd_findings(red, o, heap + gor)
    heap, gor = joined[: len(heap)], joined[len(heap) :]
    leak_sites = {f.culprit.function for f in heap if f.culprit}
    heap = infer_culprits(red, heap)  # after linking: goroutine evidence names culprits first
    # churn is reported beside a leak too: both cost the service, and a fix of one
    # should not hide the other (the leak's own site is never called churn)
    churn = hj.churn_findings(leak_sites)
    findings = sorted(heap + gor + fds + churn, key=lambda f: rank_key(f, red.matcher))
    findings = findings[: o.max_findings]
    if leaking and whole is not None and not any(f.kind is FindingKind.HEAP for f in findings):
        if any(f.verdict is FindingVerdict.LEAK for f in findings):
            all_notes.append(
                "the exact live heap grows, but no single allocation site explains it "
                "(growth spread thin, or too small for the heap profile's sampling)"
            )
        else:  # the exact heap proves a leak on its own: say so, culprit unknown
            findings.insert(0, hj.unattributed(whole, heap_series))
    is_leak = any(f.verdict is FindingVerdict.LEAK for f in findings)
    value = VerdictValue.LEAK if is_leak else VerdictValue.NO_LEAK
    proj = project(red, o, is_leak)
    return Verdict(
        target=target,
        snapshots=n,
        window_seconds=window,
        verdict=value,
        findings=tuple(findings),
        projection=proj,
        summary=summarize(value, findings, proj),
        notes=tuple(all_notes),
        heap=heap_series,
        goroutines=g_series,
        app_prefix=o.app_prefix,
        restarts=restarts,
        extra_series=tuple(x for x in (fd_series(red),) if x is not None),
        gc=gc_figures(red),
    )


def summarize(value: VerdictValue, findings: list[Finding], proj: Projection) -> str:
    """Return the one-line summary of a verdict."""
    if value is VerdictValue.NO_LEAK:
        churn = [f for f in findings if f.kind is FindingKind.CHURN]
        extra = f"; {len(churn)} allocation churn finding(s)" if churn else ""
        return f"no leak: memory and goroutines stay bounded{extra}"
    lead = next(f for f in findings if f.verdict is FindingVerdict.LEAK)
    where = lead.culprit.function if lead.culprit else "an unknown site"
    unit = lead.growth.unit
    rate = (
        f"{format_value(lead.growth.per_hour, 'bytes')}/h"
        if unit == "bytes"
        else f"{lead.growth.per_hour:+,.0f} goroutines/h"
    )
    text = f"leak in {where}: {rate}"
    if proj.time_to_oom_seconds is not None:
        text += f"; out of memory in ~{format_duration(proj.time_to_oom_seconds)}"
    return text
