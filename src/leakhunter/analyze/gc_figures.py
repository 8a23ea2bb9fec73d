"""GC pressure beside the verdict: collections per second, GC CPU share, allocation rate.

A leak is not the only way memory hurts a service: churn (allocating fast and
freeing at once) keeps the collector busy, raises CPU and tail latency, and
often sits beside a leak (seed 001: GC every 200 ms before the fix, one every
30 s after). These figures come from the exact MemStats series, never from
sampled profiles: cycles are NumGC minus the collections leakhunter forced
itself (NumForcedGC), the allocation rate is TotalAlloc's, and the GC CPU share
is the runtime's own cumulative GCCPUFraction at the end of the window.
"""

from __future__ import annotations

import numpy as np

from leakhunter.analyze.figures import Figure, GcFigures, counter_rate
from leakhunter.analyze.reduce import Reduced

__all__ = ["gc_figures"]


def gc_figures(red: Reduced) -> GcFigures | None:
    """Return the GC figures of a reduced window (None without two MemStats points)."""
    t = np.asarray(red.t, dtype=np.float64)
    total, num_gc = red.exact["TotalAlloc"], red.exact["NumGC"]
    ok = np.isfinite(total) & np.isfinite(num_gc)
    if int(ok.sum()) < 2:
        return None
    forced = np.nan_to_num(red.exact.get("NumForcedGC", np.zeros(len(t)))[ok])
    ppb = red.exact.get("GCCPUFractionPpb", np.full(len(t), np.nan))
    ppb = ppb[np.isfinite(ppb)] / 1e9
    if len(ppb):
        late = ppb[len(ppb) // 2 :]
        cpu = Figure(float(ppb[-1]), float(late.min()), float(late.max()), "fraction", len(ppb))
    else:
        cpu = Figure(0.0, 0.0, 0.0, "fraction", 0)
    return GcFigures(
        cycles_per_second=counter_rate(t[ok], num_gc[ok] - forced, "GC/s"),
        cpu_fraction=cpu,
        alloc_rate=counter_rate(t[ok], total[ok], "bytes/s"),
    )
