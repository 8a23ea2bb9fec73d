"""gc_every on real zoo services: which snapshots force a GC, restarts, sessions read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakhunter.collect.fetch import FetchOptions
from leakhunter.collect.session import SnapshotRecord, load_session
from leakhunter.collect.watch import WatchOptions, collect
from leakhunter.harness.run import RunningScenario, start
from leakhunter.pipeline import analyze_dir

pytestmark = pytest.mark.go

FAST = FetchOptions(timeout=30.0, retries=0)  # generous: the machine may be loaded


def test_only_every_kth_snapshot_forces_a_gc(zoo_binary: Path, tmp_path: Path) -> None:
    options = WatchOptions(interval=0.5, snapshots=7, gc_every=3, fetch=FAST)
    with start("unbounded-map-cache", binary=zoo_binary, duration=30) as run:
        result = collect(run.url, options, tmp_path)
    assert result.snapshots == 7 and result.epochs == 1
    session = load_session(tmp_path)
    assert session.warnings == ()
    recs = [s.record for s in session.snapshots]
    assert all(not r.errors for r in recs), [dict(r.errors) for r in recs]
    assert [r.gc_forced for r in recs] == [True, False, False, True, False, False, True]
    # The service forces no GC itself. A forced snapshot's heap?gc=1 shows in its own
    # record; its goroutineleak profile, fetched after the MemStats, runs a second GC
    # that the next record shows. The snapshots in between force none.
    assert [r.memstats["NumForcedGC"] for r in recs] == [1, 2, 2, 3, 4, 4, 5]
    # the goroutineleak profile runs a GC of its own: fetched on forced snapshots only
    assert [r.gc_forced for r in recs] == ["goroutineleak" in r.files for r in recs]
    assert all("heap" in r.files and "goroutine" in r.files for r in recs)
    # 3 forced points are too few for a trend: the heap is judged on all 7, and says so
    v = analyze_dir(tmp_path)
    assert any("4 of the 7 heap figures were read without a forced GC" in n for n in v.notes)


def test_a_restart_between_forced_gcs_is_still_seen(zoo_binary: Path, tmp_path: Path) -> None:
    runs: list[RunningScenario] = [start("unbounded-map-cache", binary=zoo_binary, duration=60)]
    port = runs[0].port

    def restart_after_second(rec: SnapshotRecord) -> None:
        if rec.seq == 1:
            runs[-1].stop()
            runs.append(
                start(
                    "unbounded-map-cache", binary=zoo_binary, duration=60, addr=f"127.0.0.1:{port}"
                )
            )

    try:
        result = collect(
            runs[0].url,
            WatchOptions(interval=0.5, snapshots=6, gc_every=4, fetch=FAST),
            tmp_path,
            on_snapshot=restart_after_second,
        )
    finally:
        for run in runs:
            run.stop()
    assert len(runs) == 2 and runs[1].pid != runs[0].pid
    recs = [s.record for s in load_session(tmp_path).snapshots]
    assert [r.epoch for r in recs] == [0, 0, 1, 1, 1, 1]
    assert result.epochs == 2
    # seq 2 forced no GC when it met the new process; it was read again after one
    assert [r.gc_forced for r in recs] == [True, False, True, False, False, False]
    assert recs[2].memstats["NumForcedGC"] >= 1
