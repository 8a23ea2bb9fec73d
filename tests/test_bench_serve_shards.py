"""bench/bench_serve_shards.py at a tiny N: three real serve shards, one killed, N becomes 2.

The full run (3,000 targets) is a benchmark; this runs the same script on 24
simulated targets every 2 s, so the ownership checks and the accounting of
what moves and what is lost are exercised on every change to serve.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_serve_shards.py"

pytestmark = pytest.mark.slow


def test_every_target_in_one_shard_before_and_after_a_shard_dies(tmp_path: Path) -> None:
    out = tmp_path / "shards.json"
    cmd = [sys.executable, str(BENCH), "--n", "24", "--interval", "2", "--snapshots", "1"]
    cmd += ["--helpers", "1", "--after", "2", "--kill", "3", "--json", str(out)]
    cmd += ["--tmp", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["phase1"]["ok"] and r["phase2"]["ok"]
    assert sum(r["phase1"]["per_shard"].values()) == sum(r["phase2"]["per_shard"].values()) == 24
    assert r["moved"] + r["kept"] == 24
    assert r["moved_from_killed"] == r["phase1"]["per_shard"]["shard-3"] == r["killed_dir_targets"]
    # the StatefulSet scale-down: shard 3 goes, and only its targets move
    assert r["moved_between_survivors"] == 0 and r["moved"] == r["moved_from_killed"]
    assert r["moved_started_fresh"] == r["moved"] and r["kept_resumed_whole"] == r["kept"]
    assert r["snapshots_left_behind"] > 0  # their history stayed behind
    assert "every target in exactly one shard (its hash's): yes" in done.stdout
