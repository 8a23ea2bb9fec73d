"""Render findings as SARIF 2.1.0, the format code-scanning services read.

One result per finding: located at the culprit's file:line (the line a person
changes), with the whole stack as a SARIF stack, the rule that named the
pattern (or a generic rule per kind when none did) and the growth in the
message. Leaks are errors, suspects warnings, churn notes. Paths stay as the
profiles spelled them: absolute ones become ``file://`` URIs.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from leakhunter import __version__
from leakhunter.analyze.verdict import Finding, FindingKind, FindingVerdict, RuleMatch, Verdict
from leakhunter.model.goroutine import Frame
from leakhunter.report.data import ReportData
from leakhunter.report.names import finding_rate, location, short_function

__all__ = ["GENERIC_RULES", "SARIF_SCHEMA", "SarifRenderer", "render_sarif", "sarif_log"]

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

#: Rules for findings no specific rule recognised, by kind: (id, title, fix).
GENERIC_RULES: dict[FindingKind, RuleMatch] = {
    FindingKind.HEAP: RuleMatch(
        id="LEAKHUNTER-HEAP-GROWTH",
        title="Live heap keeps growing at one allocation site",
        fix="Find what keeps these objects reachable (a map, slice, cache or goroutine "
        "that is never cleaned up) and bound it or release the objects.",
    ),
    FindingKind.GOROUTINE: RuleMatch(
        id="LEAKHUNTER-GOROUTINE-GROWTH",
        title="Goroutines pile up blocked at one place",
        fix="Make sure every goroutine started here can finish: close the channel, "
        "cancel the context or add a timeout to what it waits on.",
    ),
    FindingKind.CHURN: RuleMatch(
        id="LEAKHUNTER-ALLOC-CHURN",
        title="Very high allocation rate with a flat heap (churn, not a leak)",
        fix="Reuse buffers (sync.Pool, preallocated slices) to cut GC work.",
    ),
}

_LEVEL = {
    FindingVerdict.LEAK: "error",
    FindingVerdict.SUSPECT: "warning",
    FindingVerdict.CHURN: "note",
}


def _rule(f: Finding) -> RuleMatch:
    return f.rule if f.rule is not None else GENERIC_RULES[f.kind]


def _uri(path: str) -> str:
    if path.startswith("/"):
        return PurePosixPath(path).as_uri()
    return quote(path.replace("\\", "/"), safe="/:@")


def _location(fr: Frame) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "logicalLocations": [
            {
                "fullyQualifiedName": fr.function,
                "name": short_function(fr.function),
                "kind": "function",
            }
        ]
    }
    if fr.file:
        phys: dict[str, Any] = {"artifactLocation": {"uri": _uri(fr.file)}}
        if fr.line > 0:
            phys["region"] = {"startLine": fr.line}
        loc["physicalLocation"] = phys
    return loc


def _message(f: Finding, rule: RuleMatch) -> str:
    where = f.culprit or (f.stack[0] if f.stack else None)
    at = f" in {short_function(where.function)}" if where else ""
    if where and where.file:
        at += f" ({location(where)})"
    growth = f"grows {finding_rate(f)}"
    if f.kind is FindingKind.CHURN:
        growth = f"allocates {finding_rate(f)}"
    return f"{f.verdict.value.upper()}: {rule.title}{at}: {growth}. Fix: {rule.fix}"


def _result(f: Finding, rule_index: int, rule: RuleMatch) -> dict[str, Any]:
    anchor = f.culprit or next((fr for fr in f.stack if fr.file), None)
    result: dict[str, Any] = {
        "ruleId": rule.id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.verdict],
        "message": {"text": _message(f, rule)},
        "locations": [_location(anchor)] if anchor is not None else [],
        "partialFingerprints": {"leakhunterFindingId/v1": f.id},
        "properties": {
            "kind": f.kind.value,
            "verdict": f.verdict.value,
            "confidence": round(f.confidence, 2),
            "growth": {
                "unit": f.growth.unit,
                "start": round(f.growth.start, 3),
                "end": round(f.growth.end, 3),
                "per_hour": round(f.growth.per_hour, 3),
            },
            "evidence": list(f.evidence),
        },
    }
    if f.stack:
        result["stacks"] = [
            {
                "message": {"text": "stack (innermost frame first)"},
                "frames": [{"location": _location(fr)} for fr in f.stack],
            }
        ]
    return result


def _descriptor(rule: RuleMatch) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.id.replace("_", "-").split("-")),
        "shortDescription": {"text": rule.title},
        "help": {"text": rule.fix},
    }
    if rule.explanation:
        d["fullDescription"] = {"text": rule.explanation}
    if rule.references:
        d["helpUri"] = rule.references[0]
    return d


def sarif_log(v: Verdict, *, tool_version: str = __version__) -> dict[str, Any]:
    """Return the SARIF log of a verdict as a JSON-ready dict."""
    rules: list[RuleMatch] = []
    index: dict[str, int] = {}
    results = []
    for f in v.findings:
        rule = _rule(f)
        if rule.id not in index:
            index[rule.id] = len(rules)
            rules.append(rule)
        results.append(_result(f, index[rule.id], rule))
    p = v.projection
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "leakhunter",
                        "version": tool_version,
                        "rules": [_descriptor(r) for r in rules],
                    }
                },
                "results": results,
                "properties": {
                    "target": v.target,
                    "verdict": v.verdict.value,
                    "summary": v.summary,
                    "snapshots": v.snapshots,
                    "window_seconds": round(v.window_seconds, 3),
                    "time_to_oom_seconds": p.time_to_oom_seconds,
                    "limit_bytes": p.limit_bytes,
                },
            }
        ],
    }


def render_sarif(v: Verdict) -> str:
    """Return the SARIF log as a JSON document."""
    return json.dumps(sarif_log(v), indent=2, ensure_ascii=False) + "\n"


class SarifRenderer:
    """SARIF 2.1.0 as a report file format (``--sarif PATH``)."""

    def render(self, report: ReportData) -> bytes:
        """Return the SARIF log."""
        return render_sarif(report.verdict).encode()
