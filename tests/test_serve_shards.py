"""Shards: every target is watched by exactly one of N serves, with no coordination."""

from __future__ import annotations

import argparse

import pytest

from leakhunter.cli.serve import parse_shard
from leakhunter.serve.scheduler import in_shard, shard_of
from leakhunter.serve.targets import TargetSpec


def test_every_target_falls_in_exactly_one_shard() -> None:
    specs = [TargetSpec(f"http://10.0.{i // 250}.{i % 250}:6060") for i in range(3000)]
    for n in (1, 2, 3, 7):
        counts = [sum(in_shard(s, (i, n)) for s in specs) for i in range(1, n + 1)]
        assert sum(counts) == len(specs)
        assert all(sum(in_shard(s, (i, n)) for i in range(1, n + 1)) == 1 for s in specs[:200])
        assert max(counts) < 1.2 * len(specs) / n  # the hash spreads them evenly


def test_changing_n_moves_only_the_targets_of_the_shard_that_comes_or_goes() -> None:
    ids = [f"http://10.1.{i // 250}.{i % 250}:6060" for i in range(3000)]
    three = {t: shard_of(t, 3) for t in ids}
    two = {t: shard_of(t, 2) for t in ids}
    four = {t: shard_of(t, 4) for t in ids}
    # 3 -> 2 (shard 3 removed): shard 3's targets move, nobody else's
    assert all(two[t] == three[t] for t in ids if three[t] != 3)
    # 3 -> 4: only targets that go to the new shard 4 move, about a quarter
    moved = [t for t in ids if four[t] != three[t]]
    assert all(four[t] == 4 for t in moved)
    assert 0.2 < len(moved) / len(ids) < 0.3


@pytest.mark.parametrize(
    ("text", "host", "want"),
    [("2/3", None, (2, 3)), ("ordinal/3", "leakhunter-0", (1, 3)),
     ("ordinal/3", "leakhunter-serve-2", (3, 3))],
)  # fmt: skip
def test_shard_options(text: str, host: str | None, want: tuple[int, int]) -> None:
    assert parse_shard(text, host) == want


@pytest.mark.parametrize(
    ("text", "host"),
    [("0/3", None), ("4/3", None), ("x", None), ("ordinal/3", "laptop"),
     ("ordinal/3", "leakhunter-3")],
)  # fmt: skip
def test_bad_shards_are_usage_errors(text: str, host: str | None) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_shard(text, host)
