from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path

import pytest

from leakhunter.collect import session as session_mod
from leakhunter.collect.session import (
    Manifest,
    SessionWriteError,
    SessionWriter,
    SnapshotRecord,
    atomic_write,
    load_session,
)
from leakhunter.errors import FormatError
from leakhunter.harness.fake import goroutine_profile

MEMSTATS = {
    "HeapAlloc": 10,
    "HeapInuse": 12,
    "HeapObjects": 1,
    "Sys": 99,
    "NumGC": 3,
    "TotalAlloc": 50,
    "Mallocs": 5,
    "Frees": 4,
    "NumForcedGC": 3,
}


def _writer(path: Path) -> SessionWriter:
    return SessionWriter(
        path, Manifest("http://t:6060", "2026-01-01T00:00:00+00:00", {"interval": 1}), fsync=False
    )


def _commit(w: SessionWriter, seq: int, epoch: int = 0) -> None:
    files = {
        "heap": w.write_file(seq, "heap", gzip.compress(b"heap")),
        "goroutine": w.write_file(seq, "goroutine", goroutine_profile({"main.a": seq + 1})),
    }
    w.commit(
        SnapshotRecord(
            seq,
            1000.0 + seq,
            float(seq),
            epoch,
            MEMSTATS,
            seq + 1,
            files,
            {"allocs": "GET x: HTTP 500"},
            1 << 30,
        )
    )


def test_round_trip_layout(tmp_path: Path) -> None:
    w = _writer(tmp_path / "s")
    for seq in range(3):
        _commit(w, seq)
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == [
        "000000.goroutine.pb.gz",
        "000000.heap.pb.gz",
        "000000.json",
        "000001.goroutine.pb.gz",
        "000001.heap.pb.gz",
        "000001.json",
        "000002.goroutine.pb.gz",
        "000002.heap.pb.gz",
        "000002.json",
        "manifest.json",
    ]
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest == {
        "schema": "leakhunter.session/1",
        "target": "http://t:6060",
        "started": "2026-01-01T00:00:00+00:00",
        "options": {"interval": 1},
        "tool_version": "0.1.0",
    }
    rec = json.loads((tmp_path / "s" / "000002.json").read_text())
    assert rec == {
        "seq": 2,
        "time": 1002.0,
        "elapsed": 2.0,
        "epoch": 0,
        "memstats": MEMSTATS,
        "goroutines": 3,
        "files": {"heap": "000002.heap.pb.gz", "goroutine": "000002.goroutine.pb.gz"},
        "errors": {"allocs": "GET x: HTTP 500"},
        "limits": {"gomemlimit": 1 << 30},
    }
    s = load_session(tmp_path / "s")
    assert s.warnings == () and s.target == "http://t:6060"
    assert [x.seq for x in s.snapshots] == [0, 1, 2]
    snap = s.snapshots[2]
    assert snap.record.stats is not None and snap.record.stats.heap_alloc == 10
    assert snap.profile("goroutine").total(0) == 3
    assert snap.read_bytes("heap") == gzip.compress(b"heap")
    assert snap.goroutine_text() is None and not snap.has("goroutine2")


def test_plain_bodies_are_gzipped_and_dump_text_read(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    name = w.write_file(0, "goroutine2", b"goroutine 1 [running]:\nmain.main()\n")
    w.commit(SnapshotRecord(0, 1.0, 0.0, files={"goroutine2": name}))
    assert (tmp_path / name).read_bytes()[:2] == b"\x1f\x8b"
    assert load_session(tmp_path).snapshots[0].goroutine_text() == (
        "goroutine 1 [running]:\nmain.main()\n"
    )


def test_half_written_snapshot_and_temp_files_ignored(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    _commit(w, 0)
    _commit(w, 1)
    # Snapshot 2 was in flight when the collector died: profiles but no record,
    # plus a temp file of the record that never got renamed.
    w.write_file(2, "heap", gzip.compress(b"partial"))
    (tmp_path / ".000002.json.tmp123").write_text('{"seq": 2')
    s = load_session(tmp_path)
    assert [x.seq for x in s.snapshots] == [0, 1]
    assert s.warnings == ()


def test_corrupt_record_skipped_with_warning(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    _commit(w, 0)
    (tmp_path / "000001.json").write_text("{not json")
    (tmp_path / "000002.json").write_text('{"seq": "x"}')
    s = load_session(tmp_path)
    assert [x.seq for x in s.snapshots] == [0]
    assert len(s.warnings) == 2 and all("skipped" in m for m in s.warnings)


def test_missing_file_dropped_from_record(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    _commit(w, 0)
    (tmp_path / "000000.heap.pb.gz").unlink()
    s = load_session(tmp_path)
    assert not s.snapshots[0].has("heap") and s.snapshots[0].has("goroutine")
    assert "missing 000000.heap.pb.gz" in s.warnings[0]


@pytest.mark.parametrize("content", [None, "{]", '{"schema": "other"}'])
def test_missing_or_corrupt_manifest_tolerated(tmp_path: Path, content: str | None) -> None:
    w = _writer(tmp_path)
    _commit(w, 0)
    if content is None:
        (tmp_path / "manifest.json").unlink()
    else:
        (tmp_path / "manifest.json").write_text(content)
    s = load_session(tmp_path)
    assert s.manifest is None and s.target == ""
    assert len(s.snapshots) == 1 and "manifest.json" in s.warnings[0]


def test_not_a_session(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such session directory"):
        load_session(tmp_path / "nope")
    with pytest.raises(FormatError, match="not a leakhunter session"):
        load_session(tmp_path)


def test_existing_session_is_not_overwritten(tmp_path: Path) -> None:
    _writer(tmp_path)
    with pytest.raises(SessionWriteError, match="already holds a session"):
        _writer(tmp_path)


def test_epochs_split(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    for seq, epoch in enumerate([0, 0, 1, 1, 1, 2]):
        _commit(w, seq, epoch)
    runs = load_session(tmp_path).epochs()
    assert [[s.seq for s in run] for run in runs] == [[0, 1], [2, 3, 4], [5]]


def test_disk_full_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(session_mod.os, "fsync", full)
    with pytest.raises(SessionWriteError, match="disk full writing .*x.bin") as info:
        atomic_write(tmp_path / "x.bin", b"data")
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


def test_atomic_write_replaces(tmp_path: Path) -> None:
    atomic_write(tmp_path / "f", b"one")
    atomic_write(tmp_path / "f", b"two")
    assert (tmp_path / "f").read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
