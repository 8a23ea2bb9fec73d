"""compare and check --compare on live zoo services (a leak and its fixed variant).

Each live side takes 15 snapshots at 1 s, as the scorecard does (the gRPC
watchers' culprit needs 12 or more on a loaded 2-core machine, see test_demo;
one run of 12 failed here once under load). The services are up before
anything is watched (start() returns once they serve pprof), and the load
runs well past the window, so nothing here waits on a clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leakhunter.cli.main import main
from leakhunter.harness.run import start

pytestmark = [pytest.mark.go, pytest.mark.slow]

LEAK = "grpc-stream-not-closed"
SNAPSHOTS = ("--snapshots", "15", "--interval", "1")
SESSIONS = Path(__file__).parent / "data" / "sessions"


def test_compare_two_live_urls_says_fixed(zoo_binary: Path, tmp_path: Path) -> None:
    with (
        start(LEAK, duration=120, binary=zoo_binary) as before,
        start(f"{LEAK}-fixed", duration=120, binary=zoo_binary) as after,
    ):
        code = main(
            [
                "compare",
                before.url,
                after.url,
                *SNAPSHOTS,
                "--out",
                str(tmp_path / "s"),
                "--json",
                str(tmp_path / "c.json"),
                "--no-color",
                "-q",
            ]
        )
    doc = json.loads((tmp_path / "c.json").read_text())
    why = {k: doc[k] for k in ("summary", "findings")} | {
        s: doc[s]["summary"] for s in ("before", "after")
    }
    assert code == 0, why
    assert doc["result"] == "fixed"
    assert doc["before"]["snapshots"] == 15 and doc["after"]["snapshots"] == 15
    assert {f["status"] for f in doc["findings"]} == {"fixed"}, why
    assert any(f["culprit"]["function"].endswith("(*Poller).poll") for f in doc["findings"])
    assert (tmp_path / "s" / "before" / "manifest.json").is_file()
    assert (tmp_path / "s" / "after" / "manifest.json").is_file()


def _check(
    tmp_path: Path, scenario: str, binary: Path, before: Path
) -> subprocess.CompletedProcess[str]:
    cmd = f"{binary} -scenario {scenario} -duration 60s -linger 30s"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "leakhunter.cli.main",
            "check",
            "--cmd",
            cmd,
            *SNAPSHOTS,
            "--out",
            str(tmp_path / scenario),
            "--compare",
            str(before),
            "--no-color",
            "--junit",
            str(tmp_path / f"{scenario}.xml"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=dict(os.environ),
    )


def test_check_compare_passes_the_fix_and_fails_the_leak(zoo_binary: Path, tmp_path: Path) -> None:
    before = SESSIONS / "unbounded-map-cache"  # recorded from an older build
    fixed = _check(tmp_path, "unbounded-map-cache-fixed", zoo_binary, before)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.startswith("FIXED: ") and "PASS" in fixed.stderr
    leak = _check(tmp_path, "unbounded-map-cache", zoo_binary, before)
    assert leak.returncode == 1, leak.stdout + leak.stderr
    assert leak.stdout.startswith("NOT-FIXED: ") and "FAIL (not-fixed)" in leak.stderr
    assert "mapcache.cacheResponse" in (tmp_path / "unbounded-map-cache.xml").read_text()
