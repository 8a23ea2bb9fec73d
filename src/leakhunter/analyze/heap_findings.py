"""Heap findings: the exact whole-heap trend, per-site attribution, and churn."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from leakhunter.analyze.evidence import F64, confidence, finding_id, make_series, rate, valid
from leakhunter.analyze.frames import AppMatcher, culprit, first_interesting
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.reduce import Reduced
from leakhunter.analyze.saturation import Saturation, saturation
from leakhunter.analyze.trend import Trend, assess
from leakhunter.analyze.verdict import Finding, FindingKind, FindingVerdict, Growth, Series
from leakhunter.units import format_value

__all__ = ["LIBRARY_CULPRIT", "HeapJudge"]

#: what a heap finding says when its culprit is library code (until one is inferred)
LIBRARY_CULPRIT = "no application frame on this allocation stack; culprit is library code"


class HeapJudge:
    """Judges the heap of one reduced window."""

    def __init__(self, red: Reduced, options: AnalyzeOptions) -> None:
        self.red = red
        self.o = options
        self.m: AppMatcher = red.matcher
        self.saturated: Saturation | None = None

    # -- whole heap -------------------------------------------------------
    def heap_trend(self) -> tuple[Trend | None, Series | None]:
        """Return the trend of the exact live heap and its chart series."""
        t, y = valid(self.red.t, self.red.exact["HeapAlloc"])
        if len(y) < 2:
            return None, None
        tr = assess(t, y, self.o.trend)
        label = "live heap (HeapAlloc after GC)"
        if self.red.heap_unforced:
            label = "heap (HeapAlloc; garbage in where no GC was forced)"
        return tr, make_series(label, "bytes", t, y, tr)

    def heap_leaking(self, tr: Trend | None) -> bool:
        """Return True when the exact live heap grows persistently and enough.

        Enough is ``min_heap_growth_fraction`` of the heap, or, for a slow leak in
        a large heap (a few MB a minute on gigabytes), a rise at (nearly) every
        exact figure: a warm-up flattens, a plateau or a sawtooth goes down as
        often as up, a one-off step rises once; only a leak rises snapshot after
        snapshot (``slow_leak_monotone`` of the moves, over ``slow_leak_min_points``).
        The absolute floor ``min_heap_growth_bytes`` holds in both cases. Growth that
        bends toward a bound (``analyze/saturation.py``) is a cache filling, not a leak:
        ``saturated`` then says how.
        """
        if tr is None or not tr.growing or tr.growth < self.o.min_heap_growth_bytes:
            return False
        if tr.growth < self.o.min_heap_growth_fraction * tr.start and not (
            tr.n >= self.o.slow_leak_min_points and tr.monotone >= self.o.slow_leak_monotone
        ):
            return False
        t, y = valid(self.red.t, self.red.exact["HeapAlloc"])
        self.saturated = saturation(t, y)
        return self.saturated is None

    # -- heap sites -------------------------------------------------------
    def heap_findings(self, whole: Trend | None, leaking: bool) -> list[Finding]:
        """Return findings for the sites that explain the heap's growth."""
        red = self.red
        table = red.heap_inuse
        if not table.rows:
            return []
        ref = max(whole.growth if whole else 0.0, self.o.min_heap_growth_bytes)
        out: list[tuple[float, Finding]] = []
        for site in table.rows:
            t, y = valid(red.t, table.array(site))
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
        if leaking and whole is not None and not out:
            lead = self.lead_site(whole, ref)
            return [] if lead is None else [lead]
        # The biggest grower is attributed on its trend; any other site only when its
        # growth rests on at least two of the profile's raw samples, or it flickers
        # in and out of the findings from one run of the same service to the next.
        return [f for k, (_, f) in enumerate(out) if k == 0 or self.sampled_enough(f)]

    def lead_site(self, whole: Trend, ref: float) -> Finding | None:
        """The one site that grew with a proven heap leak, when no site's trend passed.

        A short window of a leak that allocates small objects holds only a few raw
        samples (one per 512 KiB): too few for a trend test of the site, and the
        exact heap alone would leave the culprit unknown. Memory that a sampled site
        still holds at the end was retained, so when exactly one site grew, it
        explains the leak the exact heap proves. It is named only when its growth
        rests on at least two raw samples, is ``min_site_share`` of the heap's
        growth, held to the end (last point within 10% of its peak) and at least
        twice any other site's growth; otherwise the culprit stays unknown.
        """
        red = self.red
        grown: list[tuple[float, str, F64, F64]] = []
        for site in red.heap_inuse.rows:
            t, y = valid(red.t, red.heap_inuse.array(site))
            if len(y) >= 2 and y[-1] > y[0]:
                grown.append((float(y[-1] - y[0]), site, t, y))
        if not grown:
            return None
        grown.sort(key=lambda g: -g[0])
        g, site, t, y = grown[0]
        runner_up = grown[1][0] if len(grown) > 1 else 0.0
        if (
            g < self.o.min_site_share * ref
            or y[-1] < 0.9 * y.max()
            or g < 2 * runner_up
            or self.raw_samples(site, g) < 2.0
        ):
            return None
        f = self.heap_finding(site, t, y, assess(t, y, self.o.trend), whole, FindingVerdict.LEAK)
        lead = (
            f"inuse memory allocated under {f.culprit.function if f.culprit else site} grew "
            f"{format_value(y[0], 'bytes')} -> {format_value(y[-1], 'bytes')} (sampled heap "
            f"profile, {self.raw_samples(site, g):.0f} raw samples: too few for a trend test "
            "of its own); the only allocation site that grew with the exact live heap, "
            "which proves the leak: more snapshots will confirm it"
        )
        return replace(
            f,
            confidence=round(confidence(whole, 0.0) * 0.8, 2),
            growth=Growth("bytes", float(y[0]), float(y[-1]), whole.slope * 3600),
            evidence=(lead, *f.evidence[1:]),
        )

    def unattributed(self, whole: Trend, series: Series | None) -> Finding:
        """The leak the exact heap proves when no sampled site explains it yet.

        Sampling picks ~one allocation per 512 KiB: a slow leak (a few hundred
        KiB a second) may not have been sampled in a short window. The exact
        heap is the proof; the culprit waits for more samples.
        """
        growth_hint = (
            "no allocation site has been sampled enough yet to name the culprit: "
            "watch longer (more snapshots), or lower runtime.MemProfileRate"
        )
        return Finding(
            id=finding_id("heap", "<unattributed>"),
            kind=FindingKind.HEAP,
            verdict=FindingVerdict.LEAK,
            confidence=round(confidence(whole, 0.0) * 0.8, 2),
            culprit=None,
            stack=(),
            growth=Growth("bytes", max(0.0, whole.start), whole.end, whole.slope * 3600),
            evidence=(
                "exact live heap (HeapAlloc after GC) grew "
                f"{format_value(max(0.0, whole.start), 'bytes')} -> "
                f"{format_value(whole.end, 'bytes')} ({rate(whole.slope, 'bytes')}), rising at "
                f"{whole.monotone:.0%} of the snapshots, trend p={whole.p_value:.1g}",
                growth_hint,
            ),
            series=() if series is None else (series,),
        )

    def sampled_enough(self, f: Finding) -> bool:
        """Return True when a site's growth rests on >= 2 estimated raw heap samples.

        Go samples one allocation per ``period`` bytes on average; an object of
        ``size`` bytes is sampled with probability 1 - exp(-size/period), and the
        profile scales counts back up by that factor. So the raw samples behind a
        growth of n objects are n x (1 - exp(-size/period)).
        """
        site = f.series[0].label.removeprefix("inuse bytes at ") if f.series else ""
        return self.raw_samples(site, f.growth.end - f.growth.start) >= 2.0

    def raw_samples(self, site: str, grown: float) -> float:
        """Estimate the raw heap samples behind a site's growth of ``grown`` bytes.

        The profile stores scaled-up counts as integers, so two samples can come
        back as 1.99999998: the estimate is rounded to 1e-6.
        """
        period = self.red.heap_period
        if period <= 0:
            return math.inf  # exact figures (a census): nothing was sampled
        objs = self.red.heap_objects.rows.get(site)
        _, yo = valid(self.red.t, objs) if objs is not None else (None, np.zeros(0))
        n = float(yo[-1] - yo[0]) if len(yo) >= 2 else 0.0
        if n <= 0:
            return round(grown / period, 6)
        return round(n * -math.expm1(-(grown / n) / period), 6)

    def heap_finding(
        self, site: str, t: F64, y: F64, tr: Trend, whole: Trend | None, verdict: FindingVerdict
    ) -> Finding:
        """Build the finding of one growing allocation site."""
        frames = self.red.site_frames.get(site, ())
        cul = culprit(frames, self.m) or first_interesting(frames, self.m)
        ev = [
            f"inuse memory allocated under {cul.function if cul else site} grew "
            f"{format_value(y[0], 'bytes')} -> {format_value(y[-1], 'bytes')} "
            f"({rate(tr.slope, 'bytes')}, sampled heap profile), trend p={tr.p_value:.1g}",
        ]
        bonus = 0.0
        if whole is not None and verdict is FindingVerdict.LEAK:
            ev.append(
                "exact live heap (HeapAlloc after GC) grew "
                f"{format_value(max(0.0, whole.start), 'bytes')} -> "
                f"{format_value(whole.end, 'bytes')} ({rate(whole.slope, 'bytes')}); "
                f"this site accounts for {min(1.0, tr.growth / max(whole.growth, 1)):.0%}"
            )
            bonus += 0.05
        objs = self.red.heap_objects.rows.get(site)
        if objs is not None:
            to, yo = valid(self.red.t, np.asarray(objs))
            if len(yo) >= 2 and yo[-1] > yo[0]:
                ev.append(f"live objects {yo[0]:,.0f} -> {yo[-1]:,.0f}")
        if cul is None or not self.m.is_app(cul):
            ev.append(LIBRARY_CULPRIT)
        conf = confidence(tr, bonus) * (1.0 if verdict is FindingVerdict.LEAK else 0.6)
        return Finding(
            id=finding_id("heap", site),
            kind=FindingKind.HEAP,
            verdict=verdict,
            confidence=round(conf, 2),
            culprit=cul,
            stack=frames,
            growth=Growth("bytes", max(0.0, tr.start), max(0.0, tr.end), tr.slope * 3600),
            evidence=tuple(ev),
            series=(make_series(f"inuse bytes at {site}", "bytes", t, y, tr),),
            app_frames=tuple(sorted(self.red.site_app.get(site, set()))),
            linked=("heap",),
        )

    # -- churn ------------------------------------------------------------
    def churn_findings(self, leak_sites: set[str]) -> list[Finding]:
        """Return churn findings: a high allocation rate against a flat live heap."""
        red = self.red
        t, total = valid(red.t, red.exact["TotalAlloc"])
        _, live = valid(red.t, red.exact["HeapAlloc"])
        if len(t) < 3 or t[-1] <= t[0]:
            return []
        rate = float((total[-1] - total[0]) / (t[-1] - t[0]))
        mean_live = float(np.mean(live)) if len(live) else 0.0
        if rate < self.o.churn_min_rate or rate < self.o.churn_heap_ratio * mean_live:
            return []
        deltas = []
        for site, row in red.heap_alloc.rows.items():
            _, y = valid(red.t, np.asarray(row))
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
            live_site = float(np.nanmax(inuse)) if inuse is not None and len(inuse) else 0.0
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
                    id=finding_id("churn", site),
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
