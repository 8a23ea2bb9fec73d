"""End to end on real zoo scenarios: collect, survive kill -9, detect a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from leakhunter.collect.fetch import FetchOptions
from leakhunter.collect.session import SnapshotRecord, load_session
from leakhunter.collect.watch import WatchOptions, collect
from leakhunter.harness.run import RunningScenario, start

pytestmark = pytest.mark.go

FAST = FetchOptions(timeout=30.0, retries=0)  # generous: the machine may be loaded


def test_collect_real_scenario(zoo_binary: Path, tmp_path: Path) -> None:
    with start("unbounded-map-cache", binary=zoo_binary, duration=30) as run:
        result = collect(run.url, WatchOptions(interval=0.5, snapshots=5, fetch=FAST), tmp_path)
    assert result.snapshots == 5 and result.stopped == "done" and result.epochs == 1
    session = load_session(tmp_path)
    assert session.warnings == () and session.target == run.url
    recs = [s.record for s in session.snapshots]
    assert [r.seq for r in recs] == [0, 1, 2, 3, 4]
    assert all(not r.errors for r in recs), [dict(r.errors) for r in recs]
    heap = [r.memstats["HeapAlloc"] for r in recs]
    assert heap[-1] > heap[0]  # the cache only grows
    assert all(r.memstats["NumForcedGC"] > 0 for r in recs)
    assert all(r.goroutines and r.goroutines > 0 for r in recs)
    assert all(r.gomemlimit is None for r in recs)  # the zoo sets no GOMEMLIMIT
    for snap in session.snapshots:
        assert {"heap", "goroutine", "goroutineleak"} <= set(snap.record.files)
        profile = snap.profile("heap")
        assert [t.type for t in profile.sample_types] == [
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space",
        ]
        assert snap.profile("goroutine").total(0) == snap.record.goroutines
    assert session.snapshots[0].has("goroutine2") and session.snapshots[-1].has("goroutine2")
    text = session.snapshots[-1].goroutine_text()
    assert text is not None and text.startswith("goroutine ")
    names = {p.name for p in tmp_path.iterdir()}
    assert not [n for n in names if n.startswith(".")], "temp files left behind"


def _jsons(path: Path) -> int:
    return len(list(path.glob("[0-9]*.json"))) if path.is_dir() else 0


def _refused(url: str) -> bool:
    try:
        httpx.get(url + "/debug/pprof/", timeout=1.0)
    except httpx.HTTPError:
        return True
    return False


def test_collector_killed_9_leaves_a_readable_session(zoo_binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    cmd = [
        sys.executable,
        "-m",
        "leakhunter.harness",
        "record",
        "chan-receive-no-sender",
        str(out),
        "--snapshots",
        "100",
        "--interval",
        "0.3",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _jsons(out) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert _jsons(out) >= 4, "collector made no progress"
        time.sleep(0.13)  # land somewhere inside a snapshot
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
    session = load_session(out)
    assert len(session.snapshots) >= 4 and session.warnings == ()
    assert [s.seq for s in session.snapshots] == list(range(len(session.snapshots)))
    for snap in session.snapshots:
        snap.profile("heap")
        snap.profile("goroutine")
    # PR_SET_PDEATHSIG took the zoo process down with its harness
    deadline = time.monotonic() + 60
    while not _refused(session.target) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _refused(session.target), "zoo scenario outlived its killed harness"


def test_sigterm_to_recorder_finishes_cleanly(zoo_binary: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    cmd = [
        sys.executable,
        "-m",
        "leakhunter.harness",
        "record",
        "idle-worker-pool",
        str(out),
        "--snapshots",
        "100",
        "--interval",
        "0.3",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while _jsons(out) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "(interrupted)" in stdout
    assert len(load_session(out).snapshots) >= 2


def test_restart_on_same_port_bumps_epoch(zoo_binary: Path, tmp_path: Path) -> None:
    runs: list[RunningScenario] = [start("unbounded-map-cache", binary=zoo_binary, duration=60)]
    port = runs[0].port

    def restart_after_third(rec: SnapshotRecord) -> None:
        if rec.seq == 2:
            runs[-1].stop()
            runs.append(
                start(
                    "unbounded-map-cache", binary=zoo_binary, duration=60, addr=f"127.0.0.1:{port}"
                )
            )

    try:
        result = collect(
            runs[0].url,
            WatchOptions(interval=0.5, snapshots=6, fetch=FAST),
            tmp_path,
            on_snapshot=restart_after_third,
        )
    finally:
        for run in runs:
            run.stop()
    assert len(runs) == 2 and runs[1].port == port and runs[1].pid != runs[0].pid
    epochs = [s.record.epoch for s in load_session(tmp_path).snapshots]
    assert epochs == [0, 0, 0, 1, 1, 1], epochs
    assert result.epochs == 2
