"""Pair the findings of two sessions that are the same leak, across a rebuild.

BEFORE and AFTER are usually two builds: addresses differ, the fix shifts line
numbers, and the compiler renumbers closures (``handler.func1`` becomes
``handler.func2`` when a closure is added above it). So a finding's identity
is built from names only, normalised: no addresses, no lines, closure and
goroutine-wrapper numbers replaced by ``*``, generic type arguments dropped.
Candidates are ranked by what they share: the culprit function first, then
the rule that named the pattern, then application frames of the stack.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from leakhunter.analyze.verdict import Finding

__all__ = ["Match", "finding_frames", "match_findings", "normalize_function"]

# handler.func1, handler.func1.2, handler.gowrap3, glob..func4, (*T).m-fm
_CLOSURE = re.compile(r"\.(func|gowrap)\d+(\.\d+)*")
_GENERIC = re.compile(r"\[[^\[\]]*\]")

#: minimum share of application frames two findings must have in common
MIN_FRAME_OVERLAP = 0.5


def normalize_function(name: str) -> str:
    """Return a function name without what a rebuild may change (closure numbers, generics)."""
    out = name
    while True:
        stripped = _GENERIC.sub("", out)
        if stripped == out:
            break
        out = stripped
    out = _CLOSURE.sub(".func*", out)
    return out.removesuffix("-fm")


def finding_frames(f: Finding) -> frozenset[str]:
    """Return the normalised application frames of a finding (its stack's when none marked)."""
    names = f.app_frames or tuple(fr.function for fr in f.stack)
    if f.goroutines is not None:
        names = (*names, *(fr.function for fr in f.goroutines.stack))
    return frozenset(normalize_function(n) for n in names if n)


@dataclass(frozen=True, slots=True)
class Match:
    """A BEFORE finding and its AFTER counterpart, with what tied them."""

    before: int  # index into the BEFORE findings
    after: int  # index into the AFTER findings
    by: str  # "culprit" | "rule" | "frames"
    score: float


def _score(a: Finding, b: Finding) -> tuple[float, str] | None:
    ca = normalize_function(a.culprit.function) if a.culprit else ""
    cb = normalize_function(b.culprit.function) if b.culprit else ""
    fa, fb = finding_frames(a), finding_frames(b)
    overlap = len(fa & fb) / max(1, min(len(fa), len(fb))) if fa and fb else 0.0
    same_kind = a.kind is b.kind or a.kind.value in b.linked or b.kind.value in a.linked
    if ca and ca == cb:
        return 3.0 + overlap + (0.5 if same_kind else 0.0), "culprit"
    if a.rule is not None and b.rule is not None and a.rule.id == b.rule.id and overlap > 0:
        return 2.0 + overlap, "rule"
    if same_kind and overlap >= MIN_FRAME_OVERLAP:
        return 1.0 + overlap, "frames"
    if ca and ca in fb or cb and cb in fa:
        return 1.0 + overlap, "frames"
    return None


def match_findings(before: Sequence[Finding], after: Sequence[Finding]) -> tuple[Match, ...]:
    """Pair findings one to one, best-scoring pairs first (greedy; ties keep BEFORE's order)."""
    candidates = []
    for i, a in enumerate(before):
        for j, b in enumerate(after):
            got = _score(a, b)
            if got is not None:
                candidates.append((-got[0], i, j, got[1]))
    candidates.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    out = []
    for neg, i, j, by in candidates:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append(Match(i, j, by, -neg))
    return tuple(sorted(out, key=lambda m: m.before))
