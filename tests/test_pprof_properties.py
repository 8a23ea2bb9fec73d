"""Hypothesis properties of the pprof codec and of merge/diff/filter/scale/top."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakhunter.formats import pprof
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
from leakhunter.ops.aggregate import Granularity, top
from leakhunter.ops.filter import filter_samples
from leakhunter.ops.merge import diff, merge, scale
from pprof_helpers import brute_force_top

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: strings as pprof files carry them: arbitrary bytes, kept via surrogateescape
raw_text = st.binary(max_size=8).map(lambda b: b.decode("utf-8", "surrogateescape"))
names = st.sampled_from(["main", "f", "g", "h", "runtime.mallocgc", "caf\udcc3", "x.y"])
int64 = st.integers(-(2**63), 2**63 - 1)
uint64 = st.integers(0, 2**64 - 1)
TYPES = [("alloc_objects", "count"), ("alloc_space", "bytes"), ("samples", "count")]


@st.composite
def sample_types(draw):
    k = draw(st.integers(1, 3))
    return [ValueType(*TYPES[i]) for i in range(k)]


@st.composite
def profiles(draw, types=None, value=int64, full=True):
    """Random but valid profiles: every field, inlining, labels, empty stacks."""
    types = types if types is not None else draw(sample_types())
    fnames = draw(
        st.lists(names if not full else st.one_of(names, raw_text), min_size=1, max_size=5)
    )
    functions = tuple(
        Function(
            i + 1,
            name,
            draw(raw_text) if full else "",
            draw(st.sampled_from(["", "/src/a.go", "b.go", "/x//y/../c.go"])),
            draw(int64) if full else 0,
        )
        for i, name in enumerate(fnames)
    )
    n_maps = draw(st.integers(0, 2))
    mappings = tuple(
        Mapping(
            i + 1,
            draw(uint64),
            draw(uint64),
            draw(uint64),
            draw(st.sampled_from(["", "/bin/app", "/lib/libc.so"])),
            draw(raw_text),
            *draw(st.tuples(*[st.booleans()] * 4)),
        )
        for i in range(n_maps)
    )
    n_locs = draw(st.integers(1, 6))
    locations = tuple(
        Location(
            i + 1,
            draw(st.integers(0, n_maps)),
            draw(uint64),
            tuple(
                Line(draw(st.integers(1, len(functions))), draw(int64), draw(int64) if full else 0)
                for _ in range(draw(st.integers(0, 3)))
            ),
            draw(st.booleans()),
        )
        for i in range(n_locs)
    )
    label = st.builds(
        Label,
        key=st.sampled_from(["bytes", "pool", "k"]),
        str=st.one_of(st.just(""), raw_text),
        num=int64,
        num_unit=st.sampled_from(["", "bytes"]),
    )
    samples = draw(
        st.lists(
            st.builds(
                Sample,
                st.lists(st.integers(1, n_locs), max_size=6).map(tuple),
                st.tuples(*[value] * len(types)),
                st.lists(label, max_size=2).map(tuple) if full else st.just(()),
            ),
            max_size=10,
        )
    )
    scalars = {}
    if full:
        scalars = {
            "drop_frames": draw(raw_text),
            "keep_frames": draw(raw_text),
            "time_nanos": draw(int64),
            "duration_nanos": draw(int64),
            "period_type": draw(st.none() | st.just(ValueType("space", "bytes"))),
            "period": draw(int64),
            "comments": tuple(draw(st.lists(raw_text, max_size=3))),
            "default_sample_type": draw(st.sampled_from(["", types[0].type])),
            "doc_url": draw(raw_text),
        }
    return make_profile(
        types,
        samples,
        mappings=mappings,
        locations=locations,
        functions=functions,
        **scalars,
    )


small = st.integers(-(2**40), 2**40)


@st.composite
def profile_pairs(draw):
    types = draw(sample_types())
    return (
        draw(profiles(types=types, value=small, full=False)),
        draw(profiles(types=types, value=small, full=False)),
    )


def node_values(report):
    return {r.name: (r.flat, r.cum) for r in report.rows}


@SETTINGS
@given(profiles())
def test_decode_encode_round_trip(p):
    assert pprof.decode(pprof.encode(p)) == p
    assert pprof.decode(pprof.encode(p, compress=False)) == p


@SETTINGS
@given(profiles(value=small))
def test_diff_with_itself_has_zero_totals(p):
    d = diff(p, p)
    for i in range(len(p.sample_types)):
        assert d.total(i) == 0
        assert top(d, i, node_fraction=0).rows == ()


@SETTINGS
@given(profile_pairs())
def test_merge_totals_and_node_values_add_up(pair):
    a, b = pair
    m = merge([a, b])
    for i in range(len(a.sample_types)):
        assert m.total(i) == a.total(i) + b.total(i)
        for g in ("function", "line"):
            ours = brute_force_top(m, i, g)
            parts = [brute_force_top(a, i, g), brute_force_top(b, i, g)]
            want: dict[str, tuple[int, int]] = {}
            for part in parts:
                for name, (f, c) in part.items():
                    old = want.get(name, (0, 0))
                    want[name] = (old[0] + f, old[1] + c)
            assert ours == {n: v for n, v in want.items() if v != (0, 0)}


@SETTINGS
@given(profiles(value=small, full=False), st.data())
def test_focus_and_ignore_partition_samples(p, data):
    pattern = re.escape(data.draw(names))
    kept, dropped = filter_samples(p, focus=pattern), filter_samples(p, ignore=pattern)
    nonempty = [s for s in p.samples() if s.location_ids]
    assert kept.num_samples + dropped.num_samples == len(nonempty)
    for i in range(len(p.sample_types)):
        assert kept.total(i) + dropped.total(i) == sum(s.values[i] for s in nonempty)


@SETTINGS
@given(profiles(value=small, full=False), st.integers(1, 50))
def test_scaling_scales_every_row_and_keeps_the_order(p, k):
    q = scale(p, k)
    for i in range(len(p.sample_types)):
        base, scaled = top(p, i, node_fraction=0), top(q, i, node_fraction=0)
        assert [r.name for r in scaled.rows] == [r.name for r in base.rows]
        assert [(r.flat, r.cum) for r in scaled.rows] == [
            (k * r.flat, k * r.cum) for r in base.rows
        ]
        assert scaled.total == k * base.total
    assert scale(scale(p, -1), -1) == p


@SETTINGS
@given(profiles(value=small, full=False))
def test_top_agrees_with_a_brute_force_reference(p):
    for i in range(len(p.sample_types)):
        for g, gran in (("function", Granularity.FUNCTION), ("line", Granularity.LINE)):
            want = brute_force_top(p, i, g)
            assert node_values(top(p, i, gran, node_fraction=0)) == want
