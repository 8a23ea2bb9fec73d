"""Whole-process figures of one session, each with its uncertainty, for compare.

A fix is proven on the process as a whole before any site: the exact live heap
(HeapAlloc after the forced GC of every snapshot; with ``gc_every`` > 1, of the
snapshots that forced one when there are ``min_exact`` of them, as the analysis
does) and the goroutine count must stay flat, GC must calm down and the
allocation rate says whether the same load was applied. These come from the
snapshots' exact MemStats integers, not from sampled profiles, so two sessions
are compared on the same footing.

GC CPU fraction is the runtime's own figure (GCCPUFraction, cumulative since
the process started, recorded per snapshot as GCCPUFractionPpb): the last
value, with the range the second half of the window spans as its band.
Sessions recorded before that field existed show it as unknown (n = 0).

Slopes are Theil-Sen with Sen's distribution-free confidence interval (order
statistics of the pairwise slopes, Mann-Kendall variance), so one outlier
snapshot neither moves the figure nor hides in a tight-looking band. Rates
from counters (GC cycles, pause time) are per-interval deltas: their figure is
total over window, their band the standard error of the per-interval rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.figures import Figure, counter_rate, sen_slope
from leakhunter.collect.session import Session, SnapshotRecord

__all__ = ["Figure", "ProcessFigures", "process_figures", "sen_slope", "usable_run"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ProcessFigures:
    """The whole-process figures compare puts side by side (per second, exact inputs)."""

    heap_slope: Figure  # bytes/s of HeapAlloc after GC
    goroutine_slope: Figure  # goroutines/s
    gc_per_second: Figure  # GC cycles/s, the snapshots' forced GCs left out
    gc_cpu_fraction: Figure  # the runtime's GCCPUFraction at the end of the window
    alloc_rate: Figure  # bytes/s allocated (TotalAlloc)
    heap_start: float = 0.0
    heap_end: float = 0.0
    goroutines_start: float = 0.0
    goroutines_end: float = 0.0


def _runtime_fraction(recs: Sequence[SnapshotRecord]) -> Figure:
    """GCCPUFraction at the window's end; band = its range over the second half."""
    vals = [r.memstats["GCCPUFractionPpb"] / 1e9 for r in recs if "GCCPUFractionPpb" in r.memstats]
    if not vals:
        return Figure(0.0, 0.0, 0.0, "fraction", 0)
    late = vals[len(vals) // 2 :]
    return Figure(vals[-1], min(late), max(late), "fraction", len(vals))


def usable_run(session: Session, min_points: int = 6) -> tuple[SnapshotRecord, ...]:
    """Return the records of the run the verdict judges: the last epoch with MemStats.

    Counters reset when the target restarts, so rates never cross an epoch;
    this mirrors the analysis (the last run, or the longest when the last has
    fewer than ``min_points`` snapshots, the trend test's minimum).
    """
    runs = [tuple(s.record for s in run if s.record.memstats) for run in session.epochs()]
    runs = [r for r in runs if r]
    if not runs:
        return ()
    last = runs[-1]
    longest = max(runs, key=len)
    return longest if len(last) < min_points <= len(longest) else last


def process_figures(records: Sequence[SnapshotRecord], min_exact: int = 6) -> ProcessFigures:
    """Compute the whole-process figures of one run's snapshot records."""
    recs = [r for r in records if r.memstats]
    t = np.array([r.elapsed for r in recs], dtype=np.float64)

    def col(name: str) -> F64:
        return np.array([float(r.memstats.get(name, 0)) for r in recs], dtype=np.float64)

    heap = col("HeapAlloc")
    forced = np.array([r.gc_forced for r in recs], dtype=bool)
    th = t
    if min_exact <= forced.sum() < len(recs):  # garbage-free points, enough for a slope
        th, heap = t[forced], heap[forced]
    gor_recs = [r for r in recs if r.goroutines is not None]
    tg = np.array([r.elapsed for r in gor_recs], dtype=np.float64)
    gor = np.array([float(r.goroutines or 0) for r in gor_recs], dtype=np.float64)
    # The snapshots' own GCs (heap?gc=1, goroutineleak) are NumForcedGC: count the load's.
    cycles = col("NumGC") - col("NumForcedGC")
    return ProcessFigures(
        heap_slope=sen_slope(th, heap, "bytes/s"),
        goroutine_slope=sen_slope(tg, gor, "goroutines/s"),
        gc_per_second=counter_rate(t, cycles, "GC/s"),
        gc_cpu_fraction=_runtime_fraction(recs),
        alloc_rate=counter_rate(t, col("TotalAlloc"), "bytes/s"),
        heap_start=float(heap[0]) if len(heap) else 0.0,
        heap_end=float(heap[-1]) if len(heap) else 0.0,
        goroutines_start=float(gor[0]) if len(gor) else 0.0,
        goroutines_end=float(gor[-1]) if len(gor) else 0.0,
    )
