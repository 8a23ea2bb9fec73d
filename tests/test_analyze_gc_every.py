"""The live heap of a watch with gc_every > 1: forced points when there are enough, else all.

Snapshots that forced no GC read HeapAlloc with the garbage made since the last
GC. The builders' exact synthetic heaps get that garbage added the way Go's
runtime makes it: allocated at a steady rate, gone at each GC (forced at every
k-th snapshot, and on its own once the garbage reaches the live heap, GOGC=100).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from history_builders import SITES, snapshots
from leakhunter.analyze.analyzer import Analyzer
from leakhunter.analyze.reduce import GARBAGE_FIGURES, RunFold
from leakhunter.analyze.verdict import Verdict
from leakhunter.collect.session import SnapshotRecord
from leakhunter.collect.snapshot import MemorySnapshot
from leakhunter.compare.figures import process_figures
from leakhunter.pipeline import judge

H = 3600.0


def with_garbage(
    snaps: Iterable[MemorySnapshot], k: int, rate: float, *, flagged: bool = True
) -> Iterator[MemorySnapshot]:
    """Add the garbage a GC forced every k-th snapshot leaves in the others' heap figures.

    ``flagged=False`` marks every record forced all the same, as if the analysis
    had no way to tell (every point judged as exact).
    """
    last = 0.0
    for i, snap in enumerate(snaps):
        rec = snap.record
        forced = i % k == 0
        stats = dict(rec.memstats)
        if forced:
            last = rec.elapsed
        else:
            garbage = (rate * (rec.elapsed - last)) % stats["HeapAlloc"]
            for name in GARBAGE_FIGURES:
                stats[name] = int(stats[name] + garbage)
        rec = replace(rec, memstats=MappingProxyType(stats), gc_forced=forced or not flagged)
        yield MemorySnapshot(rec, snap.blobs)


def _verdict(snaps: Iterable[MemorySnapshot]) -> Verdict:
    a = Analyzer("synthetic")
    for s in snaps:
        a.add(s)
    return judge(a.analysis()).verdict


def _leak(t: float) -> Mapping[str, float]:
    return {SITES[0]: 50e6 + 100e6 * t / H, SITES[1]: 900e6}  # 100 MB/h on ~1 GB


def _flat(t: float) -> Mapping[str, float]:
    return {SITES[0]: 50e6, SITES[1]: 900e6}


def _two_hours(fn: Callable[[float], Mapping[str, float]]) -> Iterator[MemorySnapshot]:
    return snapshots(fn, count=120, interval=60.0, noise=4e6)


def test_a_leak_under_garbage_is_judged_on_the_forced_points() -> None:
    # 2 MB/s of garbage on a 1 GB heap: a GC every ~8 minutes, swings of up to 1 GB
    v = _verdict(with_garbage(_two_hours(_leak), 4, 2e6))
    assert v.verdict.value == "leak"
    assert v.heap is not None and v.heap.label == "live heap (HeapAlloc after GC)"
    assert not any("forced GC" in n for n in v.notes)
    # every point judged as exact, the garbage drowns a leak of 200 MB in two hours
    assert _verdict(with_garbage(_two_hours(_leak), 4, 2e6, flagged=False)).verdict.value == (
        "no-leak"
    )


def test_a_flat_heap_under_garbage_is_no_leak() -> None:
    assert _verdict(with_garbage(_two_hours(_flat), 4, 2e6)).verdict.value == "no-leak"


def test_too_few_forced_points_judge_every_point_and_say_so() -> None:
    """15 snapshots with a GC forced every 4th: 4 exact points, too few for a trend."""
    snaps = list(  # the zoo's regime: 15 snapshots at 1 s, a leak of 1 MB/s
        with_garbage(snapshots(lambda t: {SITES[0]: 1e6 * (1 + t)}, count=15, interval=1.0), 4, 2e6)
    )
    fold = RunFold()
    for s in snaps:
        fold.add(s)
    red = fold.reduced(None, 6)
    assert red.heap_unforced == 11
    heap = [s.record.memstats["HeapAlloc"] for s in snaps]
    assert red.exact["HeapAlloc"].tolist() == heap  # garbage and all
    v = _verdict(snaps)
    assert v.verdict.value == "leak"
    assert v.heap is not None and "garbage" in v.heap.label
    assert any("11 of the 15 heap figures were read without a forced GC" in n for n in v.notes)


def test_enough_forced_points_leave_the_others_out() -> None:
    snaps = list(with_garbage(snapshots(_flat, count=30, interval=60.0), 4, 1e6))
    fold = RunFold()
    for s in snaps:
        fold.add(s)
    red = fold.reduced(None, 6)
    heap = red.exact["HeapAlloc"]
    forced = np.array([s.record.gc_forced for s in snaps])
    assert red.heap_unforced == 0 and int(forced.sum()) == 8
    assert np.isfinite(heap[forced]).all() and np.isnan(heap[~forced]).all()
    # figures a GC does not change are kept from every snapshot
    assert np.isfinite(red.exact["TotalAlloc"]).all() and np.isfinite(red.exact["NumGC"]).all()
    assert fold.reduced(None, 9).heap_unforced == 22  # 8 < 9: every point again


def test_compare_takes_the_heap_slope_from_forced_points_too() -> None:
    recs: list[SnapshotRecord] = [
        s.record for s in with_garbage(snapshots(_flat, count=40, interval=60.0), 4, 2e6)
    ]
    exact = process_figures(recs, 6).heap_slope
    assert exact.n == 10 and abs(exact.value) < 1e3  # bytes/s: flat
    mixed = process_figures(recs, 11).heap_slope  # too few forced ones: every point
    assert mixed.n == 40
