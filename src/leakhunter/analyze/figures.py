"""Estimates with their uncertainty, from exact MemStats series: slopes and counter rates.

One definition for every stage that reports a whole-process figure: the
verdict's GC pressure (``analyze/gc_figures.py``) and compare's figures
side by side. Slopes are Theil-Sen with Sen's distribution-free confidence
interval (order statistics of the pairwise slopes, Mann-Kendall variance), so
one outlier snapshot neither moves the figure nor hides in a tight-looking
band. Rates from counters (GC cycles, bytes allocated) are the total over the
window, with the standard error of the per-interval rates as the band.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leakhunter.analyze.trend import theil_sen

__all__ = ["Figure", "GcFigures", "counter_rate", "sen_slope"]

F64 = npt.NDArray[np.float64]

#: two-sided normal quantile of the 90% band every figure carries
_Z90 = 1.6448536269514722


@dataclass(frozen=True, slots=True)
class Figure:
    """One estimate with its 90% band; ``n`` is how many points it rests on."""

    value: float
    low: float
    high: float
    unit: str
    n: int = 0

    @property
    def known(self) -> bool:
        """Return True when the figure rests on at least two points."""
        return self.n >= 2

    def excludes_zero(self) -> bool:
        """Return True when the whole band lies above zero (a real rise, not noise)."""
        return self.known and self.low > 0


@dataclass(frozen=True, slots=True)
class GcFigures:
    """The window's GC pressure, each figure with its 90% band (n = 0: unknown)."""

    cycles_per_second: Figure
    cpu_fraction: Figure
    alloc_rate: Figure


def sen_slope(t: Sequence[float] | F64, y: Sequence[float] | F64, unit: str) -> Figure:
    """Return the Theil-Sen slope of y(t) with Sen's 90% confidence band."""
    ta = np.asarray(t, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    n = len(ta)
    if n < 2:
        return Figure(0.0, 0.0, 0.0, unit, n)
    slope, _ = theil_sen(ta, ya)
    i, j = np.triu_indices(n, 1)
    dt = ta[j] - ta[i]
    ok = dt > 0
    slopes = np.sort((ya[j] - ya[i])[ok] / dt[ok])
    m = len(slopes)
    if m == 0:
        return Figure(0.0, 0.0, 0.0, unit, n)
    # Sen (1968): the band's ends are order statistics (m -+ C)/2 of the slopes.
    c = _Z90 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    lo = int(max(0, math.floor((m - c) / 2.0)))
    hi = int(min(m - 1, math.ceil((m + c) / 2.0)))
    return Figure(slope, float(slopes[lo]), float(slopes[hi]), unit, n)


def counter_rate(t: F64, counter: F64, unit: str) -> Figure:
    """Rate of a monotone counter: total over window, band from per-interval rates."""
    n = len(t)
    if n < 2 or t[-1] <= t[0]:
        return Figure(0.0, 0.0, 0.0, unit, n)
    value = float((counter[-1] - counter[0]) / (t[-1] - t[0]))
    dt = np.diff(t)
    ok = dt > 0
    rates = np.diff(counter)[ok] / dt[ok]
    if len(rates) < 2:
        return Figure(value, value, value, unit, n)
    half = _Z90 * float(np.std(rates, ddof=1)) / math.sqrt(len(rates))
    return Figure(value, max(0.0, value - half), value + half, unit, n)
