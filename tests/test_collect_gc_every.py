"""gc_every: a watch that forces a GC on the first snapshot and every k-th only.

On a fake Go target (which counts every heap?gc=1 as a forced GC, as the
runtime does): which snapshots force one, what the records say and how they
read back, restart detection when most snapshots force nothing, and the
--gc-every flags of watch and serve.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leakhunter.cli._watch_run import watch_options
from leakhunter.cli.main import build_parser
from leakhunter.cli.serve import ServeCommand
from leakhunter.cli.watch import WatchCommand
from leakhunter.collect.fetch import FetchOptions
from leakhunter.collect.session import SnapshotRecord, load_session
from leakhunter.collect.watch import WatchOptions, collect, is_restart
from leakhunter.errors import UsageError
from leakhunter.formats.memstats import MemStats
from leakhunter.harness.fake import FakeGoTarget
from leakhunter.serve.options import ServeOptions
from leakhunter.serve.store import Store
from leakhunter.serve.targets import TargetSpec
from leakhunter.serve.worker import TargetWorker

FAST = FetchOptions(timeout=30.0, retries=0)  # generous: the machine may be loaded


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def target() -> Iterator[FakeGoTarget]:
    with FakeGoTarget() as t:
        yield t


def _watch(
    target: FakeGoTarget,
    out: Path,
    n: int,
    gc_every: int,
    each: Callable[[SnapshotRecord], None] | None = None,
) -> list[SnapshotRecord]:
    clock = _Clock()
    records: list[SnapshotRecord] = []

    def on_snapshot(rec: SnapshotRecord) -> None:
        records.append(rec)
        if each is not None:
            each(rec)

    options = WatchOptions(interval=1.0, snapshots=n, gc_every=gc_every, fetch=FAST)
    collect(target.url, options, out, on_snapshot=on_snapshot, clock=clock.time, sleep=clock.sleep)
    return records


def test_a_gc_is_forced_on_the_first_snapshot_and_every_kth(
    target: FakeGoTarget, tmp_path: Path
) -> None:
    recs = _watch(target, tmp_path, 7, 3, lambda r: target.grow(heap=1 << 20, allocated=1 << 20))
    assert [r.gc_forced for r in recs] == [True, False, False, True, False, False, True]
    assert target.state.num_forced_gc == 3  # the unforced ones asked for no GC
    forced_counts = [r.memstats["NumForcedGC"] for r in recs]
    assert forced_counts == [1, 1, 1, 2, 2, 2, 3]
    # goroutineleak runs a GC of its own: fetched with the forced ones only
    assert ["goroutineleak" in r.files for r in recs] == [r.gc_forced for r in recs]
    assert all(not r.errors and "heap" in r.files for r in recs)
    assert [r.epoch for r in recs] == [0] * 7  # level counters are no restart


def test_records_say_so_and_read_back(target: FakeGoTarget, tmp_path: Path) -> None:
    _watch(target, tmp_path, 4, 2)
    raw = [json.loads((tmp_path / f"{i:06d}.json").read_text()) for i in range(4)]
    # written only when false: a record of a forced snapshot is what it always was
    assert [r.get("gc_forced", "absent") for r in raw] == ["absent", False, "absent", False]
    session = load_session(tmp_path)
    assert session.warnings == ()
    assert [s.record.gc_forced for s in session.snapshots] == [True, False, True, False]
    assert session.manifest is not None and session.manifest.options["gc_every"] == 2


def test_default_forces_every_snapshot(target: FakeGoTarget, tmp_path: Path) -> None:
    recs = _watch(target, tmp_path, 3, 1)
    assert all(r.gc_forced for r in recs) and target.state.num_forced_gc == 3
    assert all("gc_forced" not in json.loads(p.read_text()) for p in tmp_path.glob("0*.json"))


def test_older_records_read_as_forced_and_a_bad_flag_is_refused(
    target: FakeGoTarget, tmp_path: Path
) -> None:
    _watch(target, tmp_path, 3, 3)
    (tmp_path / "000001.json").write_text(
        json.dumps({**json.loads((tmp_path / "000001.json").read_text()), "gc_forced": "no"})
    )
    old = json.loads((tmp_path / "000002.json").read_text())
    del old["gc_forced"]  # as an older leakhunter wrote it
    (tmp_path / "000002.json").write_text(json.dumps(old))
    session = load_session(tmp_path)
    assert [s.seq for s in session.snapshots] == [0, 2]
    assert session.snapshots[1].record.gc_forced is True
    assert any("000001.json" in w and "gc_forced" in w for w in session.warnings)


def test_restart_seen_on_an_unforced_snapshot(target: FakeGoTarget, tmp_path: Path) -> None:
    """A new process that did more GCs and allocated more: only its forced count tells."""

    def each(rec: SnapshotRecord) -> None:
        target.grow(heap=4096, allocated=1 << 20)
        if rec.seq == 4:
            target.restart()
            target.state.num_gc, target.state.total_alloc = 10_000, 1 << 40

    recs = _watch(target, tmp_path, 9, 4, each)
    assert [r.epoch for r in recs] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    # the restart is seen on seq 5, which forced no GC: it is read again after one,
    # so the new run starts on an exact point and its cadence starts over there
    t, f = True, False
    assert [r.gc_forced for r in recs] == [t, f, f, f, t, t, f, f, f]
    assert recs[5].memstats["NumForcedGC"] == 1 and "goroutineleak" in recs[5].files
    assert [[s.seq for s in run] for run in load_session(tmp_path).epochs()] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8],
    ]


def test_a_second_restart_before_the_next_forced_gc_is_seen(
    target: FakeGoTarget, tmp_path: Path
) -> None:
    def each(rec: SnapshotRecord) -> None:
        target.grow(heap=4096, allocated=1 << 20)
        if rec.seq in (1, 2):  # restarts seen on seq 2 (unforced) and seq 3
            target.restart()
            target.state.num_gc, target.state.total_alloc = 10_000 * rec.seq, 1 << (40 + rec.seq)

    recs = _watch(target, tmp_path, 5, 10, each)
    assert [r.epoch for r in recs] == [0, 0, 1, 2, 2]


def test_is_restart_without_a_forced_gc() -> None:
    prev = MemStats(100, 100, 1, 100, num_gc=10, total_alloc=1000, num_forced_gc=5)
    level = MemStats(150, 150, 1, 100, num_gc=10, total_alloc=1000, num_forced_gc=5)
    assert is_restart(prev, level)  # a forced GC would have moved both counters
    assert not is_restart(prev, level, forced=False)  # without one nothing has to move
    young = MemStats(1, 1, 1, 1, num_gc=50, total_alloc=9999, num_forced_gc=0)
    assert is_restart(prev, young, forced=False)
    assert is_restart(prev, MemStats(1, 1, 1, 1, num_gc=9, total_alloc=5000), forced=False)
    assert is_restart(prev, MemStats(1, 1, 1, 1, num_gc=50, total_alloc=999), forced=False)


def test_gc_every_must_be_positive() -> None:
    with pytest.raises(UsageError, match="gc_every"):
        WatchOptions(gc_every=0)


def test_watch_flag(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser([WatchCommand()])
    args = parser.parse_args(["watch", "http://x:1", "--gc-every", "5"])
    assert watch_options(args).gc_every == 5
    assert watch_options(parser.parse_args(["watch", "http://x:1"])).gc_every == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["watch", "http://x:1", "--gc-every", "0"])
    assert "--gc-every" in capsys.readouterr().err


def test_serve_flag_reaches_the_workers_snapshotter(target: FakeGoTarget, tmp_path: Path) -> None:
    args = build_parser([ServeCommand()]).parse_args(["serve", "--gc-every", "3"])
    assert args.gc_every == 3
    options = ServeOptions(data=tmp_path / "data", gc_every=args.gc_every, retries=0, timeout=30.0)
    store = Store(tmp_path / "data" / "serve.db")
    try:
        worker = TargetWorker(TargetSpec(target.url), store, options, threading.Event())
        for _ in range(5):
            worker.scrape()
            target.grow(heap=1 << 20)
        assert worker.status.snapshots == 5 and worker.status.up
    finally:
        store.close()
    assert worker.segment is not None
    recs = [s.record for s in load_session(worker.segment).snapshots]
    assert [r.gc_forced for r in recs] == [True, False, False, True, False]
    assert target.state.num_forced_gc == 2
    # the live heap serve exports is the last exact one, not a figure with garbage in
    assert worker.status.heap == recs[3].memstats["HeapAlloc"] != recs[4].memstats["HeapAlloc"]
