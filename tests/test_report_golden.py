"""Golden files for every renderer, on the committed recorded sessions and a hand-built verdict.

Terminal (plain and colour, 100 columns), verdict JSON, the HTML report's
embedded data, SARIF, JUnit and the findings profile (decoded to text). Paths
of the session folder, timestamps and the tool version are normalised.
Regenerate with ``pytest tests/test_report_golden.py --update-golden`` after a
deliberate change to a renderer or to the analysis, and review the diff.
"""

from __future__ import annotations

import json

import pytest

from leakhunter.formats.pprof import decode
from leakhunter.model.profile import Profile
from leakhunter.report.data import ReportData
from leakhunter.report.html_data import html_data
from leakhunter.report.junit import render_junit
from leakhunter.report.pprof_export import PprofRenderer
from leakhunter.report.sarif import render_sarif
from leakhunter.report.terminal import render_verdict_text
from leakhunter.report.verdict_json import render_verdict_json
from report_builders import SESSION_NAMES, SESSIONS, sample_report, session_report

CASES = (*SESSION_NAMES, "sample")


def _report(name: str) -> ReportData:
    return sample_report() if name == "sample" else session_report(name)


def _paths(name: str) -> dict[str, str]:
    if name == "sample":
        return {}
    path = SESSIONS / name
    return {str(path.resolve()): "<SESSION>", str(path): "<SESSION>"}


def profile_text(p: Profile) -> str:
    """A stable text form of a profile: types, comments, then each sample with its stack."""
    funcs = {f.id: f for f in p.functions}
    locs = {loc.id: loc for loc in p.locations}
    lines = [
        "types: " + ", ".join(f"{vt.type}/{vt.unit}" for vt in p.sample_types),
        f"default: {p.default_sample_type}",
        f"duration_nanos: {p.duration_nanos}",
        *(f"comment: {c}" for c in p.comments),
    ]
    for s in p.samples():
        labels = " ".join(
            f"{lb.key}={lb.str}" if lb.str else f"{lb.key}={lb.num}{lb.num_unit}" for lb in s.labels
        )
        lines.append(f"sample {list(s.values)} {labels}")
        for loc_id in s.location_ids:
            for ln in locs[loc_id].lines:
                f = funcs[ln.function_id]
                lines.append(f"  {f.name} {f.filename}:{ln.line}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", CASES)
def test_terminal_plain(golden, name):
    r = _report(name)
    text = render_verdict_text(r.verdict, width=100, color=False, goroutines=r.goroutines)
    assert "\x1b[" not in text
    golden.check(f"report/terminal/{name}.txt", text, _paths(name))


@pytest.mark.parametrize("name", CASES)
def test_terminal_color(golden, name):
    r = _report(name)
    text = render_verdict_text(r.verdict, width=100, color=True, goroutines=r.goroutines)
    assert "\x1b[" in text
    golden.check(f"report/terminal/{name}.ansi", text, _paths(name))


@pytest.mark.parametrize("name", CASES)
def test_verdict_json(golden, name):
    golden.check(f"report/json/{name}.json", render_verdict_json(_report(name).verdict) + "\n")


@pytest.mark.parametrize("name", CASES)
def test_html_data(golden, name):
    data = json.dumps(html_data(_report(name)), indent=1, ensure_ascii=False) + "\n"
    golden.check(f"report/html-data/{name}.json", data, _paths(name))


@pytest.mark.parametrize("name", CASES)
def test_sarif(golden, name):
    golden.check(f"report/sarif/{name}.sarif", render_sarif(_report(name).verdict))


@pytest.mark.parametrize("name", CASES)
def test_junit(golden, name):
    golden.check(f"report/junit/{name}.xml", render_junit(_report(name).verdict))


@pytest.mark.parametrize("name", CASES)
def test_pprof(golden, name):
    profile = decode(PprofRenderer().render(_report(name)), source=name)
    golden.check(f"report/pprof/{name}.txt", profile_text(profile))
