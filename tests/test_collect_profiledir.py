"""A folder of profiles an application wrote itself: recognition, times, grouping, records."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leakhunter.cli.main import main
from leakhunter.collect.profiledir import ESTIMATED_NOTE, ProfileDirSource, name_time
from leakhunter.errors import FormatError
from leakhunter.formats.pprof import encode
from leakhunter.model import Function, Line, Location, Sample, ValueType, make_profile
from leakhunter.pipeline import judge_path

T0 = 1_764_000_000.0  # a unix time in 2025
HEAP_TYPES = tuple(
    ValueType(t, u)
    for t, u in (
        ("alloc_objects", "count"),
        ("alloc_space", "bytes"),
        ("inuse_objects", "count"),
        ("inuse_space", "bytes"),
    )
)


def _profile(types: tuple[ValueType, ...], values: tuple[int, ...], when: float | None) -> bytes:
    fn = Function(1, "main.(*cache).put", "main.(*cache).put", "/app/cache.go")
    return encode(
        make_profile(
            types,
            [Sample((1,), values)],
            functions=(fn,),
            locations=(Location(1, lines=(Line(1, 42),)),),
            time_nanos=0 if when is None else int(when * 1e9),
        )
    )


def heap(inuse: int, alloc: int, when: float | None = None, objects: int = 10) -> bytes:
    """Return a gzipped heap profile holding inuse/alloc bytes at one site."""
    return _profile(HEAP_TYPES, (objects * 2, alloc, objects, inuse), when)


def goroutines(count: int, when: float | None = None) -> bytes:
    """Return a gzipped goroutine?debug=0 profile with count goroutines on one stack."""
    return _profile((ValueType("goroutine", "count"),), (count,), when)


DUMP = """goroutine 1 [running]:
main.main()
\t/app/main.go:10 +0x1d

goroutine 7 [chan receive]:
main.(*server).wait(...)
\t/app/server.go:52 +0x2a
created by main.(*server).handle in goroutine 1
\t/app/server.go:50 +0x3b

goroutine 8 [chan receive]:
main.(*server).wait(...)
\t/app/server.go:52 +0x2a
created by main.(*server).handle in goroutine 1
\t/app/server.go:50 +0x3b

