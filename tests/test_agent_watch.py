"""End to end on real Python services: `watch` unchanged on the agent, and `demo` without Go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leakhunter.collect.watch import WatchOptions
from leakhunter.harness.manifest import find_scenario
from leakhunter.harness.record import record
from leakhunter.harness.run import start
from leakhunter.pipeline import analyze_dir

pytestmark = pytest.mark.slow


def test_harness_starts_a_python_scenario_without_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKHUNTER_GO", "/nonexistent/go")
    entry = find_scenario("py-worker-pool")
    assert entry is not None and entry.runtime == "python"
    with start("py-worker-pool", duration=5, linger=5) as svc:
        assert svc.running and svc.port > 0


@pytest.mark.parametrize(
    ("scenario", "verdict"),
    [("py-task-queue-no-consumer", "leak"), ("py-worker-pool", "no-leak")],
)
def test_watch_judges_python_services(scenario: str, verdict: str, tmp_path: Path) -> None:
    out = tmp_path / "session"
    result = record(scenario, out, snapshots=10, interval=1.0, options=WatchOptions())
    assert result.snapshots == 10 and result.epochs == 1
    v = analyze_dir(out)
    assert v.verdict.value == verdict, v.summary
    if verdict == "leak":
        entry = find_scenario(scenario)
        assert entry is not None
        leaks = [f for f in v.findings if f.verdict.value == "leak"]
        assert leaks[0].culprit is not None and leaks[0].culprit.function in entry.culprits
        # the parked tasks were created by the handler that allocated what they hold
        # (the dump's "created by"): one finding, heap and goroutine evidence linked
        lead = leaks[0]
        assert {"heap", "goroutine"} <= {lead.kind.value, *lead.linked}, lead.linked
        assert lead.goroutines is not None and lead.goroutines.state == "queue get"
        assert lead.rule is not None and lead.rule.id == "PY-TASK-QUEUE-NO-CONSUMER"


def test_demo_runs_the_live_python_leak_when_go_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "LEAKHUNTER_GO": str(tmp_path / "no-go")}
    proc = subprocess.run(
        [sys.executable, "-m", "leakhunter.cli.main", "demo", "--snapshots", "8", "--json", "-"]
        + ["--interval", "1"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "running the live Python leak py-task-queue-no-consumer" in proc.stderr
    doc = json.loads(proc.stdout)
    first = next(f for f in doc["findings"] if f["verdict"] == "leak")
    assert first["culprit"]["function"].startswith("leakhunter_zoo_py.taskqueue.")
    assert doc["projection"]["limit_bytes"] == 256 << 20
