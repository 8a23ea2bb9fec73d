"""pprof reader/writer: round trips, every field, odd-but-legal encodings, go tool pprof."""

from __future__ import annotations

import gzip
import subprocess

import numpy as np
import pytest

from leakhunter.cli.main import main
from leakhunter.errors import FormatError
from leakhunter.formats import pprof
from leakhunter.formats._pprof_schema import FULL_PROFILE
from leakhunter.model import (
    Function,
    Label,
    Line,
    Location,
    Mapping,
    Sample,
    ValueType,
    make_profile,
)
from pprof_helpers import DATA, hand_profile, parse_lh_json, run_pprof_top

FIXTURES = ["heap.pb.gz", "goroutine.pb.gz"]


def every_field_profile():
    """A profile that sets every field of profile.proto to something non-default."""
    functions = (
        Function(1, "main.main", "main.main.sys", "/src/main.go", 10),
        Function(2, "main.leaf", "", "/src/leaf.go", 3),
        Function(3, "caf\udcc3", "", "", 0),  # not UTF-8, kept via surrogateescape
    )
    mappings = (
        Mapping(1, 0x400000, 0x500000, 0x1000, "/bin/app", "build-1", True, True, True, True),
        Mapping(2, 0x7F0000, 0x7F8000, 0, "/lib/libc.so", "", False, False, False, False),
    )
    locations = (
        Location(1, 1, 0x401000, (Line(2, 4, 2), Line(1, 12, 7)), False),  # inlined
        Location(2, 1, 0x402000, (Line(1, 13, 0),), True),
        Location(3, 2, 0x7F1234, (), False),  # unsymbolized
        Location(4, 0, 0, (Line(3, 1),), False),
    )
    samples = [
        Sample((1, 2), (1, 1024), (Label("bytes", num=1024, num_unit="bytes"),)),
        Sample((3, 2), (-2, -64), (Label("pool", "a"), Label("request", "r\udcff"))),
        Sample((), (0, 0)),  # empty stack
        Sample((4, 1, 2), (2**50, -(2**50))),  # pprof prints via float64: stay < 2**53
        Sample((1, 2), (5, 6)),  # same stack as the first, other labels
    ]
    return make_profile(
        [ValueType("alloc_objects", "count"), ValueType("alloc_space", "bytes")],
        samples,
        mappings=mappings,
        locations=locations,
        functions=functions,
        drop_frames="runtime\\..*",
        keep_frames="runtime\\.keep",
        time_nanos=1_700_000_000_000_000_000,
        duration_nanos=-5,
        period_type=ValueType("space", "bytes"),
        period=524288,
        comments=("first", "zweite \udcfe"),
        default_sample_type="alloc_space",
        doc_url="https://example.invalid/doc",
    )


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("compress", [True, False])
def test_real_go_profiles_round_trip(name, compress):
    p = pprof.read(DATA / name)
    assert p.num_samples > 0
    data = pprof.encode(p, compress=compress)
    assert (data[:2] == b"\x1f\x8b") is compress
    assert pprof.decode(data) == p


def test_every_field_round_trips(sample_walk):
    p = every_field_profile()
    for compress in (True, False):
        q = pprof.decode(pprof.encode(p, compress=compress))
        assert q == p
        assert q.period_type == ValueType("space", "bytes")
        assert q.functions[2].name == "caf\udcc3"
        assert q.sample_labels[1][1].str == "r\udcff"
        assert q.values[3].tolist() == [2**50, -(2**50)]
        assert q.mappings[0].has_inline_frames and q.locations[1].is_folded
    # identical stacks are interned: five samples, four distinct stacks
    assert len(pprof.decode(pprof.encode(p)).stacks) == 4


def test_int64_extremes_round_trip(sample_walk):
    big = hand_profile([(("a",), (2**63 - 1, -(2**63)))], (("a", "count"), ("b", "count")))
    assert pprof.decode(pprof.encode(big)).values.tolist() == [[2**63 - 1, -(2**63)]]


def test_profile_equality_notices_differences():
    p = every_field_profile()
    assert p != p.replace(doc_url="x")
    assert p != p.replace(values=p.values * 2)
    assert p != p.replace(sample_labels=((),) * p.num_samples)


def test_decoded_arrays_are_read_only():
    p = pprof.read(DATA / "heap.pb.gz")
    for arr in (p.values, p.sample_stack, p.stacks.offsets, p.stacks.location_ids):
        assert not arr.flags.writeable


def test_labels_false_skips_labels_only():
    full = pprof.read(DATA / "goroutine.pb.gz")
    lean = pprof.read(DATA / "goroutine.pb.gz", labels=False)
    assert full.sample_labels and lean.sample_labels == ()
    assert lean == full.replace(sample_labels=())


