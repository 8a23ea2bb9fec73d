"""`leakhunter compare` on real recorded zoo sessions (no Go needed): results, exit codes, files.

The BEFORE folders (tests/data/sessions) come from an older build of the zoo
than the AFTER ones (tests/data/compare): other addresses and line numbers,
so every pair here also proves that findings are matched across a rebuild.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from golden import Golden
from leakhunter.cli.main import main
from leakhunter.compare import Result, Status, compare_dirs

DATA = Path(__file__).parent / "data"
SESSIONS = DATA / "sessions"
COMPARE = DATA / "compare"

FIXED_PAIRS = ("grpc-stream-not-closed", "unbounded-map-cache", "chan-receive-no-sender")


@pytest.mark.parametrize("leak", FIXED_PAIRS)
def test_fixed_variant_after_the_leak_is_fixed(leak: str) -> None:
    c = compare_dirs(SESSIONS / leak, COMPARE / f"{leak}-fixed")
    assert c.result is Result.FIXED, c.summary
    assert c.changes and all(ch.status is Status.FIXED for ch in c.changes)
    # the whole-process figures agree: the heap grew before, its band now holds ~0
    assert c.before.figures.heap_slope.excludes_zero()
    assert c.after.figures.heap_slope.value < 0.05 * c.before.figures.heap_slope.value


def test_grpc_fix_matches_goroutine_finding_across_rebuild() -> None:
    c = compare_dirs(SESSIONS / "grpc-stream-not-closed", COMPARE / "grpc-stream-not-closed-fixed")
    # one cause, one finding: gRPC's transport buffers join the stream goroutines
    kinds = {k for ch in c.changes for k in (ch.finding.kind.value, *ch.finding.linked)}
    assert kinds == {"goroutine", "heap"}
    g = next(ch for ch in c.changes if "goroutine" in ch.finding.linked)
    assert g.finding.culprit is not None
    assert g.finding.culprit.function.endswith("grpcstream.(*Poller).poll")
    assert c.before.figures.goroutine_slope.low > 0
    assert abs(c.after.figures.goroutine_slope.value) * 3600 < 100


@pytest.mark.parametrize("leak", FIXED_PAIRS)
def test_the_leak_after_its_fixed_variant_is_regressed(leak: str) -> None:
    c = compare_dirs(COMPARE / f"{leak}-fixed", SESSIONS / leak)
    assert c.result is Result.REGRESSED, c.summary
    assert {ch.status for ch in c.changes} == {Status.NEW}


def test_leak_vs_leak_is_not_fixed_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    before, after = SESSIONS / "unbounded-map-cache", COMPARE / "unbounded-map-cache-rerun"
    assert main(["compare", str(before), str(after), "--quiet"]) == 1
    assert capsys.readouterr().out.startswith("not-fixed: ")
    c = compare_dirs(before, after)
    (ch,) = c.changes
    assert ch.status is Status.STILL_LEAKING and ch.matched_by == "culprit"
    assert ch.ratio is not None and 0.7 < ch.ratio < 1.4
    assert any("live heap still rises" in n for n in c.notes)


def test_control_vs_leak_is_regressed_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["compare", str(SESSIONS / "idle-worker-pool"), str(SESSIONS / "unbounded-map-cache"), "-q"]
    )
    assert code == 1
    assert capsys.readouterr().out.startswith("regressed: ")


def test_two_runs_of_a_control_are_no_change_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    before, after = SESSIONS / "idle-worker-pool", COMPARE / "idle-worker-pool-rerun"
    assert main(["compare", str(before), str(after), "-q"]) == 0
    c = compare_dirs(before, after)
    assert c.result is Result.FIXED and c.changes == ()
    assert "no leak before, none now" in c.summary


def test_json_follows_the_compare_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "compare",
            str(SESSIONS / "unbounded-map-cache"),
            str(COMPARE / "unbounded-map-cache-fixed"),
            "--json",
            "-",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["schema"] == "leakhunter.compare/1" and doc["result"] == "fixed"
    for side in ("before", "after"):
        assert set(doc[side]) >= {
            "target",
            "snapshots",
            "verdict",
            "heap_per_hour",
            "goroutines_per_hour",
            "gc_per_second",
        }
        figs = doc[side]["figures"]
        assert set(figs) == {
            "heap_slope",
            "goroutine_slope",
            "gc_per_second",
            "gc_cpu_fraction",
            "alloc_rate",
        }
        for f in figs.values():
            assert f["low"] <= f["value"] <= f["high"] or not f["known"]
    assert doc["before"]["verdict"] == "leak" and doc["after"]["verdict"] == "no-leak"
    assert doc["before"]["heap_per_hour"] > 100 * max(doc["after"]["heap_per_hour"], 1.0)
    (f,) = doc["findings"]
    assert f["status"] == "fixed" and f["kind"] == "heap"
    assert f["culprit"]["function"].endswith("mapcache.cacheResponse")
    assert f["before"]["per_hour"] > 0 and set(f) >= {"rule", "after"}


def test_html_junit_sarif_files(tmp_path: Path) -> None:
    before, after = SESSIONS / "unbounded-map-cache", COMPARE / "unbounded-map-cache-rerun"
    out = {k: tmp_path / f"c.{k}" for k in ("html", "junit", "sarif")}
    args = [f"--{k}={p}" for k, p in out.items()]
    assert main(["compare", str(before), str(after), "-q", *args]) == 1
    page = out["html"].read_text()
    assert page.count("<svg") >= 3 and "not-fixed" in page and "BEFORE" in page
    assert "mapcache.cacheResponse" in page
    root = ET.parse(out["junit"]).getroot()
    assert root.get("failures") == "2"  # the fix holds + the finding still leaking
    sarif = json.loads(out["sarif"].read_text())
    results = sarif["runs"][0]["results"]
    assert len(results) == 1 and "cacheResponse" in json.dumps(results[0])


def test_terminal_report_shows_figures_and_findings(capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "compare",
            str(SESSIONS / "chan-receive-no-sender"),
            str(COMPARE / "chan-receive-no-sender-fixed"),
            "--no-color",
        ]
    )
    out = capsys.readouterr().out
    assert out.startswith("FIXED: ")
    for label in ("live heap slope", "goroutine slope", "GC cycles/s", "allocation rate"):
        assert label in out
    assert "chanrecv.(*Handler).handle" in out and "no longer grows" in out


def test_short_after_side_is_inconclusive_exit_3(tmp_path: Path) -> None:
    short = tmp_path / "short"
    shutil.copytree(COMPARE / "unbounded-map-cache-fixed", short)
    for p in sorted(short.glob("0*.json"))[3:]:
        p.unlink()
    assert main(["compare", str(SESSIONS / "unbounded-map-cache"), str(short), "-q"]) == 3


def test_not_a_session_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(tmp_path / "missing"), str(SESSIONS / "bounded-lru")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("leakhunter: ") and "\n" not in err


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (SESSIONS / "grpc-stream-not-closed", COMPARE / "grpc-stream-not-closed-fixed"),
        (SESSIONS / "unbounded-map-cache", COMPARE / "unbounded-map-cache-rerun"),
    ],
    ids=["fixed", "not-fixed"],
)
def test_terminal_report_golden(before: Path, after: Path, golden: Golden) -> None:
    from leakhunter.report.compare_text import render_compare_text

    text = render_compare_text(compare_dirs(before, after), width=110)
    golden.check(f"compare/{after.name}.txt", text, replace={str(DATA): "<DATA>"})


def test_check_compare_with_a_bad_session_fails_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "started"
    code = main(["check", "--cmd", f"touch {marker}", "--compare", str(tmp_path / "nope")])
    assert code == 2 and not marker.exists()
    assert capsys.readouterr().err.startswith("leakhunter: ")
