"""Render findings as a pprof profile, so `go tool pprof` (and its web UI) can browse them.

One sample per finding: its stack is the finding's stack (the culprit alone
when there is none), its values are the finding's growth rates, one sample
type per unit (``leak_bytes_per_hour``, ``leak_goroutines_per_hour``,
``churn_bytes_per_hour``), and its labels name the finding (``finding``,
``kind``, ``verdict``, ``rule``). A finding that links heap and goroutine
evidence carries both rates. ``go tool pprof -top FILE`` then ranks culprits
by leak rate; ``-sample_index=leak_goroutines_per_hour`` by goroutines.
"""

from __future__ import annotations

from leakhunter.analyze.verdict import Finding, FindingKind, Verdict
from leakhunter.formats.pprof import encode
from leakhunter.model.goroutine import Frame
from leakhunter.model.profile import (
    Function,
    Label,
    Line,
    Location,
    Profile,
    Sample,
    ValueType,
    make_profile,
)
from leakhunter.report.data import ReportData
from leakhunter.report.sarif import GENERIC_RULES

__all__ = ["SAMPLE_TYPES", "PprofRenderer", "findings_profile"]

SAMPLE_TYPES = (
    ValueType("leak_bytes_per_hour", "bytes"),
    ValueType("leak_goroutines_per_hour", "count"),
    ValueType("churn_bytes_per_hour", "bytes"),
)
_UNKNOWN = Frame("<unknown>")


class _Symbols:
    """Functions and locations, one per distinct function / frame, ids from 1."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], Function] = {}
        self.locations: dict[Frame, Location] = {}

    def location(self, fr: Frame) -> int:
        loc = self.locations.get(fr)
        if loc is None:
            key = (fr.function, fr.file)
            fn = self.functions.get(key)
            if fn is None:
                fn = self.functions[key] = Function(
                    id=len(self.functions) + 1,
                    name=fr.function,
                    system_name=fr.function,
                    filename=fr.file,
                )
            loc = self.locations[fr] = Location(
                id=len(self.locations) + 1, lines=(Line(function_id=fn.id, line=fr.line),)
            )
        return loc.id


def _rates(f: Finding) -> tuple[int, int, int]:
    """(bytes/h, goroutines/h, churn bytes/h) of a finding, from its fitted growth."""
    per_hour = round(f.growth.per_hour)
    if f.kind is FindingKind.CHURN:
        return 0, 0, per_hour
    if f.growth.unit == "goroutines":
        return 0, per_hour, 0
    goroutines = next((s for s in f.series if s.unit == "goroutines"), None)
    return per_hour, round(goroutines.fit_slope * 3600) if goroutines else 0, 0


def findings_profile(v: Verdict) -> Profile:
    """Return the findings of a verdict as a profile (see the module doc)."""
    syms = _Symbols()
    samples = []
    for f in v.findings:
        frames = f.stack or ((f.culprit or _UNKNOWN),)
        rule = (f.rule or GENERIC_RULES[f.kind]).id
        labels = (
            Label("finding", str=f.id),
            Label("kind", str=f.kind.value),
            Label("verdict", str=f.verdict.value),
            Label("rule", str=rule),
            Label("confidence", num=round(f.confidence * 100), num_unit="percent"),
        )
        samples.append(Sample(tuple(syms.location(fr) for fr in frames), _rates(f), labels))
    comments = [f"leakhunter findings: {v.verdict.value}: {v.summary}"]
    if v.target:
        comments.append(f"target: {v.target}")
    return make_profile(
        SAMPLE_TYPES,
        samples,
        locations=tuple(syms.locations.values()),
        functions=tuple(syms.functions.values()),
        duration_nanos=round(v.window_seconds * 1e9),
        comments=tuple(comments),
        default_sample_type=SAMPLE_TYPES[0].type,
    )


class PprofRenderer:
    """The findings profile as a report file format (``--pprof PATH``, gzipped protobuf)."""

    def render(self, report: ReportData) -> bytes:
        """Return the gzipped profile."""
        return encode(findings_profile(report.verdict))
