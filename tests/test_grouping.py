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


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint64])
def test_all_known_names_a_missing_id_in_any_block(monkeypatch, dtype):
    import leakhunter.model.profile as model

    monkeypatch.setattr(model, "_BLOCK", 3)
    dense = np.ones(6, dtype=bool)
    dense[0] = False  # ids 1..5, as Go numbers locations
    assert model.all_known(dense, np.array([1, 5, 2, 3, 4, 4, 1], dtype=dtype)) is None
    assert model.all_known(dense, np.array([1, 5, 2, 3, 0, 4, 1], dtype=dtype)) == 0
    holes = dense.copy()
    holes[3] = False  # no location 3
    assert model.all_known(holes, np.array([1, 5, 2, 4, 4, 1], dtype=dtype)) is None
    assert model.all_known(holes, np.array([1, 5, 2, 4, 4, 3, 1], dtype=dtype)) == 3


def test_window_words_reads_every_segment_up_to_the_last_byte():
    from leakhunter.model.grouping import window_words

    rng = np.random.default_rng(5)
    for size in (1, 5, 8, 9, 17, 40):
        data = rng.integers(1, 256, size=size, dtype=np.uint8)
        starts, lens = np.meshgrid(np.arange(size), np.arange(size + 1), indexing="ij")
        ok = starts + lens <= size
        starts, lens = starts[ok].astype(np.int64), lens[ok].astype(np.int64)
        words = window_words(data, starts, lens, 3 if size > 16 else 2)
        for row, (a, n) in enumerate(zip(starts.tolist(), lens.tolist(), strict=True)):
            want = (
                bytes(data[a : a + n]) + bytes(8 * words.shape[1] - n)
                if n <= 8 * words.shape[1]
                else None
            )
            if want is not None:
                assert words[row].astype("<u8").tobytes() == want, (size, a, n)
