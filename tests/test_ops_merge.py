"""merge / scale / diff on hand-built profiles."""

from __future__ import annotations

import pytest

from leakhunter.model import Function, Label, Line, Location, Sample, ValueType, make_profile
from leakhunter.ops.aggregate import top
from leakhunter.ops.merge import BASE_LABEL, diff, merge, scale
from pprof_helpers import hand_profile

TWO = (("alloc_objects", "count"), ("alloc_space", "bytes"))


def samples(p):
    return sorted(
        ((tuple(_names(p, s.location_ids)), s.values, s.labels) for s in p.samples()), key=repr
    )


def _names(p, ids):
    funcs = {f.id: f.name for f in p.functions}
    locs = {loc.id: loc for loc in p.locations}
    return [funcs[ln.function_id] for i in ids for ln in locs[i].lines]


def test_overlapping_locations_unify_by_content_not_id():
    a = hand_profile([(("x", "main"), (1, 10)), (("y", "main"), (2, 20))], TWO)
    # same functions, different ids and order
    b = hand_profile([(("y", "main"), (3, 30)), (("z", "main"), (4, 40))], TWO)
    m = merge([a, b])
    assert samples(m) == [
        (("x", "main"), (1, 10), ()),
        (("y", "main"), (5, 50), ()),
        (("z", "main"), (4, 40), ()),
    ]
    assert len(m.functions) == 4 and len(m.locations) == 4
    assert len(m.stacks) == 3
    for i in range(2):
        assert m.total(i) == a.total(i) + b.total(i)


def test_disjoint_profiles_keep_everything():
    a = hand_profile([(("a",), (1,))])
    b = hand_profile([(("b", "c"), (2,))])
    m = merge([a, b])
    assert samples(m) == [(("a",), (1,), ()), (("b", "c"), (2,), ())]


def test_labels_keep_samples_apart_and_zero_samples_go():
    lab = (Label("bytes", num=16),)
    a = hand_profile([(("a",), (1,), lab), (("a",), (2,)), (("b",), (0,))])
    b = hand_profile([(("a",), (3,), (Label("bytes", num=16),))])
    m = merge([a, b])
    assert samples(m) == [(("a",), (2,), ()), (("a",), (4,), lab)]


def test_merge_of_one_is_equivalent():
    a = hand_profile([(("a", "main"), (1, 2)), (("b", "main"), (3, 4))], TWO)
    assert merge([a]) == a


def test_headers_combine_like_pprof():
    a = hand_profile([(("a",), (1,))], time_nanos=50, duration_nanos=5, period=2, comments=("x",))
    b = hand_profile(
        [(("a",), (1,))], time_nanos=20, duration_nanos=7, period=9, comments=("x", "y")
    )
    m = merge([a, b])
    assert (m.time_nanos, m.duration_nanos, m.period, m.comments) == (20, 12, 9, ("x", "y"))


def test_incompatible_profiles_are_refused():
    a = hand_profile([(("a",), (1,))])
    b = hand_profile([(("a",), (1, 2))], TWO)
    with pytest.raises(ValueError, match="incompatible"):
        merge([a, b])
    with pytest.raises(ValueError, match="at least one"):
        merge([])


def test_diff_negates_and_labels_the_base():
    base = hand_profile([(("a", "main"), (5,)), (("b", "main"), (2,), (Label("k", "v"),))])
    new = hand_profile([(("a", "main"), (8,))])
    d = diff(base, new)
    assert samples(d) == [
        (("a", "main"), (-5,), (BASE_LABEL,)),
        (("a", "main"), (8,), ()),
        (("b", "main"), (-2,), (Label("k", "v"), BASE_LABEL)),
    ]
    report = top(d, 0, node_fraction=0)
    assert report.total == 7
    assert [(r.name, r.flat, r.cum) for r in report.rows] == [
        ("a", 3, 3),
        ("b", -2, -2),
        ("main", 0, 1),
    ]


def test_diff_of_a_profile_with_itself_is_empty():
    p = hand_profile([(("a", "main"), (5, 50)), (("b", "main"), (2, 20))], TWO)
    d = diff(p, p)
    for i in range(2):
        assert d.total(i) == 0
        assert top(d, i).rows == ()


def test_scale():
    p = hand_profile([(("a",), (3, 7))], TWO)
    assert scale(p, 1) is p
    assert scale(p, 2).values.tolist() == [[6, 14]]
    assert scale(p, 0.5).values.tolist() == [[2, 4]]  # round half to even, like rint
    assert scale(scale(p, -1), -1) == p
    assert not scale(p, 3).values.flags.writeable


def test_locations_with_different_ids_but_same_lines_merge():
    f = Function(1, "f")
    loc_a = Location(7, lines=(Line(1, 3),))
    loc_b = Location(9, lines=(Line(1, 3),))
    vt = [ValueType("samples", "count")]
    a = make_profile(vt, [Sample((7,), (1,))], functions=(f,), locations=(loc_a,))
    b = make_profile(vt, [Sample((9,), (2,))], functions=(f,), locations=(loc_b,))
    m = merge([a, b])
    assert m.num_samples == 1 and m.values.tolist() == [[3]]
