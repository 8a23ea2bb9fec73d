"""Aggregation and top on hand-built profiles: flat/cum, recursion, inlining, pprof's cut."""

from __future__ import annotations

import numpy as np
import pytest

from leakhunter.model import Function, Line, Location, Mapping, Sample, ValueType, make_profile
from leakhunter.ops import aggregate as agg
from leakhunter.ops.aggregate import Granularity, aggregate, node_table, report_total, top
from leakhunter.ops.merge import diff
from pprof_helpers import brute_force_top, hand_profile

TWO = (("alloc_objects", "count"), ("alloc_space", "bytes"))


def rows_of(report):
    return [(r.name, r.flat, r.cum) for r in report.rows]


def table_values(profile, index=0, granularity=Granularity.FUNCTION):
    t = node_table(profile, granularity)
    flat, cum, seen = aggregate(profile, index, t)
    return {t.names[i]: (int(flat[i]), int(cum[i])) for i in np.flatnonzero(seen)}


def test_flat_goes_to_leaf_and_cum_to_every_caller():
    p = hand_profile([(("a", "b", "main"), (10,)), (("c", "b", "main"), (5,)), (("main",), (1,))])
    report = top(p, 0, node_fraction=0)
    assert rows_of(report) == [
        ("a", 10, 10),
        ("c", 5, 5),
        ("main", 1, 16),
        ("b", 0, 15),
    ]
    assert report.total == 16 and report.dropped_nodes == 0 and report.shown_flat == 16


def test_recursion_counts_once_per_stack():
    p = hand_profile(
        [
            (("f", "f", "f", "main"), (7,)),
            (("ping", "pong", "ping", "pong", "main"), (3,)),
            (("g", "f", "g", "f", "main"), (2,)),
        ]
    )
    got = {r.name: (r.flat, r.cum) for r in top(p, 0, node_fraction=0).rows}
    assert got == {
        "f": (7, 9),
        "main": (0, 12),
        "ping": (3, 3),
        "pong": (0, 3),
        "g": (2, 2),
    }
    assert got == brute_force_top(p, 0)
    assert table_values(p) == got


def test_inlined_location_credits_every_line():
    # one location = inner (inlined into) outer; flat goes to the innermost line
    p = hand_profile([((("inner:3", "outer:10"), "main:5"), (4,)), (("outer:11", "main:6"), (1,))])
    fn = {r.name: (r.flat, r.cum) for r in top(p, 0, node_fraction=0).rows}
    assert fn == {"inner": (4, 4), "outer": (1, 5), "main": (0, 5)}
    by_line = {r.name: (r.flat, r.cum) for r in top(p, 0, Granularity.LINE, node_fraction=0).rows}
    assert by_line == {
        "inner inner.go:3": (4, 4),
        "outer outer.go:10": (0, 4),
        "outer outer.go:11": (1, 1),
        "main main.go:5": (0, 4),
        "main main.go:6": (0, 1),
    }
    assert by_line == brute_force_top(p, 0, "line")
    assert table_values(p, 0, Granularity.LINE) == by_line


def test_line_granularity_keeps_lines_of_one_function_apart():
    p = hand_profile(
        [(("f:1", "main:9"), (2,)), (("f:2", "main:9"), (3,)), (("f:1", "f:7", "main:9"), (1,))]
    )
    got = {r.name: (r.flat, r.cum) for r in top(p, 0, Granularity.LINE, node_fraction=0).rows}
    assert got["f f.go:1"] == (3, 3)
    assert got["f f.go:2"] == (3, 3)
    assert got["f f.go:7"] == (0, 1)
    assert got["main main.go:9"] == (0, 6)
    fn = {r.name: (r.flat, r.cum) for r in top(p, 0, node_fraction=0).rows}
    assert fn["f"] == (6, 6)  # recursion f:1 -> f:7 counted once


