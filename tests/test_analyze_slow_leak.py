"""A slow leak in a large heap is found; warm-ups, plateaus, steps and sawtooths are not.

Histories of 15 snapshots at 1 s (the zoo's regime) on a 1 GiB live heap, built
from real encoded pprof profiles and exact MemStats (``history_builders``). The
leak adds 0.6% to the heap over the window: far below the 5% floor, but the
exact HeapAlloc rises at every snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pytest

from history_builders import SITES, snapshots
from leakhunter.analyze.analyzer import Analyzer
from leakhunter.analyze.verdict import Verdict
from leakhunter.pipeline import judge

GiB = 1 << 30
RATE = 512 << 10  # the leak: bytes per second (0.7% of 1 GiB in 14 s)


def _verdict(
    sites: Callable[[float], Mapping[str, float]], other: float = GiB, **kw: object
) -> Verdict:
    a = Analyzer("synthetic")
    for s in snapshots(sites, count=15, interval=1.0, other=other, **kw):  # type: ignore[arg-type]
        a.add(s)
    return judge(a.analysis()).verdict


def test_a_slow_leak_in_a_large_heap_is_found_and_attributed() -> None:
    v = _verdict(lambda t: {SITES[0]: 4e6 + RATE * t, SITES[1]: 2e6}, noise=2e3)
    assert v.verdict.value == "leak", v.summary
    lead = v.findings[0]
    assert lead.culprit is not None and lead.culprit.function.endswith(SITES[0])


@pytest.mark.parametrize(
    "shape",
    [
        # a warm-up: +3% that flattens halfway
        lambda t: {SITES[0]: 4e6 + 32e6 * min(t, 7) / 7},
        # a plateau with noise
        lambda t: {SITES[0]: 20e6 + (1 if int(t) % 2 else -1) * 3e5},
        # a one-off step (a config reload allocating once), then flat
        lambda t: {SITES[0]: 4e6 + (24e6 if t >= 7 else 0.0)},
        # a sawtooth: up 4 s, back down
        lambda t: {SITES[0]: 4e6 + RATE * (t % 4) * 4},
    ],
    ids=["warm-up", "plateau", "step", "sawtooth"],
)
def test_what_only_looks_slow_is_not_a_leak(shape: Callable[[float], Mapping[str, float]]) -> None:
    v = _verdict(shape, noise=2e3)
    assert v.verdict.value == "no-leak", (v.summary, [f.verdict.value for f in v.findings])


def test_a_slow_rise_with_noise_that_goes_down_too_is_not_called() -> None:
    # the same average rate, but every third figure falls back: not a leak's signature
    v = _verdict(lambda t: {SITES[0]: 4e6 + RATE * t - (3 * RATE if int(t) % 3 == 2 else 0.0)})
    assert v.verdict.value == "no-leak", v.summary


def test_a_leak_no_site_explains_yet_is_a_leak_with_an_unknown_culprit() -> None:
    # the heap grows outside every sampled site (think: too few samples yet)
    v = _verdict(lambda t: {SITES[0]: 4e6}, other=lambda t: GiB + 4 * RATE * t)
    assert v.verdict.value == "leak", v.summary
    lead = v.findings[0]
    assert lead.culprit is None and lead.kind.value == "heap"
    assert any("sampled enough" in e for e in lead.evidence)
    assert lead.growth.per_hour == pytest.approx(4 * RATE * 3600, rel=0.02)
    assert math.isfinite(lead.confidence) and 0 < lead.confidence <= 1
