"""Judge reduced series: heap and goroutine findings, linking, churn, projection, verdict.

Principles (DESIGN.md): the whole-heap call uses exact MemStats (no sampling
noise); sampled per-site data only attributes. Growth must be significant,
persist to the end of the window and exceed the series' own noise. Goroutine
groups are judged on exact counts, fused with wait state, wait minutes and the
runtime's goroutineleak marks. Evidence sharing application frames is one cause.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.frames import (
    AppMatcher,
    Origin,
    culprit,
    first_interesting,
    module_of,
    package_of,
)
from leakhunter.analyze.reduce import DumpFacts, Reduced
from leakhunter.analyze.trend import Trend, TrendOptions, assess
from leakhunter.analyze.verdict import (
    Finding,
    FindingKind,
    FindingVerdict,
    GoroutineFacts,
    Growth,
    Projection,
    Series,
    Verdict,
    VerdictValue,
)
from leakhunter.model.goroutine import Frame, WaitClass, classify_state
from leakhunter.units import format_duration, format_value

__all__ = ["AnalyzeOptions", "judge"]

F64 = npt.NDArray[np.float64]
_NO_LIMIT = (1 << 63) - 1
_LEAKY_CLASSES = {WaitClass.CHANNEL, WaitClass.SELECT, WaitClass.SYNC, WaitClass.IO}


@dataclass(frozen=True, slots=True)
class AnalyzeOptions:
    """Knobs of the judgement; defaults are what the zoo accuracy bar was met with."""

    app_prefix: str | None = None
    limit_bytes: int | None = None
    trend: TrendOptions = field(default_factory=TrendOptions)
    min_heap_growth_bytes: float = 1 << 20
    min_heap_growth_fraction: float = 0.05
    min_site_share: float = 0.10
    min_goroutine_growth: float = 20.0
    churn_min_rate: float = 16 * (1 << 20)
    churn_heap_ratio: float = 1.0
    max_findings: int = 10
    rule_dirs: tuple[str, ...] = ()  # user rule dirs, applied over the builtin rules


def _fid(kind: str, key: str) -> str:
    return f"{kind}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _confidence(tr: Trend, bonus: float = 0.0) -> float:
    sig = min(1.0, -math.log10(max(tr.p_value, 1e-12)) / 8.0)
    pers = min(1.0, max(0.0, tr.persistence))
    mono = min(1.0, max(0.0, (tr.monotone - 0.5) * 2))
    score = 0.45 + 0.2 * sig + 0.15 * pers + 0.1 * mono + bonus
    return round(min(0.99, max(0.05, score)), 2)


def _series(label: str, unit: str, t: F64, y: F64, tr: Trend | None) -> Series:
    return Series(
        label=label,
        unit=unit,
        t=tuple(round(float(x), 3) for x in t),
        values=tuple(float(v) for v in y),
        fit_slope=tr.slope if tr else 0.0,
        fit_start=tr.start if tr else 0.0,
    )


def _valid(t: F64, y: F64, mask: list[bool] | None = None) -> tuple[F64, F64]:
    ok = ~np.isnan(y)
    if mask is not None and len(mask) == len(y):
        ok &= np.asarray(mask, dtype=bool)
    return t[ok], y[ok]


def _rate(value: float, unit: str) -> str:
    return f"{format_value(value * 3600, unit)}/h"


class _Judge:
    def __init__(self, red: Reduced, options: AnalyzeOptions) -> None:
        self.red = red
        self.o = options
        self.m: AppMatcher = red.matcher
        self.notes: list[str] = []
        self.pools: list[str] = []

    # -- whole heap -------------------------------------------------------
    def heap_trend(self) -> tuple[Trend | None, Series | None]:
        t, y = _valid(self.red.t, self.red.exact["HeapAlloc"])
        if len(y) < 2:
            return None, None
        tr = assess(t, y, self.o.trend)
        return tr, _series("live heap (HeapAlloc after GC)", "bytes", t, y, tr)

    def heap_leaking(self, tr: Trend | None) -> bool:
        if tr is None or not tr.growing:
            return False
        floor = max(self.o.min_heap_growth_bytes, self.o.min_heap_growth_fraction * tr.start)
        return tr.growth >= floor

    # -- heap sites -------------------------------------------------------
    def heap_findings(self, whole: Trend | None, leaking: bool) -> list[Finding]:
        red = self.red
        table = red.heap_inuse
        if not table.rows:
            return []
        ref = max(whole.growth if whole else 0.0, self.o.min_heap_growth_bytes)
        out: list[tuple[float, Finding]] = []
        for site in table.rows:
            t, y = _valid(red.t, table.array(site), red.heap_valid)
            if len(y) < self.o.trend.min_points or y.max() <= 0:
                continue
            tr = assess(t, y, self.o.trend)
            if leaking:
                # Persistence is already proven on the exact heap; sampled per-site
                # data moves in ~512 KiB stairs, so here it only has to attribute.
                ok = tr.p_value < self.o.trend.late_alpha and tr.slope > 0
            else:
                ok = tr.growing and tr.growth >= self.o.min_heap_growth_bytes
            if not ok or tr.growth < self.o.min_site_share * ref:
                continue
            verdict = FindingVerdict.LEAK if leaking else FindingVerdict.SUSPECT
            out.append((tr.growth, self.heap_finding(site, t, y, tr, whole, verdict)))
        out.sort(key=lambda p: -p[0])
        return [f for _, f in out]

    def heap_finding(
        self, site: str, t: F64, y: F64, tr: Trend, whole: Trend | None, verdict: FindingVerdict
    ) -> Finding:
        frames = self.red.site_frames.get(site, ())
        cul = culprit(frames, self.m) or first_interesting(frames, self.m)
        ev = [
            f"inuse memory allocated under {cul.function if cul else site} grew "
            f"{format_value(y[0], 'bytes')} -> {format_value(y[-1], 'bytes')} "
            f"({_rate(tr.slope, 'bytes')}, sampled heap profile), trend p={tr.p_value:.1g}",
        ]
        bonus = 0.0
        if whole is not None and verdict is FindingVerdict.LEAK:
            ev.append(
                "exact live heap (HeapAlloc after GC) grew "
                f"{format_value(max(0.0, whole.start), 'bytes')} -> "
                f"{format_value(whole.end, 'bytes')} ({_rate(whole.slope, 'bytes')}); "
                f"this site accounts for {min(1.0, tr.growth / max(whole.growth, 1)):.0%}"
            )
            bonus += 0.05
        objs = self.red.heap_objects.rows.get(site)
        if objs is not None:
            to, yo = _valid(self.red.t, np.asarray(objs), self.red.heap_valid)
            if len(yo) >= 2 and yo[-1] > yo[0]:
                ev.append(f"live objects {yo[0]:,.0f} -> {yo[-1]:,.0f}")
        if cul is None or not self.m.is_app(cul):
            ev.append("no application frame on this allocation stack; culprit is library code")
        conf = _confidence(tr, bonus) * (1.0 if verdict is FindingVerdict.LEAK else 0.6)
        return Finding(
            id=_fid("heap", site),
            kind=FindingKind.HEAP,
            verdict=verdict,
            confidence=round(conf, 2),
            culprit=cul,
            stack=frames,
            growth=Growth("bytes", max(0.0, tr.start), max(0.0, tr.end), tr.slope * 3600),
            evidence=tuple(ev),
            series=(_series(f"inuse bytes at {site}", "bytes", t, y, tr),),
            app_frames=tuple(sorted(self.red.site_app.get(site, set()))),
            linked=("heap",),
        )

    # -- goroutine groups -------------------------------------------------
    def goroutine_findings(self) -> list[Finding]:
        red = self.red
        out: list[tuple[float, Finding]] = []
        for key in red.groups.rows:
            t, y = _valid(red.t, red.groups.array(key), red.group_valid)
            if len(y) < self.o.trend.min_points:
                continue
            tr = assess(t, y, self.o.trend)
            leaked = self.leaked_series(key)
            facts = red.dumps.get(key)
            self.note_pool(key, y, facts)
            marked = leaked is not None and leaked[-1] > 0 and leaked[-1] >= leaked[0]
            grows = tr.growing and tr.growth >= self.o.min_goroutine_growth
            if not grows and not (marked and tr.growing):
                continue
            out.append((tr.growth, self.goroutine_finding(key, t, y, tr, leaked, facts)))
        out.sort(key=lambda p: -p[0])
        return [f for _, f in out]

    def note_pool(self, key: str, y: F64, facts: DumpFacts | None) -> None:
        """Say so when a big group is a fixed-size pool: parked, but not a leak."""
        if len(y) < 2 or y.min() < 16 or y.min() != y.max() or len(self.pools) >= 3:
            return
        frames = self.red.group_frames.get(key, ())
        state = facts.state if facts and facts.state else _infer(frames)
        where = culprit(frames, self.m) or first_interesting(frames, self.m)
        name = where.function if where else key
        self.pools.append(
            f"{int(y[0])} goroutines {'in ' + state + ' ' if state else ''}at {name} "
            "stayed exactly constant: a fixed-size pool, not a leak"
        )

    def entry_point(self, creator: str) -> tuple[Frame, str] | None:
        """Find the app call that leads into the library code that spawned goroutines.

        Narrowest first: callers of the creating function itself, then of its
        receiver type (``net/http.(*Transport).``), then (third-party code only)
        its package and its module. Any stack of the session counts (heap stacks,
        alloc-only stacks, goroutines). No evidence: no guess.
        """
        callers = self.red.callers
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
        mrow = None if stdlib else self.red.module_callers.get(mod)
        if mrow:
            return max(mrow.items(), key=lambda kv: kv[1])[0], mod
        return None

    def leaked_series(self, key: str) -> F64 | None:
        row = self.red.leaked.rows.get(key)
        if row is None:
            return None
        _, y = _valid(self.red.t, np.asarray(row), self.red.leak_valid)
        return y if len(y) else None

    def goroutine_finding(
        self, key: str, t: F64, y: F64, tr: Trend, leaked: F64 | None, facts: DumpFacts | None
    ) -> Finding:
        frames = self.red.group_frames.get(key, ())
        state, inferred = (facts.state, False) if facts and facts.state else (_infer(frames), True)
        cls = classify_state(state) if state else WaitClass.OTHER
        own = culprit(frames, self.m)
        cul = own
        via = ""
        if cul is None and facts and facts.created_by and self.m.is_app(facts.created_by):
            cul, via = facts.created_by, "created by"
        if cul is None and facts and facts.created_by:
            found = self.entry_point(facts.created_by.function)
            if found is not None:
                cul, scope = found
                creator = facts.created_by.function
                via = (
                    f"created by {creator}, which is called from"
                    if scope == creator
                    else f"created by {creator}; the application enters {scope} from"
                )
        if cul is None and facts and facts.creator_app:
            cul, via = Frame(facts.creator_app[0]), "started from a goroutine running"
        if cul is None:
            cul = first_interesting(frames, self.m)
        leaf = next((f for f in frames if not f.function.startswith("runtime.")), None)
        where = f"{leaf.function} ({leaf.file.rsplit('/', 1)[-1]}:{leaf.line})" if leaf else key
        ev = [
            f"goroutines parked in {state or 'an unknown state'}"
            f"{' (inferred from the stack)' if inferred and state else ''} at {where} grew "
            f"{y[0]:,.0f} -> {y[-1]:,.0f} ({tr.slope * 60:+,.1f}/min), trend p={tr.p_value:.1g}, "
            f"{tr.monotone:.0%} of changes upward"
        ]
        bonus = 0.0
        if cls in _LEAKY_CLASSES:
            bonus += 0.05
            ev.append(f"wait class {cls.value}: blocked on something nobody may ever complete")
        n_leaked = int(leaked[-1]) if leaked is not None and len(leaked) else 0
        if n_leaked:
            bonus += 0.15
            ev.append(f"Go's goroutineleak profile proves {n_leaked} of them unreachable-blocked")
        if facts and facts.wait_last:
            ev.append(f"longest wait {facts.wait_last} min")
            if facts.wait_first is not None and facts.wait_last > facts.wait_first:
                bonus += 0.05
        if via and cul is not None:
            ev.append(f"stack is library code; {via} {cul.function}")
        verdict = (
            FindingVerdict.LEAK
            if cls in _LEAKY_CLASSES or n_leaked or cls is WaitClass.OTHER
            else FindingVerdict.SUSPECT
        )
        if verdict is FindingVerdict.SUSPECT:
            ev.append(f"wait class {cls.value} can be legitimate; reported as suspect")
        app = {f.function for f in frames if self.m.origin(f) is Origin.APP}
        if via and cul is not None:
            app.add(cul.function)
        if facts:
            app.update(facts.creator_app)
            if facts.created_by and self.m.is_app(facts.created_by):
                app.add(facts.created_by.function)
        conf = _confidence(tr, bonus) * (1.0 if verdict is FindingVerdict.LEAK else 0.6)
        return Finding(
            id=_fid("goroutine", key),
            kind=FindingKind.GOROUTINE,
            verdict=verdict,
            confidence=round(conf, 2),
            culprit=cul,
            stack=frames,
            growth=Growth("goroutines", max(0.0, tr.start), max(0.0, tr.end), tr.slope * 3600),
            evidence=tuple(ev),
            series=(_series(f"goroutines at {where}", "goroutines", t, y, tr),),
            goroutines=GoroutineFacts(
                state=state,
                state_class=cls.value,
                count_start=int(y[0]),
                count_end=int(y[-1]),
                wait_minutes_max=facts.wait_last if facts else None,
                leaked=n_leaked,
                created_by=facts.created_by if facts else None,
                state_inferred=inferred,
                stack=frames,
            ),
            app_frames=tuple(sorted(app)),
            linked=("goroutine",),
        )

    # -- churn ------------------------------------------------------------
    def churn_findings(self, leak_sites: set[str]) -> list[Finding]:
        red = self.red
        t, total = _valid(red.t, red.exact["TotalAlloc"])
        _, live = _valid(red.t, red.exact["HeapAlloc"])
        if len(t) < 3 or t[-1] <= t[0]:
            return []
        rate = float((total[-1] - total[0]) / (t[-1] - t[0]))
        mean_live = float(np.mean(live)) if len(live) else 0.0
        if rate < self.o.churn_min_rate or rate < self.o.churn_heap_ratio * mean_live:
            return []
        deltas = []
        for site, row in red.heap_alloc.rows.items():
            _, y = _valid(red.t, np.asarray(row), red.heap_valid)
            if len(y) >= 2:
                deltas.append((float(y[-1] - y[0]), site))
        deltas.sort(reverse=True)
        total_delta = sum(d for d, _ in deltas if d > 0) or 1.0
        out = []
        for d, site in deltas[:3]:
            share = d / total_delta
            if share < 0.25 or site in leak_sites:
                continue
            frames = red.site_frames.get(site, ())
            cul = culprit(frames, self.m) or first_interesting(frames, self.m)
            inuse = red.heap_inuse.rows.get(site)
            live_site = float(np.nanmax(inuse)) if inuse else 0.0
            window = float(t[-1] - t[0])
            ev = (
                f"allocation rate {format_value(rate, 'bytes')}/s (exact TotalAlloc) against "
                f"a live heap of {format_value(mean_live, 'bytes')}: memory is churned, not kept",
                f"{share:.0%} of allocations ({format_value(d, 'bytes')} in {window:.0f} s) "
                f"come from {cul.function if cul else site}, which keeps at most "
                f"{format_value(live_site, 'bytes')} live",
                "the garbage collector runs constantly; pooling or reusing these objects "
                "lowers CPU and peak memory",
            )
            out.append(
                Finding(
                    id=_fid("churn", site),
                    kind=FindingKind.CHURN,
                    verdict=FindingVerdict.CHURN,
                    confidence=round(min(0.95, 0.5 + share / 2), 2),
                    culprit=cul,
                    stack=frames,
                    growth=Growth("bytes", 0.0, d, d / window * 3600),
                    evidence=ev,
                    app_frames=tuple(sorted(red.site_app.get(site, set()))),
                    linked=("churn",),
                )
            )
        return out


def _infer(frames: tuple[Frame, ...]) -> str:
    try:
        from leakhunter.formats.goroutine_text import infer_state
    except ImportError:  # pragma: no cover - only during bring-up
        return ""
    return str(infer_state(frames) or "")


def _link(heap: list[Finding], gor: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """Merge goroutine findings into heap findings that share application frames."""
    merged_heap = list(heap)
    rest: list[Finding] = []
    for g in gor:
        target = next(
            (
                i
                for i, h in enumerate(merged_heap)
                if set(h.app_frames) & set(g.app_frames) and h.verdict == g.verdict
            ),
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


def _rank(f: Finding, matcher: AppMatcher) -> tuple[int, int, float, float]:
    order = {FindingVerdict.LEAK: 0, FindingVerdict.SUSPECT: 1, FindingVerdict.CHURN: 2}
    app = 0 if f.culprit is not None and matcher.is_app(f.culprit) else 1
    return order[f.verdict], app, -f.confidence, -abs(f.growth.per_hour)


def _projection(red: Reduced, o: AnalyzeOptions, leaking: bool) -> Projection:
    limit, source = o.limit_bytes, "--limit" if o.limit_bytes else ""
    if limit is None and red.gomemlimit and red.gomemlimit < _NO_LIMIT:
        limit, source = red.gomemlimit, "GOMEMLIMIT"
    foot = red.exact["HeapAlloc"] + np.nan_to_num(red.exact["StackInuse"])
    t, y = _valid(red.t, foot)
    if len(y) < 2:
        return Projection(limit, None, source)
    tr = assess(t, y, o.trend)
    current = int(y[-1])
    ttl = None
    if leaking and limit is not None and tr.slope > 0:
        ttl = max(0.0, (limit - current) / tr.slope)
    return Projection(limit, ttl, source, current, tr.slope if leaking else None)


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
    j = _Judge(red, o)
    n = len(red.t)
    window = float(red.t[-1] - red.t[0]) if n else 0.0
    all_notes = list(notes) + [f"could not read: {e}" for e in red.errors[:5]]
    whole, heap_series = j.heap_trend()
    leaking = j.heap_leaking(whole)
    t_g, y_g = _valid(red.t, red.goroutines_total)
    g_series = _series("goroutines (total)", "goroutines", t_g, y_g, None) if len(y_g) else None
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
            projection=_projection(red, o, False),
            summary="inconclusive: the window is too short to judge growth",
            notes=tuple(all_notes),
            heap=heap_series,
            goroutines=g_series,
            app_prefix=o.app_prefix,
            restarts=restarts,
        )
    heap = j.heap_findings(whole, leaking)
    gor = j.goroutine_findings()
    all_notes.extend(j.pools)
    heap, gor = _link(heap, gor)
    leak_sites = {f.culprit.function for f in heap if f.culprit}
    churn = j.churn_findings(leak_sites) if not leaking else []
    findings = sorted(heap + gor + churn, key=lambda f: _rank(f, red.matcher))
    findings = findings[: o.max_findings]
    if leaking and not any(f.kind is FindingKind.HEAP for f in findings):
        all_notes.append(
            "the exact live heap grows, but no single allocation site explains it "
            "(growth spread thin, or too small for the heap profile's sampling)"
        )
    is_leak = any(f.verdict is FindingVerdict.LEAK for f in findings)
    value = VerdictValue.LEAK if is_leak else VerdictValue.NO_LEAK
    proj = _projection(red, o, is_leak)
    return Verdict(
        target=target,
        snapshots=n,
        window_seconds=window,
        verdict=value,
        findings=tuple(findings),
        projection=proj,
        summary=_summary(value, findings, proj),
        notes=tuple(all_notes),
        heap=heap_series,
        goroutines=g_series,
        app_prefix=o.app_prefix,
        restarts=restarts,
    )


def _summary(value: VerdictValue, findings: list[Finding], proj: Projection) -> str:
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