"""


def test_times_come_from_names_in_every_unit_and_iso() -> None:
    assert name_time("heap-1764000000.pb.gz") == T0
    assert name_time("heap_1764000000123.pprof") == pytest.approx(T0 + 0.123)
    assert name_time("heap.1764000000000000000.pb.gz") == pytest.approx(T0)
    iso = datetime(2026, 12, 4, 21, 10, 5, tzinfo=UTC).timestamp()
    assert name_time("heap-20261204T211005.pb.gz") == iso
    assert name_time("goroutine-2026-12-04_21-10-05.500.txt") == pytest.approx(iso + 0.5)
    # sequence numbers, build ids and out-of-range digits are no times
    assert name_time("heap-0005.pb.gz") is None
    assert name_time("mem-9999999999.out") is None
    assert name_time("heap.pb.gz") is None


def test_files_are_ordered_by_profile_time_and_paired_per_moment(tmp_path: Path) -> None:
    # names sort the other way round from the times the profiles carry
    for i in range(5):
        when = T0 + 10 * i
        (tmp_path / f"z-heap-{9 - i}.pb.gz").write_bytes(heap(1000 * (i + 1), 5000 * (i + 1), when))
        (tmp_path / f"a-goroutine-{9 - i}.pb.gz").write_bytes(goroutines(3 + i, when + 0.01))
    snaps = ProfileDirSource(tmp_path).snapshots()
    assert [s.record.seq for s in snaps] == [0, 1, 2, 3, 4]
    assert [s.record.elapsed for s in snaps] == pytest.approx([0, 10, 20, 30, 40])
    assert [s.record.memstats["HeapAlloc"] for s in snaps] == [1000, 2000, 3000, 4000, 5000]
    assert [s.record.memstats["TotalAlloc"] for s in snaps] == [5000, 10000, 15000, 20000, 25000]
    assert [s.record.memstats["HeapObjects"] for s in snaps] == [10] * 5
    assert [s.record.goroutines for s in snaps] == [3, 4, 5, 6, 7]
    assert dict(snaps[2].record.files) == {
        "heap": "z-heap-7.pb.gz",
        "goroutine": "a-goroutine-7.pb.gz",
    }
    assert {s.record.epoch for s in snaps} == {0}
    assert snaps[0].profile("heap").time_nanos == int(T0 * 1e9)


def test_unpaired_and_irregular_files_make_their_own_snapshots(tmp_path: Path) -> None:
    (tmp_path / "heap-a.pb.gz").write_bytes(heap(100, 100, T0))
    (tmp_path / "heap-b.pb.gz").write_bytes(heap(200, 300, T0 + 10))
    (tmp_path / "goroutine-b.pb.gz").write_bytes(goroutines(2, T0 + 12))  # 2 s late: still paired
    (tmp_path / "goroutine-c.pb.gz").write_bytes(goroutines(2, T0 + 14))  # alone: 6 s off
    (tmp_path / "heap-d.pb.gz").write_bytes(heap(300, 400, T0 + 20))
    snaps = ProfileDirSource(tmp_path).snapshots()
    assert [sorted(s.record.files) for s in snaps] == [
        ["heap"],
        ["goroutine", "heap"],
        ["goroutine"],
        ["heap"],
    ]
    assert snaps[2].record.memstats == {} and snaps[2].record.goroutines == 2


def test_a_drop_in_the_allocation_total_starts_a_new_epoch(tmp_path: Path) -> None:
    totals = [1000, 2000, 3000, 500, 900]  # the application restarted before the 4th
    for i, alloc in enumerate(totals):
        (tmp_path / f"heap-{i}.pb.gz").write_bytes(heap(100, alloc, T0 + i))
    assert [s.record.epoch for s in ProfileDirSource(tmp_path).snapshots()] == [0, 0, 0, 1, 1]


def test_without_profile_times_names_then_mtimes_give_the_order(tmp_path: Path) -> None:
    (tmp_path / "heap-1764000020.pb.gz").write_bytes(heap(2, 2))
    (tmp_path / "heap-1764000010.pb.gz").write_bytes(heap(1, 1))
    src = ProfileDirSource(tmp_path)
    assert [s.record.time for s in src.snapshots()] == [T0 + 10, T0 + 20]
    assert not any("modification" in n for n in src.notes())

    other = tmp_path / "m"
    other.mkdir()
    for i, name in enumerate(["c.pb.gz", "a.pb.gz", "b.pb.gz"]):
        (other / name).write_bytes(heap(i, i))
        os.utime(other / name, (T0 + i * 5, T0 + i * 5))
    src = ProfileDirSource(other)
    assert [s.record.files["heap"] for s in src.snapshots()] == ["c.pb.gz", "a.pb.gz", "b.pb.gz"]
    assert "3 profile time(s) taken from file modification times" in src.notes()


def test_local_times_in_names_are_aligned_with_profile_times(tmp_path: Path) -> None:
    """Profiles carry UTC; names written in UTC+2 still pair with them."""
    for i in range(4):
        utc = T0 + 60 * i
        local = datetime.fromtimestamp(utc + 7200, UTC).strftime("%Y%m%dT%H%M%S")
        (tmp_path / f"heap-{local}.pb.gz").write_bytes(heap(10, 10 * (i + 1), utc))
        (tmp_path / f"goroutine-{local}.txt").write_text(DUMP)
    snaps = ProfileDirSource(tmp_path).snapshots()
    assert [sorted(s.record.files) for s in snaps] == [["goroutine", "goroutine2", "heap"]] * 4
    assert [s.record.time for s in snaps] == [T0 + 60 * i for i in range(4)]


def test_text_dumps_count_goroutines_and_keep_their_wait_states(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"goroutines-{1764000000 + i}.txt").write_text(DUMP)
        (tmp_path / f"heap-{1764000000 + i}.pb.gz").write_bytes(heap(10, 10 * (i + 1)))
    snaps = ProfileDirSource(tmp_path).snapshots()
    assert len(snaps) == 3
    snap = snaps[1]
    assert snap.has("goroutine2") and snap.has("goroutine") and snap.record.goroutines == 3
    counts = snap.profile("goroutine")
    assert sorted(counts.column(0).tolist()) == [1, 2]
    text = snap.goroutine_text()
    assert text is not None and "chan receive" in text


def test_goroutineleak_profiles_are_told_apart_from_goroutine_profiles(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data" / "goroutines"
    (tmp_path / "goroutine-1764000000.txt").write_text(DUMP)
    (tmp_path / "leaked-1764000000.txt").write_bytes((data / "leak_debug2.txt").read_bytes())
    (tmp_path / "gl-1764000000.pb.gz").write_bytes((data / "leak_debug0.pb.gz").read_bytes())
    src = ProfileDirSource(tmp_path)
    snaps = src.snapshots()
    assert len(snaps) == 2  # the protobuf carries its own time (a later one)
    assert dict(snaps[0].record.files) == {
        "goroutine2": "goroutine-1764000000.txt",
        "goroutine": "goroutine-1764000000.txt",
        "goroutineleak": "leaked-1764000000.txt",
    }
    assert dict(snaps[1].record.files) == {"goroutineleak": "gl-1764000000.pb.gz"}
    assert snaps[0].profile("goroutineleak").total(0) > 0


def test_allocs_profiles_stand_for_heap_profiles(tmp_path: Path) -> None:
    """go test -memprofile writes the allocs profile: the same data as heap."""
    for i in range(2):
        (tmp_path / f"mem-alloc-{i}.out").write_bytes(heap(10 * (i + 1), 50 * (i + 1), T0 + i))
    snaps = ProfileDirSource(tmp_path).snapshots()
    assert [dict(s.record.files) for s in snaps] == [
        {"heap": "mem-alloc-0.out"},
        {"heap": "mem-alloc-1.out"},
    ]
    assert snaps[1].record.memstats["HeapAlloc"] == 20


def test_other_files_are_skipped_and_counted_and_links_may_not_leave(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "heap-9.pb.gz").write_bytes(heap(1, 1, T0 + 9))
    root = tmp_path / "profiles"
    root.mkdir()
    for i in range(3):
        (root / f"heap-{i}.pb.gz").write_bytes(heap(i + 1, i + 1, T0 + i))
    (root / "escape.pb.gz").symlink_to(outside / "heap-9.pb.gz")
    (root / "inside.pb.gz").symlink_to(root / "heap-0.pb.gz")  # inside: read (a 2nd copy)
    cpu = make_profile((ValueType("samples", "count"), ValueType("cpu", "nanoseconds")), [])
    (root / "cpu.pprof").write_bytes(encode(cpu))
    (root / "README.txt").write_text("profiles of the billing service\n")
    (root / "broken.pb.gz").write_bytes(gzip.compress(b"\x0a\xff\xff")[:-6])
    (root / ".heap-3.pb.gz.tmp").write_bytes(b"half")  # a writer's temp file: not counted
    (root / "sub").mkdir()
    src = ProfileDirSource(root)
    names = sorted(n for s in src.snapshots() for n in s.record.files.values())
    assert names == ["heap-0.pb.gz", "heap-1.pb.gz", "heap-2.pb.gz", "inside.pb.gz"]
    (note,) = [n for n in src.notes() if n.startswith("skipped")]
    assert note.startswith("skipped 4 file(s): 1 outside the folder (escape.pb.gz); 3 not heap")
    assert "README.txt: not a profile" in note and "cpu.pprof: a samples/cpu profile" in note
    assert ESTIMATED_NOTE in src.notes()
    # a file swapped for a link out of the folder after the scan is refused when read
    (root / "heap-1.pb.gz").unlink()
    (root / "heap-1.pb.gz").symlink_to(outside / "heap-9.pb.gz")
    (snap,) = [s for s in src.snapshots() if s.record.files.get("heap") == "heap-1.pb.gz"]
    with pytest.raises(FormatError, match="outside the folder"):
        snap.profile("heap")


def test_stop_ends_the_folder_early(tmp_path: Path) -> None:
    for i in range(4):
        (tmp_path / f"heap-{i}.pb.gz").write_bytes(heap(i, i, T0 + i))
    stop = threading.Event()
    seen: list[int] = []

    def take(snap: object) -> None:
        seen.append(len(seen))
        if len(seen) == 2:
            stop.set()

    result = ProfileDirSource(tmp_path).run(take, stop)
    assert result.snapshots == 2 and result.stopped == "interrupted" and seen == [0, 1]


def test_a_growing_folder_is_judged_a_leak_with_the_estimate_noted(tmp_path: Path) -> None:
    for i in range(12):
        when = T0 + 60 * i
        mib = 1 << 20
        (tmp_path / f"heap-{i:03d}.pb.gz").write_bytes(heap(mib * (i + 1), 4 * mib * (i + 1), when))
        (tmp_path / f"goroutine-{i:03d}.pb.gz").write_bytes(goroutines(5, when))
    judged = judge_path(tmp_path)
    v = judged.verdict
    assert v.verdict.value == "leak", v.summary
    assert v.findings[0].culprit is not None
    assert v.findings[0].culprit.function == "main.(*cache).put"
    assert ESTIMATED_NOTE in v.notes
    assert judged.session is not None and judged.session.directory == str(tmp_path)
    assert judged.edges.first["heap"].record.seq == 0 and judged.edges.last["heap"].record.seq == 11
    # report writes its files for such a folder too (views drawn from its profiles)
    sarif, html = tmp_path.parent / "r.sarif", tmp_path.parent / "r.html"
    assert main(["report", str(tmp_path), "--sarif", str(sarif), "--html", str(html)]) == 0
    assert json.loads(sarif.read_text())["runs"][0]["results"]
    assert "main.(*cache).put" in html.read_text()


def test_a_folder_without_profiles_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here\n")
    with pytest.raises(FormatError, match="neither a leakhunter session"):
        judge_path(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "leakhunter.cli.main", "analyze", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "neither a leakhunter session" in lines[0], proc.stderr
    assert "notes.txt" in lines[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FormatError, match="neither"):
        judge_path(empty)
    with pytest.raises(FormatError, match="no such session directory or profile folder"):
        judge_path(tmp_path / "missing")


def test_files_over_the_input_limit_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, big = heap(1, 1, T0), goroutines(1, T0 + 1) + b"\0" * 4096
    (tmp_path / "heap-0.pb.gz").write_bytes(small)
    (tmp_path / "huge.pb.gz").write_bytes(big)
    monkeypatch.setenv("LEAKHUNTER_MAX_INPUT_BYTES", str(len(small) + 100))
    src = ProfileDirSource(tmp_path)
    assert [dict(s.record.files) for s in src.snapshots()] == [{"heap": "heap-0.pb.gz"}]
    assert f"1 not read (huge.pb.gz: over the {len(small) + 100}-byte limit)" in src.notes()[-1]
