"""Vectorised varints and segment interning (the pieces under the pprof codec)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakhunter.formats.varint import (
    VarintError,
    decode_segments,
    decode_varints,
    encode_varints,
    read_varints_at,
)
from leakhunter.model.profile import gather_segments, intern_segments, intern_stacks

u64 = st.integers(0, 2**64 - 1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(u64, max_size=5), max_size=8))
def test_segments_round_trip(groups):
    flat = np.array([v for g in groups for v in g], dtype=np.uint64)
    data, ends = encode_varints(flat)
    byte_at = np.concatenate([[0], ends]).astype(np.int64)
    counts = np.cumsum([0] + [len(g) for g in groups])
    offs, values = decode_segments(data, byte_at[counts])
    assert values.tolist() == flat.tolist()
    assert offs.tolist() == counts.tolist()
    assert decode_varints(data)[0].tolist() == flat.tolist()
    starts = byte_at[:-1]
    got, after = read_varints_at(
        np.frombuffer(data, np.uint8), starts, np.full(starts.size, len(data))
    )
    assert got.tolist() == flat.tolist() and after.tolist() == byte_at[1:].tolist()


@pytest.mark.parametrize(
    "data",
    [b"\x80", b"\x01\x80", b"\xff" * 11 + b"\x01"],
)
def test_bad_varints(data):
    with pytest.raises(VarintError):
        decode_varints(data)
    with pytest.raises(VarintError):
        decode_segments(data, np.array([0, len(data)]))


def test_varint_may_not_cross_a_segment():
    with pytest.raises(VarintError, match="truncated"):
        decode_segments(b"\x81\x01", np.array([0, 1, 2]))


def test_read_varints_at_limits():
    buf = np.frombuffer(b"\x81\x01\x05", np.uint8)
    with pytest.raises(VarintError):
        read_varints_at(buf, np.array([0]), np.array([1]))
    with pytest.raises(VarintError):
        read_varints_at(buf, np.array([3]), np.array([3]))
    assert read_varints_at(buf, np.array([2]), np.array([3]))[0].tolist() == [5]


def test_intern_segments_first_seen_order():
    reps, which = intern_segments(b"abcabcxyabc", np.array([0, 3, 6, 8, 11]))
    assert reps.tolist() == [0, 2] and which.tolist() == [0, 0, 1, 0]
    reps, which = intern_segments(b"", np.array([0, 0, 0]))
    assert which.tolist() == [0, 0]


def test_intern_segments_survives_hash_collisions(monkeypatch):
    # Force every hash equal: verification must notice and settle it exactly.
    import leakhunter.model.profile as model

    monkeypatch.setattr(model, "hash_rows", lambda words, lens: np.zeros(len(lens), np.uint64))
    data = b"aabbaacc"
    reps, which = intern_segments(data, np.array([0, 2, 4, 6, 8]))
    assert reps.tolist() == [0, 1, 3] and which.tolist() == [0, 1, 0, 2]


def test_intern_segments_long_segments_use_a_dict():
    data = b"x" * 5000 + b"ab" * 10 + b"x" * 5000
    offs = np.array([0, 5000] + [5000 + 2 * i for i in range(1, 11)] + [len(data)])
    reps, which = intern_segments(data, offs)
    assert which.tolist() == [0] + [1] * 10 + [0]


def test_intern_stacks_and_gather():
    offsets = np.array([0, 2, 3, 5, 5, 6])
    ids = np.array([1, 2, 3, 1, 2, 3], dtype=np.uint64)
    stacks, which = intern_stacks(offsets, ids)
    assert [stacks.get(i) for i in range(len(stacks))] == [(1, 2), (3,), ()]
    assert which.tolist() == [0, 1, 0, 2, 1]
    arr = np.arange(10)
    assert gather_segments(arr, np.array([1, 5, 9]), np.array([2, 0, 1])).tolist() == [1, 2, 9]


@pytest.mark.parametrize(
    "distinct", [3, 23, 30, 5000, 200_000], ids=["few", "just-few", "over-few", "many", "unique"]
)
def test_intern_segments_every_shape_agrees_with_a_dict(distinct):
    # the three grouping paths (compare-each, sort-with-few-repeats, unique)
    rng = np.random.default_rng(distinct)
    pool = [rng.bytes(int(k)) for k in rng.integers(1, 30, size=distinct)]
    picks = rng.integers(0, distinct, size=20_000)
    if distinct == 200_000:  # nearly all distinct, a few repeats
        picks = np.arange(20_000)
        picks[rng.integers(0, 20_000, 40)] = 7
    segs = [pool[i] for i in picks]
    data = b"".join(segs)
    offs = np.concatenate([[0], np.cumsum([len(s) for s in segs])]).astype(np.int64)
    from leakhunter.model.profile import _intern_dict

    want_reps, want_which = _intern_dict(data, offs)
    reps, which = intern_segments(data, offs)
    assert reps.tolist() == want_reps.tolist()
    assert which.tolist() == want_which.tolist()


def test_label_sets_in_place_survive_hash_collisions(monkeypatch):
    # Every label hash equal: the in-place keys must still tell the sets apart.
    import leakhunter.formats._pprof_samples as samples

    monkeypatch.setattr(samples, "hash_rows", lambda words, lens: np.zeros(len(lens), np.uint64))
    a, b = b"\x1a\x04\x08\x02\x18\x10", b"\x1a\x05\x08\x02\x18\x80\x04"
    enc = [b"\x12\x01\x05" + lab for lab in (a, b, a, b"", b)]
    scan = samples.scan_samples(enc)
    blobs, which = scan.label_sets()
    assert blobs[which[0]] == a and blobs[which[1]] == b and which.tolist()[2] == which[0]
    assert blobs[which[3]] == b"" and which[4] == which[1]
