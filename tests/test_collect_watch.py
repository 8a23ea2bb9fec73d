from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leakhunter.collect import session as session_mod
from leakhunter.collect.fetch import FetchOptions
from leakhunter.collect.session import SessionWriteError, SnapshotRecord, load_session
from leakhunter.collect.watch import WatchOptions, collect, is_restart, target_base
from leakhunter.errors import UsageError
from leakhunter.formats.memstats import MemStats
from leakhunter.harness.fake import FakeGoTarget, Reply

FAST = FetchOptions(timeout=30.0, retries=0)  # generous: the machine may be loaded


class FakeClock:
    """Time that only moves when the loop sleeps: schedules become exact."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def target() -> Iterator[FakeGoTarget]:
    with FakeGoTarget(gomemlimit=1 << 30) as t:
        yield t


def _watch(
    target: FakeGoTarget,
    out: Path,
    each: Callable[[SnapshotRecord], None] | None = None,
    stop: threading.Event | None = None,
    **opts: object,
) -> tuple[object, list[SnapshotRecord], FakeClock]:
    clock = FakeClock()
    records: list[SnapshotRecord] = []

    def on_snapshot(rec: SnapshotRecord) -> None:
        records.append(rec)
        if each is not None:
            each(rec)

    options = WatchOptions(**{"interval": 1.0, "fetch": FAST, **opts})  # type: ignore[arg-type]
    result = collect(
        target.url + "/debug/pprof/",
        options,
        out,
        on_snapshot=on_snapshot,
        stop_event=stop,
        clock=clock.time,
        sleep=clock.sleep,
    )
    return result, records, clock


def test_snapshots_on_schedule_with_exact_records(target: FakeGoTarget, tmp_path: Path) -> None:
    result, recs, clock = _watch(
        target, tmp_path, lambda r: target.grow(heap=1 << 20, groups={"main.leak": 3}), snapshots=4
    )
    assert result.snapshots == 4 and result.stopped == "done" and result.epochs == 1  # type: ignore[attr-defined]
    assert [r.elapsed for r in recs] == [0.0, 1.0, 2.0, 3.0]  # first one immediately
    assert clock.sleeps == [1.0, 1.0, 1.0]
    heap = [r.memstats["HeapAlloc"] for r in recs]
    assert heap == [(1 << 20) * (i + 1) for i in range(4)]
    assert [r.goroutines for r in recs] == [1, 4, 7, 10]
    assert all(r.gomemlimit == 1 << 30 and not r.errors for r in recs)
    assert set(recs[0].files) == {"heap", "goroutine", "goroutineleak", "goroutine2"}
    # heap?gc=1&debug=1 comes first, then the heap protobuf that reflects that GC
    heap_reqs = [r.query for r in target.requests if r.path == "/debug/pprof/heap"][:2]
    assert heap_reqs == ["gc=1&debug=1", ""]
    s = load_session(tmp_path)
    assert [x.record for x in s.snapshots] == recs
    assert s.manifest is not None and s.manifest.target == target.url
    assert s.manifest.options["interval"] == 1.0


def test_duration_mode_and_no_limit(tmp_path: Path) -> None:
    with FakeGoTarget() as t:
        result, recs, _ = _watch(t, tmp_path, duration=10.0, interval=5.0)
    assert [r.elapsed for r in recs] == [0.0, 5.0, 10.0]
    assert recs[0].gomemlimit is None  # math.MaxInt64 means no limit


def test_leak_endpoint_404_stops_asking(tmp_path: Path) -> None:
    with FakeGoTarget(leak_endpoint=False) as t:
        _, recs, _ = _watch(t, tmp_path, snapshots=3)
        assert t.hits("/debug/pprof/goroutineleak") == 1
    assert all("goroutineleak" not in r.files and not r.errors for r in recs)


def test_debug2_only_when_it_pays(target: FakeGoTarget, tmp_path: Path) -> None:
    def each(rec: SnapshotRecord) -> None:
        target.grow(groups={"main.slow": 5})  # small steady growth: below threshold
        if rec.seq == 2:
            target.grow(groups={"main.burst": 60})

    _, recs, _ = _watch(target, tmp_path, each, snapshots=7, dump_growth=50)
    dumped = [r.seq for r in recs if "goroutine2" in r.files]
    assert dumped == [0, 3, 6]
    text = load_session(tmp_path).snapshots[3].goroutine_text()
    assert text is not None and text.count("main.burst") == 60


def test_total_growth_also_triggers_dump(target: FakeGoTarget, tmp_path: Path) -> None:
    _, recs, _ = _watch(
        target,
        tmp_path,
        lambda r: target.grow(groups={"main.slow": 20}),
        snapshots=6,
        dump_growth=50,
    )
    # one group growing 20 per snapshot crosses 50 after three snapshots
    assert [r.seq for r in recs if "goroutine2" in r.files] == [0, 3, 5]


def test_debug2_size_cap_cuts_at_goroutine_boundary(target: FakeGoTarget, tmp_path: Path) -> None:
    target.grow(groups={"main.many": 500})
    _, recs, _ = _watch(target, tmp_path, snapshots=1, dump_max_bytes=2000)
    assert "limit" in recs[0].errors["goroutine2"]
    text = load_session(tmp_path).snapshots[0].goroutine_text()
    assert text is not None and 0 < len(text) <= 2000
    assert text.endswith("+0x1d\n")  # whole goroutines only


def test_restart_bumps_epoch(target: FakeGoTarget, tmp_path: Path) -> None:
    def each(rec: SnapshotRecord) -> None:
        target.grow(heap=1000, allocated=5000)
        if rec.seq == 2:
            target.restart()

    result, recs, _ = _watch(target, tmp_path, each, snapshots=5)
    assert [r.epoch for r in recs] == [0, 0, 0, 1, 1]
    assert result.epochs == 2  # type: ignore[attr-defined]
    assert [[s.seq for s in run] for run in load_session(tmp_path).epochs()] == [[0, 1, 2], [3, 4]]


def test_is_restart() -> None:
    base = MemStats(100, 100, 1, 100, num_gc=10, total_alloc=1000, num_forced_gc=5)
    same = MemStats(90, 90, 1, 100, num_gc=11, total_alloc=1100, num_forced_gc=6)
    assert not is_restart(base, same)
    assert is_restart(base, MemStats(1, 1, 1, 1, num_gc=9, total_alloc=5000, num_forced_gc=9))
    assert is_restart(base, MemStats(1, 1, 1, 1, num_gc=50, total_alloc=999, num_forced_gc=9))
    # a young process that already did more GCs and allocated more: forced GCs still tell
    assert is_restart(base, MemStats(1, 1, 1, 1, num_gc=50, total_alloc=9999, num_forced_gc=1))


def test_target_down_mid_watch_goes_on(target: FakeGoTarget, tmp_path: Path) -> None:
    def each(rec: SnapshotRecord) -> None:
        if rec.seq == 1:
            target.stop()
        if rec.seq == 2:
            target.start()

    result, recs, _ = _watch(target, tmp_path, each, snapshots=4)
    assert result.snapshots == 4  # type: ignore[attr-defined]
    down = recs[2]
    assert down.memstats == {} and down.files == {} and down.goroutines is None
    assert "connection refused" in down.errors["memstats"]
    assert recs[3].memstats and not recs[3].errors
    assert [r.epoch for r in recs] == [0, 0, 0, 0]  # same process came back


def test_endpoint_error_recorded_not_fatal(target: FakeGoTarget, tmp_path: Path) -> None:
    target.routes["/debug/pprof/allocs"] = lambda r: Reply(500, b"allocs broke")
    _, recs, _ = _watch(target, tmp_path, snapshots=2, allocs=True)
    assert all("HTTP 500" in r.errors["allocs"] and "heap" in r.files for r in recs)


def test_allocs_collected_when_asked(target: FakeGoTarget, tmp_path: Path) -> None:
    _, recs, _ = _watch(target, tmp_path, snapshots=1, allocs=True)
    assert recs[0].files["allocs"] == "000000.allocs.pb.gz"
    assert gzip.decompress((tmp_path / "000000.allocs.pb.gz").read_bytes()) == b"allocs"


def test_stop_between_snapshots(target: FakeGoTarget, tmp_path: Path) -> None:
    stop = threading.Event()
    result, recs, _ = _watch(target, tmp_path, lambda r: r.seq == 1 and stop.set(), stop)
    assert result.stopped == "interrupted" and result.snapshots == 2  # type: ignore[attr-defined]
    assert len(load_session(tmp_path).snapshots) == 2


def test_stop_mid_snapshot_abandons_it(target: FakeGoTarget, tmp_path: Path) -> None:
    stop = threading.Event()
    serve = target.routes["/debug/pprof/goroutine"]

    def goroutine(req: object) -> Reply:
        if target.hits("/debug/pprof/goroutine") >= 3:  # snapshot 1 (0 had debug=0 + debug=2)
            stop.set()
        return serve(req)  # type: ignore[arg-type]

    target.routes["/debug/pprof/goroutine"] = goroutine
    result, recs, _ = _watch(target, tmp_path, stop=stop, snapshots=5)
    assert result.stopped == "interrupted" and result.snapshots == 1  # type: ignore[attr-defined]
    assert len(load_session(tmp_path).snapshots) == 1
    assert not any(p.name.startswith("000001") for p in tmp_path.iterdir())


def test_disk_full_stops_and_keeps_what_is_written(
    target: FakeGoTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = session_mod.atomic_write
    calls = {"n": 0}

    def flaky(path: Path, data: bytes, *, fsync: bool = True) -> None:
        calls["n"] += 1
        if calls["n"] > 12:
            raise SessionWriteError(f"disk full writing {path}; the session keeps what was written")
        real(path, data, fsync=fsync)

    monkeypatch.setattr(session_mod, "atomic_write", flaky)
    result, _, _ = _watch(target, tmp_path, snapshots=10, goroutine_dumps=False)
    assert result.stopped == "write-error" and "disk full" in str(result.error)  # type: ignore[attr-defined]
    s = load_session(tmp_path)
    assert len(s.snapshots) == result.snapshots >= 2  # type: ignore[attr-defined]


def test_target_base_forms() -> None:
    assert target_base("svc:6060") == "http://svc:6060"
    assert target_base("http://svc:6060/") == "http://svc:6060"
    assert target_base("https://svc/admin/debug/pprof/heap?x=1") == "https://svc/admin"
    with pytest.raises(UsageError):
        target_base("http://")


@pytest.mark.parametrize("bad", [{"interval": 0}, {"snapshots": 0}, {"duration": -1.0}])
def test_bad_options(bad: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        WatchOptions(**bad)  # type: ignore[arg-type]


def test_planned() -> None:
    assert WatchOptions(interval=15, duration=600).planned() == 41
    assert WatchOptions(interval=1, duration=600, snapshots=5).planned() == 5
    assert WatchOptions().planned() is None


def test_goroutine_counting_bug_does_not_end_watch(
    target: FakeGoTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakhunter.collect import watch as watch_mod

    def broken(data: bytes, source: str = "") -> object:
        raise AttributeError("decoder bug")

    monkeypatch.setattr(watch_mod, "group_counts", broken)
    result, recs, _ = _watch(target, tmp_path, snapshots=3)
    assert result.snapshots == 3  # type: ignore[attr-defined]
    assert all("AttributeError: decoder bug" in r.errors["goroutine"] for r in recs)
    assert all("goroutine" in r.files and r.goroutines is None for r in recs)
