"""Apply known findings to a verdict and decide the build: pass, leak, or inconclusive.

Allowed and baselined leak findings are downgraded to "suspect" with the reason
in their evidence, so every report (terminal, JSON, JUnit, SARIF) shows the gate's
view: only new, unexplained leaks fail.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from leakhunter.analyze.verdict import Finding, FindingVerdict, Verdict, VerdictValue
from leakhunter.gate.allowlist import AllowEntry
from leakhunter.gate.baseline import signature

__all__ = ["GateDecision", "decide"]


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gated verdict, what was let through and why, and the exit code."""

    verdict: Verdict
    allowed: tuple[str, ...]
    known: tuple[str, ...]
    expired: tuple[str, ...]
    exit_code: int


def _downgrade(f: Finding, why: str) -> Finding:
    return replace(f, verdict=FindingVerdict.SUSPECT, evidence=(*f.evidence, why))


def decide(
    v: Verdict,
    allow: tuple[AllowEntry, ...] = (),
    baseline: frozenset[str] = frozenset(),
    *,
    today: dt.date | None = None,
    inconclusive_fails: bool = True,
) -> GateDecision:
    """Gate a verdict: 0 pass, 1 new leak or expired allowlist entry, 3 inconclusive."""
    day = today or dt.date.today()
    expired = tuple(
        f"{e.describe()} expired on {e.expires.isoformat()} (reason was: {e.reason}); "
        "renew it with a new date or fix the leak"
        for e in allow
        if e.expired(day)
    )
    live = [e for e in allow if not e.expired(day)]
    findings, allowed, known = [], [], []
    for f in v.findings:
        if f.verdict is FindingVerdict.LEAK:
            entry = next((e for e in live if e.matches(f)), None)
            name = f.culprit.function if f.culprit else f.id
            if entry is not None:
                allowed.append(f"{name}: allowed by {entry.describe()}: {entry.reason}")
                f = _downgrade(f, f"ALLOWED by the allowlist until {entry.expires}: {entry.reason}")
            elif signature(f) in baseline:
                known.append(f"{name}: known (in the baseline)")
                f = _downgrade(f, "KNOWN: this leak is in the baseline; only new leaks fail")
        findings.append(f)
    leak = any(f.verdict is FindingVerdict.LEAK for f in findings)
    value = v.verdict
    if v.verdict is VerdictValue.LEAK and not leak:
        value = VerdictValue.NO_LEAK
    notes = (
        *v.notes,
        *(f"allowlist: {a}" for a in allowed),
        *(f"baseline: {k}" for k in known),
        *(f"allowlist: {x}" for x in expired),
    )
    summary = v.summary
    if value is not v.verdict:
        summary = f"no new leak ({len(allowed)} allowed, {len(known)} known): {v.summary}"
    gated = replace(v, findings=tuple(findings), verdict=value, notes=notes, summary=summary)
    if leak or expired:
        code = 1
    elif value is VerdictValue.INCONCLUSIVE:
        code = 3 if inconclusive_fails else 0
    else:
        code = 0
    return GateDecision(gated, tuple(allowed), tuple(known), expired, code)
