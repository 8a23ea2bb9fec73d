"""Render findings as SARIF 2.1.0, the format code-scanning services read.

One result per finding: located at the culprit's file:line (the line a person
changes), with the whole stack as a SARIF stack, the rule that named the
pattern (or a generic rule per kind when none did) and the growth in the
message. Leaks are errors, suspects warnings, churn notes.

Code-scanning services attach a result to a file only when its URI is relative
to the repository: files under the source root (``--source-root``, else
``LEAKHUNTER_SOURCE_ROOT``, else the current directory when rendering for a
report file) become relative URIs against the ``SRCROOT`` base id; other
absolute paths (the Go toolchain, module cache) stay ``file://`` URIs.
"""

from __future__ import annotations

import json
import os
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


def _artifact(path: str, root: PurePosixPath | None) -> dict[str, Any]:
    """Return the SARIF artifactLocation of a source path (relative to SRCROOT when under it)."""
    if path.startswith("/"):
        p = PurePosixPath(path)
        if root is not None and p.is_relative_to(root) and p != root:
            return {"uri": quote(p.relative_to(root).as_posix(), safe="/"), "uriBaseId": "SRCROOT"}
        return {"uri": p.as_uri()}
    return {"uri": quote(path.replace("\\", "/"), safe="/:@")}


def _location(fr: Frame, root: PurePosixPath | None = None) -> dict[str, Any]:
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
        phys: dict[str, Any] = {"artifactLocation": _artifact(fr.file, root)}
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


def _result(
    f: Finding, rule_index: int, rule: RuleMatch, root: PurePosixPath | None
) -> dict[str, Any]:
    anchor = f.culprit or next((fr for fr in f.stack if fr.file), None)
    result: dict[str, Any] = {
        "ruleId": rule.id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.verdict],
        "message": {"text": _message(f, rule)},
        "locations": [_location(anchor, root)] if anchor is not None else [],
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
                "frames": [{"location": _location(fr, root)} for fr in f.stack],
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


def sarif_log(
    v: Verdict, *, tool_version: str = __version__, source_root: str | None = None
) -> dict[str, Any]:
    """Return the SARIF log of a verdict as a JSON-ready dict.

    With ``source_root`` (an absolute directory), files under it are given
    relative to the ``SRCROOT`` base id, which the run declares.
    """
    root = PurePosixPath(os.path.abspath(source_root)) if source_root else None
    rules: list[RuleMatch] = []
    index: dict[str, int] = {}
    results = []
    for f in v.findings:
        rule = _rule(f)
        if rule.id not in index:
            index[rule.id] = len(rules)
            rules.append(rule)
        results.append(_result(f, index[rule.id], rule, root))
    p = v.projection
    run: dict[str, Any] = {}
    if root is not None:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": root.as_uri() + "/"}}
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
                **run,
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


def render_sarif(v: Verdict, source_root: str | None = None) -> str:
    """Return the SARIF log as a JSON document."""
    log = sarif_log(v, source_root=source_root)
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


class SarifRenderer:
    """SARIF 2.1.0 as a report file format (``--sarif PATH``)."""

    def render(self, report: ReportData) -> bytes:
        """Return the SARIF log, paths relative to the report's source root."""
        root = report.source_root or os.environ.get("LEAKHUNTER_SOURCE_ROOT") or os.getcwd()
        return render_sarif(report.verdict, root).encode()
