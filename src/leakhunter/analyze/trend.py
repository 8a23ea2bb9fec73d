"""Robust trend statistics: Mann-Kendall, Theil-Sen, and the "does it keep growing" test.

A leak is growth that does not level off. Two snapshots cannot tell a warming
cache from a leak, so every judgement here looks at the whole series: a
rank-based trend test (insensitive to outliers and to the unit of the series),
a median-of-slopes rate, and a comparison of the late window with the whole,
which catches curves that flatten (caches) or come back down (sawtooth, bursts).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Trend", "TrendOptions", "assess", "mann_kendall", "theil_sen"]

F64 = npt.NDArray[np.float64]


#: points the late window holds at least, when the series leaves four before it: a rank
#: test on five points of a stair-stepped leak (two rises, one flat step) cannot reach
#: 0.05 even when they climb by a third, and a 10-snapshot window has only five
MIN_LATE = 6


@dataclass(frozen=True, slots=True)
class TrendOptions:
    """Thresholds of the growth test (defaults tuned on the zoo's leaks and controls)."""

    #: one-sided p-value below which a Mann-Kendall trend counts
    alpha: float = 0.01
    #: fraction of the window, at the end, in which growth must persist
    late_fraction: float = 0.5
    #: late slope must be at least this share of the whole-window slope
    min_late_ratio: float = 0.5
    #: one-sided p-value the late window alone must reach
    late_alpha: float = 0.05
    #: fewer points than this: no judgement
    min_points: int = 6


@dataclass(frozen=True, slots=True)
class Trend:
    """What a series does over the window."""

    n: int
    slope: float  # units per second (Theil-Sen)
    late_slope: float
    p_value: float  # one-sided, for an increasing trend
    late_p_value: float
    start: float  # fitted value at the first point
    end: float  # fitted value at the last point
    noise: float  # robust spread of residuals (1.4826 * MAD)
    monotone: float  # share of steps that go up (ties excluded)
    growing: bool  # significant, persistent to the end, and above noise

    @property
    def growth(self) -> float:
        """Fitted growth over the window."""
        return self.end - self.start

    @property
    def persistence(self) -> float:
        """Late slope over whole slope (1 = straight line, 0 = flattened)."""
        return self.late_slope / self.slope if self.slope > 0 else 0.0


@functools.lru_cache(maxsize=512)
def _pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index pairs (i < j) of n points, built once per length.

    A serve judges the same lengths over and over; building them was a
    quarter of a long history's judgement.
    """
    i, j = np.triu_indices(n, 1)
    i.flags.writeable = j.flags.writeable = False
    return i, j


def mann_kendall(y: F64) -> float:
    """Return the one-sided p-value of an increasing trend (with tie correction)."""
    n = len(y)
    if n < 3:
        return 1.0
    i, j = _pairs(n)
    s = float(np.sign(y[j] - y[i]).sum())
    _, counts = np.unique(y, return_counts=True)
    ties = counts[counts > 1].astype(np.float64)
    var = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18.0
    if var <= 0:
        return 1.0
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    return 0.5 * math.erfc(z / math.sqrt(2))


def theil_sen(t: F64, y: F64) -> tuple[float, float]:
    """Return the median pairwise slope and the matching intercept."""
    n = len(t)
    if n < 2:
        return 0.0, float(y[0]) if n else 0.0
    i, j = _pairs(n)
    dt = t[j] - t[i]
    ok = dt > 0
    if not ok.any():
        return 0.0, float(np.median(y))
    slope = float(np.median((y[j] - y[i])[ok] / dt[ok]))
    intercept = float(np.median(y - slope * t))
    return slope, intercept


def _thin(t: F64, y: F64, limit: int = 200) -> tuple[F64, F64]:
    """Keep at most ``limit`` evenly spaced points: the tests are O(n^2).

    200 points give a day's window a 7-minute resolution, far finer than any
    trend judged over it, and a quarter of the pairs 400 points cost (a serve
    judges thousands of such series a minute).
    """
    if len(t) <= limit:
        return t, y
    idx = np.linspace(0, len(t) - 1, limit).round().astype(np.int64)
    return t[idx], y[idx]


def assess(t: npt.ArrayLike, y: npt.ArrayLike, options: TrendOptions | None = None) -> Trend:
    """Judge whether series y(t) grows persistently to the end of the window."""
    opts = options or TrendOptions()
    ta, ya = _thin(np.asarray(t, dtype=np.float64), np.asarray(y, dtype=np.float64))
    n = len(ta)
    if n < 2 or not np.any(ya != ya[0]):
        # too short, or flat (most goroutine groups, most of the time): exactly what
        # the tests below give a constant series, without their O(n^2) work
        v = float(ya[0]) if n else 0.0
        return Trend(n, 0.0, 0.0, 1.0, 1.0, v, v, 0.0, 0.0, False)
    slope, icept = theil_sen(ta, ya)
    resid = ya - (slope * ta + icept)
    noise = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    p = mann_kendall(ya)
    late_n = max(n - int(round(n * (1 - opts.late_fraction))), min(MIN_LATE, n - 4), 4)
    cut = max(0, n - late_n)
    late_slope, _ = theil_sen(ta[cut:], ya[cut:])
    late_p = mann_kendall(ya[cut:])
    steps = np.diff(ya)
    moves = steps[steps != 0]
    monotone = float((moves > 0).mean()) if moves.size else 0.0
    start, end = slope * ta[0] + icept, slope * ta[-1] + icept
    growing = (
        n >= opts.min_points
        and p < opts.alpha
        and slope > 0
        and late_slope >= opts.min_late_ratio * slope
        and late_p < opts.late_alpha
        and (end - start) > 3.0 * noise
    )
    return Trend(
        n=n,
        slope=slope,
        late_slope=late_slope,
        p_value=p,
        late_p_value=late_p,
        start=start,
        end=end,
        noise=noise,
        monotone=monotone,
        growing=bool(growing),
    )
