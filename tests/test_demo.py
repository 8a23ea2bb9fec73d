"""`leakhunter demo`: live on the zoo's gRPC stream leak, and the offline fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from leakhunter.cli.main import main


def test_offline_demo_analyses_a_recorded_session(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--offline", "--json", "-"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 1
    assert doc["verdict"] == "leak"
    assert "recorded from the zoo" in captured.err


@pytest.mark.go
@pytest.mark.slow
def test_live_demo_finds_the_grpc_stream_leak_with_time_to_oom() -> None:
    # 12 snapshots (the demo takes 16): the culprit of the gRPC watcher goroutines
    # rests on catching the poller's call into grpc on some stack; with 9, one CI
    # run in several saw none and fell back to the creator's current frame.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leakhunter.cli.main",
            "demo",
            "--snapshots",
            "12",
            "--interval",
            "1",
            "--json",
            "-",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    first = next(f for f in doc["findings"] if f["verdict"] == "leak")
    assert first["culprit"]["function"].endswith("grpcstream.(*Poller).poll"), doc["summary"]
    assert first["rule"]["id"] == "GO-GRPC-STREAM-NOT-CLOSED"
    assert doc["projection"]["limit_bytes"] == 256 << 20
    assert doc["projection"]["time_to_oom_seconds"] > 0
