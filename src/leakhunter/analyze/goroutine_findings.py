"""Goroutine findings: growing groups fused with wait state, wait time and leak marks."""

from __future__ import annotations

import numpy as np

from leakhunter.analyze.evidence import (
    F64,
    LEAKY_CLASSES,
    confidence,
    finding_id,
    infer_state,
    make_series,
    valid,
)
from leakhunter.analyze.frames import AppMatcher, Origin, culprit, first_interesting
from leakhunter.analyze.inference import entry_point
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.reduce import DumpFacts, Reduced
from leakhunter.analyze.trend import Trend, assess
from leakhunter.analyze.verdict import Finding, FindingKind, FindingVerdict, GoroutineFacts, Growth
from leakhunter.model.goroutine import Frame, WaitClass, classify_state

__all__ = ["GoroutineJudge"]


class GoroutineJudge:
    """Judges the goroutine groups of one reduced window."""

    def __init__(self, red: Reduced, options: AnalyzeOptions) -> None:
        self.red = red
        self.o = options
        self.m: AppMatcher = red.matcher
        self.pools: list[str] = []

    # -- goroutine groups -------------------------------------------------
    def goroutine_findings(self) -> list[Finding]:
        """Return findings for goroutine groups that keep growing."""
        red = self.red
        out: list[tuple[float, Finding]] = []
        for key in red.groups.rows:
            t, y = valid(red.t, red.groups.array(key))
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
        state = facts.state if facts and facts.state else infer_state(frames)
        where = culprit(frames, self.m) or first_interesting(frames, self.m)
        name = where.function if where else key
        self.pools.append(
            f"{int(y[0])} goroutines {'in ' + state + ' ' if state else ''}at {name} "
            "stayed exactly constant: a fixed-size pool, not a leak"
        )

    def entry_point(self, creator: str) -> tuple[Frame, str] | None:
        """Find the app call that leads into the library code that spawned goroutines."""
        return entry_point(self.red, creator)

    def leaked_series(self, key: str) -> F64 | None:
        """Return a group's counts in the goroutineleak profile, if collected."""
        row = self.red.leaked.rows.get(key)
        if row is None:
            return None
        _, y = valid(self.red.t, np.asarray(row))
        return y if len(y) else None

    def goroutine_finding(
        self, key: str, t: F64, y: F64, tr: Trend, leaked: F64 | None, facts: DumpFacts | None
    ) -> Finding:
        """Build the finding of one growing goroutine group."""
        frames = self.red.group_frames.get(key, ())
        state, inferred = (
            (facts.state, False) if facts and facts.state else (infer_state(frames), True)
        )
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
        if cls in LEAKY_CLASSES:
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
            if cls in LEAKY_CLASSES or n_leaked or cls is WaitClass.OTHER
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
        conf = confidence(tr, bonus) * (1.0 if verdict is FindingVerdict.LEAK else 0.6)
        return Finding(
            id=finding_id("goroutine", key),
            kind=FindingKind.GOROUTINE,
            verdict=verdict,
            confidence=round(conf, 2),
            culprit=cul,
            stack=frames,
            growth=Growth("goroutines", max(0.0, tr.start), max(0.0, tr.end), tr.slope * 3600),
            evidence=tuple(ev),
            series=(make_series(f"goroutines at {where}", "goroutines", t, y, tr),),
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
