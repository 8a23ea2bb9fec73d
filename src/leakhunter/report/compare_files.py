"""Report files of a comparison: the format registry and the JUnit and SARIF views.

The same flags as `report` (``--json``, ``--html``, ``--junit``, ``--sarif``),
each one registry line. JUnit gives CI one test case for "the fix holds" and
one per finding (a leak that is still there, or new, fails). SARIF reuses the
verdict renderer on AFTER's open leaks (still leaking, reduced or new), so code
scanning shows exactly what the fix left; a fixed leak is not an alert.
"""

from __future__ import annotations

import importlib
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from leakhunter.collect.session import atomic_write
from leakhunter.compare.judge import Comparison, Result, Status
from leakhunter.report.names import finding_rate, location, short_function

__all__ = [
    "COMPARE_RENDERERS",
    "CompareJunitRenderer",
    "CompareRenderer",
    "CompareSarifRenderer",
    "write_compare_reports",
]


class CompareRenderer(Protocol):
    """Formats a comparison as one file; never computes on it."""

    def render(self, comparison: Comparison) -> bytes:
        """Return the file's contents."""
        ...


@dataclass(frozen=True, slots=True)
class CompareRendererSpec:
    """One registry line: the format (its CLI flag), where its class lives, its help."""

    name: str
    module: str
    cls: str
    help: str


#: Every report file of compare, one line each.
COMPARE_RENDERERS: tuple[CompareRendererSpec, ...] = (
    CompareRendererSpec(
        "json",
        "leakhunter.report.compare_json",
        "CompareJsonRenderer",
        "write the comparison as JSON (leakhunter.compare/1); - = stdout",
    ),
    CompareRendererSpec(
        "html",
        "leakhunter.report.compare_html",
        "CompareHtmlRenderer",
        "write a self-contained HTML page (before/after charts on one scale)",
    ),
    CompareRendererSpec(
        "junit",
        __name__,
        "CompareJunitRenderer",
        "write JUnit XML (the fix holds; one test case per finding)",
    ),
    CompareRendererSpec(
        "sarif", __name__, "CompareSarifRenderer", "write AFTER's open leaks as SARIF 2.1.0"
    ),
)

_OPEN = (Status.STILL_LEAKING, Status.REDUCED, Status.NEW)


class CompareJunitRenderer:
    """JUnit XML: "the fix holds" plus one test case per finding change."""

    def render(self, comparison: Comparison) -> bytes:
        """Return the XML document."""
        c = comparison
        root = ET.Element("testsuites", name="leakhunter compare")
        suite = ET.SubElement(root, "testsuite", name="leakhunter compare")
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("result", c.result.value),
            ("summary", c.summary),
            ("before", c.before.source),
            ("after", c.after.source),
        ):
            ET.SubElement(props, "property", name=key, value=value)
        head = ET.SubElement(
            suite, "testcase", classname="leakhunter.compare", name="the fix holds", time="0"
        )
        failures = skipped = 0
        if c.result in (Result.NOT_FIXED, Result.REGRESSED):
            ET.SubElement(head, "failure", message=c.summary, type=c.result.value)
            failures += 1
        elif c.result is Result.INCONCLUSIVE:
            ET.SubElement(head, "skipped", message=c.summary)
            skipped += 1
        for ch in c.changes:
            cul = ch.culprit
            name = short_function(cul.function) if cul else "no application frame"
            attrs = {"classname": f"leakhunter.compare.{ch.finding.kind.value}", "time": "0"}
            attrs["name"] = f"{ch.status.value}: {name}"
            if cul is not None and cul.file:
                attrs["file"], attrs["line"] = cul.file, str(cul.line)
            case = ET.SubElement(suite, "testcase", attrs)
            before = finding_rate(ch.before) if ch.before else "-"
            after = finding_rate(ch.after) if ch.after else "no longer grows"
            text = f"{name} ({location(cul, full=True) if cul else ''}): {before} -> {after}"
            if ch.status in _OPEN:
                ET.SubElement(case, "failure", message=text, type=ch.status.value).text = text
                failures += 1
            else:
                ET.SubElement(case, "system-out").text = text
        for el in (root, suite):
            el.set("tests", str(1 + len(c.changes)))
            el.set("failures", str(failures))
            el.set("errors", "0")
            el.set("skipped", str(skipped))
            el.set("time", "0")
        ET.indent(root, space="  ")
        xml = ET.tostring(root, encoding="unicode")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n").encode()


class CompareSarifRenderer:
    """SARIF 2.1.0 of the leaks AFTER still has (the verdict renderer on those findings)."""

    def render(self, comparison: Comparison) -> bytes:
        """Return the SARIF log."""
        from leakhunter.report.data import ReportData
        from leakhunter.report.renderer import load_renderer

        open_leaks = tuple(
            ch.after for ch in comparison.changes if ch.status in _OPEN and ch.after is not None
        )
        verdict = replace(comparison.after.verdict, findings=open_leaks)
        return load_renderer("sarif").render(ReportData(verdict))


def _load(name: str) -> CompareRenderer:
    spec = next(s for s in COMPARE_RENDERERS if s.name == name)
    renderer: CompareRenderer = getattr(importlib.import_module(spec.module), spec.cls)()
    return renderer


def _to_stdout(data: bytes) -> None:
    sys.stdout.flush()  # keep order with text already printed
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def write_compare_reports(c: Comparison, outputs: Mapping[str, str | Path]) -> list[Path]:
    """Render each requested format into its path ("-" = stdout); return the files written."""
    written: list[Path] = []
    for name, path in outputs.items():
        data = _load(name).render(c)
        if str(path) == "-":
            _to_stdout(data)
            continue
        atomic_write(Path(path), data, fsync=False)
        written.append(Path(path))
    return written
