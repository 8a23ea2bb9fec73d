"""Shards: every target is watched by exactly one of N serves, with no coordination."""

from __future__ import annotations

import argparse

import pytest

from leakhunter.cli.serve import parse_shard
from leakhunter.serve.scheduler import in_shard
from leakhunter.serve.targets import TargetSpec


def test_every_target_falls_in_exactly_one_shard() -> None:
    specs = [TargetSpec(f"http://10.0.{i // 250}.{i % 250}:6060") for i in range(3000)]
    for n in (1, 2, 3, 7):
        counts = [sum(in_shard(s, (i, n)) for s in specs) for i in range(1, n + 1)]
        assert sum(counts) == len(specs)
        assert all(sum(in_shard(s, (i, n)) for i in range(1, n + 1)) == 1 for s in specs[:200])
        assert max(counts) < 1.2 * len(specs) / n  # the hash spreads them evenly


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
