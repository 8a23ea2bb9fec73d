"""The detective on real recorded zoo sessions (no Go needed): verdicts, culprits, JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from leakhunter.analyze.judge import AnalyzeOptions
from leakhunter.cli.main import main
from leakhunter.harness.manifest import load_manifest
from leakhunter.pipeline import analyze_dir

SESSIONS = Path(__file__).parent / "data" / "sessions"
MANIFEST = {s.name: s for s in load_manifest()}
RECORDED = sorted(p.name for p in SESSIONS.iterdir() if p.is_dir()) if SESSIONS.exists() else []


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_session_verdict(name: str) -> None:
    expected = MANIFEST[name]
    v = analyze_dir(SESSIONS / name)
    leaks = [f for f in v.findings if f.verdict.value == "leak"]
    if expected.verdict == "leak":
        assert v.verdict.value == "leak", v.summary
        assert leaks[0].culprit is not None
        assert leaks[0].culprit.function in expected.culprits, leaks[0].culprit
    else:
        assert v.verdict.value == "no-leak", [f.culprit for f in leaks]
    if expected.verdict == "churn":
        assert any(f.kind.value == "churn" for f in v.findings)


def test_json_follows_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", str(SESSIONS / "unbounded-map-cache"), "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["schema"] == "leakhunter.verdict/1"
    assert doc["verdict"] == "leak"
    assert doc["snapshots"] == 20
    assert doc["window_seconds"] > 15
    f = doc["findings"][0]
    assert set(f) >= {
        "id",
        "kind",
        "verdict",
        "confidence",
        "culprit",
        "stack",
        "growth",
        "evidence",
        "rule",
    }
    assert f["kind"] in ("heap", "goroutine", "churn")
    assert 0 <= f["confidence"] <= 1
    assert set(f["culprit"]) == {"function", "file", "line"}
    assert f["growth"]["unit"] == "bytes" and f["growth"]["per_hour"] > 0
    assert f["growth"]["end"] > f["growth"]["start"]
    assert set(doc["projection"]) >= {"limit_bytes", "time_to_oom_seconds"}
    assert any(x["verdict"] == "leak" for x in doc["findings"])


def test_limit_gives_time_to_oom(capsys: pytest.CaptureFixture[str]) -> None:
    v = analyze_dir(SESSIONS / "unbounded-map-cache", AnalyzeOptions(limit_bytes=1 << 30))
    assert v.projection.limit_bytes == 1 << 30
    ttl = v.projection.time_to_oom_seconds
    assert ttl is not None
    # HeapAlloc grows ~0.8 MB/s towards 1 GiB from ~16 MB: about 20 minutes
    assert 300 < ttl < 4000


def test_control_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(SESSIONS / "idle-worker-pool"), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("no-leak")


def test_partial_session_still_analyses(tmp_path: Path) -> None:
    src = SESSIONS / "chan-receive-no-sender"
    dst = tmp_path / "s"
    shutil.copytree(src, dst)
    records = sorted(p for p in dst.glob("0*.json"))
    for p in records[12:]:
        p.unlink()  # a kill -9 mid-watch: the last snapshots never committed
    (dst / "000012.heap.pb.gz").write_bytes(b"\x1f\x8b half a file")  # and a torn file
    v = analyze_dir(dst)
    assert v.snapshots == 12
    assert v.verdict.value == "leak"


def test_short_session_is_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / "s"
    shutil.copytree(SESSIONS / "unbounded-map-cache", dst)
    for p in sorted(dst.glob("0*.json"))[4:]:
        p.unlink()
    assert main(["analyze", str(dst), "--quiet"]) == 3
    assert "inconclusive" in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, "junk"])
def test_bad_session_dir_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    target = tmp_path / "nothing"
    if content is not None:
        target.mkdir()
        (target / "000000.json").write_text(content)
    code = main(["analyze", str(target)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
