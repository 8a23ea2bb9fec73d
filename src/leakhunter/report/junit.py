"""Render a verdict as JUnit XML, the test-report format every CI server shows.

One test suite per verdict. Its first test cases are the checks (no leak
overall, then no heap leak and no goroutine leak), which fail when a finding
of theirs is a leak and are skipped when the verdict is inconclusive; then one
test case per finding, failing for a leak with the culprit, growth, rule and
fix in the failure. Suspects and churn pass, with what was seen in
``system-out``. Output is deterministic (no wall-clock timestamps).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from leakhunter.analyze.verdict import Finding, FindingKind, FindingVerdict, Verdict, VerdictValue
from leakhunter.report.data import ReportData
from leakhunter.report.names import duration, finding_rate, location, short_function
from leakhunter.report.safe_text import for_xml
from leakhunter.report.sarif import GENERIC_RULES

__all__ = ["JunitRenderer", "junit_tree", "render_junit"]

_CHECKS = (
    (None, "no memory or goroutine leak"),
    (FindingKind.HEAP, "no heap leak"),
    (FindingKind.GOROUTINE, "no goroutine leak"),
)


def _culprit_text(f: Finding) -> str:
    where = f.culprit or (f.stack[0] if f.stack else None)
    if where is None:
        return "unknown site"
    loc = location(where)
    return short_function(where.function) + (f" ({loc})" if loc else "")


def _rule_id(f: Finding) -> str:
    return (f.rule or GENERIC_RULES[f.kind]).id


def _headline(f: Finding) -> str:
    verb = "allocates" if f.kind is FindingKind.CHURN else "grows"
    return (
        f"{f.verdict.value.upper()} {f.kind.value}: {_culprit_text(f)} {verb} "
        f"{finding_rate(f)} [{_rule_id(f)}]"
    )


def _details(f: Finding) -> str:
    rule = f.rule or GENERIC_RULES[f.kind]
    lines = [
        _headline(f),
        f"finding: {f.id} (confidence {f.confidence:.2f})",
        f"culprit: {f.culprit.function} {location(f.culprit, full=True)}"
        if f.culprit
        else "culprit: no application frame",
        f"pattern: {rule.title} ({rule.id})",
    ]
    if rule.explanation:
        lines.append(f"why: {rule.explanation}")
    lines.append(f"fix: {rule.fix}")
    lines.extend(f"evidence: {e}" for e in f.evidence)
    if f.stack:
        lines.append("stack (innermost first):")
        lines.extend(f"  {fr.function} {location(fr, full=True)}".rstrip() for fr in f.stack)
    return "\n".join(lines) + "\n"


def _check(suite: ET.Element, v: Verdict, kind: FindingKind | None, name: str) -> bool:
    """Add one check; return True when it failed."""
    case = ET.SubElement(suite, "testcase", classname="leakhunter.checks", name=name, time="0")
    leaks = [
        f
        for f in v.findings
        if f.verdict is FindingVerdict.LEAK and (kind is None or f.kind is kind)
    ]
    if leaks:
        failure = ET.SubElement(
            case,
            "failure",
            message=v.summary if kind is None else _headline(leaks[0]),
            type="leak",
        )
        failure.text = "".join(_headline(f) + "\n" for f in leaks)
        return True
    if v.verdict is VerdictValue.INCONCLUSIVE:
        ET.SubElement(case, "skipped", message=v.summary or "inconclusive")
    return False


def _finding_case(suite: ET.Element, f: Finding) -> bool:
    where = f.culprit or (f.stack[0] if f.stack else None)
    attrs = {
        "classname": f"leakhunter.{f.kind.value}",
        "name": f"{f.id}: {_culprit_text(f)}",
        "time": "0",
    }
    if where is not None and where.file:
        attrs["file"] = where.file
        attrs["line"] = str(where.line)
    case = ET.SubElement(suite, "testcase", attrs)
    if f.verdict is FindingVerdict.LEAK:
        failure = ET.SubElement(case, "failure", message=_headline(f), type=_rule_id(f))
        failure.text = _details(f)
        return True
    ET.SubElement(case, "system-out").text = _details(f)
    return False


def junit_tree(v: Verdict) -> ET.Element:
    """Return the <testsuites> element of a verdict."""
    root = ET.Element("testsuites", name="leakhunter")
    suite = ET.SubElement(root, "testsuite", name=f"leakhunter {v.target or 'session'}")
    props = ET.SubElement(suite, "properties")
    p = v.projection
    facts = {
        "target": v.target,
        "verdict": v.verdict.value,
        "summary": v.summary,
        "snapshots": str(v.snapshots),
        "window": duration(v.window_seconds),
        "time_to_oom": duration(p.time_to_oom_seconds)
        if p.time_to_oom_seconds is not None
        else "unknown",
    }
    for key, value in facts.items():
        ET.SubElement(props, "property", name=key, value=value)
    failures = sum(_check(suite, v, kind, name) for kind, name in _CHECKS)
    failures += sum(_finding_case(suite, f) for f in v.findings)
    tests = len(_CHECKS) + len(v.findings)
    skipped = len(_CHECKS) if v.verdict is VerdictValue.INCONCLUSIVE else 0
    for el in (root, suite):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", "0")
        el.set("skipped", str(skipped))
        el.set("time", f"{v.window_seconds:.3f}")
    return root


def render_junit(v: Verdict) -> str:
    """Return the JUnit XML document."""
    root = junit_tree(v)
    _xml_safe(root)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


class JunitRenderer:
    """JUnit XML as a report file format (``--junit PATH``)."""

    def render(self, report: ReportData) -> bytes:
        """Return the XML document."""
        return render_junit(report.verdict).encode()


def _xml_safe(root: ET.Element) -> None:
    """Escape what XML cannot carry (NUL, ESC... in function names) in every text and attribute."""
    for el in root.iter():
        if el.text:
            el.text = for_xml(el.text)
        if el.tail:
            el.tail = for_xml(el.tail)
        for key, value in el.attrib.items():
            el.attrib[key] = for_xml(value)