def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, v = v & 0x7F, v >> 7
        out.append(low | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _tables() -> bytes:
    m = FULL_PROFILE()
    m.string_table.extend([b"", b"samples", b"count", b"f", b"g", b"k", b"v"])
    m.sample_type.add(type=1, unit=2)
    m.sample_type.add(type=1, unit=2)
    m.function.add(id=1, name=3)
    m.function.add(id=2, name=4)
    m.location.add(id=1).line.add(function_id=1, line=1)
    m.location.add(id=2).line.add(function_id=2, line=2)
    return m.SerializeToString()


def test_unpacked_split_and_interleaved_encodings_decode_alike(sample_walk):
    label = _field(3, b"\x08\x05\x10\x06")  # k=v
    unpacked = b"\x08\x01\x08\x02" + b"\x10\x07\x10\x09"  # loc 1, 2; values 7, 9
    split = _field(1, b"\x01") + _field(1, b"\x02") + _field(2, b"\x07") + _field(2, b"\x09")
    mixed = b"\x08\x01" + _field(1, b"\x02") + _field(2, b"\x07\x09")
    interleaved = b"\x08\x01" + label + b"\x08\x02" + _field(2, b"\x07\x09")
    unknown = _field(1, b"\x01\x02") + b"\x78\x2a" + _field(2, b"\x07\x09") + b"\x7d\0\0\0\0"
    want = None
    for body in (unpacked, split, mixed, interleaved, unknown):
        data = _tables() + _field(2, body + (label if body is not interleaved else b""))
        p = pprof.decode(data)
        got = [(s.location_ids, s.values, s.labels) for s in p.samples()]
        assert got == [((1, 2), (7, 9), (Label("k", "v"),))]
        want = want or p
        assert p == want
    # in one profile (interleaved labels aside, which take the canonical
    # re-encoding): each round of the sample scan meets every wire type at once
    packed = _field(1, b"\x01\x02\x01") + b"\x10\x03\x10\x04"
    bodies = (unpacked, split, mixed, unknown, packed)
    data = _tables() + b"".join(_field(2, body + label) for body in bodies)
    got = [(s.location_ids, s.values) for s in pprof.decode(data).samples()]
    assert got == [((1, 2), (7, 9))] * 4 + [((1, 2, 1), (3, 4))]


def test_concatenated_gzip_members():
    raw = pprof.encode(hand_profile([(("a",), (1,))]), compress=False)
    data = gzip.compress(raw[:10]) + gzip.compress(raw[10:])
    assert pprof.decode(data).values.tolist() == [[1]]


def test_read_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="No such file"):
        pprof.read(tmp_path / "nope.pb.gz")


def test_write_then_read(tmp_path):
    p = every_field_profile()
    pprof.write(p, tmp_path / "p.pb.gz")
    assert pprof.read(tmp_path / "p.pb.gz") == p


def go_openable_profiles():
    inl = hand_profile(
        [
            ((("inner:3", "outer:10"), "main:5"), (4, 400), (Label("bytes", num=100),)),
            (("outer:11", "main:6"), (1, 100)),
            (("f:1", "f:1", "main:5"), (2, 64), (Label("pool", "a"),)),
            ((None, "main:5"), (-3, -30)),
        ],
        (("alloc_objects", "count"), ("alloc_space", "bytes")),
    )
    return {
        "hand": inl,
        "every": every_field_profile().replace(drop_frames="", keep_frames=""),
        "heap": pprof.read(DATA / "heap.pb.gz"),
        "goroutine": pprof.read(DATA / "goroutine.pb.gz"),
    }


@pytest.mark.go
@pytest.mark.parametrize("name", ["hand", "every", "heap", "goroutine"])
def test_written_files_open_in_go_tool_pprof(tmp_path, capsys, name):
    p = go_openable_profiles()[name]
    path = tmp_path / f"{name}.pb.gz"
    pprof.write(p, path)
    for index, vt in enumerate(p.sample_types):
        pp = run_pprof_top([f"-sample_index={vt.type}", "-nodefraction=0", str(path)])
        capsys.readouterr()
        argv = ["top", str(path), "--sample-index", str(index), "--node-fraction", "0", "--json"]
        assert main(argv) == 0
        ours = parse_lh_json(capsys.readouterr().out)
        assert (ours.total, ours.rows) == (pp.total, pp.rows), pp.text


@pytest.mark.go
def test_go_tool_pprof_reads_raw_and_writes_what_we_read(tmp_path):
    from pprof_helpers import pprof_tool

    p = pprof.read(DATA / "heap.pb.gz")
    raw = tmp_path / "raw.pb"
    raw.write_bytes(pprof.encode(p, compress=False))
    out = tmp_path / "again.pb.gz"
    subprocess.run(
        [*pprof_tool(), "-proto", "-output", str(out), str(raw)], check=True, capture_output=True
    )
    again = pprof.read(out)
    for i in range(len(p.sample_types)):
        assert again.total(i) == p.total(i)
    assert np.array_equal(np.sort(again.values, axis=0), np.sort(p.values, axis=0))
