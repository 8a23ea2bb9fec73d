"""Exports for CI and other tools: SARIF 2.1.0 (schema-validated), JUnit XML, findings as pprof.

tests/data/sarif-schema-2.1.0.json is the official OASIS SARIF 2.1.0 schema
(errata01, from oasis-tcs/sarif-spec Schemata/), vendored as a spec document.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from leakhunter.analyze.verdict import VerdictValue
from leakhunter.formats.pprof import decode
from leakhunter.report.junit import render_junit
from leakhunter.report.pprof_export import PprofRenderer, findings_profile
from leakhunter.report.sarif import GENERIC_RULES, render_sarif, sarif_log
from report_builders import SESSION_NAMES, SESSIONS, sample_report, sample_verdict, session_report

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA)


def test_the_vendored_schema_is_the_sarif_2_1_0_schema():
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["id"].endswith("/sarif-schema-2.1.0.json")
    assert SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]


@pytest.mark.parametrize("name", [*SESSION_NAMES, "sample"])
def test_sarif_is_valid(name):
    report = sample_report() if name == "sample" else session_report(name)
    log = json.loads(render_sarif(report.verdict))
    errors = sorted(VALIDATOR.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    assert len(log["runs"][0]["results"]) == len(report.verdict.findings)


def test_the_validator_rejects_a_broken_log():
    log = sarif_log(sample_verdict())
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert len(list(VALIDATOR.iter_errors(log))) == 2


def test_sarif_results_point_at_the_culprit_with_rule_ids():
    v = sample_verdict()
    run = sarif_log(v)["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = run["results"]
    first = results[0]
    assert first["ruleId"] == "GO-MAP-UNBOUNDED" and rules[first["ruleIndex"]] == first["ruleId"]
    assert first["level"] == "error"
    phys = first["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "file:///src/shop/cache/cache.go"
    assert phys["region"] == {"startLine": 41}
    assert "Map used as a cache without eviction" in first["message"]["text"]
    assert "Bound the cache" in first["message"]["text"]
    assert len(first["stacks"][0]["frames"]) == len(v.findings[0].stack)
    # generic ids by kind when no rule matched; suspects warn, churn is a note
    assert results[1]["ruleId"] == GENERIC_RULES[v.findings[1].kind].id
    assert results[1]["level"] == "warning"
    assert results[3]["level"] == "note"
    assert rules.count(GENERIC_RULES[v.findings[2].kind].id) == 1
    # no app frame: located at the innermost frame with a file
    assert results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "/redis.go"
    )
    assert first["partialFingerprints"] == {"leakhunterFindingId/v1": "heap-0123456789"}


def test_sarif_paths_under_the_source_root_are_relative():
    """Code scanning attaches results only to repository-relative paths."""
    log = sarif_log(sample_verdict(), source_root="/src/shop/")
    assert not list(VALIDATOR.iter_errors(log))
    run = log["runs"][0]
    assert run["originalUriBaseIds"] == {"SRCROOT": {"uri": "file:///src/shop/"}}
    art = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": "cache/cache.go", "uriBaseId": "SRCROOT"}
    # outside the root (the Go module cache, the toolchain): absolute file:// URIs
    outside = run["results"][2]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert outside["uri"].startswith("file:///") and "uriBaseId" not in outside
    assert "originalUriBaseIds" not in sarif_log(sample_verdict())["runs"][0]


def test_report_cli_sarif_is_relative_to_source_root(tmp_path, monkeypatch):
    from leakhunter.cli.main import main

    session = SESSIONS / "grpc-stream-not-closed"
    monkeypatch.chdir(tmp_path)  # the default root (cwd) holds none of the session's files
    monkeypatch.delenv("LEAKHUNTER_SOURCE_ROOT", raising=False)
    plain = tmp_path / "plain.sarif"
    assert main(["report", str(session), "--sarif", str(plain)]) == 0
    art = json.loads(plain.read_text())["runs"][0]["results"][0]["locations"][0]
    uri = art["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("file:///") and uri.endswith(".go")
    file = Path(uri.removeprefix("file://"))
    root = str(file.parent.parent)  # the module root of the zoo's culprit
    out = tmp_path / "rel.sarif"
    assert main(["report", str(session), "--sarif", str(out), "--source-root", root]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == Path(root).as_uri() + "/"
    loc = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": f"{file.parent.name}/{file.name}", "uriBaseId": "SRCROOT"}


def test_junit_has_checks_and_one_case_per_finding():
    v = sample_verdict()
    root = ET.fromstring(render_junit(v))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 3 + len(v.findings)
    assert suite.get("tests") == str(len(cases)) == root.get("tests")
    failures = [c for c in cases if c.find("failure") is not None]
    assert suite.get("failures") == str(len(failures))
    names = [c.get("name") for c in cases]
    assert names[:3] == ["no memory or goroutine leak", "no heap leak", "no goroutine leak"]
    goroutine_check = cases[2]
    assert goroutine_check.find("failure") is None  # the goroutine finding is only a suspect
    leak = next(c for c in cases if c.get("name", "").startswith("heap-0123456789"))
    failure = leak.find("failure")
    assert failure is not None
    assert failure.get("type") == "GO-MAP-UNBOUNDED"
    message = failure.get("message", "")
    assert "example.com/shop/cache.(*Cache).Put" in message and "cache/cache.go:41" in message
    assert "fix: Bound the cache" in (failure.text or "")
    assert leak.get("file") == "/src/shop/cache/cache.go" and leak.get("line") == "41"
    suspect = next(c for c in cases if c.get("name", "").startswith("goroutine-"))
    assert suspect.find("system-out") is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "leak" and props["time_to_oom"] == "90 min"


def test_junit_inconclusive_skips_the_checks_and_no_leak_passes():
    v = replace(sample_verdict(), verdict=VerdictValue.INCONCLUSIVE, findings=())
    suite = ET.fromstring(render_junit(v)).find("testsuite")
    assert suite is not None
    assert suite.get("skipped") == "3" and suite.get("failures") == "0"
    ok = replace(v, verdict=VerdictValue.NO_LEAK)
    suite = ET.fromstring(render_junit(ok)).find("testsuite")
    assert suite is not None
    assert suite.get("skipped") == "0" and suite.get("failures") == "0"


def test_junit_escapes_markup_in_names():
    v = sample_verdict()
    f = v.findings[0]
    weird = replace(f, evidence=('a <b> & "c" ]]> d',))
    text = render_junit(replace(v, findings=(weird,)))
    case = next(
        c for c in ET.fromstring(text).iter("testcase") if c.get("classname") == "leakhunter.heap"
    )
    assert 'evidence: a <b> & "c" ]]> d' in (case.findtext("failure") or "")


def test_findings_profile_samples_and_labels():
    v = sample_verdict()
    p = decode(PprofRenderer().render(sample_report()), source="findings")
    assert p == findings_profile(v)
    assert [vt.type for vt in p.sample_types] == [
        "leak_bytes_per_hour",
        "leak_goroutines_per_hour",
        "churn_bytes_per_hour",
    ]
    rows = list(p.samples())
    assert len(rows) == len(v.findings)
    heap, goroutines, _, churn = rows
    assert heap.values == (3_355_443_200, 0, 0)
    assert goroutines.values == (0, 18_000, 0)
    assert churn.values == (0, 0, 150_000_000_000)
    labels = {lb.key: lb.str or lb.num for lb in heap.labels}
    assert labels == {
        "finding": "heap-0123456789",
        "kind": "heap",
        "verdict": "leak",
        "rule": "GO-MAP-UNBOUNDED",
        "confidence": 97,
    }


@pytest.mark.go
def test_findings_profile_opens_in_go_tool_pprof(tmp_path):
    go = shutil.which("go")
    assert go is not None
    path = tmp_path / "findings.pb.gz"
    report = session_report("grpc-stream-not-closed")
    path.write_bytes(PprofRenderer().render(report))
    heap = next(f for f in report.verdict.findings if f.growth.unit == "bytes")
    goroutine = next(f for f in report.verdict.findings if "goroutine" in {f.kind.value, *f.linked})
    assert heap.culprit is not None
    out = subprocess.run(
        [go, "tool", "pprof", "-top", "-symbolize=none", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "Type: leak_bytes_per_hour" in out.stdout
    assert heap.culprit.function in out.stdout
    by_goroutines = subprocess.run(
        [go, "tool", "pprof", "-top", "-symbolize=none", "-sample_index=1", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert by_goroutines.returncode == 0, by_goroutines.stderr
    assert "Type: leak_goroutines_per_hour" in by_goroutines.stdout
    assert (goroutine.culprit or goroutine.stack[0]).function in by_goroutines.stdout
