"""The compiled kernels (_native.c) against the numpy paths they stand in for.

Every answer must be the same either way: the decoded profile (stacks and label
sets in the same first-seen order, ids in the same dtype), the error class on
corrupt input, and the top table. LEAKHUNTER_NATIVE=0 selects the numpy path.
"""

from __future__ import annotations

import random
import shutil
import sysconfig

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakhunter.cli.main import main
from leakhunter.errors import FormatError
from leakhunter.formats import pprof
from leakhunter.formats._pprof_native import native_scan
from leakhunter.native import kernels
from leakhunter.ops import aggregate
from leakhunter.ops.aggregate import Granularity, top
from pprof_helpers import DATA
from test_pprof_codec import every_field_profile
from test_pprof_fuzz import SEEDS, mutate
from test_pprof_properties import SETTINGS, profiles

native = pytest.mark.skipif(kernels() is None, reason="compiled kernels not built")
REAL = sorted(p for p in (DATA.parent).rglob("*.pb.gz"))


def compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc)


def test_kernels_are_built_where_a_compiler_is():
    if compiler() is None:
        pytest.skip("no C compiler: leakhunter runs on its numpy paths here (slower, same answers)")
    assert kernels() is not None, "setup.py's optional extension failed to build; see pip's log"


def decode_both(data: bytes, monkeypatch: pytest.MonkeyPatch, **kw: object) -> tuple[object, ...]:
    """Decode data with the kernels and without; a FormatError counts as an outcome."""
    out: list[object] = []
    for mode in ("1", "0"):
        monkeypatch.setenv("LEAKHUNTER_NATIVE", mode)
        try:
            out.append(pprof.decode(data, **kw))  # type: ignore[arg-type]
        except FormatError:
            out.append(FormatError)
    monkeypatch.delenv("LEAKHUNTER_NATIVE")
    return tuple(out)


def same(a: object, b: object) -> bool:
    if isinstance(a, pprof.Profile) and isinstance(b, pprof.Profile):
        return a == b and a.stacks.location_ids.dtype == b.stacks.location_ids.dtype
    return a is b


@native
def test_real_profiles_decode_alike(monkeypatch):
    assert len(REAL) >= 20
    for path in REAL:
        a, b = decode_both(path.read_bytes(), monkeypatch)
        assert isinstance(a, pprof.Profile), path
        assert same(a, b), path


@native
def test_every_field_and_odd_top_levels_decode_alike(monkeypatch):
    raw = pprof.encode(every_field_profile(), compress=False)
    # a group (field 19) at the top level: legal protobuf upb skips, the kernel
    # leaves to upb's reading
    grouped = raw + b"\x9b\x01\x08\x01\x9c\x01"
    assert native_scan(raw) is not None
    assert native_scan(grouped) is None  # the numpy path (upb's reading) takes it
    for data in (raw, grouped):
        a, b = decode_both(data, monkeypatch)
        assert a == every_field_profile()
        assert same(a, b)


@native
@SETTINGS
@given(profiles())
def test_random_profiles_decode_alike(p):
    with pytest.MonkeyPatch.context() as mp:
        a, b = decode_both(pprof.encode(p, compress=False), mp)
    assert a == p
    assert same(a, b)


@native
def test_mutated_profiles_fail_or_decode_alike(monkeypatch):
    rng = random.Random(20261123)
    decoded = 0
    for _ in range(600):
        data = mutate(rng, rng.choice(SEEDS))
        a, b = decode_both(data, monkeypatch, max_bytes=1 << 22)
        assert same(a, b), data.hex()
        decoded += a is not FormatError
    assert 0 < decoded < 600


VALUES = b"\x12\x02\x01\x02"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\x0a\x02\x01\x81" + VALUES, "truncated varint"),  # last location id unfinished
        (b"\x0a\x0b" + b"\xff" * 10 + b"\x01" + VALUES, "longer than 10 bytes"),
        (b"\x0a\x05\x01", "truncated field"),
        (b"\x00\x01", "invalid field tag"),
        (b"\x0a\x01\x01\x12\x01\x05", "sample 5 has 1 values, expected 2"),
    ],
)
def test_corrupt_samples_are_named(body, problem, sample_walk):
    raw = pprof.encode(every_field_profile(), compress=False)
    data = raw + b"\x12" + bytes([len(body)]) + body
    with pytest.raises(FormatError, match=problem):
        pprof.decode(data)


@native
@SETTINGS
@given(
    st.integers(1, 40),
    st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64]),
    st.sampled_from([np.uint8, np.uint16, np.uint32, np.int64]),
    st.data(),
)
def test_or_reduce_is_reduceat_of_take(n_items, mask_dtype, item_dtype, data):
    column = np.array(  # n_items masks at least
        data.draw(
            st.lists(st.integers(0, np.iinfo(mask_dtype).max), min_size=n_items, max_size=n_items)
        ),
        dtype=mask_dtype,
    )
    limit = min(n_items, np.iinfo(item_dtype).max + 1) - 1
    items = np.array(data.draw(st.lists(st.integers(0, limit), max_size=60)), dtype=item_dtype)
    cuts = sorted(data.draw(st.lists(st.integers(0, items.size), max_size=8)))
    starts = np.array([0, *cuts], dtype=np.int64)
    ends = np.array([*cuts, items.size], dtype=np.int64)
    got = np.frombuffer(
        kernels().or_reduce(column, column.itemsize, items, items.itemsize, starts, ends),
        dtype=mask_dtype,
    )
    want = [
        np.bitwise_or.reduce(column[items[a:b]], initial=0)
        for a, b in zip(starts, ends, strict=True)
    ]
    assert got.tolist() == [int(w) for w in want]


@native
def test_or_reduce_refuses_what_is_out_of_range():
    column = np.zeros(4, dtype=np.uint8)
    items = np.array([0, 4], dtype=np.uint8)
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="item out of range"):
        kernels().or_reduce(column, 1, items, 1, one, np.array([2], dtype=np.int64))
    with pytest.raises(ValueError, match="segment out of range"):
        kernels().or_reduce(column, 1, items, 1, one, np.array([3], dtype=np.int64))
    with pytest.raises(ValueError, match="bad buffer sizes"):
        kernels().or_reduce(column, 3, items, 1, one, one)


@native
@pytest.mark.parametrize("by", ["function", "line", "stack"])
def test_top_tables_agree(by, monkeypatch, capsys):
    outputs = []
    for mode in ("1", "0"):
        monkeypatch.setenv("LEAKHUNTER_NATIVE", mode)
        for path in REAL[:12]:
            assert main(["top", str(path), "--by", by, "--node-fraction", "0", "--json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("leakhunter.top/1") == 12


def test_many_node_masks_take_the_kernel_word_by_word(monkeypatch):
    """Over 64 nodes the masks are several words wide: each word is reduced alike."""
    from pprof_helpers import hand_profile

    stacks = [
        (tuple(f"f{(i * 7 + j) % 150}" for j in range(1 + i % 9)), (i + 1,)) for i in range(400)
    ]
    p = hand_profile(stacks)
    reports = []
    for mode in ("1", "0"):
        monkeypatch.setenv("LEAKHUNTER_NATIVE", mode)
        reports.append(top(p, 0, Granularity.FUNCTION, node_fraction=0))
    assert reports[0] == reports[1]
    assert len(reports[0].rows) == 150
    assert aggregate._MAX_MASK_WORDS * 64 >= 150  # the mask path, not the pair fallback
