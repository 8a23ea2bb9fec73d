"""Decide whether a fix worked: per-finding statuses and the overall result.

A BEFORE leak is ``fixed`` when no AFTER leak is the same finding (see match),
``reduced`` when it still grows at no more than ``reduced_ratio`` of its old
rate, ``still-leaking`` otherwise; an AFTER leak nobody had before is ``new``.
The result is the worst news first: a leak that is still there means
``not-fixed`` (the fix did not work), else a new one means ``regressed``, else
a side that could not decide means ``inconclusive``, else ``fixed`` (which
includes "nothing leaked before and nothing leaks now", exit code 0 too).
Suspects never decide anything: they are evidence below the leak bar on
either side, so they are neither proof of a leak nor of a fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from leakhunter.analyze.verdict import (
    Finding,
    FindingVerdict,
    RuleMatch,
    Series,
    Verdict,
    VerdictValue,
)
from leakhunter.compare.figures import ProcessFigures
from leakhunter.compare.match import match_findings
from leakhunter.model.goroutine import Frame

__all__ = [
    "COMPARE_SCHEMA",
    "Comparison",
    "CompareOptions",
    "FindingChange",
    "Result",
    "Side",
    "Status",
    "judge_comparison",
]

COMPARE_SCHEMA = "leakhunter.compare/1"


class Status(StrEnum):
    """What became of one finding."""

    FIXED = "fixed"
    REDUCED = "reduced"
    STILL_LEAKING = "still-leaking"
    NEW = "new"


class Result(StrEnum):
    """The overall answer of compare (exit codes 0, 1, 1, 3)."""

    FIXED = "fixed"
    NOT_FIXED = "not-fixed"
    REGRESSED = "regressed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """Knobs of the comparison (the analysis of each side has its own options)."""

    #: a leak still growing at most this share of its old rate is "reduced"
    reduced_ratio: float = 0.5


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the comparison: its verdict, whole-process figures and where it came from."""

    source: str  # the session folder (a URL side is watched into one first)
    verdict: Verdict
    figures: ProcessFigures

    @property
    def heap(self) -> Series | None:
        """Return the exact live-heap series the verdict charts."""
        return self.verdict.heap

    @property
    def goroutines(self) -> Series | None:
        """Return the goroutine-count series the verdict charts."""
        return self.verdict.goroutines


