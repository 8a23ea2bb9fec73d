"""focus / ignore filters, with pprof's rules."""

from __future__ import annotations

import re

import pytest

from leakhunter.ops.filter import filter_samples, stack_matches
from pprof_helpers import hand_profile


def names(p):
    funcs = {f.id: f.name for f in p.functions}
    locs = {loc.id: loc for loc in p.locations}
    return sorted(
        "/".join(funcs[ln.function_id] for i in s.location_ids for ln in locs[i].lines)
        for s in p.samples()
    )


@pytest.fixture
def profile():
    return hand_profile(
        [
            (("alloc", "cache.Put", "main"), (1,)),
            (("alloc", "handler", "main"), (2,)),
            ((("inl", "outer"), "main"), (4,)),
            ((), (8,)),
        ]
    )


def test_no_filter_is_identity(profile):
    assert filter_samples(profile) is profile


def test_focus_keeps_stacks_with_a_match(profile):
    assert names(filter_samples(profile, focus=r"cache\.")) == ["alloc/cache.Put/main"]


def test_focus_matches_inlined_lines_and_file_names(profile):
    assert names(filter_samples(profile, focus="^inl$")) == ["inl/outer/main"]
    assert names(filter_samples(profile, focus=r"handler\.go")) == ["alloc/handler/main"]


def test_focus_matches_mapping_file_of_unsymbolized_code():
    p = hand_profile([((None, "main"), (1,)), (("f",), (2,))])
    assert filter_samples(p, focus="bin/app").num_samples == 2  # every location maps /bin/app
    assert filter_samples(p, focus="nothing").num_samples == 0


def test_ignore_drops_stacks_with_a_match_and_empty_stacks(profile):
    # like pprof, any filter drops samples without locations
    assert names(filter_samples(profile, ignore="handler")) == [
        "alloc/cache.Put/main",
        "inl/outer/main",
    ]


def test_ignore_wins_over_focus(profile):
    kept = filter_samples(profile, focus="alloc", ignore="cache")
    assert names(kept) == ["alloc/handler/main"]
    assert filter_samples(profile, focus="alloc", ignore="alloc").num_samples == 0


def test_focus_and_ignore_partition_nonempty_stacks(profile):
    f = filter_samples(profile, focus="alloc")
    i = filter_samples(profile, ignore="alloc")
    assert f.total(0) + i.total(0) == profile.total(0) - 8
    assert f.num_samples + i.num_samples == 3


def test_labels_follow_their_samples():
    from leakhunter.model import Label

    p = hand_profile([(("a",), (1,), (Label("k", "1"),)), (("b",), (2,), (Label("k", "2"),))])
    kept = filter_samples(p, focus="^b$")
    assert kept.sample_labels == ((Label("k", "2"),),)


def test_stack_matches_per_interned_stack(profile):
    hits = stack_matches(profile, re.compile("main"))
    assert hits.tolist() == [True, True, True, False]


def test_bad_regex_raises(profile):
    with pytest.raises(re.error):
        filter_samples(profile, focus="(")
