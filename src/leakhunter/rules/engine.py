"""Match rules against findings: every block's conditions, the most specific rule wins.

``apply_rules`` is the one call the analysis makes after judging: each finding
gets the best matching rule (as a ``RuleMatch`` naming the evidence that
matched) and that rule's confidence adjustment. Findings keep their order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from leakhunter.analyze.verdict import Finding, RuleMatch, Verdict
from leakhunter.model.goroutine import Frame
from leakhunter.rules.facts import FindingFacts, SessionFacts, finding_facts
from leakhunter.rules.model import Conditions, Rule, SessionGroup
from leakhunter.units import format_value

__all__ = ["Match", "apply_rules", "best_match", "match_block", "match_rule"]


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a finding, through which block, and on what evidence."""

    rule: Rule
    block: Conditions
    specificity: int
    evidence: tuple[str, ...]

    def sort_key(self) -> tuple[int, int, bool, str]:
        """Return the ranking key: most specific first, then most conditions, user rules, id."""
        return (-self.specificity, -len(self.block.names()), self.rule.builtin, self.rule.id)


def _find(patterns: Sequence[re.Pattern[str]], frames: Iterable[Frame]) -> list[str] | None:
    """Return, per pattern, the first frame function it matches (None if one matches none)."""
    fns = [f.function for f in frames]
    out = []
    for p in patterns:
        hit = next((fn for fn in fns if p.search(fn)), None)
        if hit is None:
            return None
        out.append(hit)
    return out


def _frame_cond(
    name: str, pattern: re.Pattern[str] | None, frame: Frame | None, ev: list[str]
) -> bool:
    if pattern is None:
        return True
    if frame is None or not pattern.search(frame.function):
        return False
    ev.append(f"{name} {frame.function} matches /{pattern.pattern}/")
    return True


def _view_matches(c: Conditions, ff: FindingFacts, i: int) -> list[str] | None:
    """Return the evidence if every frame condition holds on view i, else None."""
    view, ev = ff.views[i], []
    if c.leaf_origin:
        origin = ff.leaf_origins[i]
        if origin not in c.leaf_origin:
            return None
        leaf = ff.leaves[i]
        ev.append(f"the leaf frame {leaf.function if leaf else '?'} is {origin} code")
    if c.stack:
        hits = _find(c.stack, view)
        if hits is None:
            return None
        ev.extend(f"frame {h} matches /{p.pattern}/" for h, p in zip(hits, c.stack, strict=True))
    for p in c.not_stack:
        if any(p.search(f.function) for f in view):
            return None
        ev.append(f"no frame matches /{p.pattern}/")
    if not _frame_cond("leaf", c.leaf, ff.leaves[i], ev):
        return None
    return ev


def _frames(c: Conditions, ff: FindingFacts, ev: list[str]) -> bool:
    """Check the frame conditions, which must all hold on one of the finding's stacks."""
    if not (c.stack or c.not_stack or c.leaf is not None or c.leaf_origin):
        return True
    for i in range(len(ff.views)):
        got = _view_matches(c, ff, i)
        if got is not None:
            ev.extend(got)
            return True
    return False


def _created_in(c: Conditions, ff: FindingFacts, s: SessionFacts, ev: list[str]) -> bool:
    if c.created_in is None:
        return True
    creator = ff.created_by
    if creator is None:
        return False
    for stack in s.stacks:
        idx = next((i for i, f in enumerate(stack) if f.function == creator.function), None)
        if idx is None:
            continue
        hit = next((f for f in stack[idx + 1 :] if c.created_in.search(f.function)), None)
        if hit is not None:
            ev.append(f"their creator {creator.function} runs under {hit.function}")
            return True
    return False


def _library(c: Conditions, s: SessionFacts, ev: list[str]) -> bool:
    if not c.library:
        return True
    for lib in c.library:
        if any(p == lib or p.startswith(lib + "/") for p in s.packages) or lib in s.libraries:
            ev.append(f"library {lib} is present in the session")
            return True
    return False


def _session(g: SessionGroup | None, s: SessionFacts, ev: list[str]) -> bool:
    if g is None:
        return True
    for grp in s.groups:
        if grp.max_count < g.min_count or (g.wait and grp.wait not in g.wait):
            continue
        hits = _find(g.stack, grp.frames)
        if hits is not None:
            state = f" ({grp.state})" if grp.state else ""
            ev.append(f"the session has up to {grp.max_count:,} goroutine(s) in {hits[0]}{state}")
            return True
    return False