def test_stack_granularity_names_whole_stacks_root_first():
    p = hand_profile(
        [(("a", "b", "main"), (10,)), (("a", "b", "main"), (2,)), (("c", "main"), (5,))]
    )
    got = rows_of(top(p, 0, Granularity.STACK, node_fraction=0))
    assert got == [("main;b;a", 12, 12), ("main;c", 5, 5)]


def test_unsymbolized_locations_are_named_by_binary():
    p = hand_profile([((None, "main"), (3,)), ((None, "main"), (4,))])
    got = rows_of(top(p, 0, node_fraction=0))
    # pprof clears addresses at function granularity: one node per binary
    assert got == [("[app]", 7, 7), ("main", 0, 7)]
    nomap = p.replace(mappings=())
    assert rows_of(top(nomap, 0, node_fraction=0))[0] == ("<unknown>", 7, 7)


def test_same_function_name_in_two_entries_is_one_node():
    f1, f2 = Function(1, "dup", filename="a.go"), Function(2, "dup", filename="b.go")
    locs = (Location(1, lines=(Line(1, 3),)), Location(2, lines=(Line(2, 4),)))
    p = make_profile(
        [ValueType("samples", "count")],
        [Sample((1,), (2,)), Sample((2,), (3,))],
        functions=(f1, f2),
        locations=locs,
    )
    assert rows_of(top(p, 0, node_fraction=0)) == [("dup", 5, 5)]
    assert rows_of(top(p, 0, Granularity.LINE, node_fraction=0)) == [
        ("dup b.go:4", 3, 3),
        ("dup a.go:3", 2, 2),
    ]


def test_line_names_use_cleaned_paths():
    f = Function(1, "f", filename="/src//pkg/./x/../f.go")
    p = make_profile(
        [ValueType("samples", "count")],
        [Sample((1,), (1,))],
        functions=(f,),
        locations=(Location(1, lines=(Line(1, 8),)),),
    )
    assert top(p, 0, Granularity.LINE).rows[0].name == "f /src/pkg/f.go:8"


def test_order_is_abs_flat_then_name_then_abs_cum():
    p = hand_profile(
        [
            (("b", "root"), (5,)),
            (("a", "root"), (-5,)),
            (("c", "x", "root"), (-7,)),
            (("d", "x", "root"), (1,)),
        ]
    )
    names = [r.name for r in top(p, 0, node_fraction=0).rows]
    assert names == ["c", "a", "b", "d", "root", "x"]


def test_node_fraction_cut_and_dropped_count():
    rows = [(("big", "main"), (1000,))] + [((f"tiny{i}", "main"), (1,)) for i in range(4)]
    p = hand_profile(rows)
    report = top(p, 0)  # cutoff = int(1004 * 0.005) = 5
    assert [r.name for r in report.rows] == ["big", "main"]
    assert report.dropped_nodes == 4 and report.node_cutoff == 5
    assert report.shown_flat == 1000 and report.total == 1004
    assert len(top(p, 0, node_fraction=0).rows) == 6
    assert [r.name for r in top(p, 0, limit=1).rows] == ["big"]


def test_every_sample_index_is_its_own_column():
    p = hand_profile([(("a", "main"), (1, 100)), (("b", "main"), (3, 10))], TWO)
    assert rows_of(top(p, 0))[0] == ("b", 3, 3)
    assert rows_of(top(p, 1))[0] == ("a", 100, 100)
    assert p.sample_index("alloc_space") == 1 and p.sample_index(None) == 1
    assert p.sample_index("0") == 0
    with pytest.raises(KeyError):
        p.sample_index("nope")


def test_diff_drops_nodes_whose_values_cancel():
    base = hand_profile([(("a", "main"), (5,)), (("gone", "main"), (2,))])
    new = hand_profile([(("a", "main"), (5,)), (("b", "main"), (3,))])
    d = diff(base, new)
    report = top(d, 0, node_fraction=0)
    assert rows_of(report) == [("b", 3, 3), ("gone", -2, -2), ("main", 0, 1)]
    assert report.total == 7  # the base's total, as pprof prints it
    assert report_total(d, 0) == 7


