"""first_occurrence / groups / first_of_run against a plain dict, on every path."""

from __future__ import annotations

import numpy as np
import pytest

from leakhunter.model.grouping import first_occurrence, first_of_run, groups


def reference(keys: list[int]) -> list[int]:
    seen: dict[int, int] = {}
    return [seen.setdefault(k, i) for i, k in enumerate(keys)]


@pytest.mark.parametrize(
    ("distinct", "n"),
    [(1, 1000), (5, 1000), (11, 50_000), (40, 1000), (900, 50_000), (50_000, 50_000), (0, 0)],
)
def test_first_occurrence_matches_a_dict(distinct, n):
    rng = np.random.default_rng(distinct + n)
    pool = rng.integers(0, 2**63, size=max(distinct, 1), dtype=np.uint64)
    keys = pool[rng.integers(0, max(distinct, 1), size=n)] if distinct < n else pool[:n].copy()
    back = first_occurrence(keys)
    assert back.tolist() == reference(keys.tolist())
    firsts, which = groups(back)
    assert keys[firsts].tolist() == list(dict.fromkeys(keys.tolist()))
    assert (keys[firsts][which] == keys).all()
    assert first_of_run(which).tolist() == firsts.tolist()


def test_few_repeats_among_many_distinct():
    keys = np.arange(100_000, dtype=np.uint64)
    keys[[5, 70_000, 99_999]] = [3, 3, 12]  # the sort path that settles few repeats
    assert first_occurrence(keys).tolist() == reference(keys.tolist())


def test_more_distinct_than_the_probe_promised():
    # the first 96 keys hold 2 values, the rest 60 more: the compare path gives up
    keys = np.concatenate([np.tile([7, 9], 48), np.arange(100, 160)]).astype(np.uint64)
    assert first_occurrence(keys).tolist() == reference(keys.tolist())