def _facts_conditions(c: Conditions, ff: FindingFacts, ev: list[str]) -> bool:
    """Check the conditions on plain facts (kind, wait, shape, churn, objects, leaked)."""
    if c.kind:
        kind = next((k for k in c.kind if k in ff.kinds), None)
        if kind is None:
            return False
        ev.append(f"{kind} evidence")
    if c.wait:
        if ff.wait not in c.wait:
            return False
        ev.append(f"wait class {ff.wait}" + (f" ({ff.state})" if ff.state else ""))
    if c.state is not None:
        if not ff.state or not c.state.search(ff.state):
            return False
        ev.append(f"wait state '{ff.state}'")
    if c.shape:
        if ff.shape not in c.shape:
            return False
        ev.append(f"growth shape {ff.shape}")
    if c.alloc is not None:
        if ff.alloc != c.alloc:
            return False
        ev.append(
            "allocation churn: far more is allocated than stays live"
            if c.alloc == "churn"
            else "what is allocated here stays live (allocated ~ retained)"
        )
    if c.objects is not None:
        if ff.objects != c.objects:
            return False
        ev.append(
            "live object count flat while bytes grow"
            if c.objects == "flat"
            else "live object count grows with the bytes"
        )
    if c.object_size is not None:
        if ff.object_size != c.object_size:
            return False
        ev.append(
            "the average live object keeps growing (buffers reallocated larger)"
            if c.object_size == "growing"
            else "the average live object keeps its size"
        )
    if c.min_object_bytes is not None:
        if ff.object_bytes is None or ff.object_bytes < c.min_object_bytes:
            return False
        ev.append(f"{format_value(ff.object_bytes, 'bytes')} per live object")
    if c.leaked is not None:
        if ff.leaked is not c.leaked:
            return False
        ev.append(
            "Go's goroutineleak profile marks them leaked (what they wait on is unreachable)"
            if c.leaked
            else "the goroutineleak profile was collected and does not mark them: "
            "what they wait on is still reachable"
        )
    return True


def _culprit_origin(c: Conditions, ff: FindingFacts, ev: list[str]) -> bool:
    if not c.culprit_origin:
        return True
    if ff.culprit_origin not in c.culprit_origin:
        return False
    ev.append(f"the culprit is {ff.culprit_origin} code")
    return True


def match_block(c: Conditions, ff: FindingFacts, s: SessionFacts) -> tuple[str, ...] | None:
    """Return the evidence for each condition of a block, or None if one fails."""
    ev: list[str] = []
    ok = (
        _facts_conditions(c, ff, ev)
        and _culprit_origin(c, ff, ev)
        and _frames(c, ff, ev)
        and _frame_cond("culprit", c.culprit, ff.culprit, ev)
        and _frame_cond("created by", c.created_by, ff.created_by, ev)
        and _created_in(c, ff, s, ev)
        and _library(c, s, ev)
        and _session(c.session, s, ev)
    )
    return tuple(ev) if ok else None


def match_rule(rule: Rule, ff: FindingFacts, s: SessionFacts) -> Match | None:
    """Return the rule's most specific matching block as a Match, or None."""
    if rule.runtime is not None and rule.runtime != ff.runtime:
        return None
    best: Match | None = None
    for block in rule.when:
        ev = match_block(block, ff, s)
        if ev is None:
            continue
        m = Match(rule, block, block.specificity(), ev)
        if best is None or m.sort_key() < best.sort_key():
            best = m
    return best


def best_match(
    finding: Finding, rules: Iterable[Rule], session: SessionFacts | None = None
) -> Match | None:
    """Return the winning rule for one finding (most specific; ties deterministic)."""
    s = session or SessionFacts()
    ff = finding_facts(finding, s)
    matches = [m for r in rules if (m := match_rule(r, ff, s)) is not None]
    return min(matches, key=Match.sort_key) if matches else None


def _rule_match(m: Match) -> RuleMatch:
    r = m.rule
    return RuleMatch(
        id=r.id,
        title=r.title,
        fix=r.fix,
        explanation=r.explanation,
        matched=m.evidence,
        references=r.references,
        sketch=r.sketch,
    )


def apply_rules(
    verdict: Verdict, rules: Sequence[Rule], session: SessionFacts | None = None
) -> Verdict:
    """Name the pattern of every finding and apply the winning rule's confidence adjustment."""
    s = session or SessionFacts()
    out = []
    for f in verdict.findings:
        m = best_match(f, rules, s)
        if m is None:
            out.append(f)
            continue
        conf = round(min(1.0, max(0.0, f.confidence + m.rule.confidence)), 2)
        out.append(replace(f, rule=_rule_match(m), confidence=conf))
    return replace(verdict, findings=tuple(out), libraries=s.libraries or verdict.libraries)