def test_zero_valued_samples_add_no_nodes():
    p = hand_profile([(("a", "main"), (0,)), (("b", "main"), (2,))])
    assert [r.name for r in top(p, 0, node_fraction=0).rows] == ["b", "main"]


def test_many_nodes_use_wide_masks_and_the_pair_fallback(monkeypatch):
    rng = np.random.default_rng(7)
    names = [f"fn{i:03d}" for i in range(150)]  # 3 mask words
    rows = []
    for _ in range(300):
        depth = int(rng.integers(1, 12))
        stack = tuple(names[int(j)] for j in rng.integers(0, len(names), depth))
        rows.append((stack, (int(rng.integers(-50, 100)),)))
    p = hand_profile(rows)
    want = brute_force_top(p, 0)
    got = {r.name: (r.flat, r.cum) for r in top(p, 0, node_fraction=0).rows}
    assert got == want
    monkeypatch.setattr(agg, "_MAX_MASK_WORDS", 0)
    assert {r.name: (r.flat, r.cum) for r in top(p, 0, node_fraction=0).rows} == want
    assert table_values(p) == want


def test_location_ids_sparse_or_missing():
    f = Function(1, "f")
    sparse = make_profile(
        [ValueType("samples", "count")],
        [Sample((10**12,), (4,))],
        functions=(f,),
        locations=(Location(10**12, lines=(Line(1),)),),
    )
    assert rows_of(top(sparse, 0)) == [("f", 4, 4)]
    broken = make_profile(
        [ValueType("samples", "count")],
        [Sample((2,), (4,))],
        functions=(f,),
        locations=(Location(1, lines=(Line(1),)),),
    )
    with pytest.raises(ValueError, match="missing location 2"):
        top(broken, 0)


def test_empty_profile_and_empty_stacks():
    empty = make_profile([ValueType("samples", "count")], [])
    assert top(empty, 0).rows == () and top(empty, 0).total == 0
    p = hand_profile([((), (5,)), (("a",), (1,))])
    report = top(p, 0, node_fraction=0)
    assert rows_of(report) == [("a", 1, 1)]
    assert report.total == 6  # empty stacks count in the total, as in pprof


def test_base_label_detection_dedupes_label_tuples():
    p = hand_profile([(("a",), (1,)), (("b",), (2,))])
    assert agg._base_samples(p) is None or not p.sample_labels
    d = diff(p, p)
    base = agg._base_samples(d)
    assert base is not None and int(base.sum()) == 2


def test_frames_report_the_representative_function():
    p = hand_profile([(("leaf:12", "main:3"), (1,))])
    row = top(p, 0).rows[0]
    assert (row.function, row.file, row.line) == ("leaf", "leaf.go", 12)


def test_mapping_file_names_unnamed_functions():
    f = Function(1, "", filename="", start_line=5)
    p = make_profile(
        [ValueType("samples", "count")],
        [Sample((1,), (1,))],
        functions=(f,),
        locations=(Location(1, mapping_id=1, lines=(Line(1, 0),)),),
        mappings=(Mapping(1, filename="/usr/lib/libc.so.6"),),
    )
    assert rows_of(top(p, 0)) == [("[libc.so.6]", 1, 1)]


@pytest.mark.parametrize("block", [1, 2, 7])
def test_blocks_of_stacks_add_up_to_the_whole(monkeypatch, block):
    # cum is OR-ed a block of stacks at a time; any block size gives the same table
    from pathlib import Path

    from leakhunter.formats import pprof

    profile = pprof.read(Path(__file__).parent / "data" / "pprof" / "heap.pb.gz")
    whole = [top(profile, i, g) for i in range(len(profile.sample_types)) for g in Granularity]
    monkeypatch.setattr(agg, "_BLOCK", block)
    assert [
        top(profile, i, g) for i in range(len(profile.sample_types)) for g in Granularity
    ] == whole
