"""`leakhunter analyze FOLDER` on profiles a real Go program wrote itself (no HTTP endpoint)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from goprogs import build, go_env
from leakhunter.collect.profiledir import ESTIMATED_NOTE

pytestmark = [pytest.mark.go, pytest.mark.slow]

HANDLER = "main.(*server).handle"
PARKED = "main.(*server).handle.func1"


def write_profiles(out: Path, *args: str, n: int = 16, env: dict[str, str] | None = None) -> Path:
    """Run tests/goprogs/profwriter until it has written n profiles of each kind into out."""
    out.mkdir()
    binary = build("profwriter")
    cmd = [str(binary), "-out", str(out), "-n", str(n), "-every", "150ms", *args]
    subprocess.run(cmd, check=True, timeout=120, env=go_env(env))
    return out


def analyze(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakhunter.cli.main", "analyze", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_leaking_program_s_folder_is_a_leak_with_its_culprits(tmp_path: Path) -> None:
    folder = write_profiles(tmp_path / "profiles", "-mode", "leak")
    assert len(list(folder.glob("heap-*.pb.gz"))) == 16
    doc_path, html = tmp_path / "v.json", tmp_path / "r.html"
    proc = analyze(folder, "--json", str(doc_path), "--html", str(html))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(doc_path.read_text())
    assert doc["verdict"] == "leak" and doc["snapshots"] == 16
    leaks = {f["kind"]: f["culprit"]["function"] for f in doc["findings"] if f["verdict"] == "leak"}
    assert leaks.get("goroutine") == PARKED, leaks
    assert leaks.get("heap") == HANDLER, leaks
    assert ESTIMATED_NOTE in doc["notes"]
    page = html.read_text()
    assert PARKED in page and "estimated from the sampled heap profiles" in page
    assert "LEAK" in proc.stdout


@pytest.mark.parametrize("gc", ["-gc=true", "-gc=false"])
def test_a_steady_program_s_folder_is_no_leak(gc: str, tmp_path: Path) -> None:
    folder = write_profiles(tmp_path / "profiles", "-mode", "steady", gc)
    proc = analyze(folder, "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("no-leak")


def test_a_heap_leak_shows_through_collections_the_runtime_chose(tmp_path: Path) -> None:
    """No runtime.GC() before the profiles: each reflects the runtime's own last GC.

    A service profiled every minute sees many collections between two profiles. The
    writer waits for two of the runtime's own collections before each profile (churning
    garbage until they happen, not sleeping), and GOGC=20 keeps those collections close
    together, so every profile is fresh however loaded the machine is.
    """
    folder = write_profiles(
        tmp_path / "profiles", "-mode", "heapleak", "-gc=false", n=24, env={"GOGC": "20"}
    )
    proc = analyze(folder, "--json", "-")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    leaks = [
        (f["kind"], f["culprit"]["function"]) for f in doc["findings"] if f["verdict"] == "leak"
    ]
    assert leaks == [("heap", HANDLER)], leaks


def test_text_goroutine_dumps_are_judged_with_their_wait_states(tmp_path: Path) -> None:
    """WriteTo(f, 2): text dumps beside the heap profiles, timed by their files."""
    folder = write_profiles(tmp_path / "profiles", "-mode", "leak", "-debug", "2")
    assert len(list(folder.glob("goroutine-*.txt"))) == 16
    proc = analyze(folder, "--json", "-")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["snapshots"] == 16
    parked = [
        f
        for f in doc["findings"]
        if f["verdict"] == "leak" and "goroutine" in {f["kind"], *f["linked"]}
    ]
    assert parked, doc["findings"]
    assert parked[0]["goroutines"]["state"] == "chan receive"
    assert any("modification times" in n for n in doc["notes"])
