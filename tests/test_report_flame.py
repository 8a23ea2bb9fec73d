"""Flame graph trees: widths add up, preorder, pruning, diffs, inlined frames, big profiles."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import pytest

from leakhunter.model.profile import Function, Line, Location, Sample, ValueType, make_profile
from leakhunter.ops.flame import FlameOptions, flame_graph
from leakhunter.ops.merge import diff

TYPES = (ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes"))


def prof(stacks: Mapping[tuple[str, ...], int], inline: Mapping[str, str] = {}):
    """A heap profile from root-first function-name stacks; inline[f] = g puts g inlined into f."""
    names = sorted({n for s in stacks for n in s} | set(inline.values()))
    fid = {n: i + 1 for i, n in enumerate(names)}
    funcs = tuple(Function(fid[n], n, n, f"/src/{n}.go") for n in names)
    locs = []
    lid = {}
    for n in names:
        lines = (Line(fid[n], 10),)
        if n in inline:
            lines = (Line(fid[inline[n]], 20), *lines)  # innermost first
        lid[n] = len(locs) + 1
        locs.append(Location(lid[n], lines=lines))
    samples = [Sample(tuple(lid[n] for n in reversed(s)), (1, v)) for s, v in stacks.items()]
    return make_profile(TYPES, samples, locations=tuple(locs), functions=funcs)


def children(fg, i):
    return [c for c in range(len(fg.parent)) if fg.parent[c] == i]


def by_path(fg):
    out = {}
    for i in range(len(fg.names)):
        path = []
        j = i
        while j > 0:
            path.append(fg.names[j])
            j = fg.parent[j]
        out[tuple(reversed(path))] = i
    return out


def test_widths_add_up_and_children_are_widest_first():
    p = prof({("main", "a", "x"): 30, ("main", "a", "y"): 50, ("main", "b"): 20, ("other",): 5})
    fg = flame_graph(p, "inuse_space")
    assert fg.total == 105
    assert fg.names[0] == "root" and fg.parent[0] == -1
    assert all(0 <= fg.parent[i] < i for i in range(1, len(fg.parent)))
    paths = by_path(fg)
    assert fg.value[paths[("main",)]] == 100
    assert fg.value[paths[("main", "a")]] == 80
    assert fg.value[paths[("main", "a", "y")]] == 50
    for i in range(len(fg.names)):
        kids = children(fg, i)
        assert sum(fg.value[c] for c in kids) <= fg.value[i]
        assert [fg.value[c] for c in kids] == sorted((fg.value[c] for c in kids), reverse=True)
    assert fg.files[paths[("main", "a")]] == "/src/a.go"
    assert not fg.is_diff and fg.pruned == 0


def test_subtrees_are_contiguous_in_preorder():
    p = prof({("m", "a", "x"): 3, ("m", "b", "y"): 2, ("m", "a", "z"): 1, ("n", "a"): 4})
    fg = flame_graph(p, "inuse_space")
    for i in range(len(fg.names)):
        members = [j for j in range(len(fg.names)) if _ancestor(fg, i, j)]
        assert members == list(range(i, i + len(members)))


def _ancestor(fg, a, j):
    while j >= 0:
        if j == a:
            return True
        j = fg.parent[j]
    return False


def test_inlined_frames_become_nodes():
    p = prof({("main", "outer"): 10}, inline={"outer": "helper"})
    fg = flame_graph(p, "inuse_space")
    assert ("main", "outer", "helper") in by_path(fg)


def test_pruning_by_fraction_and_by_count():
    stacks = {("main", f"f{i:03d}"): 1000 for i in range(50)}
    stacks[("main", "tiny")] = 1
    p = prof(stacks)
    fg = flame_graph(p, "inuse_space", FlameOptions(min_fraction=0.001))
    assert "tiny" not in fg.names and fg.pruned == 1 and fg.pruned_value == 1
    assert fg.total == 50_001  # the root keeps its true width
    capped = flame_graph(p, "inuse_space", FlameOptions(min_fraction=0, max_nodes=11))
    assert len(capped.names) == 11 and capped.pruned == 42
    assert all(0 <= capped.parent[i] < i for i in range(1, 11))


def test_diff_widths_are_absolute_change_and_delta_is_net():
    base = prof({("main", "grow"): 100, ("main", "shrink"): 300, ("main", "same"): 50})
    new = prof({("main", "grow"): 400, ("main", "shrink"): 100, ("main", "same"): 50})
    fg = flame_graph(diff(base, new), "inuse_space", diff=True)
    paths = by_path(fg)
    assert fg.is_diff
    g, s = paths[("main", "grow")], paths[("main", "shrink")]
    assert (fg.value[g], fg.delta[g]) == (300, 300)
    assert (fg.value[s], fg.delta[s]) == (200, -200)
    assert ("main", "same") not in paths  # no change, no width
    m = paths[("main",)]
    assert fg.value[m] == 500 and fg.delta[m] == 100
    assert sum(fg.value[c] for c in children(fg, m)) == fg.value[m]


def test_missing_sample_type_is_a_key_error():
    with pytest.raises(KeyError):
        flame_graph(prof({("main",): 1}), "alloc_space")


def test_big_profile_is_capped_and_fast():
    rng = random.Random(7)
    funcs = [f"pkg{i % 40}.F{i}" for i in range(3000)]
    stacks = {}
    for _ in range(8_000):
        depth = rng.randint(8, 40)
        stacks[tuple(rng.choice(funcs[: 50 + d * 70]) for d in range(depth))] = rng.randint(
            1, 1 << 20
        )
    p = prof(stacks)
    start = time.perf_counter()
    fg = flame_graph(p, "inuse_space", FlameOptions(max_nodes=4000))
    elapsed = time.perf_counter() - start
    assert len(fg.names) <= 4000 and fg.pruned > 0
    assert fg.total == sum(stacks.values())
    assert elapsed < 10, f"flame graph of 8k stacks took {elapsed:.1f} s"
