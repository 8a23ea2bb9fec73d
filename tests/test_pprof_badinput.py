"""Bad input: every broken file gives one clear line naming the file, exit 2, no traceback."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from leakhunter.cli.main import main
from leakhunter.errors import FormatError
from leakhunter.formats import pprof
from leakhunter.formats._pprof_schema import FULL_PROFILE
from pprof_helpers import DATA, hand_profile

HEAP = (DATA / "heap.pb.gz").read_bytes()
HEAP_RAW = gzip.decompress(HEAP)


def good() -> FULL_PROFILE:
    m = FULL_PROFILE()
    m.string_table.extend([b"", b"samples", b"count", b"main"])
    m.sample_type.add(type=1, unit=2)
    m.function.add(id=1, name=3)
    m.location.add(id=1).line.add(function_id=1, line=1)
    m.sample.add(location_id=[1], value=[5])
    return m


def tweak(change) -> bytes:
    m = good()
    change(m)
    return m.SerializeToString()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


CASES = {
    "empty": (b"", "empty file"),
    "text": (b"goroutine 1 [running]:\nmain.main()\n", "not a pprof"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(range(64)), "not a pprof"),
    "random": (random.Random(1).randbytes(4096), "not a pprof"),
    "truncated gzip": (HEAP[: len(HEAP) // 2], "truncated gzip"),
    "corrupt gzip": (_flip(HEAP, len(HEAP) // 2), "gzip"),
    "truncated raw": (HEAP_RAW[: len(HEAP_RAW) - 7], "not a pprof protobuf profile"),
    "string index": (tweak(lambda m: setattr(m.function[0], "name", 99)), "string 99"),
    "negative string index": (
        tweak(lambda m: setattr(m.sample_type[0], "unit", -1)),
        "string -1",
    ),
    "label string index": (
        tweak(lambda m: m.sample[0].label.add(key=42, str=1)),
        "label refers to string 42",
    ),
    "missing location": (
        tweak(lambda m: m.sample.add(location_id=[7], value=[1])),
        "missing location 7",
    ),
    "missing function": (
        tweak(lambda m: m.location.add(id=2).line.add(function_id=9)),
        "missing function 9",
    ),
    "missing mapping": (
        tweak(lambda m: setattr(m.location[0], "mapping_id", 4)),
        "missing mapping 4",
    ),
    "too few values": (tweak(lambda m: m.sample_type.add(type=1, unit=2)), "expected 2"),
    "too many values": (tweak(lambda m: m.sample[0].value.append(6)), "expected 1"),
    "no sample types": (tweak(lambda m: m.ClearField("sample_type")), "no sample types"),
    "duplicate ids": (tweak(lambda m: m.function.add(id=1, name=3)), "id 1"),
    "reserved id": (tweak(lambda m: m.function.add(id=0, name=3)), "reserved id 0"),
    "string table": (
        tweak(lambda m: m.string_table.__setitem__(0, b"x")),
        "does not start with the empty string",
    ),
}


@pytest.fixture(autouse=True)
def _small_cap(monkeypatch):
    monkeypatch.setenv("LEAKHUNTER_MAX_INPUT_BYTES", str(1 << 20))


def check_one_line(capsys, argv, path: Path, problem: str) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and problem in lines[0], lines[0]
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_profile_top(tmp_path, capsys, name, sample_walk):
    data, problem = CASES[name]
    path = tmp_path / "bad.pb.gz"
    path.write_bytes(data)
    with pytest.raises(FormatError):
        pprof.decode(data, source=str(path))
    check_one_line(capsys, ["top", str(path)], path, problem)


@pytest.mark.parametrize("name", ["truncated gzip", "missing location", "label string index"])
def test_bad_profile_diff_names_the_bad_side(tmp_path, capsys, name):
    data, problem = CASES[name]
    bad, ok = tmp_path / "bad.pb.gz", tmp_path / "ok.pb.gz"
    bad.write_bytes(data)
    ok.write_bytes(HEAP)
    check_one_line(capsys, ["diff", str(ok), str(bad)], bad, problem)
    check_one_line(capsys, ["diff", str(bad), str(ok)], bad, problem)


def test_gzip_bomb_stops_at_the_cap(tmp_path, capsys):
    bomb = gzip.compress(b"\0" * (8 << 20), compresslevel=9)
    assert len(bomb) < 20_000
    path = tmp_path / "bomb.pb.gz"
    path.write_bytes(bomb)
    check_one_line(capsys, ["top", str(path)], path, "more than 1048576 bytes")
    with pytest.raises(FormatError, match="LEAKHUNTER_MAX_INPUT_BYTES"):
        pprof.decode(bomb, max_bytes=4096)


def test_raw_input_over_the_cap(tmp_path, capsys):
    path = tmp_path / "big.pb"
    path.write_bytes(b"\0" * ((1 << 20) + 1))
    check_one_line(capsys, ["top", str(path)], path, "over the 1048576-byte limit")


def test_not_a_file(tmp_path, capsys):
    check_one_line(capsys, ["top", str(tmp_path / "missing")], tmp_path / "missing", "No such")
    check_one_line(capsys, ["top", str(tmp_path)], tmp_path, "directory")


def test_incompatible_diff_is_one_line(tmp_path, capsys):
    heap, gor = tmp_path / "heap.pb.gz", tmp_path / "g.pb.gz"
    heap.write_bytes(HEAP)
    gor.write_bytes((DATA / "goroutine.pb.gz").read_bytes())
    code = main(["diff", str(heap), str(gor)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "incompatible" in err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--sample-index", "nope"], "no sample type 'nope'"),
        (["--focus", "("], "--focus: invalid regular expression"),
        (["--ignore", "[z-a]"], "--ignore: invalid regular expression"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, argv, problem):
    path = tmp_path / "ok.pb.gz"
    pprof.write(hand_profile([(("a",), (1,))]), path)
    assert main(["top", str(path), *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and problem in err


def console_script() -> list[str]:
    beside = Path(sys.executable).parent / "leakhunter"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "leakhunter.cli.main"]


@pytest.mark.parametrize(
    "name", ["empty", "png", "truncated gzip", "missing function", "too few values"]
)
def test_console_script_never_shows_a_traceback(tmp_path, name):
    data, problem = CASES[name]
    path = tmp_path / "bad.pb.gz"
    path.write_bytes(data)
    env = dict(os.environ, LEAKHUNTER_MAX_INPUT_BYTES=str(1 << 20))
    proc = subprocess.run(
        [*console_script(), "top", str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and problem in lines[0], proc.stderr