@dataclass(frozen=True, slots=True)
class FindingChange:
    """One finding's status, with its BEFORE and AFTER versions (either may be None)."""

    status: Status
    before: Finding | None
    after: Finding | None
    matched_by: str = ""  # "culprit" | "rule" | "frames" | ""
    ratio: float | None = None  # AFTER's growth rate over BEFORE's, same unit only

    @property
    def finding(self) -> Finding:
        """Return the finding that names the leak (BEFORE's when there is one)."""
        f = self.before or self.after
        assert f is not None  # a change always has one side
        return f

    @property
    def culprit(self) -> Frame | None:
        """Return the culprit frame: AFTER's while it still leaks, BEFORE's once fixed.

        AFTER's line is the current one; once fixed, an AFTER suspect the leak was
        paired with may name another frame than the leak did.
        """
        if self.status is not Status.FIXED and self.after is not None:
            return self.after.culprit or self.finding.culprit
        return self.finding.culprit

    @property
    def rule(self) -> RuleMatch | None:
        """Return the rule that named the pattern, on either side."""
        return self.finding.rule or (self.after.rule if self.after else None)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything compare found: both sides, the finding changes and the result."""

    result: Result
    before: Side
    after: Side
    changes: tuple[FindingChange, ...]
    summary: str
    notes: tuple[str, ...] = ()


def _leaks(v: Verdict) -> list[Finding]:
    return [f for f in v.findings if f.verdict is FindingVerdict.LEAK]


def _change(a: Finding, b: Finding | None, by: str, opts: CompareOptions) -> FindingChange:
    if b is None or b.verdict is not FindingVerdict.LEAK:
        return FindingChange(Status.FIXED, a, b, by)
    ratio = None
    if a.growth.unit == b.growth.unit and a.growth.per_hour > 0:
        ratio = max(0.0, b.growth.per_hour) / a.growth.per_hour
    reduced = ratio is not None and ratio <= opts.reduced_ratio
    return FindingChange(Status.REDUCED if reduced else Status.STILL_LEAKING, a, b, by, ratio)


def _result(before: Verdict, after: Verdict, changes: list[FindingChange]) -> Result:
    statuses = {c.status for c in changes}
    if statuses & {Status.STILL_LEAKING, Status.REDUCED}:
        return Result.NOT_FIXED
    if Status.NEW in statuses:
        return Result.REGRESSED
    undecided = VerdictValue.INCONCLUSIVE
    if after.verdict is undecided or (before.verdict is undecided and not changes):
        return Result.INCONCLUSIVE
    return Result.FIXED


def _summary(result: Result, changes: list[FindingChange]) -> str:
    counts = {s: sum(1 for c in changes if c.status is s) for s in Status}
    parts = [f"{n} {s.value}" for s, n in counts.items() if n]
    tail = ", ".join(parts) if parts else "no leak before, none now"
    return {
        Result.FIXED: f"the leak is gone: {tail}",
        Result.NOT_FIXED: f"still leaking after the fix: {tail}",
        Result.REGRESSED: f"a new leak appeared: {tail}",
        Result.INCONCLUSIVE: f"cannot tell yet (a side is inconclusive): {tail}",
    }[result]


def _notes(before: Side, after: Side) -> tuple[str, ...]:
    notes = []
    b, a = before.figures.alloc_rate.value, after.figures.alloc_rate.value
    if b > 0 and a > 0 and not 0.2 <= a / b <= 5.0:
        notes.append(
            f"AFTER allocated at {a / b:.2f}x BEFORE's rate: check both ran under the same load"
        )
    hb, ha = before.figures.heap_slope, after.figures.heap_slope
    if ha.excludes_zero() and hb.value > 0 and ha.value >= 0.25 * hb.value:
        # no site may be judged leaking, yet the exact heap still climbs: say so
        notes.append(
            f"AFTER's live heap still rises at {ha.value / hb.value:.0%} of BEFORE's slope "
            "(90% band above zero)"
        )
    for name, side in (("BEFORE", before), ("AFTER", after)):
        if side.verdict.restarts:
            notes.append(f"{name} restarted {side.verdict.restarts} time(s); its last run is used")
    return tuple(notes)


def judge_comparison(
    before: Side, after: Side, options: CompareOptions | None = None
) -> Comparison:
    """Compare two judged sessions: statuses per finding and the overall result."""
    opts = options or CompareOptions()
    b_leaks = _leaks(before.verdict)
    a_all = list(after.verdict.findings)
    # AFTER's leaks are paired first, so a leak that still grows is never hidden
    # behind a suspect of the same site; then the rest, suspects too: a BEFORE
    # leak whose site is now only a suspect is fixed, with its partner shown.
    partner: dict[int, tuple[int, str]] = {}
    for wanted in (True, False):
        free_b = [i for i in range(len(b_leaks)) if i not in partner]
        taken = {j for j, _ in partner.values()}
        free_a = [
            j
            for j, f in enumerate(a_all)
            if j not in taken and (f.verdict is FindingVerdict.LEAK) is wanted
        ]
        for m in match_findings([b_leaks[i] for i in free_b], [a_all[j] for j in free_a]):
            partner[free_b[m.before]] = (free_a[m.after], m.by)
    changes = []
    for i, f in enumerate(b_leaks):
        j, by = partner.get(i, (-1, ""))
        changes.append(_change(f, a_all[j] if j >= 0 else None, by, opts))
    paired_after = {j for j, _ in partner.values()}
    unpaired = [a_all[j] for j in range(len(a_all)) if j not in paired_after]
    # An AFTER leak that BEFORE had below the bar (a suspect) is still new as a leak.
    changes += [
        FindingChange(Status.NEW, None, f) for f in unpaired if f.verdict is FindingVerdict.LEAK
    ]
    result = _result(before.verdict, after.verdict, changes)
    return Comparison(
        result=result,
        before=before,
        after=after,
        changes=tuple(changes),
        summary=_summary(result, changes),
        notes=_notes(before, after),
    )
